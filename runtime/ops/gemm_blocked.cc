#include "runtime/ops/gemm_blocked.h"

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <utility>

#include "runtime/ops/parallel.h"

namespace ts::ops {
namespace {

constexpr int kRows = 6;      // rows of A per register tile: 6 x 4 vectors = 24 accumulators
constexpr int kVectors = 4;   // 16-float vectors per column block
constexpr int64_t kDepth = 256;  // k per pass: a block's 64 KiB of B stays in the second-level cache
constexpr int64_t kRowsPerItem = 48;  // rows of A per work item, 8 tiles

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// c[r][0, width) (+)= sum over p < depth of a[r][p] * b[p][0, width) for r < R, with b's rows
// `width` floats apart; the last of the V vectors masked by `last`. `first` starts from zero.
template <int R, int V>
__attribute__((target("avx512f"))) void Tile(const float* a, int64_t lda, const float* b, int64_t width,
                                             int64_t depth, __mmask16 last, float* c, int64_t ldc, bool first) {
  __m512 acc[R][V];
  const float* row[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    row[r] = a + r * lda;
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) {
      const __mmask16 m = v == V - 1 ? last : static_cast<__mmask16>(0xffff);
      acc[r][v] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m, c + r * ldc + 16 * v);
    }
  }
  for (int64_t p = 0; p < depth; ++p) {
    __m512 bv[V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) {
      bv[v] = v == V - 1 ? _mm512_maskz_loadu_ps(last, b + p * width + 16 * v) : _mm512_loadu_ps(b + p * width + 16 * v);
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512 x = _mm512_set1_ps(row[r][p]);
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc[r][v] = _mm512_fmadd_ps(x, bv[v], acc[r][v]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) {
      const __mmask16 m = v == V - 1 ? last : static_cast<__mmask16>(0xffff);
      _mm512_mask_storeu_ps(c + r * ldc + 16 * v, m, acc[r][v]);
    }
  }
}

using TileFn = void (*)(const float*, int64_t, const float*, int64_t, int64_t, __mmask16, float*, int64_t, bool);
template <int V, int... R>
constexpr std::array<TileFn, kRows + 1> RowsOf(std::integer_sequence<int, R...>) {
  return {nullptr, Tile<R + 1, V>...};
}
template <int... V>
constexpr std::array<std::array<TileFn, kRows + 1>, kVectors + 1> Tiles(std::integer_sequence<int, V...>) {
  return {std::array<TileFn, kRows + 1>{}, RowsOf<V + 1>(std::make_integer_sequence<int, kRows>())...};
}
constexpr auto kTiles = Tiles(std::make_integer_sequence<int, kVectors>());

}  // namespace

void BlockMatMulWeights(int64_t k, int64_t n, const float* b, float* blocked) {
  for (int64_t j0 = 0; j0 < n; j0 += kMatMulWeightBlock) {
    const int64_t w = std::min(kMatMulWeightBlock, n - j0);
    float* out = blocked + j0 * k;
    for (int64_t p = 0; p < k; ++p) std::copy(b + p * n + j0, b + p * n + j0 + w, out + p * w);
  }
}

void UnblockMatMulWeights(int64_t k, int64_t n, const float* blocked, float* b) {
  for (int64_t j0 = 0; j0 < n; j0 += kMatMulWeightBlock) {
    const int64_t w = std::min(kMatMulWeightBlock, n - j0);
    const float* in = blocked + j0 * k;
    for (int64_t p = 0; p < k; ++p) std::copy(in + p * w, in + (p + 1) * w, b + p * n + j0);
  }
}

void BlockedMatMulF32(int64_t m, int64_t k, int64_t n, const float* a, const float* blocked_b, float* c,
                      bool vector) {
  if (m == 0 || n == 0) return;
  const int64_t blocks = CeilDiv(n, kMatMulWeightBlock), row_groups = CeilDiv(m, kRowsPerItem);
  if (k == 0) {
    std::fill(c, c + m * n, 0.0f);
    return;
  }
  const bool fast = vector && CpuHasAvx512F();
  // Items run column block by column block, so a thread's consecutive items reuse its B.
  ParallelFor(blocks * row_groups, 1, [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {
      const int64_t j0 = item / row_groups * kMatMulWeightBlock, i0 = item % row_groups * kRowsPerItem;
      const int64_t width = std::min(kMatMulWeightBlock, n - j0), i1 = std::min(m, i0 + kRowsPerItem);
      const float* b = blocked_b + j0 * k;
      if (!fast) {
        for (int64_t i = i0; i < i1; ++i) {
          float* ci = c + i * n + j0;
          std::fill(ci, ci + width, 0.0f);
          for (int64_t p = 0; p < k; ++p) {
            const float av = a[i * k + p];
            for (int64_t j = 0; j < width; ++j) ci[j] += av * b[p * width + j];
          }
        }
        continue;
      }
      const int vectors = static_cast<int>(CeilDiv(width, 16));
      const int64_t tail = width - 16 * (vectors - 1);
      const __mmask16 last = static_cast<__mmask16>(tail == 16 ? 0xffffu : (1u << tail) - 1u);
      for (int64_t p0 = 0; p0 < k; p0 += kDepth) {
        const int64_t depth = std::min(kDepth, k - p0);
        for (int64_t i = i0; i < i1; i += kRows) {
          const int rows = static_cast<int>(std::min<int64_t>(kRows, i1 - i));
          kTiles[vectors][rows](a + i * k + p0, k, b + p0 * width, width, depth, last, c + i * n + j0, n, p0 == 0);
        }
      }
    }
  });
}

}  // namespace ts::ops
