#include "codegen/cuda_builtins.h"

namespace ts::codegen {

const std::string& CudaBuiltinSource() {
  static const std::string source = R"CUDA(
// The runtime's builtins on the GPU (codegen/cuda_builtins.h).
#define TS_TILE 16

// The sum of `part` over a 256-thread block, in part[0]; every thread must call it.
__device__ void ts_block_sum(float* part) {
  __syncthreads();
  for (int w = blockDim.x / 2; w > 0; w /= 2) {
    if (threadIdx.x < w) part[threadIdx.x] += part[threadIdx.x + w];
    __syncthreads();
  }
}

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

// A strided view of x copied out (Transpose, Slice, Expand): output element o, with per-axis index i_k
// over d.out_dims, reads x[base + sum of i_k * d.walk[k]]; a walk is 0 on broadcast axes and
// negative for negative slice steps.
#define TS_VIEW(NAME, T)                                                                   \
  extern "C" __global__ void __launch_bounds__(256) NAME(                                 \
      const T* __restrict__ x, T* __restrict__ y, long long total, long long base,         \
      TsTransposeDims d) {                                                                 \
    for (long long o = (long long)blockIdx.x * blockDim.x + threadIdx.x; o < total;         \
         o += (long long)gridDim.x * blockDim.x) {                                         \
      long long rem = o, src = base;                                                       \
      for (long long k = d.rank - 1; k >= 0; --k) {                                        \
        src += (rem % d.out_dims[k]) * d.walk[k];                                          \
        rem /= d.out_dims[k];                                                              \
      }                                                                                    \
      y[o] = x[src];                                                                       \
    }                                                                                      \
  }
TS_VIEW(ts_view_1, unsigned char)
TS_VIEW(ts_view_2, unsigned short)
TS_VIEW(ts_view_4, unsigned int)
TS_VIEW(ts_view_8, unsigned long long)

// ReduceMean over the middle axis of x viewed as [outer, len, inner]: one block per output.
extern "C" __global__ void __launch_bounds__(256) ts_reduce_mean(
    const float* __restrict__ x, float* __restrict__ y, long long outer, long long len,
    long long inner) {
  __shared__ float part[256];
  const long long q = blockIdx.x;
  if (q >= outer * inner) return;
  const float* xp = x + (q / inner) * len * inner + q % inner;
  float s = 0.0f;
  for (long long j = threadIdx.x; j < len; j += blockDim.x) s += xp[j * inner];
  part[threadIdx.x] = s;
  ts_block_sum(part);
  if (threadIdx.x == 0) y[q] = part[0] / (float)len;
}

// Softmax over contiguous rows of `len`: one block per row, so a warp reads adjacent elements.
extern "C" __global__ void __launch_bounds__(256) ts_softmax_rows(
    const float* __restrict__ x, float* __restrict__ y, long long rows, long long len) {
  __shared__ float part[256];
  const long long r = blockIdx.x;
  if (r >= rows) return;
  const float* xr = x + r * len;
  float* yr = y + r * len;
  float mx = __int_as_float(0xff800000);
  for (long long j = threadIdx.x; j < len; j += blockDim.x) mx = fmaxf(mx, xr[j]);
  part[threadIdx.x] = mx;
  __syncthreads();
  for (int w = blockDim.x / 2; w > 0; w /= 2) {
    if (threadIdx.x < w) part[threadIdx.x] = fmaxf(part[threadIdx.x], part[threadIdx.x + w]);
    __syncthreads();
  }
  mx = part[0];
  __syncthreads();
  float sum = 0.0f;
  for (long long j = threadIdx.x; j < len; j += blockDim.x) sum += expf(xr[j] - mx);
  part[threadIdx.x] = sum;
  ts_block_sum(part);
  const float inv = 1.0f / part[0];
  for (long long j = threadIdx.x; j < len; j += blockDim.x) yr[j] = expf(xr[j] - mx) * inv;
}

// LayerNormalization: each of `rows` rows of `len` elements; scale and bias (optional) hold
// `len` elements. One block of 256 threads per row: mean, then variance, then the output.
extern "C" __global__ void __launch_bounds__(256) ts_layernorm(
    const float* __restrict__ x, const float* __restrict__ scale, const float* __restrict__ bias,
    float* __restrict__ y, long long rows, long long len, float eps) {
  __shared__ float part[256];
  const long long r = blockIdx.x;
  if (r >= rows) return;
  const float* xr = x + r * len;
  float* yr = y + r * len;
  float s = 0.0f;
  for (long long j = threadIdx.x; j < len; j += blockDim.x) s += xr[j];
  part[threadIdx.x] = s;
  ts_block_sum(part);
  const float mean = part[0] / (float)len;
  __syncthreads();
  float v = 0.0f;
  for (long long j = threadIdx.x; j < len; j += blockDim.x) {
    const float d = xr[j] - mean;
    v += d * d;
  }
  part[threadIdx.x] = v;
  ts_block_sum(part);
  const float inv = rsqrtf(part[0] / (float)len + eps);
  for (long long j = threadIdx.x; j < len; j += blockDim.x) {
    yr[j] = (xr[j] - mean) * inv * scale[j] + (bias ? bias[j] : 0.0f);
  }
}

// Gather along one axis: out[o][j][e] = data[o][idx[j]][e] for `outer` leading rows, `n`
// entries on the axis, `m` indices and `block` elements after the axis; negative indices count
// from the end; out of range reads zeros, as the CPU kernel does.
#define TS_GATHER(NAME, T)                                                                   \
  extern "C" __global__ void __launch_bounds__(256) NAME(                                    \
      const T* __restrict__ data, const void* __restrict__ idx, T* __restrict__ out,          \
      long long outer, long long n, long long m, long long block, long long idx64) {          \
    const long long total = outer * m * block;                                                \
    for (long long q = (long long)blockIdx.x * blockDim.x + threadIdx.x; q < total;           \
         q += (long long)gridDim.x * blockDim.x) {                                            \
      const long long e = q % block, j = (q / block) % m, o = q / (block * m);                \
      long long i = idx64 ? ((const long long*)idx)[j] : ((const int*)idx)[j];               \
      if (i < 0) i += n;                                                                      \
      out[q] = (i < 0 || i >= n) ? (T)0 : data[(o * n + i) * block + e];                     \
    }                                                                                         \
  }
TS_GATHER(ts_gather_1, unsigned char)
TS_GATHER(ts_gather_2, unsigned short)
TS_GATHER(ts_gather_4, unsigned int)
TS_GATHER(ts_gather_8, unsigned long long)

// Convolution pieces. im2col of one image (and group) for a 2-D window: row (c, kh, kw),
// column (oh, ow), zeros for padding. Then a matrix product, then the bias per channel.
extern "C" __global__ void __launch_bounds__(256) ts_im2col(
    const float* __restrict__ x, float* __restrict__ col, long long C, long long H, long long W,
    long long KH, long long KW, long long OH, long long OW, long long sh, long long sw,
    long long ph, long long pw, long long dh, long long dw) {
  const long long total = C * KH * KW * OH * OW;
  for (long long q = (long long)blockIdx.x * blockDim.x + threadIdx.x; q < total;
       q += (long long)gridDim.x * blockDim.x) {
    const long long ow = q % OW, oh = (q / OW) % OH, kw = (q / (OW * OH)) % KW;
    const long long kh = (q / (OW * OH * KW)) % KH, c = q / (OW * OH * KW * KH);
    const long long ih = oh * sh - ph + kh * dh, iw = ow * sw - pw + kw * dw;
    col[q] = (ih >= 0 && ih < H && iw >= 0 && iw < W) ? x[(c * H + ih) * W + iw] : 0.0f;
  }
}

extern "C" __global__ void __launch_bounds__(256) ts_bias(float* __restrict__ y, const float* __restrict__ b,
                                                         long long channels, long long size, long long total) {
  for (long long q = (long long)blockIdx.x * blockDim.x + threadIdx.x; q < total;
       q += (long long)gridDim.x * blockDim.x) {
    y[q] += b[(q / size) % channels];
  }
}

// 2-D max pooling over `planes` images; NaN loses to any number; an empty window gives -inf.
extern "C" __global__ void __launch_bounds__(256) ts_maxpool2d(
    const float* __restrict__ x, float* __restrict__ y, long long planes, long long H, long long W,
    long long OH, long long OW, long long KH, long long KW, long long sh, long long sw,
    long long ph, long long pw, long long dh, long long dw) {
  const long long total = planes * OH * OW;
  for (long long q = (long long)blockIdx.x * blockDim.x + threadIdx.x; q < total;
       q += (long long)gridDim.x * blockDim.x) {
    const long long ow = q % OW, oh = (q / OW) % OH, p = q / (OW * OH);
    const float* plane = x + p * H * W;
    float best = __int_as_float(0xff800000);
    bool any = false;
    for (long long kh = 0; kh < KH; ++kh) {
      const long long ih = oh * sh - ph + kh * dh;
      if (ih < 0 || ih >= H) continue;
      for (long long kw = 0; kw < KW; ++kw) {
        const long long iw = ow * sw - pw + kw * dw;
        if (iw < 0 || iw >= W) continue;
        const float v = plane[ih * W + iw];
        if (!any || v > best || (best != best && v == v)) best = v;
        any = true;
      }
    }
    y[q] = best;
  }
}

// Global average pooling: one 256-thread block per plane of `size` elements.
extern "C" __global__ void __launch_bounds__(256) ts_global_avg(
    const float* __restrict__ x, float* __restrict__ y, long long planes, long long size) {
  __shared__ float part[256];
  const long long p = blockIdx.x;
  if (p >= planes) return;
  float s = 0.0f;
  for (long long j = threadIdx.x; j < size; j += blockDim.x) s += x[p * size + j];
  part[threadIdx.x] = s;
  ts_block_sum(part);
  if (threadIdx.x == 0) y[p] = part[0] / (float)size;
}

// ConvTranspose (2-D, group 1), one thread per output element gathering its inputs:
// y[n][m][oh][ow] = b[m] + sum over c, kh, kw with oh = ih*sh - ph + kh*dh (and ow likewise) of
// x[n][c][ih][iw] * w[c][m][kh][kw].
extern "C" __global__ void __launch_bounds__(256) ts_conv_transpose2d(
    const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ b,
    float* __restrict__ y, long long N, long long C, long long H, long long W, long long M,
    long long KH, long long KW, long long OH, long long OW, long long sh, long long sw,
    long long ph, long long pw, long long dh, long long dw) {
  const long long total = N * M * OH * OW;
  for (long long q = (long long)blockIdx.x * blockDim.x + threadIdx.x; q < total;
       q += (long long)gridDim.x * blockDim.x) {
    const long long ow = q % OW, oh = (q / OW) % OH, m = (q / (OW * OH)) % M, n = q / (OW * OH * M);
    float acc = b ? b[m] : 0.0f;
    for (long long kh = 0; kh < KH; ++kh) {
      const long long th = oh + ph - kh * dh;
      if (th < 0 || th % sh != 0 || th / sh >= H) continue;
      const long long ih = th / sh;
      for (long long kw = 0; kw < KW; ++kw) {
        const long long tw = ow + pw - kw * dw;
        if (tw < 0 || tw % sw != 0 || tw / sw >= W) continue;
        const long long iw = tw / sw;
        for (long long c = 0; c < C; ++c) {
          acc += x[((n * C + c) * H + ih) * W + iw] * w[((c * M + m) * KH + kh) * KW + kw];
        }
      }
    }
    y[q] = acc;
  }
}

// One input of a Concat: `outer` rows of `row` floats placed at column `offset` of rows of
// `dst_row` floats.
extern "C" __global__ void __launch_bounds__(256) ts_concat_part(
    const float* __restrict__ src, float* __restrict__ dst, long long outer, long long row,
    long long dst_row, long long offset) {
  const long long total = outer * row;
  for (long long q = (long long)blockIdx.x * blockDim.x + threadIdx.x; q < total;
       q += (long long)gridDim.x * blockDim.x) {
    dst[(q / row) * dst_row + offset + q % row] = src[q];
  }
}

// Half-precision conversions, round to nearest even (NVRTC has no cuda_fp16.h on its path).
__device__ float ts_f16_to_f32(unsigned short h) {
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
  return f;
}
__device__ unsigned short ts_f32_to_f16(float f) {
  unsigned short h;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
  return h;
}
__device__ unsigned short ts_f32_to_bf16(float f) {
  const unsigned int bits = __float_as_uint(f);
  if (f != f) return (unsigned short)((bits >> 16) | 0x40);  // NaN stays NaN (quiet)
  return (unsigned short)((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

// Cast between the types the GPU backend moves: codes are ir::DType's (1 f32, 2 f16, 3 bf16,
// 4 i64, 5 i32, 6 i8, 7 u8, 8 bool, 9 f64). Through double; float to integer truncates, to bool
// is x != 0; to f16 and bf16 through f32.
__device__ double ts_load(const void* p, long long i, int t) {
  switch (t) {
    case 1: return ((const float*)p)[i];
    case 2: return ts_f16_to_f32(((const unsigned short*)p)[i]);
    case 3: return __uint_as_float((unsigned int)((const unsigned short*)p)[i] << 16);
    case 4: return (double)((const long long*)p)[i];
    case 5: return ((const int*)p)[i];
    case 6: return ((const signed char*)p)[i];
    case 7: return ((const unsigned char*)p)[i];
    case 8: return ((const unsigned char*)p)[i] ? 1.0 : 0.0;
    default: return ((const double*)p)[i];
  }
}
extern "C" __global__ void __launch_bounds__(256) ts_cast(const void* __restrict__ x, void* __restrict__ y,
                                                         long long total, long long from, long long to) {
  for (long long q = (long long)blockIdx.x * blockDim.x + threadIdx.x; q < total;
       q += (long long)gridDim.x * blockDim.x) {
    const double v = ts_load(x, q, (int)from);
    switch ((int)to) {
      case 1: ((float*)y)[q] = (float)v; break;
      case 2: ((unsigned short*)y)[q] = ts_f32_to_f16((float)v); break;
      case 3: ((unsigned short*)y)[q] = ts_f32_to_bf16((float)v); break;
      case 4: ((long long*)y)[q] = (long long)v; break;
      case 5: ((int*)y)[q] = (int)v; break;
      case 6: ((signed char*)y)[q] = (signed char)v; break;
      case 7: ((unsigned char*)y)[q] = (unsigned char)v; break;
      case 8: ((unsigned char*)y)[q] = v != 0.0 ? 1 : 0; break;
      default: ((double*)y)[q] = v; break;
    }
  }
}
)CUDA";
  return source;
}

}  // namespace ts::codegen
