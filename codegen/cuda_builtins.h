// CUDA C for the runtime's builtins (matrix products, softmax, transpose), compiled by tsc with
// the plan's own kernels so that tsr needs only the driver. Kernel names and parameters (the
// runtime's CUDA backend, runtime/cuda/backend.h, computes them from each step's shapes):
//
//   ts_gemm(A, B, C0, Y, M, N, K, sab, sam, sak, sbb, sbk, sbn, scm, scn, alpha, beta)
//     Y[b][m][n] = alpha * sum_k A[b*sab + m*sam + k*sak] * B[b*sbb + k*sbk + n*sbn]
//                  + (C0 ? beta * C0[m*scm + n*scn] : 0)
//     grid (ceil(N/16), ceil(M/16), batch), block (16, 16). Strides in elements, long long.
//   ts_softmax(x, y, outer, len, inner): one thread per (outer, inner) row of len elements.
//   ts_softmax_rows(x, y, rows, len): one 256-thread block per contiguous row.
//   ts_view_E(x, y, total, base, TsTransposeDims): E = 1, 2, 4, 8 bytes per element; output
//     element o reads input offset base + sum(idx_d(o) * walk[d]) (Transpose, Slice, Expand);
//     grid-stride.
//   ts_reduce_mean(x, y, outer, len, inner): one 256-thread block per output.
//   ts_layernorm(x, scale, bias?, y, rows, len, eps): one 256-thread block per row.
//   ts_gather_E(data, idx, out, outer, n, m, block, idx64): E bytes per element; grid-stride.
//   ts_cast(x, y, total, from, to): ir::DType codes f32, f16, bf16, f64, i64, i32, i8, u8, bool.
#ifndef TENSORSHUNT_CODEGEN_CUDA_BUILTINS_H_
#define TENSORSHUNT_CODEGEN_CUDA_BUILTINS_H_

#include <string>

namespace ts::codegen {

const std::string& CudaBuiltinSource();

}  // namespace ts::codegen

#endif  // TENSORSHUNT_CODEGEN_CUDA_BUILTINS_H_
