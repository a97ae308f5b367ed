#include "codegen/lower_cuda.h"

#include <algorithm>
#include <map>

#include "codegen/cuda_builtins.h"
#include "codegen/cuda_c.h"
#include "codegen/nvrtc.h"
#include "planfmt/cuda_module.h"
#include "runtime/ops/op.h"

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
  return t == DType::kF32 || t == DType::kF16 || t == DType::kBF16 || t == DType::kF64 ||
         t == DType::kI64 || t == DType::kI32 || t == DType::kI8 || t == DType::kU8 || t == DType::kBool;
}

bool ViewElement(DType t) {
  const int64_t size = DTypeSize(t);
  return size == 1 || size == 2 || size == 4 || size == 8;
}

// A matrix product the GPU runs: f32 (cuBLAS or the plan's kernel), or f16/bf16 operands with
// an f32 result (passes::HalfPrecisionProducts; cuBLAS only), batch dims walked with one
// stride per operand.
std::string GpuProduct(const planfmt::Step& s) {
  if (!SimpleBatch(s)) return "MatMul with broadcast batch dims";
  const DType a = s.args[0].dtype, b = s.args[1].dtype, y = s.args.back().dtype;
  if (a == DType::kF32 && b == DType::kF32 && y == DType::kF32) return "";
  if (s.builtin == planfmt::Builtin::kMatMul && a == b && (a == DType::kF16 || a == DType::kBF16) &&
      y == DType::kF32) {
    return "";
  }
  return "matrix products of these types";
}

bool AllF32(const planfmt::Step& s) {
  return std::all_of(s.args.begin(), s.args.end(),
                     [](const planfmt::TensorRef& a) { return a.dtype == DType::kF32; });
}

// The window attributes the GPU kernels read for 2-D Conv, ConvTranspose and MaxPool: two
// strides, dilations and kernel dims, four explicit pads (auto_pad SAME_* would have the
// kernels recompute pads: refused), each of the type the spec gives, when present.
bool Window2dAttrs(const ops::AttrView& a, bool allow_valid) {
  const std::string pad = a.StrOr("auto_pad", "NOTSET");
  if (pad != "NOTSET" && !pad.empty() && !(allow_valid && pad == "VALID")) return false;
  for (const char* name : {"strides", "dilations", "kernel_shape"}) {
    auto v = a.Ints(name, std::vector<int64_t>{1, 1});
    if (!v.ok() || v->size() != 2) return false;
  }
  auto pads = a.Ints("pads", std::vector<int64_t>{0, 0, 0, 0});
  return pads.ok() && pads->size() == 4;
}

// The op-library steps the GPU backend has kernels for (runtime/cuda/backend.cc), with the
// types and forms it handles.
bool GpuOp(const planfmt::Step& s) {
  const size_t outs = s.args.size() - s.num_inputs;
  const ops::AttrView a(s.attrs);
  if (s.symbol == "LayerNormalization") {
    if (outs != 1 || s.num_inputs < 2 || !AllF32(s)) return false;
    const auto& x = s.args[0].shape;
    int64_t axis = a.IntOr("axis", -1);
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
  if (s.symbol == "GlobalAveragePool") return outs == 1 && AllF32(s) && s.args[0].shape.size() == 4;
  if (s.symbol == "MaxPool") {
    return outs == 1 && AllF32(s) && s.args[0].shape.size() == 4 && Window2dAttrs(a, true);
  }
  if (s.symbol == "Conv") {
    if (outs != 1 || !AllF32(s) || s.args[0].shape.size() != 4 || s.num_inputs < 2 ||
        s.args[1].shape.size() != 4 || !Window2dAttrs(a, true)) {
      return false;
    }
    // The output must be what the attributes give (tsc inferred it so), checked again because
    // the GPU kernels read the same attributes.
    const auto st = a.IntsOr("strides", {1, 1}), dil = a.IntsOr("dilations", {1, 1});
    const auto pads = a.IntsOr("pads", {0, 0, 0, 0});
    const auto& x = s.args[0].shape;
    const auto& w = s.args[1].shape;
    const auto& y = s.args[s.num_inputs].shape;
    for (int d = 0; d < 2; ++d) {
      const int64_t span = dil[d] * (w[2 + d] - 1) + 1;
      if (st[d] < 1 || y[2 + d] != (x[2 + d] + pads[d] + pads[d + 2] - span) / st[d] + 1) return false;
    }
    return true;
  }
  if (s.symbol == "ConvTranspose") {
    return outs == 1 && AllF32(s) && s.args[0].shape.size() == 4 && s.args[1].shape.size() == 4 &&
           !a.Has("output_shape") &&  // pads derived from it
           a.IntOr("group", 1) == 1 && Window2dAttrs(a, false) &&
           s.args[s.num_inputs].shape[1] == s.args[1].shape[1];  // M output channels
  }
  if (s.symbol == "Concat") return outs == 1 && AllF32(s);
  if (s.symbol == "Slice" || s.symbol == "Expand") {
    // Copied as a strided view of the input (ts_view_*), at most 8 axes.
    return outs == 1 && s.num_inputs == 1 && ViewElement(s.args[0].dtype) && s.args[0].shape.size() <= 8 &&
           s.args[1].shape.size() <= 8 && (s.symbol == "Expand" || ops::PlanSliceView(a, s.args[0].shape).ok());
  }
  if (s.symbol == "ReduceMean") {
    // f32, over one run of adjacent axes (ts_reduce_mean reads [outer, len, inner]).
    if (outs != 1 || s.num_inputs != 1 || !AllF32(s)) return false;
    return ops::ReducedAxesRun(a, s.args[0].shape).has_value();
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
      case planfmt::StepKind::kWait: break;  // copies from pinned host memory (runtime/cuda)
      case planfmt::StepKind::kSpill:
      case planfmt::StepKind::kFill: what = "spilled activations"; break;
      case planfmt::StepKind::kBuiltin:
        if (s.builtin == planfmt::Builtin::kMatMul || s.builtin == planfmt::Builtin::kGemm) what = GpuProduct(s);
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
                         "LayerNormalization, Gather, Cast, Concat, Slice, Expand, ReduceMean, 2-D Conv, "
                         "ConvTranspose, MaxPool and GlobalAveragePool, with weights resident or streamed "
                         "from pinned host memory: compile with --target cpu, or raise --vram where "
                         "activations were spilled");
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
