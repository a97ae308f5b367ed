// Tests for the normalizations and Resize. Expected values come from the ONNX reference formulas
// (onnx/backend/test/case/node/{layernormalization,batchnorm,instancenorm,resize}.py and the
// newer reference's antialias / axes / keep_aspect_ratio_policy), evaluated with numpy.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "runtime/ops/op.h"
#include "runtime/ops/test_util.h"

namespace ts::ops {
namespace {

using testing::Bool;
using testing::Eval1;
using testing::EvalError;
using testing::ExpectNear;
using testing::F32;
using testing::I64;
using testing::U8;

using Shape = std::vector<int64_t>;
using Str = std::string;

HostTensor F16(Shape shape, const std::vector<float>& v) {
  std::vector<uint16_t> bits;
  for (float f : v) bits.push_back(FloatToHalf(f));
  return HostTensor::Of(DType::kF16, std::move(shape), bits);
}
std::vector<float> F16Values(const HostTensor& t) {
  std::vector<float> out;
  for (uint16_t b : t.Values<uint16_t>()) out.push_back(HalfToFloat(b));
  return out;
}

// Evaluates op with `n` outputs; fails the test on an error.
std::vector<HostTensor> EvalN(const Str& op, const ir::AttrMap& attrs,
                              const std::vector<HostTensor>& in, size_t n, int64_t opset = 17) {
  auto out = EvaluateOp(op, opset, attrs, in, n);
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  return out.ok() ? *out : std::vector<HostTensor>(n);
}

// ---- LayerNormalization ----

TEST(LayerNormTest, LastAxisWithMeanAndInvStdDev) {
  auto out =
      EvalN("LayerNormalization", {},
            {F32({2, 3}, {1, 2, 4, -1, 0, 5}), F32({3}, {1, 0.5, 2}), F32({3}, {0, 1, -1})}, 3);
  ExpectNear(out[0].Values<float>(),
             {-1.06904153f, 0.86636981f, 1.67260383f, -0.88900024f, 0.74599993f, 1.79400077f});
  EXPECT_EQ(out[1].shape, (Shape{2, 1}));
  ExpectNear(out[1].Values<float>(), {2.33333333f, 1.33333333f});
  EXPECT_EQ(out[2].dtype, DType::kF32);
  ExpectNear(out[2].Values<float>(), {0.80178115f, 0.3810001f});
}

TEST(LayerNormTest, AxisZeroWithoutBias) {
  auto y = Eval1("LayerNormalization", {{"axis", int64_t{-2}}},
                 {F32({2, 2}, {1, 2, 3, 5}), F32({2, 2}, {2, 1, 1, 2})});
  ExpectNear(y.Values<float>(), {-2.3664265f, -0.50709139f, 0.16903046f, 3.04254836f});
}

TEST(LayerNormTest, BroadcastScaleAndEpsilon) {
  std::vector<float> x;
  for (int i = 0; i < 12; ++i) x.push_back(std::pow(static_cast<float>(i), 1.5f));
  auto out = EvalN("LayerNormalization", {{"axis", int64_t{1}}, {"epsilon", 0.1}},
                   {F32({2, 2, 3}, x), F32({1, 3}, {1, 2, 3}), F32({1}, {0.5})}, 2);
  ExpectNear(out[0].Values<float>(),
             {-0.69392117f, -1.37987939f, -0.92665924f, 0.62580528f, 2.17586125f, 5.43703412f,
              -0.90228158f, -1.27958518f, -0.51777177f, 0.74685644f, 2.23301362f, 5.05390452f});
  EXPECT_EQ(out[1].shape, (Shape{2, 1, 1}));
  ExpectNear(out[1].Values<float>(), {4.70081991f, 25.15837732f});
}

TEST(LayerNormTest, HalfInputAndDoubleStash) {
  auto out =
      EvalN("LayerNormalization", {{"stash_type", int64_t{11}}},
            {F16({2, 3}, {1, 2, 4, -1, 0, 5}), F16({3}, {1, 0.5, 2}), F16({3}, {0, 1, -1})}, 3);
  EXPECT_EQ(out[0].dtype, DType::kF16);
  ExpectNear(F16Values(out[0]),
             {-1.06904153f, 0.86636981f, 1.67260383f, -0.88900024f, 0.74599993f, 1.79400077f},
             2e-3f);
  EXPECT_EQ(out[2].dtype, DType::kF64);
  auto inv = out[2].Values<double>();
  EXPECT_NEAR(inv[1], 0.3810001, 1e-6);
}

TEST(LayerNormTest, Refusals) {
  const HostTensor x = F32({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(EvalError("LayerNormalization", {{"axis", int64_t{2}}}, {x, F32({3}, {1, 1, 1})}),
            "LayerNormalization: axis 2 is out of range for rank 2");
  EXPECT_EQ(EvalError("LayerNormalization", {}, {x, F32({2}, {1, 1})}),
            "LayerNormalization: Scale f32[2] does not broadcast to the normalized shape f32[3] "
            "(X.shape[axis:])");
  // A Scale varying over a dim before the axis is refused.
  EXPECT_NE(EvalError("LayerNormalization", {}, {x, F32({2, 3}, {1, 1, 1, 1, 1, 1})}), "");
  EXPECT_NE(EvalError("LayerNormalization", {}, {I64({2}, {1, 2}), I64({2}, {1, 1})}).find("float"),
            Str::npos);
  EXPECT_NE(EvalError("LayerNormalization", {{"stash_type", int64_t{7}}}, {x, F32({3}, {1, 1, 1})})
                .find("stash_type 7"),
            Str::npos);
  EXPECT_NE(EvalError("LayerNormalization", {{"epsilon", Str("x")}}, {x, F32({3}, {1, 1, 1})})
                .find("attribute 'epsilon' must be float"),
            Str::npos);
}

// ---- BatchNormalization and InstanceNormalization ----

TEST(BatchNormTest, PerChannelInference) {
  auto y = Eval1("BatchNormalization", {{"epsilon", 0.01}},
                 {F32({1, 2, 4}, {1, 2, 3, 4, -1, 0, 1, 2}), F32({2}, {1, 2}), F32({2}, {0.5, -1}),
                  F32({2}, {2, 0.5}), F32({2}, {1, 4})},
                 15);
  ExpectNear(y.Values<float>(), {-0.49503719f, 0.5f, 1.49503719f, 2.49007438f, -2.49812851f,
                                 -1.49937617f, -0.50062383f, 0.49812851f});
}

TEST(BatchNormTest, NonSpatialOpset7AndDoubles) {
  auto y = Eval1("BatchNormalization", {{"spatial", int64_t{0}}},
                 {F32({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8}), F32({2, 2}, {1, 2, 3, 4}),
                  F32({2, 2}, {0, 1, 0, -1}), F32({2, 2}, {1, 1, 2, 2}), F32({2, 2}, {1, 3, 0, 8})},
                 7);
  ExpectNear(y.Values<float>(), {0.0f, 2.15469861f, 948.68329805f, 1.82842536f, 3.99998f,
                                 6.77349307f, 4743.41649025f, 7.48527607f});
  // f64 data with f32 parameters (opset 15 lets their types differ).
  auto d = EvaluateOp("BatchNormalization", 15, {},
                      {HostTensor::Of(DType::kF64, {1, 1, 2}, std::vector<double>{1, 3}),
                       F32({1}, {2}), F32({1}, {1}), F32({1}, {1}), F32({1}, {4})});
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  auto v = (*d)[0].Values<double>();
  EXPECT_NEAR(v[0], 1.0, 1e-12);
  EXPECT_NEAR(v[1], 1 + 4 / std::sqrt(4 + 1e-5), 1e-12);
}

TEST(BatchNormTest, Refusals) {
  const std::vector<HostTensor> in = {F32({1, 2, 2}, {1, 2, 3, 4}), F32({2}, {1, 1}),
                                      F32({2}, {0, 0}), F32({2}, {0, 0}), F32({2}, {1, 1})};
  EXPECT_EQ(
      EvalError("BatchNormalization", {{"training_mode", int64_t{1}}}, in, 1, 15),
      "BatchNormalization: training_mode=1 is not supported (inference only); export the model "
      "in eval mode");
  EXPECT_NE(EvalError("BatchNormalization", {}, in, 3, 9).find("training mode"), Str::npos);
  auto bad = in;
  bad[4] = F32({3}, {1, 1, 1});
  EXPECT_EQ(EvalError("BatchNormalization", {}, bad, 1, 15),
            "BatchNormalization: input_var must have shape f32[2] ([C]), found f32[3]");
  bad = in;
  bad[0] = F32({2}, {1, 2});
  EXPECT_NE(EvalError("BatchNormalization", {}, bad, 1, 15).find("rank >= 2"), Str::npos);
  // spatial is an opset 7-8 attribute; at opset 9 the parameters are per channel.
  EXPECT_EQ(EvalError("BatchNormalization", {{"spatial", int64_t{0}}}, in, 1, 9), "");
}

TEST(InstanceNormTest, ReferenceExampleAndEpsilon) {
  auto y = Eval1("InstanceNormalization", {},
                 {F32({1, 2, 1, 3}, {-1, 0, 1, 2, 3, 4}), F32({2}, {1, 1.5}), F32({2}, {0, 1})}, 6);
  ExpectNear(y.Values<float>(), {-1.22473569f, 0.0f, 1.22473569f, -0.83710353f, 1.0f, 2.83710353f});
  y = Eval1("InstanceNormalization", {{"epsilon", 0.5}},
            {F32({2, 2, 2, 2}, {1, 2, 4, 8, 0, 0, 3, 1, 2, 2, 2, 2, 5, -5, 1, 0}),
             F32({2}, {2, -1}), F32({2}, {0.25, 0})});
  ExpectNear(y.Values<float>(), {-1.7336732f, -1.01233749f, 0.43033393f, 3.31567676f, 0.70710678f,
                                 0.70710678f, -1.41421356f, 0.0f, 0.25f, 0.25f, 0.25f, 0.25f,
                                 -1.30801394f, 1.44569962f, -0.20652852f, 0.06884284f});
  EXPECT_EQ(EvalError("InstanceNormalization", {},
                      {F32({1, 2, 2}, {1, 2, 3, 4}), F32({1}, {1}), F32({2}, {0, 0})}),
            "InstanceNormalization: scale must have shape f32[2] ([C]), found f32[1]");
}

// ---- Resize ----

TEST(ResizeTest, ParamsByOpset) {
  const OpDef* def = FindOp("Resize");
  ASSERT_NE(def, nullptr);
  EXPECT_EQ(def->params(10), (std::vector<Str>{"", "scales"}));
  EXPECT_EQ(def->params(13), (std::vector<Str>{"", "roi", "scales", "sizes"}));
}

TEST(ResizeTest, NearestUpsampleScales) {
  auto y = Eval1("Resize", {{"scales", std::vector<double>{1, 1, 2, 3}}},
                 {F32({1, 1, 2, 2}, {1, 2, 3, 4})}, 13);
  EXPECT_EQ(y.shape, (Shape{1, 1, 4, 6}));
  ExpectNear(y.Values<float>(),
             {1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4});
}

TEST(ResizeTest, Opset10IsAsymmetricFloor) {
  const HostTensor x = F32({4}, {1, 2, 3, 4});
  ExpectNear(Eval1("Resize", {{"scales", std::vector<double>{0.6}}}, {x}, 10).Values<float>(),
             {1, 2});
  // Opset 11 defaults: half_pixel, round_prefer_floor.
  ExpectNear(Eval1("Resize", {{"scales", std::vector<double>{0.6}}}, {x}, 11).Values<float>(),
             {1, 3});
}

TEST(ResizeTest, NearestModesAndCrop) {
  const HostTensor x = F32({4}, {1, 2, 3, 4});
  auto nearest = [&](const Str& nm, const Str& ctm) {
    return Eval1("Resize",
                 {{"sizes", std::vector<int64_t>{7}},
                  {"nearest_mode", nm},
                  {"coordinate_transformation_mode", ctm}},
                 {x}, 13)
        .Values<float>();
  };
  ExpectNear(nearest("round_prefer_ceil", "half_pixel"), {1, 1, 2, 3, 3, 4, 4});
  ExpectNear(nearest("floor", "align_corners"), {1, 1, 2, 2, 3, 3, 4});
  auto y = Eval1("Resize",
                 {{"sizes", std::vector<int64_t>{5}},
                  {"roi", std::vector<double>{-0.2, 0.9}},
                  {"coordinate_transformation_mode", Str("tf_crop_and_resize")},
                  {"extrapolation_value", 7.0}},
                 {x}, 13);
  ExpectNear(y.Values<float>(), {7, 1, 2, 3, 4});
}

TEST(ResizeTest, NearestIntegerTypes) {
  auto y = Eval1("Resize", {{"scales", std::vector<double>{2, 2}}},
                 {HostTensor::Of(DType::kI8, {2, 2}, std::vector<int8_t>{-3, 7, 100, -128})}, 13);
  EXPECT_EQ(y.dtype, DType::kI8);
  EXPECT_EQ(y.Values<int8_t>(), (std::vector<int8_t>{-3, -3, 7, 7, -3, -3, 7, 7, 100, 100, -128,
                                                     -128, 100, 100, -128, -128}));
  y = Eval1("Resize", {{"sizes", std::vector<int64_t>{3}}}, {U8({2}, {5, 250})}, 13);
  EXPECT_EQ(y.Values<uint8_t>(), (std::vector<uint8_t>{5, 5, 250}));
  y = Eval1("Resize", {{"scales", std::vector<double>{2}}}, {Bool({2}, {1, 0})}, 13);
  EXPECT_EQ(y.dtype, DType::kBool);
  EXPECT_EQ(y.Values<uint8_t>(), (std::vector<uint8_t>{1, 1, 0, 0}));
  y = Eval1("Resize", {{"scales", std::vector<double>{0.5}}},
            {I64({4}, {1, 2, int64_t{1} << 40, 4})}, 13);
  EXPECT_EQ(y.Values<int64_t>(), (std::vector<int64_t>{1, int64_t{1} << 40}));
}

TEST(ResizeTest, LinearModes) {
  auto y = Eval1("Resize", {{"mode", Str("linear")}, {"scales", std::vector<double>{1, 1, 2, 2}}},
                 {F32({1, 1, 2, 2}, {1, 2, 3, 4})}, 13);
  ExpectNear(y.Values<float>(),
             {1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4});
  // align_corners with a scale measures the output as scale * in (2.4 here), as the reference.
  y = Eval1("Resize",
            {{"mode", Str("linear")},
             {"coordinate_transformation_mode", Str("align_corners")},
             {"scales", std::vector<double>{1, 0.6000000238418579}}},
            {F32({2, 4}, {1, 2, 3, 4, 5, 6, 7, 8})}, 13);
  ExpectNear(y.Values<float>(), {1, 3.1428571f, 5, 7.1428571f});
  // Trilinear over three axes at once.
  y = Eval1("Resize", {{"mode", Str("linear")}, {"scales", std::vector<double>{2, 1.5, 0.5}}},
            {F32({2, 2, 2}, {1, 2, 3, 5, 8, 13, 21, 34})}, 13);
  EXPECT_EQ(y.shape, (Shape{4, 3, 1}));
  ExpectNear(y.Values<float>(),
             {1.5, 2.75, 4, 3.75, 6.8125, 9.875, 8.25, 14.9375, 21.625, 10.5, 19, 27.5});
  // tf_crop_and_resize: points outside the crop take extrapolation_value.
  y = Eval1("Resize",
            {{"mode", Str("linear")},
             {"coordinate_transformation_mode", Str("tf_crop_and_resize")},
             {"sizes", std::vector<int64_t>{3, 3}},
             {"roi", std::vector<double>{0.4, -0.5, 1.2, 0.5}},
             {"extrapolation_value", 10.0}},
            {F32({3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9})}, 13);
  ExpectNear(y.Values<float>(), {10, 3.4f, 4.4f, 10, 5.8f, 6.8f, 10, 10, 10});
  // f16 data is computed in f32.
  y = Eval1("Resize", {{"mode", Str("linear")}, {"scales", std::vector<double>{2}}},
            {F16({2}, {1, 2})}, 13);
  EXPECT_EQ(y.dtype, DType::kF16);
  ExpectNear(F16Values(y), {1, 1.25, 1.75, 2});
}

TEST(ResizeTest, CubicModes) {
  const HostTensor x = F32({5}, {1, 2, 4, 8, 16});
  auto y = Eval1("Resize", {{"mode", Str("cubic")}, {"sizes", std::vector<int64_t>{3}}}, {x}, 13);
  ExpectNear(y.Values<float>(), {1.2037038f, 4, 13.703704f});
  y = Eval1("Resize",
            {{"mode", Str("cubic")},
             {"sizes", std::vector<int64_t>{3}},
             {"cubic_coeff_a", -0.5},
             {"exclude_outside", int64_t{1}}},
            {x}, 13);
  ExpectNear(y.Values<float>(), {1.2068965f, 4, 13.931034f});
  y = Eval1("Resize",
            {{"mode", Str("cubic")},
             {"scales", std::vector<double>{1.5}},
             {"coordinate_transformation_mode", Str("asymmetric")}},
            {F32({4}, {1, 2, 4, 8})}, 13);
  ExpectNear(y.Values<float>(), {1, 1.462963f, 2.5185184f, 4, 6.8518519f, 8.4444447f});
  // pytorch_half_pixel maps a length-1 output to input 0, as the spec says.
  y = Eval1("Resize",
            {{"mode", Str("cubic")},
             {"sizes", std::vector<int64_t>{1}},
             {"coordinate_transformation_mode", Str("pytorch_half_pixel")}},
            {F32({4}, {1, 2, 4, 8})}, 13);
  ExpectNear(y.Values<float>(), {1});
}

TEST(ResizeTest, Opset18AntialiasAxesAndAspect) {
  std::vector<float> x16;
  for (int i = 1; i <= 16; ++i) x16.push_back(static_cast<float>(i));
  const HostTensor x = F32({1, 1, 4, 4}, x16);
  const std::vector<double> scales = {1, 1, 0.6000000238418579, 0.6000000238418579};
  auto y = Eval1("Resize", {{"mode", Str("linear")}, {"antialias", int64_t{1}}, {"scales", scales}},
                 {x}, 18);
  ExpectNear(y.Values<float>(), {2.875f, 4.5f, 9.375f, 11});
  y = Eval1("Resize", {{"mode", Str("cubic")}, {"antialias", int64_t{1}}, {"scales", scales}}, {x},
            18);
  ExpectNear(y.Values<float>(), {2.5180721f, 4.2858863f, 9.5893288f, 11.357142f});
  std::vector<float> sq;
  for (int i = 1; i <= 10; ++i) sq.push_back(static_cast<float>(i * i));
  y = Eval1(
      "Resize",
      {{"mode", Str("linear")}, {"antialias", int64_t{1}}, {"sizes", std::vector<int64_t>{3}}},
      {F32({10}, sq)}, 18);
  ExpectNear(y.Values<float>(), {6.7313433f, 32.075756f, 76.835823f});

  const HostTensor x4 = F32({1, 1, 2, 2}, {1, 2, 3, 4});
  y = Eval1("Resize",
            {{"axes", std::vector<int64_t>{2, 3}},
             {"sizes", std::vector<int64_t>{7, 8}},
             {"keep_aspect_ratio_policy", Str("not_larger")}},
            {x4}, 18);
  EXPECT_EQ(y.shape, (Shape{1, 1, 7, 7}));
  auto v = y.Values<float>();
  ExpectNear({v[0], v[3], v[4], v[27], v[28], v[48]}, {1, 1, 2, 2, 3, 4});
  y = Eval1("Resize",
            {{"axes", std::vector<int64_t>{-1, 2}},
             {"sizes", std::vector<int64_t>{3, 5}},
             {"keep_aspect_ratio_policy", Str("not_smaller")}},
            {x4}, 18);
  EXPECT_EQ(y.shape, (Shape{1, 1, 5, 5}));
  ExpectNear(y.Values<float>(),
             {1, 1, 1, 2, 2, 1, 1, 1, 2, 2, 1, 1, 1, 2, 2, 3, 3, 3, 4, 4, 3, 3, 3, 4, 4});
  // Axes left out are untouched.
  y = Eval1("Resize",
            {{"axes", std::vector<int64_t>{1}},
             {"scales", std::vector<double>{2}},
             {"mode", Str("linear")}},
            {F32({2, 2}, {1, 3, 5, 7})}, 18);
  ExpectNear(y.Values<float>(), {1, 1.5, 2.5, 3, 5, 5.5, 6.5, 7});
  // half_pixel_symmetric (opset 19).
  y = Eval1("Resize",
            {{"mode", Str("linear")},
             {"coordinate_transformation_mode", Str("half_pixel_symmetric")},
             {"scales", std::vector<double>{0.6000000238418579}}},
            {F32({4}, {1, 2, 3, 4})}, 19);
  ExpectNear(y.Values<float>(), {1.6666667f, 3.3333333f});
}

TEST(ResizeTest, EmptyScalesMeanAbsent) {
  auto y = Eval1("Resize",
                 {{"scales", std::vector<double>{}},
                  {"roi", std::vector<double>{}},
                  {"sizes", std::vector<int64_t>{3}}},
                 {F32({2}, {1, 2})}, 11);
  ExpectNear(y.Values<float>(), {1, 1, 2});
}

TEST(ResizeTest, Refusals) {
  const HostTensor x = F32({2, 2}, {1, 2, 3, 4});
  const std::vector<double> s2 = {2, 2};
  auto err = [&](const ir::AttrMap& a, int64_t opset = 13, const HostTensor* in = nullptr) {
    return EvalError("Resize", a, {in ? *in : x}, 1, opset);
  };
  EXPECT_EQ(err({{"scales", s2}, {"sizes", std::vector<int64_t>{4, 4}}}),
            "Resize: give scales or sizes, not both");
  EXPECT_EQ(err({}), "Resize: needs a nonempty scales or sizes input");
  EXPECT_EQ(err({}, 10), "Resize: needs the scales input");
  EXPECT_EQ(err({{"scales", std::vector<double>{2}}}),
            "Resize: scales has 1 values, expected 2 (the rank of X)");
  EXPECT_EQ(err({{"scales", std::vector<double>{2, 0}}}), "Resize: scales must be finite and > 0");
  EXPECT_EQ(err({{"sizes", std::vector<int64_t>{2, 0}}}),
            "Resize: sizes must be positive and not too large");
  EXPECT_EQ(err({{"scales", s2}, {"mode", Str("cubic")}}, 10),
            "Resize: mode 'cubic' is not one of nearest, linear");
  EXPECT_EQ(err({{"scales", s2}}, 9),
            "Resize: Resize exists from opset 10 (use Upsample before that)");
  EXPECT_EQ(err({{"scales", s2}, {"coordinate_transformation_mode", Str("tf_crop_and_resize")}}),
            "Resize: tf_crop_and_resize needs roi with 4 values (starts, then ends), found 0");
  EXPECT_NE(
      err({{"scales", s2}, {"coordinate_transformation_mode", Str("half_pixel_symmetric")}}, 13)
          .find("is not one of"),
      Str::npos);
  EXPECT_NE(
      err({{"scales", s2}, {"coordinate_transformation_mode", Str("tf_half_pixel_for_nn")}}, 13),
      "");
  EXPECT_EQ(
      err({{"scales", s2}, {"coordinate_transformation_mode", Str("tf_half_pixel_for_nn")}}, 12),
      "");
  EXPECT_EQ(
      err({{"scales", s2}, {"nearest_mode", Str("up")}}),
      "Resize: nearest_mode 'up' is not one of round_prefer_floor, round_prefer_ceil, floor, ceil");
  EXPECT_EQ(err({{"scales", std::vector<double>{2}}, {"axes", std::vector<int64_t>{2}}}, 18),
            "Resize: axes value 2 is out of range for rank 2");
  EXPECT_EQ(err({{"scales", s2}, {"axes", std::vector<int64_t>{1, -1}}}, 18),
            "Resize: axes names axis 1 twice");
  EXPECT_NE(
      err({{"sizes", std::vector<int64_t>{3, 3}}, {"keep_aspect_ratio_policy", Str("fit")}}, 18),
      "");
  EXPECT_NE(err({{"scales", s2}, {"sizes", Str("x")}}).find("attribute 'sizes' must be ints"),
            Str::npos);
  const HostTensor i8 = HostTensor::Of(DType::kI8, {2}, std::vector<int8_t>{1, 2});
  EXPECT_EQ(err({{"scales", std::vector<double>{2}}, {"mode", Str("linear")}}, 13, &i8),
            "Resize: linear and cubic modes need a float input (f32, f16, bf16, f64), found i8[2]; "
            "cast it "
            "first or use mode nearest");
  const HostTensor empty = F32({0, 2}, {});
  EXPECT_EQ(err({{"sizes", std::vector<int64_t>{2, 2}}}, 13, &empty),
            "Resize: cannot resize an empty axis to a nonempty size");
  EXPECT_EQ(err({{"scales", std::vector<double>{1e30, 1}}}),
            "Resize: the output would be too large");
}

}  // namespace
}  // namespace ts::ops
