#include "runtime/ops/conv_direct.h"

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "runtime/ops/parallel.h"

namespace ts::ops {
namespace {

constexpr int kRows = 6;       // output channels per register tile
constexpr int kVectors = 4;    // 16-float vectors of virtual positions per tile
constexpr int kLanes = 16;
constexpr int64_t kTileQ = kVectors * kLanes;
constexpr int kRowGroup = 8;   // register tiles of channels per work item (48 channels)
// Image floats per channel pass: 256 KiB, a quarter of the second-level cache (16 KiB, half
// the first level, ran 10-20% slower: the accumulators went back to memory every few channels
// and the weights were read in short runs).
constexpr int64_t kChannelFloats = 65536;

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Where the taps read: the phase images, their sizes and one offset per (kh, kw).
struct Source {
  const float* data = nullptr;
  int64_t channel_stride = 0;  // floats between input channels within one phase image
  int64_t wq = 0;              // virtual row pitch
  std::vector<int64_t> taps;   // kernel_h * kernel_w offsets, row-major over (kh, kw)
  bool slack = false;          // reads may run a whole tile past the last position
};

int64_t Needed(int64_t out, int64_t kernel, int64_t stride, int64_t dilation) {
  return (out - 1) * stride + (kernel - 1) * dilation + 1;
}

// Copies the padded input into the phase images the taps use, in a buffer kept per thread.
Source Prepare(const DirectConv2d& g, const float* x) {
  Source src;
  const int64_t taps = g.kernel_h * g.kernel_w;
  if (taps == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_top == 0 && g.pad_left == 0 &&
      g.out_width == g.width && g.out_height <= g.height) {
    // 1x1, stride 1, unpadded: the virtual positions are the input's own.
    src.data = x;
    src.channel_stride = g.height * g.width;
    src.wq = g.width;
    src.taps = {0};
    return src;
  }
  const int64_t sh = g.stride_h, sw = g.stride_w;
  const int64_t hq = CeilDiv(Needed(g.out_height, g.kernel_h, sh, g.dilation_h), sh);
  const int64_t wq = CeilDiv(Needed(g.out_width, g.kernel_w, sw, g.dilation_w), sw);
  const int64_t plane = hq * wq, image = g.in_channels * plane;
  // Phase (a, b) holds padded rows a, a + sh, ... and columns b, b + sw, ...; only the phases
  // some tap reads are built.
  int slot_of[4] = {-1, -1, -1, -1};
  int slots = 0;
  src.taps.resize(static_cast<size_t>(taps));
  for (int64_t kh = 0; kh < g.kernel_h; ++kh) {
    for (int64_t kw = 0; kw < g.kernel_w; ++kw) {
      const int64_t rh = kh * g.dilation_h, rw = kw * g.dilation_w;
      const int phase = static_cast<int>((rh % sh) * sw + rw % sw);
      if (slot_of[phase] < 0) slot_of[phase] = slots++;
      src.taps[static_cast<size_t>(kh * g.kernel_w + kw)] = slot_of[phase] * image + (rh / sh) * wq + rw / sw;
    }
  }
  // Slack past the last image: a tile's last vector reads up to 15 lanes past the last
  // position, and a tap adds up to (kernel_w - 1) * dilation_w / stride_w columns, so reads end
  // at most that far past the last plane (a row and a tile more are kept, to spare).
  const int64_t total = slots * image + wq + g.kernel_w * g.dilation_w + kTileQ;
  thread_local std::vector<float> buffer;
  if (static_cast<int64_t>(buffer.size()) < total) buffer.resize(static_cast<size_t>(total));
  float* out = buffer.data();
  std::fill(out + slots * image, out + total, 0.0f);
  const int64_t h = g.height, w = g.width;
  ParallelFor(slots * g.in_channels, 8, [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {
      const int64_t c = item % g.in_channels;
      const int slot = static_cast<int>(item / g.in_channels);
      int phase = 0;
      while (slot_of[phase] != slot) ++phase;
      const int64_t a = phase / sw, b = phase % sw;
      const float* xc = x + c * h * w;
      float* dst = out + slot * image + c * plane;
      // Columns j with 0 <= j * sw + b - pad_left < w: [j_lo, j_hi).
      const int64_t j_lo = std::clamp<int64_t>(CeilDiv(g.pad_left - b, sw), 0, wq);
      const int64_t j_hi = std::clamp<int64_t>(CeilDiv(w + g.pad_left - b, sw), j_lo, wq);
      for (int64_t i = 0; i < hq; ++i) {
        float* row = dst + i * wq;
        const int64_t r = i * sh + a - g.pad_top;
        if (r < 0 || r >= h) {
          std::fill(row, row + wq, 0.0f);
          continue;
        }
        std::fill(row, row + j_lo, 0.0f);
        const float* in = xc + r * w + j_lo * sw + b - g.pad_left;
        if (sw == 1) {
          std::memcpy(row + j_lo, in, static_cast<size_t>(j_hi - j_lo) * sizeof(float));
        } else {
          for (int64_t j = j_lo; j < j_hi; ++j) row[j] = in[(j - j_lo) * sw];
        }
        std::fill(row + j_hi, row + wq, 0.0f);
      }
    }
  });
  src.data = out;
  src.slack = true;
  src.channel_stride = plane;
  src.wq = wq;
  return src;
}

// Adds to tile[r][0, 16 * V) the sums over input channels [c0, c1) and every tap of w[r] times
// the source at virtual positions q0 .. q0 + 16 * V - 1; with `first`, the tile starts from
// bias[r] (or 0) instead of its contents. With kFull every lane loads (the caller guarantees
// the source is readable there: count is 16 * V, or the phase images have slack, and lanes at
// or past count then hold values Scatter drops); otherwise lanes at or past count read nothing.
template <int R, int V, bool kFull>
__attribute__((target("avx512f"))) void Tile(const Source& src, int64_t c0, int64_t c1, const float* w,
                                             int64_t k, const float* bias, bool first, int64_t q0,
                                             int64_t count, float* tile) {
  __mmask16 mask[V];
  for (int v = 0; v < V; ++v) {
    const int64_t n = std::clamp<int64_t>(count - v * kLanes, 0, kLanes);
    mask[v] = static_cast<__mmask16>((1u << n) - 1u);
  }
  __m512 acc[R][V];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    const __m512 b = _mm512_set1_ps(bias ? bias[r] : 0.0f);
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) acc[r][v] = first ? b : _mm512_loadu_ps(tile + r * kTileQ + v * kLanes);
  }
  const int taps = static_cast<int>(src.taps.size());
  const int64_t* tap = src.taps.data();
  for (int64_t c = c0; c < c1; ++c) {
    const float* xc = src.data + c * src.channel_stride + q0;
    const float* wc = w + c * taps;
    for (int t = 0; t < taps; ++t) {
      const float* xp = xc + tap[t];
      __m512 x[V];
#pragma GCC unroll 8
      for (int v = 0; v < V; ++v) {
        // Plain loads where every lane is a position (about 10% faster than masked ones here).
        x[v] = kFull ? _mm512_loadu_ps(xp + v * kLanes) : _mm512_maskz_loadu_ps(mask[v], xp + v * kLanes);
      }
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const __m512 wv = _mm512_set1_ps(wc[r * k + t]);
#pragma GCC unroll 8
        for (int v = 0; v < V; ++v) acc[r][v] = _mm512_fmadd_ps(wv, x[v], acc[r][v]);
      }
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) _mm512_storeu_ps(tile + r * kTileQ + v * kLanes, acc[r][v]);
  }
}

using TileFn = void (*)(const Source&, int64_t, int64_t, const float*, int64_t, const float*, bool,
                        int64_t, int64_t, float*);
// kTiles[full][v][r]: the tile of r rows (1 to kRows) and v vectors (1 to kVectors), with
// every lane a position (full) or not.
template <int V, bool kFull, int... R>
constexpr std::array<TileFn, kRows + 1> RowsOf(std::integer_sequence<int, R...>) {
  return {nullptr, Tile<R + 1, V, kFull>...};
}
template <bool kFull, int... V>
constexpr std::array<std::array<TileFn, kRows + 1>, kVectors + 1> Tiles(std::integer_sequence<int, V...>) {
  return {std::array<TileFn, kRows + 1>{}, RowsOf<V + 1, kFull>(std::make_integer_sequence<int, kRows>())...};
}
constexpr std::array<std::array<std::array<TileFn, kRows + 1>, kVectors + 1>, 2> kTiles = {
    Tiles<false>(std::make_integer_sequence<int, kVectors>()),
    Tiles<true>(std::make_integer_sequence<int, kVectors>())};

// dst[i] = epilogue(src[i] + addend[i]) for i < n (addend may be null, and may be dst).
__attribute__((target("avx512f"))) void StoreRun(const float* src, const float* addend, bool relu, int64_t n,
                                                 float* dst) {
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += kLanes) {
    const __mmask16 m = static_cast<__mmask16>(n - i >= kLanes ? 0xffffu : (1u << (n - i)) - 1u);
    __m512 v = _mm512_maskz_loadu_ps(m, src + i);
    if (addend) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, addend + i));
    if (relu) v = _mm512_max_ps(v, zero);
    _mm512_mask_storeu_ps(dst + i, m, v);
  }
}

// Stores the tile's rows at virtual positions q0 .. q0 + count - 1 that are real outputs
// (column below out_width) into y's channels m0 .. m0 + rows - 1, through the epilogue.
void Scatter(const DirectConv2d& g, int64_t wq, const float* tile, int rows, int64_t m0, int64_t q0,
             int64_t count, const ConvEpilogue& e, float* y) {
  const int64_t out_plane = g.out_height * g.out_width;
  for (int64_t q = q0; q < q0 + count;) {
    const int64_t oh = q / wq, ow = q % wq;
    if (ow >= g.out_width) {
      q += wq - ow;
      continue;
    }
    const int64_t len = std::min(g.out_width - ow, q0 + count - q);
    for (int r = 0; r < rows; ++r) {
      const int64_t at = (m0 + r) * out_plane + oh * g.out_width + ow;
      StoreRun(tile + r * kTileQ + (q - q0), e.addend ? e.addend + at : nullptr, e.relu, len, y + at);
    }
    q += len;
  }
}

// The blocked kernel: output channels across the vector lanes, positions broadcast.
constexpr int kBlockLanes = static_cast<int>(kConvWeightBlock);
// Tiles of P positions x V blocks of 16 channels, P * V <= 28 accumulators.
constexpr int kBlockMaxP = 14, kBlockMaxV = 4;
// Weight floats per channel pass (128 KiB, an eighth of the second-level cache) and position
// tiles per work item: 64 KiB and 16 tiles ran 5-10% slower on 3x3 layers at 56x56 and 28x28.
constexpr int64_t kBlockPassFloats = 32768;
constexpr int64_t kBlockTilesPerItem = 4;

// acc[i][v] += sum over channels [c0, c1) and taps of weight block v's 16 weights times the
// source at virtual position q0 + i (i < P); `first` starts from the bias (or 0). acc_out holds
// the tile between passes as [P][V][16].
template <int P, int V>
__attribute__((target("avx512f"))) void BlockedTile(const Source& src, int64_t c0, int64_t c1, const float* wp,
                                                   int64_t block_stride, const float* bias, bool first,
                                                   int64_t q0, float* acc_out) {
  __m512 acc[P][V];
#pragma GCC unroll 4
  for (int v = 0; v < V; ++v) {
    const __m512 b = bias ? _mm512_loadu_ps(bias + v * kBlockLanes) : _mm512_setzero_ps();
#pragma GCC unroll 16
    for (int i = 0; i < P; ++i) acc[i][v] = first ? b : _mm512_load_ps(acc_out + (i * V + v) * kBlockLanes);
  }
  const int taps = static_cast<int>(src.taps.size());
  const int64_t* tap = src.taps.data();
  for (int64_t c = c0; c < c1; ++c) {
    const float* xc = src.data + c * src.channel_stride + q0;
    const float* wc = wp + c * taps * kBlockLanes;
    for (int t = 0; t < taps; ++t) {
      const float* xp = xc + tap[t];
      __m512 wv[V];
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) wv[v] = _mm512_loadu_ps(wc + v * block_stride + t * kBlockLanes);
#pragma GCC unroll 16
      for (int i = 0; i < P; ++i) {
        const __m512 xb = _mm512_set1_ps(xp[i]);
#pragma GCC unroll 4
        for (int v = 0; v < V; ++v) acc[i][v] = _mm512_fmadd_ps(wv[v], xb, acc[i][v]);
      }
    }
  }
#pragma GCC unroll 16
  for (int i = 0; i < P; ++i) {
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) _mm512_store_ps(acc_out + (i * V + v) * kBlockLanes, acc[i][v]);
  }
}

// Transposes rows[i][0, 16) for i < p (row pitch `pitch` floats; p <= 16) and stores lane j of
// every row as the run y[j * plane + i], i < p, through the epilogue (addend at the same
// offsets). Four rounds of in-lane shuffles, as in a 16x16 transpose.
__attribute__((target("avx512f"))) void StoreTransposed(const float* rows, int64_t pitch, int p, int64_t plane,
                                                        const float* addend, bool relu, float* y) {
  __m512 r[16], t[16];
  for (int i = 0; i < 16; ++i) r[i] = i < p ? _mm512_load_ps(rows + i * pitch) : _mm512_setzero_ps();
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  // r[4g + m], 128-bit lane k: channel 4k + m at positions 4g .. 4g + 3.
  for (int g = 0; g < 16; g += 4) {
    r[g] = _mm512_shuffle_ps(t[g], t[g + 2], 0x44);
    r[g + 1] = _mm512_shuffle_ps(t[g], t[g + 2], 0xEE);
    r[g + 2] = _mm512_shuffle_ps(t[g + 1], t[g + 3], 0x44);
    r[g + 3] = _mm512_shuffle_ps(t[g + 1], t[g + 3], 0xEE);
  }
  const __mmask16 mask = static_cast<__mmask16>((1u << p) - 1u);
  const __m512 zero = _mm512_setzero_ps();
  for (int m = 0; m < 4; ++m) {
    const __m512 p0 = _mm512_shuffle_f32x4(r[m], r[4 + m], 0x44), p1 = _mm512_shuffle_f32x4(r[m], r[4 + m], 0xEE);
    const __m512 p2 = _mm512_shuffle_f32x4(r[8 + m], r[12 + m], 0x44), p3 = _mm512_shuffle_f32x4(r[8 + m], r[12 + m], 0xEE);
    const __m512 out[4] = {_mm512_shuffle_f32x4(p0, p2, 0x88), _mm512_shuffle_f32x4(p0, p2, 0xDD),
                           _mm512_shuffle_f32x4(p1, p3, 0x88), _mm512_shuffle_f32x4(p1, p3, 0xDD)};
    for (int k = 0; k < 4; ++k) {
      const int64_t at = (4 * k + m) * plane;
      __m512 v = out[k];
      if (addend) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, addend + at));
      if (relu) v = _mm512_max_ps(v, zero);
      _mm512_mask_storeu_ps(y + at, mask, v);
    }
  }
}

using BlockedTileFn = void (*)(const Source&, int64_t, int64_t, const float*, int64_t, const float*, bool, int64_t,
                              float*);
template <int V, int... P>
constexpr std::array<BlockedTileFn, kBlockMaxP + 1> BlockedRows(std::integer_sequence<int, P...>) {
  return {nullptr, BlockedTile<P + 1, V>...};
}
template <int... V>
constexpr std::array<std::array<BlockedTileFn, kBlockMaxP + 1>, kBlockMaxV + 1> BlockedTiles(std::integer_sequence<int, V...>) {
  return {std::array<BlockedTileFn, kBlockMaxP + 1>{}, BlockedRows<V + 1>(std::make_integer_sequence<int, kBlockMaxP>())...};
}
constexpr auto kBlockedTiles = BlockedTiles(std::make_integer_sequence<int, kBlockMaxV>());

}  // namespace

bool DirectConvAvailable() {
  static const bool available = [] {
    const char* mode = std::getenv("TSR_CONV");
    if (mode && std::strcmp(mode, "im2col") == 0) return false;
    return CpuHasAvx512F();
  }();
  return available;
}

bool DirectConvApplies(const DirectConv2d& g) {
  const int64_t limit = int64_t{1} << 28;  // floats: 1 GiB of phase images
  // Every size in (0, limit] first, so the products below cannot overflow (the cost model calls
  // this on any model's shapes).
  for (int64_t v : {g.in_channels, g.height, g.width, g.out_channels, g.out_height, g.out_width,
                    g.kernel_h, g.kernel_w, g.dilation_h, g.dilation_w}) {
    if (v <= 0 || v > limit) return false;
  }
  if (g.pad_top < 0 || g.pad_left < 0 || g.pad_top > limit || g.pad_left > limit) return false;
  if (g.stride_h < 1 || g.stride_h > 2 || g.stride_w < 1 || g.stride_w > 2) return false;
  // 1x1 kernels over 512-2048 channels included: alone they ran 10-20% slower than OpenBLAS
  // (benchmarks/conv), but inside ResNet-50 (weights cold, a residual Add and ReLU in the
  // epilogue) its 13 such convolutions took 14.6-15.8 ms here against 16.3-19.7 on OpenBLAS.
  const int64_t hq = CeilDiv(Needed(g.out_height, g.kernel_h, g.stride_h, g.dilation_h), g.stride_h);
  const int64_t wq = CeilDiv(Needed(g.out_width, g.kernel_w, g.stride_w, g.dilation_w), g.stride_w);
  if (hq > limit || wq > limit || hq * wq > limit / 4) return false;
  // Up to four phase images (stride 2 in both dims) of every input channel.
  return g.in_channels * hq * wq * 4 <= limit && g.kernel_h * g.kernel_w <= limit;
}

void DirectConvF32(const DirectConv2d& g, const float* x, const float* w, const float* bias,
                   float* y, const ConvEpilogue& epilogue) {
  const Source src = Prepare(g, x);
  const int64_t taps = static_cast<int64_t>(src.taps.size());
  const int64_t k = g.in_channels * taps;
  const int64_t positions = g.out_height * src.wq;
  // Position blocks of whole vectors, as even as blocks of at most four vectors allow (13
  // vectors: 3 + 3 + 3 + 4, not 4 + 4 + 4 + 1), so the threads' shares of work stay even.
  const int64_t vectors_total = CeilDiv(positions, kLanes);
  const int64_t q_blocks = CeilDiv(vectors_total, kVectors);
  auto block_start = [&](int64_t qb) { return qb * vectors_total / q_blocks * kLanes; };
  const int64_t row_tiles = CeilDiv(g.out_channels, kRows);
  const int64_t groups = CeilDiv(row_tiles, kRowGroup);
  // Input channels per pass, so a pass's image stretch (channels x a tile's positions and
  // taps) stays in the second-level cache while the group's row tiles run over it.
  const int64_t chunk = std::max<int64_t>(1, kChannelFloats / (taps * kTileQ));
  // Items run group by group, so one thread's consecutive items reuse the group's weights from
  // cache (read once from memory for every position block), and within an item a channel pass's
  // stretch of the phase images is reused by each of the group's row tiles.
  ParallelFor(q_blocks * groups, 1, [&](int64_t begin, int64_t end) {
    alignas(64) float tile[kRowGroup][kRows * kTileQ];
    for (int64_t item = begin; item < end; ++item) {
      const int64_t group = item / q_blocks, qb = item % q_blocks;
      const int64_t q0 = block_start(qb), count = std::min(block_start(qb + 1), positions) - q0;
      const int vectors = static_cast<int>(CeilDiv(count, kLanes));
      const int64_t t0 = group * kRowGroup, t1 = std::min(row_tiles, t0 + kRowGroup);
      for (int64_t c0 = 0; c0 < g.in_channels; c0 += chunk) {
        const int64_t c1 = std::min(g.in_channels, c0 + chunk);
        for (int64_t t = t0; t < t1; ++t) {
          const int64_t m0 = t * kRows;
          const int rows = static_cast<int>(std::min<int64_t>(kRows, g.out_channels - m0));
          kTiles[src.slack || count == vectors * kLanes][vectors][rows](src, c0, c1, w + m0 * k, k, bias ? bias + m0 : nullptr, c0 == 0, q0,
                                count, tile[t - t0]);
        }
      }
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t m0 = t * kRows;
        const int rows = static_cast<int>(std::min<int64_t>(kRows, g.out_channels - m0));
        Scatter(g, src.wq, tile[t - t0], rows, m0, q0, count, epilogue, y);
      }
    }
  });
}

}  // namespace ts::ops

namespace ts::ops {

bool BlockedConvPreferred(const DirectConv2d& g) {
  // Measured against DirectConvF32 (benchmarks/conv/RESULTS: "blocked weights"): faster on
  // every ResNet-50 shape but the 1x1 over 64 channels and the 7x7 stem over 3 channels (one
  // tile's stores then weigh on too few products), and slower on U-Net's 32-channel layers.
  const int64_t k = g.in_channels * g.kernel_h * g.kernel_w;
  return DirectConvApplies(g) && g.out_channels % kConvWeightBlock == 0 && g.out_channels >= 64 &&
         g.in_channels >= 16 && k >= 128;
}

void BlockConvWeights(int64_t out_channels, int64_t k, const float* w, float* blocked) {
  for (int64_t b = 0; b < out_channels / kConvWeightBlock; ++b) {
    for (int64_t j = 0; j < k; ++j) {
      for (int64_t l = 0; l < kConvWeightBlock; ++l) {
        blocked[(b * k + j) * kConvWeightBlock + l] = w[(b * kConvWeightBlock + l) * k + j];
      }
    }
  }
}

void UnblockConvWeights(int64_t out_channels, int64_t k, const float* blocked, float* w) {
  for (int64_t b = 0; b < out_channels / kConvWeightBlock; ++b) {
    for (int64_t j = 0; j < k; ++j) {
      for (int64_t l = 0; l < kConvWeightBlock; ++l) {
        w[(b * kConvWeightBlock + l) * k + j] = blocked[(b * k + j) * kConvWeightBlock + l];
      }
    }
  }
}

void DirectConvBlockedF32(const DirectConv2d& g, const float* x, const float* blocked_w, const float* bias,
                          float* y, const ConvEpilogue& e) {
  const Source src = Prepare(g, x);
  const int64_t taps = static_cast<int64_t>(src.taps.size());
  const int64_t k = g.in_channels * taps;
  const int64_t out_plane = g.out_height * g.out_width;
  // Position tiles: runs of up to P real outputs, contiguous in the source. Without dropped
  // columns (1x1, stride 1, unpadded) they run across rows; otherwise each stays in its row.
  const bool flat = src.wq == g.out_width;
  const int p_max = flat ? kBlockMaxP : static_cast<int>(std::min<int64_t>(kBlockMaxP, g.out_width));
  const int v_max = std::min(kBlockMaxV, 28 / p_max);
  struct TileAt {
    int64_t q0, pos0;  // its first virtual position and first output position
    int p;
  };
  std::vector<TileAt> tiles;
  if (flat) {
    for (int64_t q = 0; q < out_plane; q += p_max) tiles.push_back({q, q, static_cast<int>(std::min<int64_t>(p_max, out_plane - q))});
  } else {
    for (int64_t oh = 0; oh < g.out_height; ++oh) {
      for (int64_t ow = 0; ow < g.out_width; ow += p_max) {
        tiles.push_back({oh * src.wq + ow, oh * g.out_width + ow,
                         static_cast<int>(std::min<int64_t>(p_max, g.out_width - ow))});
      }
    }
  }
  const int64_t blocks = g.out_channels / kConvWeightBlock;
  const int64_t supers = CeilDiv(blocks, v_max);  // V blocks each
  const int64_t ntiles = static_cast<int64_t>(tiles.size());
  const int64_t groups = CeilDiv(ntiles, kBlockTilesPerItem);
  const int64_t chunk = std::max<int64_t>(1, kBlockPassFloats / (taps * kConvWeightBlock * v_max));
  const int64_t block_stride = k * kConvWeightBlock;
  // Items run block group by block group, so one thread's consecutive items reuse its weights.
  ParallelFor(supers * groups, 1, [&](int64_t begin, int64_t end) {
    alignas(64) float accs[kBlockTilesPerItem][kBlockMaxP * kBlockMaxV * kBlockLanes];
    for (int64_t item = begin; item < end; ++item) {
      const int64_t sb = item / groups, t0 = item % groups * kBlockTilesPerItem;
      const int64_t t1 = std::min(ntiles, t0 + kBlockTilesPerItem);
      const int v = static_cast<int>(std::min<int64_t>(v_max, blocks - sb * v_max));
      const float* ws = blocked_w + sb * v_max * block_stride;
      const float* bs = bias ? bias + sb * v_max * kConvWeightBlock : nullptr;
      for (int64_t c0 = 0; c0 < g.in_channels; c0 += chunk) {
        const int64_t c1 = std::min(g.in_channels, c0 + chunk);
        for (int64_t t = t0; t < t1; ++t) {
          const TileAt& a = tiles[static_cast<size_t>(t)];
          kBlockedTiles[v][a.p](src, c0, c1, ws, block_stride, bs, c0 == 0, a.q0, accs[t - t0]);
        }
      }
      for (int64_t t = t0; t < t1; ++t) {
        const TileAt& a = tiles[static_cast<size_t>(t)];
        for (int j = 0; j < v; ++j) {
          const int64_t at = ((sb * v_max + j) * kConvWeightBlock) * out_plane + a.pos0;
          StoreTransposed(accs[t - t0] + j * kBlockLanes, v * kBlockLanes, a.p, out_plane,
                          e.addend ? e.addend + at : nullptr, e.relu, y + at);
        }
      }
    }
  });
}

}  // namespace ts::ops
