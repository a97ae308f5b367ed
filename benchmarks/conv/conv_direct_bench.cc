// The two direct convolution kernels on the zoo models' shapes, in one run: DirectConvF32
// (positions across the lanes) against DirectConvBlockedF32 (output channels across the lanes,
// weights blocked beforehand), each with a residual addend and ReLU, on the pool's threads
// (TSR_NUM_THREADS). Prints per shape the smaller of two medians of 60 calls each, the ratio and
// the largest difference between the outputs (0: the kernels agree bit for bit).
//   bazel run -c opt //benchmarks/conv:conv_direct_bench
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "runtime/ops/conv_direct.h"

namespace {

using ts::ops::ConvEpilogue;
using ts::ops::DirectConv2d;

// Input channels, image, output channels, square kernel, stride, padding on every side.
struct Shape {
  const char* name;
  int64_t c, h, w, m, k, s, pad;
};

}  // namespace

int main() {
  using namespace ts::ops;
  Shape shapes[] = {
    {"3x3 64 @56", 64, 56, 56, 64, 3, 1, 1},
    {"3x3 128 @28", 128, 28, 28, 128, 3, 1, 1},
    {"3x3 256 @14", 256, 14, 14, 256, 3, 1, 1},
    {"3x3 512 @7", 512, 7, 7, 512, 3, 1, 1},
    {"3x3/2 128 @56", 128, 56, 56, 128, 3, 2, 1},
    {"1x1 64->256 @56", 64, 56, 56, 256, 1, 1, 0},
    {"1x1 256->64 @56", 256, 56, 56, 64, 1, 1, 0},
    {"1x1 128->512 @28", 128, 28, 28, 512, 1, 1, 0},
    {"1x1 512->128 @28", 512, 28, 28, 128, 1, 1, 0},
    {"1x1 256->1024 @14", 256, 14, 14, 1024, 1, 1, 0},
    {"1x1 1024->256 @14", 1024, 14, 14, 256, 1, 1, 0},
    {"1x1 512->2048 @7", 512, 7, 7, 2048, 1, 1, 0},
    {"1x1 2048->512 @7", 2048, 7, 7, 512, 1, 1, 0},
    {"stem 7x7/2", 3, 224, 224, 64, 7, 2, 3},
    {"1x1/2 256->512 @28", 256, 56, 56, 512, 1, 2, 0},
    {"1x1/2 1024->2048 @7", 1024, 14, 14, 2048, 1, 2, 0},
    {"unet 3x3 32 @256", 32, 256, 256, 32, 3, 1, 1},
    {"unet 3x3 64->32 @256", 64, 256, 256, 32, 3, 1, 1},
    {"unet 3x3 128 @64", 128, 64, 64, 128, 3, 1, 1},
  };
  std::mt19937 rng(1);
  std::normal_distribution<float> nd;
  for (const Shape& s : shapes) {
    DirectConv2d g;
    g.in_channels = s.c; g.height = s.h; g.width = s.w; g.out_channels = s.m;
    g.kernel_h = g.kernel_w = s.k; g.stride_h = g.stride_w = s.s; g.pad_top = g.pad_left = s.pad;
    g.out_height = (s.h + 2 * s.pad - s.k) / s.s + 1; g.out_width = (s.w + 2 * s.pad - s.k) / s.s + 1;
    const int64_t kk = s.c * s.k * s.k;
    std::vector<float> x(s.c * s.h * s.w), w(s.m * kk), b(s.m), wp(s.m * kk);
    for (auto& v : x) v = nd(rng);
    for (auto& v : w) v = nd(rng);
    for (auto& v : b) v = nd(rng);
    BlockConvWeights(s.m, kk, w.data(), wp.data());
    const int64_t out = s.m * g.out_height * g.out_width;
    std::vector<float> y1(out), y2(out), z(out);
    for (auto& v : z) v = nd(rng);
    ConvEpilogue e{z.data(), true};
    DirectConvF32(g, x.data(), w.data(), b.data(), y1.data(), e);
    DirectConvBlockedF32(g, x.data(), wp.data(), b.data(), y2.data(), e);
    double maxd = 0;
    for (int64_t i = 0; i < out; ++i) maxd = std::max(maxd, (double)std::fabs(y1[i] - y2[i]));
    auto time = [&](auto fn) {
      std::vector<double> t;
      for (int r = 0; r < 60; ++r) {
        auto a = std::chrono::steady_clock::now(); fn();
        t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count());
      }
      std::sort(t.begin(), t.end()); return t[t.size() / 2];
    };
    const double flop = 2.0 * out * kk;
    double a = time([&] { DirectConvF32(g, x.data(), w.data(), b.data(), y1.data(), e); });
    double p = time([&] { DirectConvBlockedF32(g, x.data(), wp.data(), b.data(), y2.data(), e); });
    double a2 = time([&] { DirectConvF32(g, x.data(), w.data(), b.data(), y1.data(), e); });
    double p2 = time([&] { DirectConvBlockedF32(g, x.data(), wp.data(), b.data(), y2.data(), e); });
    a = std::min(a, a2); p = std::min(p, p2);
    std::printf("%-20s direct %.3f ms (%3.0f GF/s)  blocked %.3f ms (%3.0f GF/s)  blocked/direct %.2f  max diff %.2g\n", s.name, a,
                flop / a / 1e6, p, flop / p / 1e6, p / a, maxd);
  }
}
