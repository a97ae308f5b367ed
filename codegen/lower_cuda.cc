#include "codegen/lower_cuda.h"

#include <map>

#include "codegen/cuda_builtins.h"
#include "codegen/cuda_c.h"
#include "codegen/nvrtc.h"
#include "planfmt/cuda_module.h"

namespace ts::codegen {
namespace {

// MatMul batch dims the GPU kernel walks with one stride per operand: equal, or an operand
// without batch dims (a weight).
bool SimpleBatch(const planfmt::Step& s) {
  const auto& a = s.args[0].shape;
  const auto& b = s.args[1].shape;
  if (a.size() <= 2 || b.size() <= 2) return true;
  return a.size() == b.size() && std::equal(a.begin(), a.end() - 2, b.begin());
}

}  // namespace

StatusOr<planfmt::KernelModule> LowerKernelsForCuda(const LoweredPlan& lowered,
                                                   const std::string& arch) {
  std::map<std::string, int> unsupported;  // what, count
  std::string first;
  for (const planfmt::Step& s : lowered.contents.program.steps) {
    std::string what;
    switch (s.kind) {
      case planfmt::StepKind::kOp: what = s.symbol; break;
      case planfmt::StepKind::kLoad:
      case planfmt::StepKind::kWait: what = "streamed weights"; break;
      case planfmt::StepKind::kBuiltin:
        if (s.builtin == planfmt::Builtin::kMatMul && !SimpleBatch(s)) what = "MatMul with broadcast batch dims";
        break;
      case planfmt::StepKind::kJitKernel: break;
    }
    if (what.empty()) continue;
    if (unsupported.empty()) first = s.node;
    ++unsupported[what];
  }
  if (!unsupported.empty()) {
    std::string list;
    for (const auto& [what, n] : unsupported) {
      list += (list.empty() ? "" : ", ") + what + " (" + std::to_string(n) + (n == 1 ? " step" : " steps") + ")";
    }
    return BadInputError("the CUDA target cannot run " + list + " yet (first at node '" + first +
                         "'); it runs fused elementwise ops, MatMul, Gemm, Softmax and Transpose "
                         "with every weight resident: raise --vram or compile with --target cpu");
  }
  ASSIGN_OR_RETURN(std::string source, EmitCudaSource(lowered.kernels));
  source += CudaBuiltinSource();
  ASSIGN_OR_RETURN(CudaBinary bin, CompileCuda(source, "kernels.cu", arch));
  planfmt::KernelModule module;
  module.format = "cuda";
  module.symbols = lowered.contents.kernels.symbols;
  module.code = planfmt::EncodeCudaModule(
      {arch, std::to_string(bin.nvrtc_major) + "." + std::to_string(bin.nvrtc_minor), bin.cubin, bin.ptx});
  return module;
}

}  // namespace ts::codegen
