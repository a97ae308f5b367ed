#include "codegen/cuda_builtins.h"

namespace ts::codegen {

const std::string& CudaBuiltinSource() {
  static const std::string source = R"CUDA(
// The runtime's builtins on the GPU (codegen/cuda_builtins.h).
#define TS_TILE 16

extern "C" __global__ void __launch_bounds__(256) ts_gemm(
    const float* __restrict__ A, const float* __restrict__ B, const float* __restrict__ C0,
    float* __restrict__ Y, long long M, long long N, long long K, long long sab, long long sam,
    long long sak, long long sbb, long long sbk, long long sbn, long long scm, long long scn,
    float alpha, float beta) {
  __shared__ float As[TS_TILE][TS_TILE + 1];
  __shared__ float Bs[TS_TILE][TS_TILE + 1];
  const long long b = blockIdx.z;
  const long long row = (long long)blockIdx.y * TS_TILE + threadIdx.y;
  const long long col = (long long)blockIdx.x * TS_TILE + threadIdx.x;
  const float* a = A + b * sab;
  const float* bb = B + b * sbb;
  float acc = 0.0f;
  for (long long k0 = 0; k0 < K; k0 += TS_TILE) {
    const long long ka = k0 + threadIdx.x, kb = k0 + threadIdx.y;
    As[threadIdx.y][threadIdx.x] = (row < M && ka < K) ? a[row * sam + ka * sak] : 0.0f;
    Bs[threadIdx.y][threadIdx.x] = (kb < K && col < N) ? bb[kb * sbk + col * sbn] : 0.0f;
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < TS_TILE; ++kk) acc += As[threadIdx.y][kk] * Bs[kk][threadIdx.x];
    __syncthreads();
  }
  if (row < M && col < N) {
    float v = alpha * acc;
    if (C0) v += beta * C0[row * scm + col * scn];
    Y[b * M * N + row * N + col] = v;
  }
}

extern "C" __global__ void __launch_bounds__(256) ts_softmax(
    const float* __restrict__ x, float* __restrict__ y, long long outer, long long len,
    long long inner) {
  const long long r = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (r >= outer * inner) return;
  const long long o = r / inner, i = r % inner;
  const float* xp = x + o * len * inner + i;
  float* yp = y + o * len * inner + i;
  float mx = __int_as_float(0xff800000);  // -inf (NVRTC has no math.h macros)
  for (long long j = 0; j < len; ++j) mx = fmaxf(mx, xp[j * inner]);
  float sum = 0.0f;
  for (long long j = 0; j < len; ++j) {
    const float e = expf(xp[j * inner] - mx);
    yp[j * inner] = e;
    sum += e;
  }
  const float inv = 1.0f / sum;
  for (long long j = 0; j < len; ++j) yp[j * inner] *= inv;
}

struct TsTransposeDims {
  long long out_dims[8];
  long long walk[8];
  long long rank;
};

#define TS_TRANSPOSE(NAME, T)                                                              \
  extern "C" __global__ void __launch_bounds__(256) NAME(                                 \
      const T* __restrict__ x, T* __restrict__ y, long long total, TsTransposeDims d) {    \
    for (long long o = (long long)blockIdx.x * blockDim.x + threadIdx.x; o < total;         \
         o += (long long)gridDim.x * blockDim.x) {                                         \
      long long rem = o, src = 0;                                                          \
      for (long long k = d.rank - 1; k >= 0; --k) {                                        \
        src += (rem % d.out_dims[k]) * d.walk[k];                                          \
        rem /= d.out_dims[k];                                                              \
      }                                                                                    \
      y[o] = x[src];                                                                       \
    }                                                                                      \
  }
TS_TRANSPOSE(ts_transpose_1, unsigned char)
TS_TRANSPOSE(ts_transpose_2, unsigned short)
TS_TRANSPOSE(ts_transpose_4, unsigned int)
TS_TRANSPOSE(ts_transpose_8, unsigned long long)
)CUDA";
  return source;
}

}  // namespace ts::codegen
