// Conv, ConvTranspose and the pools. Expected values come from the ONNX operator docs and
// backend tests, or from numpy references of the spec's formulas (values pasted).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "runtime/ops/conv_direct.h"
#include "runtime/ops/test_util.h"

namespace ts::ops {
namespace {

using testing::Eval1;
using testing::EvalError;
using testing::ExpectNear;
using testing::F32;
using testing::U8;
using V = std::vector<int64_t>;

std::vector<float> Iota(int n, float start = 0) {
  std::vector<float> v(n);
  std::iota(v.begin(), v.end(), start);
  return v;
}

HostTensor F64(V shape, const std::vector<double>& v) {
  return HostTensor::Of(DType::kF64, std::move(shape), v);
}
HostTensor F16(V shape, const std::vector<float>& v) {
  std::vector<uint16_t> h;
  for (float f : v) h.push_back(FloatToHalf(f));
  return HostTensor::Of(DType::kF16, std::move(shape), h);
}
std::vector<float> HalfValues(const HostTensor& t) {
  std::vector<float> v;
  for (uint16_t h : t.Values<uint16_t>()) v.push_back(HalfToFloat(h));
  return v;
}

// The ONNX docs' 5x5 input 0..24 and a 3x3 kernel of ones.
const HostTensor kX5 = F32({1, 1, 5, 5}, Iota(25));
const HostTensor kOnes3 = F32({1, 1, 3, 3}, std::vector<float>(9, 1));

// ---- Conv ----

TEST(ConvTest, PaddedAndUnpadded) {
  HostTensor y = Eval1("Conv", {{"kernel_shape", V{3, 3}}, {"pads", V{1, 1, 1, 1}}}, {kX5, kOnes3});
  EXPECT_EQ(y.shape, (V{1, 1, 5, 5}));
  ExpectNear(y.Values<float>(), {12,  21, 27, 33,  24,  33,  54,  63, 72,  51,  63,  99, 108,
                                 117, 81, 93, 144, 153, 162, 111, 72, 111, 117, 123, 84});
  y = Eval1("Conv", {}, {kX5, kOnes3}, 7);
  EXPECT_EQ(y.shape, (V{1, 1, 3, 3}));
  ExpectNear(y.Values<float>(), {54, 63, 72, 99, 108, 117, 144, 153, 162});
}

TEST(ConvTest, StridesAsymmetricPadsAndAutoPad) {
  const HostTensor x = F32({1, 1, 7, 5}, Iota(35));
  HostTensor y = Eval1("Conv", {{"strides", V{2, 2}}, {"pads", V{1, 0, 1, 0}}}, {x, kOnes3});
  EXPECT_EQ(y.shape, (V{1, 1, 4, 2}));
  ExpectNear(y.Values<float>(), {21, 33, 99, 117, 189, 207, 171, 183});
  // SAME_LOWER, stride 2: out ceil(5/2) = 3, total pad 2 split 1+1.
  y = Eval1("Conv", {{"auto_pad", std::string("SAME_LOWER")}, {"strides", V{2, 2}}}, {kX5, kOnes3});
  EXPECT_EQ(y.shape, (V{1, 1, 3, 3}));
  ExpectNear(y.Values<float>(), {12, 27, 24, 63, 108, 81, 72, 117, 84});
  y = Eval1("Conv", {{"auto_pad", std::string("VALID")}, {"strides", V{2, 2}}}, {kX5, kOnes3});
  ExpectNear(y.Values<float>(), {54, 72, 144, 162});
}

TEST(ConvTest, Grouped1DWithDilationAndBias) {
  // X [2, 4, 5] = 0.5 * (1..40), group 2, W [4, 2, 2], dilation 2, pads [1, 0].
  std::vector<float> x = Iota(40, 1);
  for (float& v : x) v *= 0.5f;
  const HostTensor w = F32({4, 2, 2}, {-2, -1, 0, 1, 2, -2, -1, 0, 1, 2, -2, -1, 0, 1, 2, -2});
  HostTensor y = Eval1("Conv", {{"group", int64_t{2}}, {"dilations", V{2}}, {"pads", V{1, 0}}},
                       {F32({2, 4, 5}, x), w, F32({4}, {0.5f, -1, 2, 0})});
  EXPECT_EQ(y.shape, (V{2, 4, 4}));
  ExpectNear(y.Values<float>(),
             {3, 2,   1,   0,   -3,  -6,  -6.5,  -7,  5.5,  -4.5, -4.5, -4.5, -11, 4.5,  5,  5.5,
              3, -18, -19, -20, -23, -16, -16.5, -17, 15.5, -4.5, -4.5, -4.5, -21, 14.5, 15, 15.5});
}

TEST(ConvTest, ThreeDimensionalAndHalf) {
  const std::vector<float> x = Iota(18, 1);  // [1, 1, 2, 3, 3]
  const std::vector<float> w = {1, 0, 0, -1, 0, 1, 1, 0};
  HostTensor y = Eval1("Conv", {}, {F32({1, 1, 2, 3, 3}, x), F32({1, 1, 2, 2, 2}, w)});
  EXPECT_EQ(y.shape, (V{1, 1, 1, 2, 2}));
  ExpectNear(y.Values<float>(), {20, 22, 26, 28});
  y = Eval1("Conv", {}, {F16({1, 1, 2, 3, 3}, x), F16({1, 1, 2, 2, 2}, w)});
  EXPECT_EQ(y.dtype, DType::kF16);
  ExpectNear(HalfValues(y), {20, 22, 26, 28});
}

TEST(ConvTest, PointwiseGroupedF64) {
  // 1x1 kernel, stride 1, no pads: the direct GEMM path. Y[m] = sum_c W[m, c] X[g(m) * 2 + c] + B.
  const std::vector<double> x = {1, 2, 3, 4, 5, 6, 7, 8};  // [1, 4, 2, 1]
  HostTensor y =
      Eval1("Conv", {{"group", int64_t{2}}},
            {F64({1, 4, 2, 1}, x), F64({2, 2, 1, 1}, {1, 10, 100, 1000}), F64({2}, {0.5, -0.5})});
  EXPECT_EQ(y.dtype, DType::kF64);
  EXPECT_EQ(y.Values<double>(), (std::vector<double>{31.5, 42.5, 7499.5, 8599.5}));
}

TEST(ConvTest, ChunkedIm2colMatchesDirectLoop) {
  // K = 64 * 9 = 576 rows and 10000 output positions: the im2col runs in two chunks.
  const int64_t c = 128, m = 4, g = 2, h = 100, wd = 100, cg = c / g, mg = m / g;
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> x(c * h * wd), w(m * cg * 9), b(m);
  for (float& v : x) v = u(rng);
  for (float& v : w) v = u(rng);
  for (float& v : b) v = u(rng);
  HostTensor y = Eval1("Conv", {{"group", g}, {"pads", V{1, 1, 1, 1}}},
                       {F32({1, c, h, wd}, x), F32({m, cg, 3, 3}, w), F32({m}, b)});
  std::vector<float> want(m * h * wd);
  for (int64_t o = 0; o < m; ++o) {
    for (int64_t i = 0; i < h; ++i) {
      for (int64_t j = 0; j < wd; ++j) {
        double s = b[o];
        for (int64_t ci = 0; ci < cg; ++ci) {
          for (int64_t ki = 0; ki < 3; ++ki) {
            for (int64_t kj = 0; kj < 3; ++kj) {
              const int64_t ii = i + ki - 1, jj = j + kj - 1;
              if (ii < 0 || ii >= h || jj < 0 || jj >= wd) continue;
              s += double(w[((o * cg + ci) * 3 + ki) * 3 + kj]) *
                   x[((o / mg * cg + ci) * h + ii) * wd + jj];
            }
          }
        }
        want[(o * h + i) * wd + j] = static_cast<float>(s);
      }
    }
  }
  ExpectNear(y.Values<float>(), want, 1e-4f);
}

// An f32 tensor of `shape`, values uniform in [-1, 1).
HostTensor RandomF32(std::mt19937& rng, const V& shape) {
  std::uniform_real_distribution<float> u(-1, 1);
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  std::vector<float> v(static_cast<size_t>(n));
  for (float& f : v) f = u(rng);
  return F32(shape, v);
}

// A convolution for the TsFusedConv tests: X's and W's shapes, Conv's attributes.
struct FusedConvCase {
  V x, w;
  ir::AttrMap attrs;
};

// TsFusedConv against Conv, then Add and Relu, on shapes that take each path: a 3x3 and a
// strided one (the direct kernel where the CPU has it, im2col in nn_im2col_test), a 1x1 over
// 320 channels (always im2col + GEMM), and a batch of two.
TEST(FusedConvTest, MatchesConvThenAddThenRelu) {
  const std::vector<FusedConvCase> cases = {
      {{1, 8, 9, 11}, {13, 8, 3, 3}, {{"pads", V{1, 1, 1, 1}}}},
      {{1, 5, 12, 12}, {7, 5, 3, 3}, {{"pads", V{1, 1, 1, 1}}, {"strides", V{2, 2}}}},
      {{1, 320, 4, 5}, {9, 320, 1, 1}, {}},
      {{2, 3, 6, 6}, {4, 3, 1, 1}, {}},
  };
  std::mt19937 rng(11);
  auto random = [&](const V& shape) { return RandomF32(rng, shape); };
  for (const FusedConvCase& c : cases) {
    const HostTensor x = random(c.x), w = random(c.w), b = random({c.w[0]});
    const HostTensor conv = Eval1("Conv", c.attrs, {x, w, b});
    const HostTensor z = random(conv.shape);
    const HostTensor sum = Eval1("Add", {}, {conv, z});
    for (bool relu : {false, true}) {
      ir::AttrMap attrs = c.attrs;
      if (relu) attrs["activation"] = std::string("Relu");
      const HostTensor want_added = relu ? Eval1("Relu", {}, {sum}) : sum;
      const HostTensor want_plain = relu ? Eval1("Relu", {}, {conv}) : conv;
      HostTensor got = Eval1("TsFusedConv", attrs, {x, w, b, z});
      EXPECT_EQ(got.shape, conv.shape);
      ExpectNear(got.Values<float>(), want_added.Values<float>(), 1e-5f);
      got = Eval1("TsFusedConv", attrs, {x, w, b});
      ExpectNear(got.Values<float>(), want_plain.Values<float>(), 1e-5f);
    }
  }
}

TEST(FusedConvTest, Refusals) {
  const HostTensor b = F32({1}, {0});
  EXPECT_EQ(EvalError("TsFusedConv", {{"activation", std::string("Tanh")}}, {kX5, kOnes3, b}),
            "TsFusedConv: activation must be \"\" or \"Relu\", found \"Tanh\"");
  EXPECT_EQ(EvalError("TsFusedConv", {}, {kX5, kOnes3, b, F32({1, 1, 3, 4}, std::vector<float>(12))}),
            "TsFusedConv: the addend Z must have the output's type f32[1,1,3,3], found f32[1,1,3,4]");
  EXPECT_EQ(EvalError("TsFusedConv", {}, {F64({1, 1, 1, 1}, {1}), F64({1, 1, 1, 1}, {1}), F64({1}, {0})}),
            "TsFusedConv: every input must be f32, found f64");
  EXPECT_NE(EvalError("TsFusedConv", {}, {kX5, kOnes3}), "");  // the bias is required
}

// weight_layout = "blocked16": the same outputs, bit for bit, from weights stored in blocks of
// 16 output channels, on the blocked kernel (AVX-512F) or, in nn_im2col_test, unblocked again
// for the im2col path. A batch of 2 checks each image's offsets.
TEST(FusedConvTest, BlockedWeightsGiveTheSameOutputs) {
  const std::vector<FusedConvCase> cases = {
      {{1, 24, 9, 11}, {32, 24, 3, 3}, {{"pads", V{1, 1, 1, 1}}}},
      {{2, 16, 12, 12}, {48, 16, 3, 3}, {{"pads", V{1, 1, 1, 1}}, {"strides", V{2, 2}}}},
      {{1, 160, 7, 7}, {64, 160, 1, 1}, {}},
  };
  std::mt19937 rng(12);
  auto random = [&](const V& shape) { return RandomF32(rng, shape); };
  for (const FusedConvCase& c : cases) {
    const HostTensor x = random(c.x), w = random(c.w), b = random({c.w[0]});
    std::vector<float> blocked(w.Values<float>().size());
    BlockConvWeights(c.w[0], c.w[1] * c.w[2] * c.w[3], w.Values<float>().data(), blocked.data());
    const HostTensor wb = F32(c.w, blocked);
    ir::AttrMap attrs = c.attrs;
    attrs["activation"] = std::string("Relu");
    const HostTensor want = Eval1("TsFusedConv", attrs, {x, w, b});
    const HostTensor z = random(want.shape);
    const HostTensor want_added = Eval1("TsFusedConv", attrs, {x, w, b, z});
    attrs["weight_layout"] = std::string("blocked16");
    EXPECT_EQ(Eval1("TsFusedConv", attrs, {x, wb, b}).Values<float>(), want.Values<float>());
    EXPECT_EQ(Eval1("TsFusedConv", attrs, {x, wb, b, z}).Values<float>(), want_added.Values<float>());
  }
}

TEST(FusedConvTest, BlockedWeightsRefusals) {
  const HostTensor x = F32({1, 4, 5, 5}, std::vector<float>(100));
  const ir::AttrMap blocked = {{"weight_layout", std::string("blocked16")}};
  EXPECT_EQ(EvalError("TsFusedConv", blocked, {x, F32({8, 4, 3, 3}, std::vector<float>(288)), F32({8}, std::vector<float>(8))}),
            "TsFusedConv: weight_layout \"blocked16\" needs a 2-D convolution with one group and output channels a "
            "multiple of 16, found W f32[8,4,3,3] and group 1; recompile the model");
  ir::AttrMap grouped = blocked;
  grouped["group"] = int64_t{2};
  EXPECT_NE(EvalError("TsFusedConv", grouped, {x, F32({16, 2, 3, 3}, std::vector<float>(288)), F32({16}, std::vector<float>(16))}),
            "");
  EXPECT_EQ(EvalError("TsFusedConv", {{"weight_layout", std::string("nhwc")}},
                      {x, F32({16, 4, 3, 3}, std::vector<float>(576)), F32({16}, std::vector<float>(16))}),
            "TsFusedConv: weight_layout must be \"\" or \"blocked16\", found \"nhwc\"");
}

TEST(ConvTest, EmptyBatch) {
  HostTensor y = Eval1("Conv", {}, {F32({0, 1, 5, 5}, {}), kOnes3});
  EXPECT_EQ(y.shape, (V{0, 1, 3, 3}));
}

TEST(ConvTest, Refusals) {
  const HostTensor x = F32({1, 4, 5, 5}, std::vector<float>(100));
  const HostTensor w = F32({6, 2, 3, 3}, std::vector<float>(108));
  EXPECT_EQ(EvalError("Conv", {{"group", int64_t{3}}}, {x, w}),
            "Conv: X's 4 channels are not divisible by group 3");
  EXPECT_EQ(EvalError("Conv", {}, {x, w}), "Conv: W [6,2,3,3] must have C / group = 4 as dim 1");
  EXPECT_EQ(
      EvalError("Conv", {{"group", int64_t{4}}}, {x, F32({6, 1, 3, 3}, std::vector<float>(54))}),
      "Conv: W's 6 output channels are not divisible by group 4");
  EXPECT_EQ(EvalError("Conv", {{"group", int64_t{0}}}, {x, w}),
            "Conv: group must be >= 1, found 0");
  EXPECT_EQ(EvalError("Conv", {{"group", int64_t{2}}}, {x, w, F32({5}, std::vector<float>(5))}),
            "Conv: B must be [6], found [5]");
  EXPECT_EQ(EvalError("Conv", {{"group", int64_t{2}}, {"kernel_shape", V{3, 2}}}, {x, w}),
            "Conv: kernel_shape [3,2] does not match W's kernel dims [3,3]");
  EXPECT_EQ(EvalError("Conv", {}, {kX5, F32({1, 1, 3}, {1, 1, 1})}),
            "Conv: W must have X's rank 4, found [1,1,3]");
  EXPECT_EQ(EvalError("Conv", {},
                      {F32({1, 5}, std::vector<float>(5)), F32({1, 5}, std::vector<float>(5))}),
            "Conv: X must have rank >= 3 (N, C, spatial...), found rank 2");
  EXPECT_EQ(EvalError("Conv", {{"dilations", V{3, 1}}}, {kX5, kOnes3}),
            "Conv: output spatial dim 0 would be empty: input 5 plus pads 0+0 is smaller than "
            "the kernel extent 7 (kernel 3, dilation 3)");
  EXPECT_EQ(EvalError("Conv", {{"pads", V{1, 1}}}, {kX5, kOnes3}),
            "Conv: 'pads' must have 4 values, found 2");
  EXPECT_EQ(EvalError("Conv", {{"strides", V{0, 1}}}, {kX5, kOnes3}),
            "Conv: 'strides' values must be in [1, 2^31], found 0");
  EXPECT_EQ(EvalError("Conv", {{"pads", V{-1, 0, 0, 0}}}, {kX5, kOnes3}),
            "Conv: 'pads' values must be in [0, 2^31], found -1");
  EXPECT_EQ(EvalError("Conv", {{"auto_pad", std::string("SAME")}}, {kX5, kOnes3}),
            "Conv: auto_pad must be NOTSET, SAME_UPPER, SAME_LOWER or VALID, found 'SAME'");
  EXPECT_EQ(EvalError("Conv", {}, {kX5, F64({1, 1, 3, 3}, std::vector<double>(9))}),
            "Conv: W must have X's dtype f32, found f64");
  EXPECT_EQ(
      EvalError("Conv", {}, {U8({1, 1, 3, 3}, std::vector<uint8_t>(9)), U8({1, 1, 1, 1}, {1})}),
      "Conv: input must be f32, f16, bf16 or f64, found u8");
  EXPECT_EQ(EvalError("Conv", {}, {kX5, F32({1, 1, 0, 3}, {})}),
            "Conv: W's kernel dims [0,3] must be in [1, 2^31]");
}

// ---- ConvTranspose ----

// The ONNX docs' X [1, 1, 3, 3] = 0..8 and W [1, 2, 3, 3] of ones.
const HostTensor kTx = F32({1, 1, 3, 3}, Iota(9));
const HostTensor kTw = F32({1, 2, 3, 3}, std::vector<float>(18, 1));

TEST(ConvTransposeTest, Basic) {
  HostTensor y = Eval1("ConvTranspose", {}, {kTx, kTw});
  EXPECT_EQ(y.shape, (V{1, 2, 5, 5}));
  const std::vector<float> plane = {0,  1,  3, 3,  2,  3,  8,  15, 12, 7,  9,  21, 36,
                                    27, 15, 9, 20, 33, 24, 13, 6,  13, 21, 15, 8};
  std::vector<float> want = plane;
  want.insert(want.end(), plane.begin(), plane.end());
  ExpectNear(y.Values<float>(), want);
}

TEST(ConvTransposeTest, OutputShapeOutputPaddingAndPads) {
  // Strides [3, 2]: the full output is 9 x 7; output_shape [10, 8] gives pads -1 at the end
  // (a zero row and column), as does output_padding [1, 1].
  const std::vector<float> row0 = {0, 0, 1, 1, 3, 2, 2, 0}, row3 = {3, 3, 7, 4, 9, 5, 5, 0},
                           row6 = {6, 6, 13, 7, 15, 8, 8, 0}, zero(8, 0);
  std::vector<float> plane;
  for (const auto* r : {&row0, &row0, &row0, &row3, &row3, &row3, &row6, &row6, &row6, &zero}) {
    plane.insert(plane.end(), r->begin(), r->end());
  }
  std::vector<float> want = plane;
  want.insert(want.end(), plane.begin(), plane.end());
  for (const ir::AttrMap& attrs :
       {ir::AttrMap{{"strides", V{3, 2}}, {"output_shape", V{10, 8}}},
        ir::AttrMap{{"strides", V{3, 2}}, {"output_shape", V{1, 2, 10, 8}}},
        ir::AttrMap{{"strides", V{3, 2}}, {"output_padding", V{1, 1}}},
        ir::AttrMap{{"strides", V{3, 2}},
                    {"output_padding", V{1, 1}},
                    {"output_shape", V{10, 8}},
                    {"kernel_shape", V{3, 3}}}}) {
    HostTensor y = Eval1("ConvTranspose", attrs, {kTx, kTw});
    EXPECT_EQ(y.shape, (V{1, 2, 10, 8}));
    ExpectNear(y.Values<float>(), want);
  }
  HostTensor y =
      Eval1("ConvTranspose", {{"strides", V{3, 2}}, {"pads", V{1, 2, 1, 2}}}, {kTx, kTw});
  EXPECT_EQ(y.shape, (V{1, 2, 7, 3}));
  const std::vector<float> p = {1, 1, 3, 1, 1, 3, 7, 4, 9, 7, 4, 9, 7, 4, 9, 13, 7, 15, 13, 7, 15};
  want = p;
  want.insert(want.end(), p.begin(), p.end());
  ExpectNear(y.Values<float>(), want);
}

TEST(ConvTransposeTest, AutoPadSameUpperAndDilations) {
  HostTensor y = Eval1("ConvTranspose",
                       {{"auto_pad", std::string("SAME_UPPER")}, {"strides", V{2, 2}}}, {kTx, kTw});
  EXPECT_EQ(y.shape, (V{1, 2, 6, 6}));
  const std::vector<float> plane = {0, 0, 1, 1, 3, 2, 0, 0, 1,  1,  3,  2,  3, 3, 8,  5, 12, 7,
                                    3, 3, 7, 4, 9, 5, 9, 9, 20, 11, 24, 13, 6, 6, 13, 7, 15, 8};
  const std::vector<float> got = y.Values<float>();
  ExpectNear(std::vector<float>(got.begin(), got.begin() + 36), plane);
  y = Eval1("ConvTranspose", {{"dilations", V{2, 2}}},
            {F32({1, 1, 3, 3}, {3, 8, 1, 9, 5, 7, 3, 2, 6}), F32({1, 1, 2, 2}, {7, 2, 1, 9})});
  EXPECT_EQ(y.shape, (V{1, 1, 5, 5}));
  ExpectNear(y.Values<float>(), {21, 56, 13, 16, 2,  63, 35, 67, 10, 14, 24, 22, 76,
                                 76, 21, 9,  5,  88, 45, 63, 3,  2,  33, 18, 54});
}

TEST(ConvTransposeTest, Grouped1DWithBiasAndPointwiseF64) {
  // X [1, 4, 3], group 2, W [4, 2, 2], stride 2, output_padding 1: output [1, 4, 7].
  const HostTensor x = F32({1, 4, 3}, {1, 2, 3, -1, 0, 2, 0.5, 1, 1, 2, 2, 2});
  const HostTensor w = F32({4, 2, 2}, {1, -1, 2, 1, 0, 1, 1, 1, 1, 2, -1, 0, 3, 0, 1, 1});
  HostTensor y =
      Eval1("ConvTranspose", {{"group", int64_t{2}}, {"strides", V{2}}, {"output_padding", V{1}}},
            {x, w, F32({4}, {1, 2, 3, 4})});
  EXPECT_EQ(y.shape, (V{1, 4, 7}));
  ExpectNear(y.Values<float>(), {2,   -1, 3,  -1, 4,  0, 1, 3,   2, 6, 4, 10, 7, 2,
                                 9.5, 4,  10, 5,  10, 5, 3, 5.5, 6, 5, 6, 5,  6, 4});
  // 1x1, stride 1: Y[m] = sum_c W[c, m] X[c].
  y = Eval1("ConvTranspose", {},
            {F64({1, 2, 2}, {1, 2, 3, 4}), F64({2, 3, 1}, {1, 10, 100, 2, 20, 200})});
  EXPECT_EQ(y.shape, (V{1, 3, 2}));
  EXPECT_EQ(y.Values<double>(), (std::vector<double>{7, 10, 70, 100, 700, 1000}));
}

TEST(ConvTransposeTest, Refusals) {
  EXPECT_EQ(EvalError("ConvTranspose", {{"pads", V{3, 0, 2, 0}}}, {kTx, kTw}),
            "ConvTranspose: output spatial dim 0 would be 0: pads 3+2 exceed the full output 5");
  EXPECT_EQ(EvalError("ConvTranspose", {{"output_shape", V{5}}}, {kTx, kTw}),
            "ConvTranspose: output_shape must have 2 values, found [5]");
  EXPECT_EQ(EvalError("ConvTranspose", {{"output_shape", V{5, 0}}}, {kTx, kTw}),
            "ConvTranspose: output_shape values must be in [1, 2^31], found [5,0]");
  EXPECT_EQ(EvalError("ConvTranspose", {}, {kTx, F32({2, 1, 3, 3}, std::vector<float>(18))}),
            "ConvTranspose: W [2,1,3,3] must have X's channel count 1 as dim 0");
  EXPECT_EQ(EvalError("ConvTranspose", {}, {kTx, kTw, F32({1}, {0})}),
            "ConvTranspose: B must be [2], found [1]");
  EXPECT_EQ(EvalError("ConvTranspose", {{"output_padding", V{-1, 0}}}, {kTx, kTw}),
            "ConvTranspose: 'output_padding' values must be in [0, 2^31], found -1");
}

// 3x3 convolutions with the channel counts of real models against a direct double-precision
// convolution, over random sizes, paddings (asymmetric too), batches and bias: the work is
// split over threads by position chunks and output channels.
TEST(ConvTest, ThreeByThreeMatchesDirectConvolution) {
  std::mt19937 rng(21);
  auto pick = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  for (int trial = 0; trial < 12; ++trial) {
    const int64_t n = pick(1, 2), c = pick(16, 40), m = pick(16, 36);
    const int64_t h = pick(4, 13), w = pick(4, 13);
    const V pads{pick(0, 1), pick(0, 2), pick(0, 2), pick(0, 1)};
    std::vector<float> xv(n * c * h * w), wv(m * c * 9), bv(m);
    for (float& v : xv) v = value(rng);
    for (float& v : wv) v = value(rng);
    for (float& v : bv) v = value(rng);
    const bool with_bias = trial % 2 == 0;
    std::vector<HostTensor> in = {F32({n, c, h, w}, xv), F32({m, c, 3, 3}, wv)};
    if (with_bias) in.push_back(F32({m}, bv));
    const HostTensor y = Eval1("Conv", {{"pads", pads}}, in);
    const int64_t oh = h + pads[0] + pads[2] - 2, ow = w + pads[1] + pads[3] - 2;
    ASSERT_EQ(y.shape, (V{n, m, oh, ow}));
    const std::vector<float> got = y.Values<float>();
    for (int64_t b = 0; b < n; ++b) {
      for (int64_t o = 0; o < m; ++o) {
        for (int64_t i = 0; i < oh; ++i) {
          for (int64_t j = 0; j < ow; ++j) {
            double want = with_bias ? bv[o] : 0.0, scale = 0;
            for (int64_t ci = 0; ci < c; ++ci) {
              for (int64_t r = 0; r < 3; ++r) {
                for (int64_t q = 0; q < 3; ++q) {
                  const int64_t yy = i + r - pads[0], xx = j + q - pads[1];
                  if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
                  const double term = double(xv[((b * c + ci) * h + yy) * w + xx]) * wv[(o * c + ci) * 9 + r * 3 + q];
                  want += term;
                  scale += std::fabs(term);
                }
              }
            }
            const float g = got[((b * m + o) * oh + i) * ow + j];
            ASSERT_NEAR(g, want, 1e-5 * (scale + 1)) << "trial " << trial << " at " << b << "," << o << "," << i << "," << j;
          }
        }
      }
    }
  }
}

// ---- MaxPool ----

TEST(MaxPoolTest, PadsWithIndicesAndStorageOrder) {
  const HostTensor x = F32({1, 1, 5, 5}, Iota(25, 1));
  auto out =
      EvaluateOp("MaxPool", 12, {{"kernel_shape", V{5, 5}}, {"pads", V{2, 2, 2, 2}}}, {x}, 2);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectNear((*out)[0].Values<float>(), {13, 14, 15, 15, 15, 18, 19, 20, 20, 20, 23, 24, 25,
                                         25, 25, 23, 24, 25, 25, 25, 23, 24, 25, 25, 25});
  EXPECT_EQ((*out)[1].dtype, DType::kI64);
  EXPECT_EQ((*out)[1].Values<int64_t>(), (V{12, 13, 14, 14, 14, 17, 18, 19, 19, 19, 22, 23, 24,
                                            24, 24, 22, 23, 24, 24, 24, 22, 23, 24, 24, 24}));
  out = EvaluateOp("MaxPool", 12,
                   {{"kernel_shape", V{2, 2}}, {"strides", V{2, 2}}, {"storage_order", int64_t{1}}},
                   {x}, 2);
  ASSERT_TRUE(out.ok());
  ExpectNear((*out)[0].Values<float>(), {7, 9, 17, 19});
  EXPECT_EQ((*out)[1].Values<int64_t>(), (V{6, 16, 8, 18}));
}

TEST(MaxPoolTest, ThreeDimensionalIndicesCountBatchAndChannel) {
  const HostTensor x = F32({1, 2, 2, 2, 2}, {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3});
  for (int64_t order : {0, 1}) {
    auto out =
        EvaluateOp("MaxPool", 12, {{"kernel_shape", V{2, 1, 2}}, {"storage_order", order}}, {x}, 2);
    ASSERT_TRUE(out.ok());
    EXPECT_EQ((*out)[0].shape, (V{1, 2, 1, 2, 1}));
    ExpectNear((*out)[0].Values<float>(), {9, 6, 9, 9});
    EXPECT_EQ((*out)[1].Values<int64_t>(), order == 0 ? (V{5, 7, 12, 14}) : (V{5, 7, 9, 11}));
  }
}

// The 2-D f32 fast path (one output) against the general kernel (asked for Indices too) over
// random geometries, with NaNs and -inf in the data.
TEST(MaxPoolTest, FastPathMatchesTheGeneralKernel) {
  std::mt19937 rng(5);
  auto pick = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  for (int trial = 0; trial < 200; ++trial) {
    // Every fourth trial: rows wide enough for whole vectors of 16 outputs at stride 2.
    const int64_t h = pick(1, 9), w = trial % 4 == 0 ? pick(20, 80) : pick(1, 9), c = pick(1, 3);
    std::vector<float> data(static_cast<size_t>(2 * c * h * w));
    for (float& v : data) {
      const int64_t r = pick(0, 19);
      v = r == 0 ? std::nanf("") : r == 1 ? -INFINITY : static_cast<float>(pick(-50, 50)) / 4;
    }
    const V kernel{pick(1, 3), pick(1, 3)};
    ir::AttrMap attrs{{"kernel_shape", kernel},
                      {"strides", V{pick(1, 3), pick(1, 3)}},
                      {"dilations", V{pick(1, 2), pick(1, 2)}},
                      {"ceil_mode", pick(0, 1)}};
    if (pick(0, 1)) {
      attrs["pads"] = V{pick(0, kernel[0] - 1), pick(0, kernel[1] - 1), pick(0, kernel[0] - 1),
                        pick(0, kernel[1] - 1)};
    }
    const HostTensor x = F32({2, c, h, w}, data);
    auto fast = EvaluateOp("MaxPool", 12, attrs, {x}, 1);
    auto general = EvaluateOp("MaxPool", 12, attrs, {x}, 2);
    ASSERT_EQ(fast.ok(), general.ok()) << "trial " << trial;
    if (!fast.ok()) continue;  // a geometry with no windows is refused by both
    const std::vector<float> a = (*fast)[0].Values<float>(), b = (*general)[0].Values<float>();
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      ASSERT_TRUE(a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i])))
          << "trial " << trial << " element " << i << ": " << a[i] << " vs " << b[i];
    }
  }
}

TEST(MaxPoolTest, CeilModeDilationsAndAutoPad) {
  const HostTensor x = F32({1, 1, 4, 4}, Iota(16, 1));
  HostTensor y = Eval1(
      "MaxPool", {{"kernel_shape", V{3, 3}}, {"strides", V{2, 2}}, {"ceil_mode", int64_t{1}}}, {x});
  EXPECT_EQ(y.shape, (V{1, 1, 2, 2}));
  ExpectNear(y.Values<float>(), {11, 12, 15, 16});
  y = Eval1("MaxPool", {{"kernel_shape", V{3, 3}}, {"strides", V{2, 2}}}, {x});
  ExpectNear(y.Values<float>(), {11});
  y = Eval1("MaxPool", {{"kernel_shape", V{2, 2}}, {"dilations", V{2, 2}}}, {x});
  ExpectNear(y.Values<float>(), {11, 12, 15, 16});
  // Ceil mode drops a last window that would start in the end padding: 2 windows, not 3.
  y = Eval1(
      "MaxPool",
      {{"kernel_shape", V{2}}, {"strides", V{3}}, {"pads", V{0, 1}}, {"ceil_mode", int64_t{1}}},
      {F32({1, 1, 5}, {1, 2, 3, 4, 5})});
  ExpectNear(y.Values<float>(), {2, 5});
  // SAME_UPPER pads the end, SAME_LOWER the beginning.
  const HostTensor x1 = F32({1, 1, 4}, {4, 1, 3, 2});
  y = Eval1("MaxPool", {{"kernel_shape", V{2}}, {"auto_pad", std::string("SAME_UPPER")}}, {x1});
  ExpectNear(y.Values<float>(), {4, 3, 3, 2});
  y = Eval1("MaxPool", {{"kernel_shape", V{2}}, {"auto_pad", std::string("SAME_LOWER")}}, {x1});
  ExpectNear(y.Values<float>(), {4, 4, 3, 3});
}

TEST(MaxPoolTest, IntegerAndHalfInputs) {
  HostTensor y = Eval1("MaxPool", {{"kernel_shape", V{2}}}, {U8({1, 1, 4}, {7, 200, 3, 9})}, 12);
  EXPECT_EQ(y.dtype, DType::kU8);
  EXPECT_EQ(y.Values<uint8_t>(), (std::vector<uint8_t>{200, 200, 9}));
  y = Eval1("MaxPool", {{"kernel_shape", V{2}}},
            {HostTensor::Of(DType::kI8, {1, 1, 4}, std::vector<int8_t>{-7, -100, -3, -128})}, 12);
  EXPECT_EQ(y.Values<int8_t>(), (std::vector<int8_t>{-7, -3, -3}));
  y = Eval1("MaxPool", {{"kernel_shape", V{2}}}, {F16({1, 1, 3}, {1.5f, -2, 0.25f})});
  ExpectNear(HalfValues(y), {1.5f, 0.25f});
  // NaN loses to numbers; an all-NaN window gives NaN.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto out =
      EvaluateOp("MaxPool", 12, {{"kernel_shape", V{2}}}, {F32({1, 1, 4}, {nan, 1, nan, nan})}, 2);
  ASSERT_TRUE(out.ok());
  ExpectNear((*out)[0].Values<float>(), {1, 1, nan});
  EXPECT_EQ((*out)[1].Values<int64_t>(), (V{1, 1, 2}));
}

TEST(MaxPoolTest, Refusals) {
  const HostTensor x = F32({1, 1, 4, 4}, Iota(16));
  EXPECT_EQ(EvalError("MaxPool", {}, {x}), "MaxPool: attribute 'kernel_shape' is required");
  EXPECT_EQ(EvalError("MaxPool", {{"kernel_shape", V{2}}}, {x}),
            "MaxPool: kernel_shape must have 2 values, found [2]");
  EXPECT_EQ(EvalError("MaxPool", {{"kernel_shape", V{5, 1}}}, {x}),
            "MaxPool: output spatial dim 0 would be empty: input 4 plus pads 0+0 is smaller than "
            "the kernel extent 5 (kernel 5, dilation 1)");
  EXPECT_EQ(EvalError("MaxPool", {{"kernel_shape", V{2}}}, {U8({1, 1, 4}, {1, 2, 3, 4})}, 1, 11),
            "MaxPool: X must be f32, f16, bf16 or f64 (or i8/u8 from opset 12), found u8");
  EXPECT_EQ(EvalError("MaxPool", {{"kernel_shape", V{2, 2}}}, {x}, 2, 7),
            "MaxPool: the Indices output needs opset >= 8, found opset 7");
  EXPECT_EQ(EvalError("MaxPool", {{"kernel_shape", V{2, 2}}, {"storage_order", int64_t{2}}}, {x}),
            "MaxPool: 'storage_order' must be 0 or 1, found 2");
  EXPECT_EQ(EvalError("MaxPool", {{"kernel_shape", V{2, 2}}, {"ceil_mode", 1.0}}, {x}),
            "MaxPool: attribute 'ceil_mode' must be int, found float");
}

// ---- AveragePool ----

TEST(AveragePoolTest, CountIncludePad) {
  const HostTensor x = F32({1, 1, 5, 5}, Iota(25, 1));
  const ir::AttrMap attrs = {{"kernel_shape", V{5, 5}}, {"pads", V{2, 2, 2, 2}}};
  ExpectNear(Eval1("AveragePool", attrs, {x}).Values<float>(),
             {7,    7.5, 8,    8.5, 9,    9.5, 10,   10.5, 11,   11.5, 12,   12.5, 13,
              13.5, 14,  14.5, 15,  15.5, 16,  16.5, 17,   17.5, 18,   18.5, 19});
  ir::AttrMap with = attrs;
  with["count_include_pad"] = int64_t{1};
  ExpectNear(Eval1("AveragePool", with, {x}).Values<float>(),
             {2.52, 3.6, 4.8,  4.08, 3.24, 4.56,  6.4,  8.4,  7.04, 5.52, 7.2,  10,  13,
              10.8, 8.4, 6.96, 9.6,  12.4, 10.24, 7.92, 6.12, 8.4,  10.8, 8.88, 6.84});
}

TEST(AveragePoolTest, CeilModeSameUpperAndDilations) {
  const HostTensor x = F32({1, 1, 4, 4}, Iota(16, 1));
  ExpectNear(
      Eval1("AveragePool",
            {{"kernel_shape", V{3, 3}}, {"strides", V{2, 2}}, {"ceil_mode", int64_t{1}}}, {x})
          .Values<float>(),
      {6, 7.5, 12, 13.5});
  // A ceil-mode window reaching past the end padding counts only the padded image.
  const HostTensor x1 = F32({1, 1, 4}, {1, 2, 3, 4});
  ir::AttrMap attrs = {
      {"kernel_shape", V{3}}, {"strides", V{2}}, {"pads", V{1, 1}}, {"ceil_mode", int64_t{1}}};
  ExpectNear(Eval1("AveragePool", attrs, {x1}).Values<float>(), {1.5, 3, 4});
  attrs["count_include_pad"] = int64_t{1};
  ExpectNear(Eval1("AveragePool", attrs, {x1}).Values<float>(), {1, 3, 2});
  HostTensor y = Eval1(
      "AveragePool",
      {{"kernel_shape", V{3, 3}}, {"strides", V{2, 2}}, {"auto_pad", std::string("SAME_UPPER")}},
      {F32({1, 1, 5, 5}, Iota(25, 1))});
  ExpectNear(y.Values<float>(), {4, 5.5, 7, 11.5, 13, 14.5, 19, 20.5, 22});
  attrs = {{"kernel_shape", V{2, 2}}, {"dilations", V{2, 2}}, {"pads", V{1, 1, 0, 0}}};
  ExpectNear(Eval1("AveragePool", attrs, {x}, 19).Values<float>(), {6, 6, 7, 6, 6, 7, 10, 10, 11});
  attrs["count_include_pad"] = int64_t{1};
  ExpectNear(Eval1("AveragePool", attrs, {x}, 19).Values<float>(),
             {1.5, 3, 3.5, 3, 6, 7, 5, 10, 11});
}

TEST(AveragePoolTest, ThreeDimensionalF64AndRefusals) {
  HostTensor y = Eval1("AveragePool", {{"kernel_shape", V{2, 2, 2}}},
                       {F64({1, 1, 2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8})});
  EXPECT_EQ(y.shape, (V{1, 1, 1, 1, 1}));
  EXPECT_EQ(y.Values<double>(), (std::vector<double>{4.5}));
  EXPECT_EQ(EvalError("AveragePool", {{"kernel_shape", V{2}}}, {U8({1, 1, 4}, {1, 2, 3, 4})}),
            "AveragePool: X must be f32, f16, bf16 or f64, found u8");
  EXPECT_EQ(EvalError("AveragePool", {{"kernel_shape", V{2}}, {"count_include_pad", int64_t{3}}},
                      {F32({1, 1, 4}, Iota(4))}),
            "AveragePool: 'count_include_pad' must be 0 or 1, found 3");
  EXPECT_EQ(EvalError("AveragePool", {{"kernel_shape", V{2}}}, {F32({1, 4}, Iota(4))}),
            "AveragePool: X must have rank >= 3 (N, C, spatial...), found rank 2");
}

// ---- Global pools ----

TEST(GlobalPoolTest, AverageAndMax) {
  const HostTensor x = F32({1, 2, 2, 2}, {1, 2, 3, 4, -5, -6, -7, -8});
  HostTensor y = Eval1("GlobalAveragePool", {}, {x});
  EXPECT_EQ(y.shape, (V{1, 2, 1, 1}));
  ExpectNear(y.Values<float>(), {2.5, -6.5});
  y = Eval1("GlobalMaxPool", {}, {x});
  ExpectNear(y.Values<float>(), {4, -5});
  y = Eval1("GlobalMaxPool", {}, {F16({2, 1, 3}, {1, 3, 2, -1, -0.5f, -2})});
  EXPECT_EQ(y.shape, (V{2, 1, 1}));
  ExpectNear(HalfValues(y), {3, -0.5f});
  y = Eval1("GlobalAveragePool", {}, {F64({1, 1, 1, 2, 2}, {1, 2, 3, 5})});
  EXPECT_EQ(y.Values<double>(), (std::vector<double>{2.75}));
  EXPECT_EQ(EvalError("GlobalMaxPool", {}, {F32({2, 3}, Iota(6))}),
            "GlobalMaxPool: X must have rank >= 3 (N, C, spatial...), found f32[2,3]");
  EXPECT_EQ(EvalError("GlobalAveragePool", {}, {U8({1, 1, 2}, {1, 2})}),
            "GlobalAveragePool: input must be f32, f16, bf16 or f64, found u8");
}

}  // namespace
}  // namespace ts::ops
