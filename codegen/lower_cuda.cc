#include "codegen/lower_cuda.h"

#include <algorithm>
#include <map>
#include <variant>

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

bool CastType(DType t) {
  return t == DType::kF32 || t == DType::kF64 || t == DType::kI64 || t == DType::kI32 ||
         t == DType::kI8 || t == DType::kU8 || t == DType::kBool;
}

// The op-library steps the GPU backend has kernels for (runtime/cuda/backend.cc), with the
// types and forms it handles.
bool GpuOp(const planfmt::Step& s) {
  const size_t outs = s.args.size() - s.num_inputs;
  if (s.symbol == "LayerNormalization") {
    if (outs != 1 || s.num_inputs < 2) return false;
    for (const auto& a : s.args) {
      if (a.dtype != DType::kF32) return false;
    }
    const auto& x = s.args[0].shape;
    int64_t axis = -1;
    if (auto it = s.attrs.find("axis"); it != s.attrs.end()) {
      if (const int64_t* v = std::get_if<int64_t>(&it->second)) axis = *v;
    }
    if (axis < 0) axis += static_cast<int64_t>(x.size());
    if (axis < 0 || axis >= static_cast<int64_t>(x.size())) return false;
    int64_t len = 1;
    for (size_t d = axis; d < x.size(); ++d) len *= x[d];
    for (uint32_t i = 1; i < s.num_inputs; ++i) {
      if (s.args[i].bytes != static_cast<uint64_t>(len) * 4) return false;  // no broadcasting
    }
    return true;
  }
  if (s.symbol == "Gather") {
    const int64_t esize = DTypeSize(s.args[0].dtype);
    return outs == 1 && s.num_inputs == 2 && (esize == 1 || esize == 2 || esize == 4 || esize == 8) &&
           (s.args[1].dtype == DType::kI64 || s.args[1].dtype == DType::kI32);
  }
  if (s.symbol == "Conv" || s.symbol == "MaxPool" || s.symbol == "GlobalAveragePool") {
    for (const auto& a : s.args) {
      if (a.dtype != DType::kF32) return false;
    }
    if (outs != 1 || s.args[0].shape.size() != 4) return false;
    if (s.symbol == "GlobalAveragePool") return true;
    if (auto it = s.attrs.find("auto_pad"); it != s.attrs.end()) {
      const std::string* v = std::get_if<std::string>(&it->second);
      if (!v || (*v != "NOTSET" && *v != "VALID" && !v->empty())) return false;  // SAME_*: pads computed
    }
    for (const char* name : {"strides", "dilations", "kernel_shape"}) {
      auto it = s.attrs.find(name);
      if (it == s.attrs.end()) continue;
      const auto* v = std::get_if<std::vector<int64_t>>(&it->second);
      if (!v || v->size() != 2) return false;
    }
    if (auto it = s.attrs.find("pads"); it != s.attrs.end()) {
      const auto* v = std::get_if<std::vector<int64_t>>(&it->second);
      if (!v || v->size() != 4) return false;
    }
    if (s.symbol == "Conv") {
      if (s.num_inputs < 2 || s.args[1].shape.size() != 4) return false;
      // The output must be what the attributes give (it is: tsc inferred it), checked again here
      // because the GPU kernels read the same attributes.
      auto ints = [&](const char* name, std::vector<int64_t> dflt) {
        auto it = s.attrs.find(name);
        if (it == s.attrs.end()) return dflt;
        return std::get<std::vector<int64_t>>(it->second);
      };
      const auto st = ints("strides", {1, 1}), dil = ints("dilations", {1, 1});
      const auto pads = ints("pads", {0, 0, 0, 0});
      const auto& x = s.args[0].shape;
      const auto& w = s.args[1].shape;
      const auto& y = s.args[s.num_inputs].shape;
      for (int d = 0; d < 2; ++d) {
        const int64_t span = dil[d] * (w[2 + d] - 1) + 1;
        if (st[d] < 1 || y[2 + d] != (x[2 + d] + pads[d] + pads[d + 2] - span) / st[d] + 1) return false;
      }
    }
    return true;
  }
  if (s.symbol == "ConvTranspose") {
    for (const auto& a : s.args) {
      if (a.dtype != DType::kF32) return false;
    }
    if (outs != 1 || s.args[0].shape.size() != 4 || s.args[1].shape.size() != 4) return false;
    if (s.attrs.count("output_shape")) return false;  // pads derived from it
    if (auto it = s.attrs.find("group"); it != s.attrs.end()) {
      const int64_t* g = std::get_if<int64_t>(&it->second);
      if (!g || *g != 1) return false;
    }
    if (auto it = s.attrs.find("auto_pad"); it != s.attrs.end()) {
      const std::string* v = std::get_if<std::string>(&it->second);
      if (!v || (*v != "NOTSET" && !v->empty())) return false;
    }
    for (const char* name : {"strides", "dilations", "kernel_shape"}) {
      auto it = s.attrs.find(name);
      if (it == s.attrs.end()) continue;
      const auto* v = std::get_if<std::vector<int64_t>>(&it->second);
      if (!v || v->size() != 2) return false;
    }
    if (auto it = s.attrs.find("pads"); it != s.attrs.end()) {
      const auto* v = std::get_if<std::vector<int64_t>>(&it->second);
      if (!v || v->size() != 4) return false;
    }
    return s.args[s.num_inputs].shape[1] == s.args[1].shape[1];  // M output channels
  }
  if (s.symbol == "Concat") {
    for (const auto& a : s.args) {
      if (a.dtype != DType::kF32) return false;
    }
    return outs == 1;
  }
  if (s.symbol == "Cast") {
    return outs == 1 && s.num_inputs == 1 && CastType(s.args[0].dtype) && CastType(s.args[1].dtype);
  }
  return false;
}

}  // namespace

StatusOr<planfmt::KernelModule> LowerKernelsForCuda(const LoweredPlan& lowered,
                                                   const std::string& arch) {
  std::map<std::string, int> unsupported;  // what, count
  std::string first;
  for (const planfmt::Step& s : lowered.contents.program.steps) {
    std::string what;
    switch (s.kind) {
      case planfmt::StepKind::kOp:
        if (!GpuOp(s)) what = s.symbol;
        break;
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
                         "'); it runs fused elementwise ops, MatMul, Gemm, Softmax, Transpose, "
                         "LayerNormalization, Gather, Cast, Concat, 2-D Conv, ConvTranspose, MaxPool and "
                         "GlobalAveragePool "
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
