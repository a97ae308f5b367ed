#include "runtime/ops/conv_direct.h"

#include <gtest/gtest.h>

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <utility>
#include <vector>

namespace ts::ops {
namespace {

int64_t OutSize(int64_t in, int64_t kernel, int64_t stride, int64_t dilation, int64_t pads) {
  return (in + pads - (kernel - 1) * dilation - 1) / stride + 1;
}

// The definition, one output at a time; also the sum of |w * x| over each output's terms, which
// bounds the rounding error of any order of summation.
void Reference(const DirectConv2d& g, const std::vector<float>& x, const std::vector<float>& w,
               const float* bias, std::vector<double>* y, std::vector<double>* magnitude) {
  y->assign(static_cast<size_t>(g.out_channels * g.out_height * g.out_width), 0);
  magnitude->assign(y->size(), 0);
  for (int64_t m = 0; m < g.out_channels; ++m) {
    for (int64_t oh = 0; oh < g.out_height; ++oh) {
      for (int64_t ow = 0; ow < g.out_width; ++ow) {
        double sum = bias ? bias[m] : 0, mag = bias ? std::fabs(bias[m]) : 0;
        for (int64_t c = 0; c < g.in_channels; ++c) {
          for (int64_t kh = 0; kh < g.kernel_h; ++kh) {
            for (int64_t kw = 0; kw < g.kernel_w; ++kw) {
              const int64_t r = oh * g.stride_h - g.pad_top + kh * g.dilation_h;
              const int64_t col = ow * g.stride_w - g.pad_left + kw * g.dilation_w;
              if (r < 0 || r >= g.height || col < 0 || col >= g.width) continue;
              const double term = double(w[static_cast<size_t>(((m * g.in_channels + c) * g.kernel_h + kh) * g.kernel_w + kw)]) *
                                  x[static_cast<size_t>((c * g.height + r) * g.width + col)];
              sum += term;
              mag += std::fabs(term);
            }
          }
        }
        const size_t i = static_cast<size_t>((m * g.out_height + oh) * g.out_width + ow);
        (*y)[i] = sum;
        (*magnitude)[i] = mag;
      }
    }
  }
}

TEST(DirectConvTest, RandomGeometriesMatchTheDefinition) {
  if (!DirectConvAvailable()) GTEST_SKIP() << "this CPU has no AVX-512F (or TSR_CONV=im2col)";
  std::mt19937 rng(20261123);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  std::normal_distribution<float> normal;
  int ran = 0;
  for (int trial = 0; trial < 300; ++trial) {
    DirectConv2d g;
    // Every tenth trial: a 3x3 kernel over more input channels than one channel pass takes
    // (113 for 3x3), so tiles carry partial sums from one pass to the next.
    const bool passes = trial % 10 == 0;
    g.in_channels = passes ? pick(120, 200) : pick(1, 20);
    g.out_channels = pick(1, 60);  // up to two groups of 48 channels, and partial tiles of 6
    g.kernel_h = passes ? 3 : pick(1, 7);
    g.kernel_w = passes || trial % 5 == 0 ? g.kernel_h : pick(1, 7);
    g.stride_h = pick(1, 2);
    g.stride_w = pick(1, 2);
    g.dilation_h = pick(1, 2);
    g.dilation_w = pick(1, 2);
    g.pad_top = pick(0, g.kernel_h - 1);
    g.pad_left = pick(0, g.kernel_w - 1);
    const int64_t pad_bottom = pick(0, g.kernel_h - 1), pad_right = pick(0, g.kernel_w - 1);
    g.height = pick(1, passes ? 12 : 24);
    g.width = pick(1, passes ? 12 : trial % 7 == 0 ? 90 : 24);  // rows wider than one 64-position tile
    g.out_height = OutSize(g.height, g.kernel_h, g.stride_h, g.dilation_h, g.pad_top + pad_bottom);
    g.out_width = OutSize(g.width, g.kernel_w, g.stride_w, g.dilation_w, g.pad_left + pad_right);
    if (g.out_height <= 0 || g.out_width <= 0) continue;
    ASSERT_TRUE(DirectConvApplies(g)) << "trial " << trial;
    std::vector<float> x(static_cast<size_t>(g.in_channels * g.height * g.width));
    std::vector<float> w(static_cast<size_t>(g.out_channels * g.in_channels * g.kernel_h * g.kernel_w));
    std::vector<float> bias(static_cast<size_t>(g.out_channels));
    for (float& v : x) v = normal(rng);
    for (float& v : w) v = normal(rng);
    for (float& v : bias) v = normal(rng);
    const bool with_bias = trial % 3 != 0;
    // Surround y with canaries: the kernel writes exactly the outputs.
    const size_t outputs = static_cast<size_t>(g.out_channels * g.out_height * g.out_width);
    std::vector<float> y(outputs + 32, 12345.0f);
    // The epilogue, by trial: none; ReLU; an addend and ReLU; the addend being y itself.
    const int epilogue = trial % 4;
    std::vector<float> addend(outputs);
    for (float& v : addend) v = normal(rng);
    ConvEpilogue e;
    e.relu = epilogue == 1 || epilogue == 2;
    if (epilogue == 2) e.addend = addend.data();
    if (epilogue == 3) {
      std::copy(addend.begin(), addend.end(), y.begin() + 16);
      e.addend = y.data() + 16;
    }
    DirectConvF32(g, x.data(), w.data(), with_bias ? bias.data() : nullptr, y.data() + 16, e);
    std::vector<double> want, magnitude;
    Reference(g, x, w, with_bias ? bias.data() : nullptr, &want, &magnitude);
    for (size_t i = 0; i < outputs; ++i) {
      if (epilogue >= 2) {
        want[i] += addend[i];
        magnitude[i] += std::fabs(addend[i]);
      }
      if (e.relu) want[i] = std::max(want[i], 0.0);
    }
    for (size_t i = 0; i < 16; ++i) {
      ASSERT_EQ(y[i], 12345.0f) << "trial " << trial << ": wrote before the output";
      ASSERT_EQ(y[outputs + 16 + i], 12345.0f) << "trial " << trial << ": wrote past the output";
    }
    for (size_t i = 0; i < outputs; ++i) {
      // fp32 accumulation over at most 20 * 49 terms: well within 1e-5 of their magnitudes.
      ASSERT_NEAR(y[16 + i], want[i], 1e-5 * magnitude[i] + 1e-6)
          << "trial " << trial << " output " << i << " (" << g.in_channels << "->" << g.out_channels
          << " channels, kernel " << g.kernel_h << "x" << g.kernel_w << ", stride " << g.stride_h << "x"
          << g.stride_w << ", dilation " << g.dilation_h << "x" << g.dilation_w << ", image "
          << g.height << "x" << g.width << ")";
    }
    ++ran;
  }
  EXPECT_GT(ran, 200);
}

// A 1x1, stride-1, unpadded convolution reads its input in place: the kernel must not read past
// the input's end, whatever the number of positions. The input ends at an inaccessible page.
TEST(DirectConvTest, PointwiseReadsNothingPastTheInput) {
  if (!DirectConvAvailable()) GTEST_SKIP() << "this CPU has no AVX-512F (or TSR_CONV=im2col)";
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  for (auto [h, w] : std::vector<std::pair<int64_t, int64_t>>{{4, 16}, {7, 7}, {5, 13}, {3, 3}, {8, 24}}) {
    DirectConv2d g;
    g.in_channels = 5;
    g.out_channels = 7;
    g.height = g.out_height = h;
    g.width = g.out_width = w;
    const size_t floats = static_cast<size_t>(g.in_channels * h * w);
    const size_t bytes = floats * sizeof(float);
    const size_t mapped = (bytes + page - 1) / page * page + page;
    void* region = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(region, MAP_FAILED);
    char* guard = static_cast<char*>(region) + mapped - page;
    ASSERT_EQ(mprotect(guard, page, PROT_NONE), 0);
    float* x = reinterpret_cast<float*>(guard - bytes);  // the input's last float ends at the guard
    for (size_t i = 0; i < floats; ++i) x[i] = normal(rng);
    std::vector<float> in(x, x + floats), wt(static_cast<size_t>(g.out_channels * g.in_channels));
    for (float& v : wt) v = normal(rng);
    std::vector<float> y(static_cast<size_t>(g.out_channels * h * w));
    DirectConvF32(g, x, wt.data(), nullptr, y.data());  // a read past the end would fault here
    std::vector<double> want, magnitude;
    Reference(g, in, wt, nullptr, &want, &magnitude);
    for (size_t i = 0; i < y.size(); ++i) {
      ASSERT_NEAR(y[i], want[i], 1e-5 * magnitude[i] + 1e-6) << h << "x" << w << " output " << i;
    }
    // The blocked kernel on 16 output channels, the same way.
    DirectConv2d g16 = g;
    g16.out_channels = 16;
    std::vector<float> w16(static_cast<size_t>(16 * g.in_channels)), b16(w16.size());
    for (float& v : w16) v = normal(rng);
    BlockConvWeights(16, g.in_channels, w16.data(), b16.data());
    std::vector<float> y16(static_cast<size_t>(16 * h * w));
    DirectConvBlockedF32(g16, x, b16.data(), nullptr, y16.data());
    Reference(g16, in, w16, nullptr, &want, &magnitude);
    for (size_t i = 0; i < y16.size(); ++i) {
      ASSERT_NEAR(y16[i], want[i], 1e-5 * magnitude[i] + 1e-6) << h << "x" << w << " blocked output " << i;
    }
    munmap(region, mapped);
  }
}

// The blocked kernel sums each output's terms in DirectConvF32's order, so the two must agree
// bit for bit: random geometries with 16 to 144 output channels (one to four blocks per tile,
// and tails), rows shorter and longer than a 14-position tile, channel counts over one weight
// pass, the four epilogues, and nothing written outside the output.
TEST(BlockedConvTest, MatchesTheDirectKernelBitForBit) {
  if (!DirectConvAvailable()) GTEST_SKIP() << "this CPU has no AVX-512F (or TSR_CONV=im2col)";
  std::mt19937 rng(20261124);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  std::normal_distribution<float> normal;
  int ran = 0;
  for (int trial = 0; trial < 200; ++trial) {
    DirectConv2d g;
    const bool pointwise = trial % 4 == 0;  // in place, tiles running across rows
    // Every tenth trial: more channels than one weight pass takes (1024 for 1x1 in place with
    // two blocks per tile, 113 for 3x3).
    const bool passes = trial % 10 == 0;
    g.in_channels = passes ? (pointwise ? pick(1025, 1100) : pick(114, 160)) : pick(1, 40);
    g.out_channels = 16 * pick(1, 9);
    g.kernel_h = pointwise ? 1 : pick(1, 5);
    g.kernel_w = pointwise ? 1 : pick(1, 5);
    if (!pointwise) {
      g.stride_h = pick(1, 2);
      g.stride_w = pick(1, 2);
      g.dilation_h = pick(1, 2);
      g.dilation_w = pick(1, 2);
      g.pad_top = pick(0, g.kernel_h - 1);
      g.pad_left = pick(0, g.kernel_w - 1);
    }
    const int64_t pad_bottom = pointwise ? 0 : pick(0, g.kernel_h - 1);
    const int64_t pad_right = pointwise ? 0 : pick(0, g.kernel_w - 1);
    g.height = pick(1, passes ? 6 : 20);
    g.width = pick(1, passes ? 6 : 40);
    g.out_height = OutSize(g.height, g.kernel_h, g.stride_h, g.dilation_h, g.pad_top + pad_bottom);
    g.out_width = OutSize(g.width, g.kernel_w, g.stride_w, g.dilation_w, g.pad_left + pad_right);
    if (g.out_height <= 0 || g.out_width <= 0) continue;
    ASSERT_TRUE(DirectConvApplies(g)) << "trial " << trial;
    const int64_t k = g.in_channels * g.kernel_h * g.kernel_w;
    std::vector<float> x(static_cast<size_t>(g.in_channels * g.height * g.width));
    std::vector<float> w(static_cast<size_t>(g.out_channels * k)), blocked(w.size());
    std::vector<float> bias(static_cast<size_t>(g.out_channels));
    for (float& v : x) v = normal(rng);
    for (float& v : w) v = normal(rng);
    for (float& v : bias) v = normal(rng);
    BlockConvWeights(g.out_channels, k, w.data(), blocked.data());
    const float* b = trial % 3 != 0 ? bias.data() : nullptr;
    const size_t outputs = static_cast<size_t>(g.out_channels * g.out_height * g.out_width);
    std::vector<float> addend(outputs);
    for (float& v : addend) v = normal(rng);
    const int epilogue = trial % 4;  // none; ReLU; an addend and ReLU; the addend being y itself
    std::vector<float> want(outputs + 32, 12345.0f), got(outputs + 32, 12345.0f);
    auto run = [&](std::vector<float>& y, bool blocked_kernel) {
      ConvEpilogue e;
      e.relu = epilogue == 1 || epilogue == 2;
      if (epilogue == 2) e.addend = addend.data();
      if (epilogue == 3) {
        std::copy(addend.begin(), addend.end(), y.begin() + 16);
        e.addend = y.data() + 16;
      }
      if (blocked_kernel) {
        DirectConvBlockedF32(g, x.data(), blocked.data(), b, y.data() + 16, e);
      } else {
        DirectConvF32(g, x.data(), w.data(), b, y.data() + 16, e);
      }
    };
    run(want, false);
    run(got, true);
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(got[i], want[i]) << "trial " << trial << " at " << static_cast<int64_t>(i) - 16 << " of " << outputs
                                 << " (" << g.in_channels << "->" << g.out_channels << " channels, kernel "
                                 << g.kernel_h << "x" << g.kernel_w << ", stride " << g.stride_h << "x" << g.stride_w
                                 << ", output " << g.out_height << "x" << g.out_width << ", epilogue " << epilogue << ")";
    }
    ++ran;
  }
  EXPECT_GT(ran, 150);
}

TEST(BlockedConvTest, LayoutAndRoundTrip) {
  const int64_t m = 32, k = 5;
  std::vector<float> w(static_cast<size_t>(m * k)), blocked(w.size()), back(w.size());
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i);
  BlockConvWeights(m, k, w.data(), blocked.data());
  // Block 1, step 3, lane 2: output channel 18's weight 3.
  EXPECT_EQ(blocked[(1 * k + 3) * 16 + 2], w[18 * k + 3]);
  EXPECT_EQ(blocked[0], w[0]);
  EXPECT_EQ(blocked[1], w[k]);  // lane 1: channel 1's first weight
  UnblockConvWeights(m, k, blocked.data(), back.data());
  EXPECT_EQ(back, w);
}

TEST(BlockedConvTest, WhereItIsPreferred) {
  auto conv = [](int64_t c, int64_t m, int64_t kernel, int64_t size) {
    DirectConv2d g;
    g.in_channels = c;
    g.out_channels = m;
    g.kernel_h = g.kernel_w = kernel;
    g.pad_top = g.pad_left = kernel / 2;
    g.height = g.width = g.out_height = g.out_width = size;
    return g;
  };
  EXPECT_TRUE(BlockedConvPreferred(conv(512, 512, 3, 7)));
  EXPECT_TRUE(BlockedConvPreferred(conv(1024, 256, 1, 14)));
  EXPECT_TRUE(BlockedConvPreferred(conv(64, 64, 3, 56)));
  EXPECT_FALSE(BlockedConvPreferred(conv(64, 256, 1, 56))) << "64 products per output";
  EXPECT_FALSE(BlockedConvPreferred(conv(32, 32, 3, 256))) << "32 output channels";
  EXPECT_FALSE(BlockedConvPreferred(conv(256, 72, 3, 14))) << "not a multiple of 16";
  EXPECT_FALSE(BlockedConvPreferred(conv(3, 64, 7, 112))) << "3 input channels";
}

TEST(DirectConvTest, GeometriesItDoesNotTake) {
  DirectConv2d g;
  g.in_channels = 8;
  g.height = g.width = 10;
  g.out_channels = 4;
  g.out_height = g.out_width = 10;
  g.kernel_h = g.kernel_w = 3;
  g.pad_top = g.pad_left = 1;
  EXPECT_TRUE(DirectConvApplies(g));
  DirectConv2d s = g;
  s.stride_w = 3;
  EXPECT_FALSE(DirectConvApplies(s)) << "stride 3";
  DirectConv2d p = g;
  p.kernel_h = p.kernel_w = 1;
  p.pad_top = p.pad_left = 0;
  p.in_channels = 2048;
  EXPECT_TRUE(DirectConvApplies(p)) << "1x1 over many channels";
  DirectConv2d e = g;
  e.out_height = 0;
  EXPECT_FALSE(DirectConvApplies(e)) << "no outputs";
  DirectConv2d huge = g;
  huge.height = huge.width = huge.out_height = huge.out_width = int64_t{1} << 20;
  EXPECT_FALSE(DirectConvApplies(huge)) << "phase images over 1 GiB";
  // Sizes whose products would overflow 64 bits are refused, not wrapped around.
  DirectConv2d overflow = g;
  overflow.in_channels = int64_t{1} << 40;
  EXPECT_FALSE(DirectConvApplies(overflow));
  overflow = g;
  overflow.dilation_h = int64_t{1} << 62;
  EXPECT_FALSE(DirectConvApplies(overflow));
}

}  // namespace
}  // namespace ts::ops
