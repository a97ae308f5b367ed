// The CUDA target: the plan the CPU lowering made (steps, arena offsets and weights do not depend
// on the target) with its kernel module replaced by CUDA code for one architecture: the fused
// elementwise kernels (cuda_c.h) and the builtins (cuda_builtins.h), compiled by NVRTC into
// cubin and PTX (planfmt/cuda_module.h).
//
// This version runs plans whose steps are fused elementwise kernels, MatMul (batch dims equal,
// or one operand 2-D; f32, or f16/bf16 operands with an f32 result from
// passes::HalfPrecisionProducts), Gemm, Softmax, Transpose, copies, loads and waits of weights
// streamed from pinned host memory, and the op-library steps LayerNormalization (f32, scale and
// bias of the normalised size), Gather, Cast (f16 and bf16 included), Concat, Slice, Expand,
// ReduceMean (adjacent axes), 2-D Conv, ConvTranspose, MaxPool and GlobalAveragePool; anything
// else (spilled activations included) is refused at compile time, all offending ops counted in
// one line.
#ifndef TENSORSHUNT_CODEGEN_LOWER_CUDA_H_
#define TENSORSHUNT_CODEGEN_LOWER_CUDA_H_

#include <string>

#include "codegen/lower_cpu.h"
#include "ir/status.h"
#include "planfmt/plan.h"

namespace ts::codegen {

// Checks `lowered` can run on the CUDA backend and returns its CUDA kernel module for `arch`
// ("sm_90"). Errors: kBadInput for steps the backend lacks; NVRTC's (nvrtc.h).
StatusOr<planfmt::KernelModule> LowerKernelsForCuda(const LoweredPlan& lowered,
                                                   const std::string& arch);

}  // namespace ts::codegen

#endif  // TENSORSHUNT_CODEGEN_LOWER_CUDA_H_
