// Lowering of elementwise kernels to CUDA C, compiled at plan time with NVRTC (nvrtc.h).
//
// Each kernel becomes
//   extern "C" __global__ void SYMBOL(const float* __restrict__ in0, ..., float* __restrict__ out)
// over the same description the CPU backend lowers (codegen/expr.h): static shapes baked in,
// the loop nest merged the same way (BuildLoopNest), broadcasting as a stride of 0. One thread
// per output element in a grid-stride loop, so any grid size is correct; launch with
// kCudaBlockSize threads per block. Math follows the CPU kernels' semantics (Relu keeps NaN).
#ifndef TENSORSHUNT_CODEGEN_CUDA_C_H_
#define TENSORSHUNT_CODEGEN_CUDA_C_H_

#include <string>
#include <vector>

#include "codegen/expr.h"
#include "ir/status.h"

namespace ts::codegen {

inline constexpr int kCudaBlockSize = 256;

// One translation unit holding every kernel. Errors: a kernel whose program does not match its
// input count (kInternal: the compiler built it wrong).
StatusOr<std::string> EmitCudaSource(const std::vector<ElementwiseKernel>& kernels);

}  // namespace ts::codegen

#endif  // TENSORSHUNT_CODEGEN_CUDA_C_H_
