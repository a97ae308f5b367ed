// A direct 2-D convolution for f32 on CPUs with AVX-512F: no im2col matrix and no GEMM packing.
//
// The padded input is copied once into s_h x s_w phase images (the rows and columns of each
// residue modulo the stride; for stride 1, one padded image), so every kernel tap becomes a fixed
// offset into them and output positions become contiguous "virtual" positions q = oh * Wq + ow
// (ow < Wq, the phase width; columns ow >= out_width are computed and dropped). A register tile
// of 6 output channels x 64 virtual positions (24 AVX-512 accumulators) runs over every input
// channel and tap: per step four vector loads of the image and six broadcast weights. A 1x1,
// stride-1, unpadded convolution reads the input in place.
//
// Thread-safety: DirectConvF32 may be called from any thread; it splits its work with
// ParallelFor and keeps its phase images in a buffer of the calling thread, kept for the next
// call. That buffer is outside the planned arena: about the size of the largest convolution
// input it has padded (at most 1 GiB, which DirectConvApplies enforces), per calling thread.
#ifndef TENSORSHUNT_RUNTIME_OPS_CONV_DIRECT_H_
#define TENSORSHUNT_RUNTIME_OPS_CONV_DIRECT_H_

#include <cstdint>
#include <string_view>

namespace ts::ops {

// One image and one group of a 2-D convolution, NCHW. Weights are [out_channels, in_channels,
// kernel_h, kernel_w] as ONNX stores them.
struct DirectConv2d {
  int64_t in_channels = 0, height = 0, width = 0;
  int64_t out_channels = 0, out_height = 0, out_width = 0;
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t pad_top = 0, pad_left = 0;  // the bottom and right pads follow from the output size
};

// Whether this CPU runs the direct kernel (AVX-512F) and TSR_CONV is not "im2col" (which keeps
// every convolution on im2col + GEMM, for comparisons). Read once.
bool DirectConvAvailable();

// Whether the geometry is one the direct kernel takes: strides 1 or 2, every size positive, the
// phase images under 1 GiB.
bool DirectConvApplies(const DirectConv2d& g);

// What happens to each output value after the bias, as it is stored: an addend of the output's
// shape is added (a residual connection), then ReLU. The default does neither.
struct ConvEpilogue {
  const float* addend = nullptr;  // [out_channels, out_height, out_width], or null
  bool relu = false;
};

// y[out_channels, out_height, out_width] = epilogue(conv(x[in_channels, height, width], w) +
// bias) (bias may be null). Requires DirectConvAvailable() and DirectConvApplies(g). Plane
// strides are dense: x channel c starts at x + c * height * width, y channel m (and the addend's)
// at y + m * out_height * out_width, weight row m at w + m * in_channels * kernel_h * kernel_w.
// The addend may be y itself.
void DirectConvF32(const DirectConv2d& g, const float* x, const float* w, const float* bias,
                   float* y, const ConvEpilogue& epilogue = {});

// ---- Blocked weights ----
// The same convolution with the weights in blocks of 16 output channels,
// blocked[b][j][l] = w[(16 b + l) * k + j] (k = in_channels * kernel_h * kernel_w, j over
// (channel, kh, kw) row-major): a register tile is then P output positions x V blocks of 16
// channels (P <= 14, P * V <= 28), the weights one vector load per block and step, the image
// values broadcast, and the tile transposed as it is stored. No lanes are lost to short rows
// (7x7 and 14x14 outputs), which cost the position-vectorised kernel up to a quarter.
// The compiler blocks a convolution's weights once (passes::BlockConvWeights) where
// BlockedConvPreferred says so; TsFusedConv's attribute weight_layout = "blocked16" marks them.
inline constexpr int64_t kConvWeightBlock = 16;
inline constexpr std::string_view kBlockedConvWeights = "blocked16";  // weight_layout's value

// Whether the blocked kernel is the faster one for this geometry (measured; out_channels a
// multiple of 16 among the conditions). Depends on the geometry only, not on this CPU.
bool BlockedConvPreferred(const DirectConv2d& g);

// To and from the blocked layout (out_channels a multiple of kConvWeightBlock).
void BlockConvWeights(int64_t out_channels, int64_t k, const float* w, float* blocked);
void UnblockConvWeights(int64_t out_channels, int64_t k, const float* blocked, float* w);

// DirectConvF32 on blocked weights. Requires DirectConvAvailable(), DirectConvApplies(g) and
// out_channels a multiple of kConvWeightBlock. Each output sums its terms in the same order as
// DirectConvF32 (bias, then channel by channel, tap by tap), so the two agree bit for bit.
void DirectConvBlockedF32(const DirectConv2d& g, const float* x, const float* blocked_w, const float* bias,
                          float* y, const ConvEpilogue& epilogue = {});

}  // namespace ts::ops

#endif  // TENSORSHUNT_RUNTIME_OPS_CONV_DIRECT_H_
