// A matrix product on weights laid out once for it: C[m, n] = A[m, k] * B[k, n] with B, a
// constant, stored in column blocks of 64 so each step of the kernel reads one contiguous run
// of B. OpenBLAS packs B into its own buffers on every call (7 MB for one of GPT-2's
// projections); here the compiler does it once (passes::BlockMatMulWeights).
//
// Layout: block j holds columns [64 j, 64 j + w_j), w_j = min(64, n - 64 j), as a [k, w_j]
// row-major matrix starting at float 64 j k. The bytes are B's, reordered: same count.
//
// Thread-safety: BlockedMatMulF32 may be called from any thread and splits its work with
// ParallelFor.
#ifndef TENSORSHUNT_RUNTIME_OPS_GEMM_BLOCKED_H_
#define TENSORSHUNT_RUNTIME_OPS_GEMM_BLOCKED_H_

#include <cstdint>

namespace ts::ops {

inline constexpr int64_t kMatMulWeightBlock = 64;

// To and from the blocked layout.
void BlockMatMulWeights(int64_t k, int64_t n, const float* b, float* blocked);
void UnblockMatMulWeights(int64_t k, int64_t n, const float* blocked, float* b);

// c[m, n] = a[m, k] * B, B blocked as above; a and c row-major with pitches k and n. On an
// AVX-512F CPU (CpuHasAvx512F) a 6 x 64 register tile; with `vector` false or without it, a
// plain loop does the same.
void BlockedMatMulF32(int64_t m, int64_t k, int64_t n, const float* a, const float* blocked_b, float* c,
                      bool vector = true);

}  // namespace ts::ops

#endif  // TENSORSHUNT_RUNTIME_OPS_GEMM_BLOCKED_H_
