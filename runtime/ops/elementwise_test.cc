// Elementwise ops: expected values from numpy (pasted) or by hand; broadcasting against a
// naive index-by-index reference; the defined integer edge cases; refusals.
#include <gtest/gtest.h>

#include <bit>
#include <cstring>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "runtime/ops/test_util.h"

namespace ts::ops {
namespace {

using testing::Bool;
using testing::Eval1;
using testing::EvalError;
using testing::ExpectNear;
using testing::F32;
using testing::I32;
using testing::I64;
using testing::U8;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

HostTensor F64(std::vector<int64_t> shape, const std::vector<double>& v) {
  return HostTensor::Of(DType::kF64, std::move(shape), v);
}
HostTensor I8(std::vector<int64_t> shape, const std::vector<int8_t>& v) {
  return HostTensor::Of(DType::kI8, std::move(shape), v);
}
HostTensor F16(std::vector<int64_t> shape, const std::vector<float>& v) {
  std::vector<uint16_t> bits;
  for (float f : v) bits.push_back(FloatToHalf(f));
  return HostTensor::Of(DType::kF16, std::move(shape), bits);
}
HostTensor BF16(std::vector<int64_t> shape, const std::vector<float>& v) {
  std::vector<uint16_t> bits;
  for (float f : v) bits.push_back(FloatToBf16(f));
  return HostTensor::Of(DType::kBF16, std::move(shape), bits);
}
std::vector<float> HalfValues(const HostTensor& t) {
  std::vector<float> out;
  for (uint16_t b : t.Values<uint16_t>()) {
    out.push_back(t.dtype == DType::kF16 ? HalfToFloat(b) : Bf16ToFloat(b));
  }
  return out;
}
bool Contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

const std::vector<float> kX = {-2.5f, -1, -0.3f, 0, 0.5f, 1, 2.5f};

TEST(UnaryTest, FloatMathMatchesNumpy) {
  const std::vector<float> pos = {0.25f, 1, 2, 9};
  const std::vector<float> unit = {-0.5f, 0, 0.5f};
  struct Case {
    std::string op;
    std::vector<float> in, want;
  } cases[] = {
      {"Exp", kX, {0.082085f, 0.3678794f, 0.7408182f, 1, 1.648721f, 2.718282f, 12.18249f}},
      {"Tanh", kX, {-0.9866143f, -0.7615942f, -0.2913126f, 0, 0.4621172f, 0.7615942f, 0.9866143f}},
      {"Erf", kX, {-0.999593f, -0.8427008f, -0.3286268f, 0, 0.5204999f, 0.8427008f, 0.999593f}},
      {"Sin", kX, {-0.5984721f, -0.841471f, -0.2955202f, 0, 0.4794255f, 0.841471f, 0.5984721f}},
      {"Cos", kX, {-0.8011436f, 0.5403023f, 0.9553365f, 1, 0.8775826f, 0.5403023f, -0.8011436f}},
      {"Atan", kX, {-1.19029f, -0.7853982f, -0.2914568f, 0, 0.4636476f, 0.7853982f, 1.19029f}},
      {"Sinh", kX, {-6.050204f, -1.175201f, -0.3045203f, 0, 0.5210953f, 1.175201f, 6.050204f}},
      {"Asinh", kX, {-1.647231f, -0.8813736f, -0.295673f, 0, 0.4812118f, 0.8813736f, 1.647231f}},
      {"Floor", kX, {-3, -1, -1, 0, 0, 1, 2}},
      {"Ceil", kX, {-2, -1, -0.0f, 0, 1, 1, 3}},
      {"Sigmoid",
       kX,
       {0.07585818f, 0.2689414f, 0.4255575f, 0.5f, 0.6224593f, 0.7310586f, 0.9241418f}},
      {"Softplus",
       kX,
       {0.07888973f, 0.3132617f, 0.5543552f, 0.6931472f, 0.974077f, 1.313262f, 2.57889f}},
      {"Softsign", kX, {-0.7142857f, -0.5f, -0.2307692f, 0, 0.3333333f, 0.5f, 0.7142857f}},
      {"Sign", kX, {-1, -1, -1, 0, 1, 1, 1}},
      {"Abs", kX, {2.5f, 1, 0.3f, 0, 0.5f, 1, 2.5f}},
      {"Neg", kX, {2.5f, 1, 0.3f, 0, -0.5f, -1, -2.5f}},
      {"Relu", kX, {0, 0, 0, 0, 0.5f, 1, 2.5f}},
      {"HardSwish", kX, {-0.2083333f, -0.3333333f, -0.135f, 0, 0.2916667f, 0.6666667f, 2.291667f}},
      {"Selu", kX, {-1.613786f, -1.111331f, -0.4556673f, 0, 0.5253505f, 1.050701f, 2.626753f}},
      {"HardSigmoid", kX, {0, 0.3f, 0.44f, 0.5f, 0.6f, 0.7f, 1}},
      {"LeakyRelu", kX, {-0.025f, -0.01f, -0.003f, 0, 0.5f, 1, 2.5f}},
      {"Elu", kX, {-0.917915f, -0.6321206f, -0.2591818f, 0, 0.5f, 1, 2.5f}},
      {"ThresholdedRelu", kX, {0, 0, 0, 0, 0, 0, 2.5f}},
      {"Log", pos, {-1.386294f, 0, 0.6931472f, 2.197225f}},
      {"Sqrt", pos, {0.5f, 1, 1.414214f, 3}},
      {"Reciprocal", pos, {4, 1, 0.5f, 0.1111111f}},
      {"Acosh", {1, 2, 9}, {0, 1.316958f, 2.887271f}},
      {"Tan", unit, {-0.5463025f, 0, 0.5463025f}},
      {"Asin", unit, {-0.5235988f, 0, 0.5235988f}},
      {"Acos", unit, {2.094395f, 1.570796f, 1.047198f}},
      {"Atanh", unit, {-0.5493061f, 0, 0.5493061f}},
      {"Cosh", unit, {1.127626f, 1, 1.127626f}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.op);
    const auto n = static_cast<int64_t>(c.in.size());
    HostTensor out = Eval1(c.op, {}, {F32({n}, c.in)});
    EXPECT_EQ(out.dtype, DType::kF32);
    ExpectNear(out.Values<float>(), c.want);
  }
}

TEST(UnaryTest, ActivationAttributes) {
  auto run = [](const std::string& op, ir::AttrMap attrs, int64_t opset = 17) {
    return Eval1(op, attrs, {F32({7}, kX)}, opset).Values<float>();
  };
  ExpectNear(run("LeakyRelu", {{"alpha", 0.1}}), {-0.25f, -0.1f, -0.03f, 0, 0.5f, 1, 2.5f});
  ExpectNear(run("HardSigmoid", {{"alpha", 0.5}, {"beta", 0.6}}),
             {0, 0.1f, 0.45f, 0.6f, 0.85f, 1, 1});
  ExpectNear(run("Elu", {{"alpha", 2.0}}, 6),
             {-1.83583f, -1.264241f, -0.5183636f, 0, 0.5f, 1, 2.5f});
  ExpectNear(run("Selu", {{"alpha", 2.0}, {"gamma", 3.0}}),
             {-5.50749f, -3.792723f, -1.555091f, 0, 1.5f, 3, 7.5f});
  ExpectNear(run("Celu", {{"alpha", 2.0}}), {-1.42699f, -0.7869387f, -0.278584f, 0, 0.5f, 1, 2.5f});
  ExpectNear(run("Celu", {}), {-0.917915f, -0.6321206f, -0.2591818f, 0, 0.5f, 1, 2.5f});
  ExpectNear(run("ThresholdedRelu", {{"alpha", 0.4}}), {0, 0, 0, 0, 0.5f, 1, 2.5f});
  // An int attribute reads as a float.
  ExpectNear(run("LeakyRelu", {{"alpha", int64_t{2}}}), {-5, -2, -0.6f, 0, 0.5f, 1, 2.5f});
}

TEST(UnaryTest, GeluExactAndTanh) {
  const auto x = F32({7}, kX);
  // 0.5 x (1 + erf(x / sqrt 2)) and the tanh form, computed in double with Python's math.
  ExpectNear(Eval1("Gelu", {}, {x}, 20).Values<float>(),
             {-0.0155242f, -0.1586553f, -0.1146266f, 0, 0.3457312f, 0.8413447f, 2.4844758f});
  ExpectNear(Eval1("Gelu", {{"approximate", std::string("tanh")}}, {x}, 20).Values<float>(),
             {-0.0150843f, -0.158808f, -0.1146291f, 0, 0.345714f, 0.841192f, 2.4849157f});
  EXPECT_EQ(EvalError("Gelu", {{"approximate", std::string("fast")}}, {x}),
            "Gelu: approximate is 'fast'; it must be 'none' or 'tanh'");
}

TEST(UnaryTest, RoundHalvesToEven) {
  HostTensor out = Eval1(
      "Round", {}, {F32({9}, {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 2.4f, -2.6f, 0.49999997f, kNaN})});
  ExpectNear(out.Values<float>(), {0, 2, 2, -0.0f, -2, 2, -3, 0, kNaN});
}

TEST(UnaryTest, NaNAndSignedZero) {
  ExpectNear(Eval1("Relu", {}, {F32({1}, {kNaN})}).Values<float>(), {kNaN});
  ExpectNear(Eval1("Sign", {}, {F32({1}, {kNaN})}).Values<float>(), {kNaN});
  EXPECT_TRUE(std::signbit(Eval1("Sign", {}, {F32({1}, {-0.0f})}).Values<float>()[0]));
  ExpectNear(Eval1("Sigmoid", {}, {F32({2}, {-200, 200})}).Values<float>(), {0, 1});
  ExpectNear(Eval1("Softplus", {}, {F32({2}, {-200, 200})}).Values<float>(), {0, 200});
}

TEST(UnaryTest, IntegersWrapAtTheEdges) {
  constexpr int32_t kMin = std::numeric_limits<int32_t>::min();
  const HostTensor x = I32({5}, {-7, 0, 5, kMin, std::numeric_limits<int32_t>::max()});
  EXPECT_EQ(Eval1("Abs", {}, {x}).Values<int32_t>(),
            (std::vector<int32_t>{7, 0, 5, kMin, 2147483647}));
  EXPECT_EQ(Eval1("Neg", {}, {x}).Values<int32_t>(),
            (std::vector<int32_t>{7, 0, -5, kMin, -2147483647}));
  EXPECT_EQ(Eval1("Sign", {}, {x}).Values<int32_t>(), (std::vector<int32_t>{-1, 0, 1, -1, 1}));
  EXPECT_EQ(Eval1("Relu", {}, {x}).Values<int32_t>(),
            (std::vector<int32_t>{0, 0, 5, 0, 2147483647}));
  EXPECT_EQ(Eval1("Abs", {}, {U8({2}, {0, 250})}).Values<uint8_t>(),
            (std::vector<uint8_t>{0, 250}));
  EXPECT_EQ(Eval1("Sign", {}, {U8({2}, {0, 250})}).Values<uint8_t>(), (std::vector<uint8_t>{0, 1}));
  EXPECT_EQ(Eval1("Erf", {}, {I64({3}, {-9, 0, 9})}).Values<int64_t>(),
            (std::vector<int64_t>{-1, 0, 1}));
}

TEST(UnaryTest, HalfBf16AndDoubleStayInTheirTypes) {
  HostTensor h = Eval1("Exp", {}, {F16({3}, {0, 1, -1})});
  EXPECT_EQ(h.dtype, DType::kF16);
  ExpectNear(HalfValues(h), {1, 2.71875f, 0.36791992f}, 1e-6f);  // exp rounded to f16
  HostTensor b = Eval1("Neg", {}, {BF16({2}, {1.5f, -3})});
  EXPECT_EQ(b.dtype, DType::kBF16);
  ExpectNear(HalfValues(b), {-1.5f, 3});
  HostTensor d = Eval1("Sqrt", {}, {F64({1}, {2})});
  EXPECT_EQ(d.Values<double>()[0], std::sqrt(2.0));  // computed in double, not float
}

TEST(UnaryTest, BoolOutputs) {
  const HostTensor x = F32({6}, {-1.2f, kNaN, kInf, 2.8f, -kInf, kInf});
  EXPECT_EQ(Eval1("IsNaN", {}, {x}).dtype, DType::kBool);
  EXPECT_EQ(Eval1("IsNaN", {}, {x}).Values<uint8_t>(), (std::vector<uint8_t>{0, 1, 0, 0, 0, 0}));
  EXPECT_EQ(Eval1("IsInf", {}, {x}).Values<uint8_t>(), (std::vector<uint8_t>{0, 0, 1, 0, 1, 1}));
  EXPECT_EQ(Eval1("IsInf", {{"detect_negative", int64_t{0}}}, {x}).Values<uint8_t>(),
            (std::vector<uint8_t>{0, 0, 1, 0, 0, 1}));
  EXPECT_EQ(Eval1("IsInf", {{"detect_positive", int64_t{0}}}, {x}).Values<uint8_t>(),
            (std::vector<uint8_t>{0, 0, 0, 0, 1, 0}));
  EXPECT_EQ(Eval1("IsNaN", {}, {F64({2}, {NAN, 1})}).Values<uint8_t>(),
            (std::vector<uint8_t>{1, 0}));
  HostTensor n = Eval1("Not", {}, {Bool({2, 2}, {0, 1, 2, 0})});  // any nonzero byte is true
  EXPECT_EQ(n.dtype, DType::kBool);
  EXPECT_EQ(n.Values<uint8_t>(), (std::vector<uint8_t>{1, 0, 0, 1}));
}

// ---- Broadcasting ----

// Sub of a and b broadcast to out, index by index.
std::vector<float> NaiveSub(const std::vector<int64_t>& as, const std::vector<float>& a,
                            const std::vector<int64_t>& bs, const std::vector<float>& b,
                            const std::vector<int64_t>& out) {
  int64_t n = 1;
  for (int64_t d : out) n *= d;
  auto at = [&](const std::vector<int64_t>& s, const std::vector<float>& v,
                const std::vector<int64_t>& idx) {
    int64_t off = 0;
    for (size_t d = 0; d < s.size(); ++d) {
      off = off * s[d] + (s[d] == 1 ? 0 : idx[out.size() - s.size() + d]);
    }
    return v[off];
  };
  std::vector<float> r(n);
  std::vector<int64_t> idx(out.size());
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t d = out.size(), rest = i; d-- > 0; rest /= out[d]) idx[d] = rest % out[d];
    r[i] = at(as, a, idx) - at(bs, b, idx);
  }
  return r;
}

TEST(BroadcastTest, MatchesNaiveReference) {
  const std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> shapes = {
      {{3, 4, 5}, {5}},
      {{3, 4, 5}, {4, 1}},
      {{1, 4, 1, 6}, {3, 1, 5, 6}},
      {{2, 3}, {}},
      {{}, {2, 3}},
      {{2, 1, 3, 1}, {1, 4, 1, 5}},
      {{2, 3, 4}, {2, 1, 4}},
      {{5, 1}, {1, 5}},
      {{1, 1, 7}, {2, 3, 7}},
      {{4, 1, 1, 3}, {1, 2, 3}},
      {{6}, {6}},
      {{2, 1, 1}, {1, 1, 1}},
  };
  for (const auto& [as, bs] : shapes) {
    const std::vector<int64_t> out = *Broadcast(as, bs);
    auto fill = [](const std::vector<int64_t>& s, float seed) {
      int64_t n = 1;
      for (int64_t d : s) n *= d;
      std::vector<float> v(n);
      for (int64_t i = 0; i < n; ++i) v[i] = seed * static_cast<float>((i * 7 + 3) % 11);
      return v;
    };
    const std::vector<float> a = fill(as, 1.0f), b = fill(bs, 0.25f);
    SCOPED_TRACE(TypeString(DType::kF32, as) + " - " + TypeString(DType::kF32, bs));
    HostTensor r = Eval1("Sub", {}, {F32(as, a), F32(bs, b)});
    EXPECT_EQ(r.shape, out);
    EXPECT_EQ(r.Values<float>(), NaiveSub(as, a, bs, b, out));
  }
}

TEST(BroadcastTest, ExplicitValuesAndEmptyTensors) {
  HostTensor r = Eval1("Mul", {}, {F32({2, 1}, {2, 3}), F32({1, 3}, {1, 10, 100})});
  EXPECT_EQ(r.shape, (std::vector<int64_t>{2, 3}));
  ExpectNear(r.Values<float>(), {2, 20, 200, 3, 30, 300});
  HostTensor e = Eval1("Add", {}, {F32({0, 3}, {}), F32({3}, {1, 2, 3})});
  EXPECT_EQ(e.shape, (std::vector<int64_t>{0, 3}));
  EXPECT_TRUE(e.bytes.empty());
  EXPECT_EQ(Eval1("Add", {}, {F32({2, 0}, {}), F32({1, 1}, {1})}).shape,
            (std::vector<int64_t>{2, 0}));
}

// ---- Binary arithmetic ----

TEST(BinaryTest, IntegerArithmeticIsDefined) {
  EXPECT_EQ(Eval1("Add", {}, {I8({2}, {127, -128}), I8({2}, {1, -1})}).Values<int8_t>(),
            (std::vector<int8_t>{-128, 127}));
  EXPECT_EQ(Eval1("Sub", {}, {U8({2}, {0, 200}), U8({2}, {1, 100})}).Values<uint8_t>(),
            (std::vector<uint8_t>{255, 100}));
  EXPECT_EQ(Eval1("Mul", {}, {U8({1}, {16}), U8({1}, {17})}).Values<uint8_t>(),
            (std::vector<uint8_t>{16}));
  EXPECT_EQ(Eval1("Mul", {}, {I64({1}, {int64_t{1} << 62}), I64({1}, {4})}).Values<int64_t>(),
            (std::vector<int64_t>{0}));
  constexpr int32_t kMin = std::numeric_limits<int32_t>::min();
  // Truncation toward zero; x / 0 = 0; INT_MIN / -1 wraps.
  EXPECT_EQ(
      Eval1("Div", {}, {I32({7}, {7, -7, 7, -7, 5, kMin, 0}), I32({7}, {2, 2, -2, -2, 0, -1, 3})})
          .Values<int32_t>(),
      (std::vector<int32_t>{3, -3, -3, 3, 0, kMin, 0}));
  EXPECT_EQ(Eval1("Div", {}, {U8({2}, {255, 7}), U8({2}, {2, 0})}).Values<uint8_t>(),
            (std::vector<uint8_t>{127, 0}));
  const std::vector<float> q =
      Eval1("Div", {}, {F32({3}, {1, -1, 0}), F32({1}, {0})}).Values<float>();
  EXPECT_EQ(q[0], kInf);
  EXPECT_EQ(q[1], -kInf);
  EXPECT_TRUE(std::isnan(q[2]));
}

TEST(BinaryTest, ModFollowsTheDivisorOrTheDividend) {
  const HostTensor x = I64({9}, {-4, 7, 5, 4, -7, 8, -9, 9, 3});
  const HostTensor y = I64({9}, {2, -3, 8, -2, 3, 5, 4, -4, 0});
  EXPECT_EQ(Eval1("Mod", {}, {x, y}).Values<int64_t>(),  // numpy.mod; mod by 0 = 0
            (std::vector<int64_t>{0, -2, 5, 0, 2, 3, 3, -3, 0}));
  EXPECT_EQ(Eval1("Mod", {{"fmod", int64_t{1}}}, {x, y}).Values<int64_t>(),  // numpy.fmod
            (std::vector<int64_t>{0, 1, 5, 0, -1, 3, -1, 1, 0}));
  EXPECT_EQ(Eval1("Mod", {}, {I8({2}, {-128, 100}), I8({1}, {-1})}).Values<int8_t>(),
            (std::vector<int8_t>{0, 0}));
  EXPECT_EQ(Eval1("Mod", {}, {U8({3}, {200, 7, 9}), U8({3}, {7, 200, 0})}).Values<uint8_t>(),
            (std::vector<uint8_t>{4, 7, 0}));
  ExpectNear(Eval1("Mod", {{"fmod", int64_t{1}}},
                   {F32({6}, {-4.3f, 7.2f, 5, 4.3f, -7.2f, 8}),
                    F32({6}, {2.1f, -3.4f, 8, -2.1f, 3.4f, 5})})
                 .Values<float>(),
             {-0.1000004f, 0.3999996f, 5, 0.1000004f, -0.3999996f, 3});
  EXPECT_EQ(EvalError("Mod", {}, {F32({1}, {1}), F32({1}, {1})}),
            "Mod: floating-point inputs need fmod=1 (ONNX spec)");
  EXPECT_EQ(EvalError("Mod", {{"fmod", int64_t{2}}}, {I32({1}, {1}), I32({1}, {1})}),
            "Mod: 'fmod' must be 0 or 1");
}

TEST(BinaryTest, PowMixesTypes) {
  ExpectNear(Eval1("Pow", {}, {F32({3}, {2, 3, 0.5f}), F32({3}, {-1.5f, 0.5f, 2})}).Values<float>(),
             {0.3535534f, 1.732051f, 0.25f});
  HostTensor fi = Eval1("Pow", {}, {F32({3}, {1, 2, 3}), I64({3}, {4, 5, 6})});
  EXPECT_EQ(fi.dtype, DType::kF32);
  ExpectNear(fi.Values<float>(), {1, 32, 729});
  ExpectNear(Eval1("Pow", {}, {F32({3}, {1, 2, 3}), U8({1}, {2})}).Values<float>(), {1, 4, 9});
  // An integer base with a float exponent truncates: 2^0.5 = 1, 3^2.5 = 15.59 -> 15.
  HostTensor i = Eval1("Pow", {}, {I32({3}, {2, 3, -2}), F32({3}, {0.5f, 2.5f, 3})});
  EXPECT_EQ(i.dtype, DType::kI32);
  EXPECT_EQ(i.Values<int32_t>(), (std::vector<int32_t>{1, 15, -8}));
  EXPECT_EQ(Eval1("Pow", {}, {I64({6}, {3, -2, 2, 1, -1, 5}), I64({6}, {4, 3, 63, -3, -3, -1})})
                .Values<int64_t>(),
            (std::vector<int64_t>{81, -8, std::numeric_limits<int64_t>::min(), 1, -1, 0}));
  EXPECT_EQ(Eval1("Pow", {}, {I32({2}, {3, -3}), I8({1}, {3})}).Values<int32_t>(),
            (std::vector<int32_t>{27, -27}));
  ExpectNear(Eval1("Pow", {}, {F32({2, 2}, {1, 2, 3, 4}), F32({}, {2})}).Values<float>(),
             {1, 4, 9, 16});
  ExpectNear(HalfValues(Eval1("Pow", {}, {F16({2}, {2, 3}), F64({2}, {3, 0.5})})), {8, 1.732051f},
             1e-3f);
  EXPECT_TRUE(Contains(EvalError("Pow", {}, {U8({1}, {2}), U8({1}, {2})}), "input 0 is u8"));
}

TEST(BinaryTest, ComparisonsAndLogic) {
  const HostTensor a = F32({2, 3}, {1, 2, 3, kNaN, 5, 6});
  const HostTensor b = F32({3}, {2, 2, 2});
  auto cmp = [&](const std::string& op) {
    HostTensor r = Eval1(op, {}, {a, b});
    EXPECT_EQ(r.dtype, DType::kBool);
    return r.Values<uint8_t>();
  };
  EXPECT_EQ(cmp("Less"), (std::vector<uint8_t>{1, 0, 0, 0, 0, 0}));
  EXPECT_EQ(cmp("Greater"), (std::vector<uint8_t>{0, 0, 1, 0, 1, 1}));
  EXPECT_EQ(cmp("LessOrEqual"), (std::vector<uint8_t>{1, 1, 0, 0, 0, 0}));
  EXPECT_EQ(cmp("GreaterOrEqual"), (std::vector<uint8_t>{0, 1, 1, 0, 1, 1}));
  EXPECT_EQ(cmp("Equal"), (std::vector<uint8_t>{0, 1, 0, 0, 0, 0}));
  EXPECT_EQ(Eval1("Equal", {}, {I32({3}, {1, 5, -3}), I32({1}, {5})}).Values<uint8_t>(),
            (std::vector<uint8_t>{0, 1, 0}));
  EXPECT_EQ(Eval1("Equal", {}, {Bool({3}, {2, 0, 1}), Bool({3}, {1, 0, 0})}).Values<uint8_t>(),
            (std::vector<uint8_t>{1, 1, 0}));  // truth values, not bytes
  const HostTensor p = Bool({2, 2}, {0, 0, 1, 3});
  const HostTensor q = Bool({2}, {0, 1});
  EXPECT_EQ(Eval1("And", {}, {p, q}).Values<uint8_t>(), (std::vector<uint8_t>{0, 0, 0, 1}));
  EXPECT_EQ(Eval1("Or", {}, {p, q}).Values<uint8_t>(), (std::vector<uint8_t>{0, 1, 1, 1}));
  EXPECT_EQ(Eval1("Xor", {}, {p, q}).Values<uint8_t>(), (std::vector<uint8_t>{0, 1, 1, 0}));
}

// ---- Variadic, PRelu, Where ----

TEST(VariadicTest, MaxMinSumMean) {
  const HostTensor a = F32({3}, {3, 2, 1});
  const HostTensor b = F32({3}, {1, 4, 4});
  const HostTensor c = F32({2, 1}, {2, 5});
  ExpectNear(Eval1("Max", {}, {a, b, c}).Values<float>(), {3, 4, 4, 5, 5, 5});
  ExpectNear(Eval1("Min", {}, {a, b, c}).Values<float>(), {1, 2, 1, 1, 2, 1});
  ExpectNear(Eval1("Sum", {}, {a, b, c}).Values<float>(), {6, 8, 7, 9, 11, 10});
  ExpectNear(Eval1("Mean", {}, {a, b, c}).Values<float>(),
             {2, 8.0f / 3, 7.0f / 3, 3, 11.0f / 3, 10.0f / 3});
  ExpectNear(Eval1("Mean", {}, {a}).Values<float>(), {3, 2, 1});
  ExpectNear(Eval1("Max", {}, {a}).Values<float>(), {3, 2, 1});
  ExpectNear(Eval1("Max", {}, {F32({2}, {kNaN, 1}), F32({2}, {1, kNaN})}).Values<float>(),
             {kNaN, kNaN});
  ExpectNear(Eval1("Min", {}, {F32({2}, {kNaN, 1}), F32({2}, {1, kNaN})}).Values<float>(),
             {kNaN, kNaN});
  EXPECT_EQ(Eval1("Max", {}, {U8({3}, {1, 200, 3}), U8({3}, {2, 100, 3})}).Values<uint8_t>(),
            (std::vector<uint8_t>{2, 200, 3}));
  EXPECT_EQ(Eval1("Min", {}, {I64({2}, {-5, 9}), I64({1}, {0})}).Values<int64_t>(),
            (std::vector<int64_t>{-5, 0}));
  ExpectNear(HalfValues(Eval1("Sum", {}, {F16({2}, {1, 2}), F16({2}, {0.5f, 0.25f})})),
             {1.5f, 2.25f});
  EXPECT_TRUE(Contains(EvalError("Sum", {}, {I32({1}, {1}), I32({1}, {1})}), "input 0 is i32"));
}

TEST(PReluTest, SlopeBroadcastsToX) {
  const HostTensor x = F32({2, 3}, {-1, 2, -3, -4, 5, -6});
  ExpectNear(Eval1("PRelu", {}, {x, F32({3}, {0.1f, 0.2f, 0.3f})}).Values<float>(),
             {-0.1f, 2, -0.9f, -0.4f, 5, -1.8f});
  ExpectNear(Eval1("PRelu", {}, {x, F32({2, 1}, {0.5f, 2})}).Values<float>(),
             {-0.5f, 2, -1.5f, -8, 5, -12});
  EXPECT_EQ(Eval1("PRelu", {}, {I32({2}, {-3, 3}), I32({1}, {2})}).Values<int32_t>(),
            (std::vector<int32_t>{-6, 3}));
  EXPECT_EQ(EvalError("PRelu", {}, {F32({3}, {1, 2, 3}), F32({2, 3}, {1, 2, 3, 4, 5, 6})}),
            "PRelu: slope f32[2,3] must broadcast to X f32[3] without changing X's shape");
}

TEST(WhereTest, ThreeWayBroadcast) {
  HostTensor r = Eval1("Where", {}, {Bool({2, 1}, {1, 0}), F32({3}, {1, 2, 3}), F32({}, {-1})});
  EXPECT_EQ(r.shape, (std::vector<int64_t>{2, 3}));
  ExpectNear(r.Values<float>(), {1, 2, 3, -1, -1, -1});
  HostTensor s =
      Eval1("Where", {},
            {Bool({2, 2}, {1, 0, 1, 1}), I64({2, 2}, {1, 2, 3, 4}), I64({2, 2}, {9, 8, 7, 6})});
  EXPECT_EQ(s.Values<int64_t>(), (std::vector<int64_t>{1, 8, 3, 4}));
  HostTensor t =
      Eval1("Where", {}, {Bool({3}, {0, 2, 0}), F16({1, 3}, {1, 2, 3}), F16({2, 1}, {-1, -2})});
  ExpectNear(HalfValues(t), {-1, 2, -1, -2, 2, -2});
  EXPECT_EQ(EvalError("Where", {}, {F32({1}, {1}), F32({1}, {1}), F32({1}, {1})}),
            "Where: input 0 is f32, which this op does not take; supported: bool");
  EXPECT_EQ(EvalError("Where", {}, {Bool({1}, {1}), F32({1}, {1}), I32({1}, {1})}),
            "Where: input 2 is i32 but input 1 is f32; the inputs must have the same type");
  EXPECT_TRUE(Contains(
      EvalError("Where", {}, {Bool({4}, {1, 1, 1, 1}), F32({3}, {1, 2, 3}), F32({1}, {1})}),
      "condition bool[4] does not broadcast"));
}

// ---- Clip ----

TEST(ClipTest, BoundsAsAttributesAndParameters) {
  const HostTensor x = F32({5}, {-3, -1, 0, 2, kNaN});
  // Opset 6: float attributes.
  ExpectNear(Eval1("Clip", {{"min", -1.5}, {"max", 1.0}}, {x}, 6).Values<float>(),
             {-1.5f, -1, 0, 1, kNaN});
  ExpectNear(Eval1("Clip", {}, {x}, 6).Values<float>(), {-3, -1, 0, 2, kNaN});
  // Opset 13: one-element parameter lists, either may be absent.
  const ir::AttrMap both = {{"min", std::vector<double>{-1}},
                            {"min.dtype", int64_t{1}},
                            {"max", std::vector<double>{1}},
                            {"max.dtype", int64_t{1}}};
  ExpectNear(Eval1("Clip", both, {x}, 13).Values<float>(), {-1, -1, 0, 1, kNaN});
  ExpectNear(Eval1("Clip", {{"max", std::vector<double>{0}}}, {x}, 13).Values<float>(),
             {-3, -1, 0, 0, kNaN});
  ExpectNear(Eval1("Clip", {{"min", std::vector<double>{0}}}, {x}, 13).Values<float>(),
             {0, 0, 0, 2, kNaN});
  // min > max gives max everywhere.
  ExpectNear(
      Eval1("Clip", {{"min", std::vector<double>{2}}, {"max", std::vector<double>{1}}}, {x}, 13)
          .Values<float>(),
      {1, 1, 1, 1, kNaN});
  EXPECT_EQ(
      Eval1("Clip", {{"min", std::vector<double>{0.5}}}, {F64({2}, {-1, 1})}, 13).Values<double>(),
      (std::vector<double>{0.5, 1}));
  // An integer bound for a float input is fine (ONNX would give it the input's type).
  ExpectNear(Eval1("Clip", {{"max", std::vector<int64_t>{1}}}, {x}, 13).Values<float>(),
             {-3, -1, 0, 1, kNaN});
}

TEST(ClipTest, Integers) {
  const HostTensor x = I8({4}, {-128, -5, 5, 127});
  const ir::AttrMap b = {{"min", std::vector<int64_t>{-6}},
                         {"min.dtype", int64_t{6}},
                         {"max", std::vector<int64_t>{4}},
                         {"max.dtype", int64_t{6}}};
  EXPECT_EQ(Eval1("Clip", b, {x}, 13).Values<int8_t>(), (std::vector<int8_t>{-6, -5, 4, 4}));
  EXPECT_EQ(Eval1("Clip", {{"max", std::vector<int64_t>{0}}}, {x}, 13).Values<int8_t>(),
            (std::vector<int8_t>{-128, -5, 0, 0}));
  EXPECT_EQ(Eval1("Clip", {}, {x}, 13).Values<int8_t>(), (std::vector<int8_t>{-128, -5, 5, 127}));
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(Eval1("Clip", {{"min", std::vector<int64_t>{kMax - 1}}}, {I64({2}, {0, kMax})}, 13)
                .Values<int64_t>(),
            (std::vector<int64_t>{kMax - 1, kMax}));  // exact: no trip through double
  EXPECT_EQ(Eval1("Clip", {{"min", std::vector<int64_t>{3}}}, {U8({3}, {0, 3, 250})}, 13)
                .Values<uint8_t>(),
            (std::vector<uint8_t>{3, 3, 250}));
}

TEST(ClipTest, RefusesBadBounds) {
  EXPECT_EQ(EvalError("Clip", {{"min", std::vector<double>{1, 2}}}, {F32({1}, {0})}, 1, 13),
            "Clip: 'min' must be a single number (a scalar or one-element tensor)");
  EXPECT_EQ(EvalError("Clip", {{"max", std::vector<double>{1}}}, {I32({1}, {0})}, 1, 13),
            "Clip: 'max' is a float but the input is i32; they must have the same type");
  EXPECT_EQ(EvalError("Clip", {{"min", std::vector<int64_t>{1}}, {"min.dtype", int64_t{4}}},
                      {I32({1}, {0})}, 1, 13),
            "Clip: 'min' must have the input's type i32");
  EXPECT_EQ(EvalError("Clip", {{"min", std::string("x")}}, {F32({1}, {0})}, 1, 6),
            "Clip: 'min' must be a single number (a scalar or one-element tensor)");
  EXPECT_TRUE(Contains(EvalError("Clip", {}, {Bool({1}, {0})}), "input 0 is bool"));
}

TEST(ClipTest, ParametersByOpset) {
  const OpDef* clip = FindOp("Clip");
  ASSERT_NE(clip, nullptr);
  ASSERT_NE(clip->params, nullptr);
  EXPECT_EQ(clip->params(11), (std::vector<std::string>{"", "min", "max"}));
  EXPECT_EQ(clip->params(21), (std::vector<std::string>{"", "min", "max"}));
  EXPECT_TRUE(clip->params(10).empty());
}

// ---- Cast and CastLike ----

HostTensor CastTo(const HostTensor& x, DType to) {
  return Eval1("Cast", {{"to", static_cast<int64_t>(to)}}, {x});
}

TEST(CastTest, FloatToIntegerTruncatesAndSaturates) {
  const HostTensor x = F32({8}, {2.9f, -2.9f, 1e10f, -1e10f, kNaN, kInf, 300.5f, -0.5f});
  EXPECT_EQ(CastTo(x, DType::kI32).Values<int32_t>(),
            (std::vector<int32_t>{2, -2, 2147483647, -2147483647 - 1, 0, 2147483647, 300, 0}));
  EXPECT_EQ(CastTo(x, DType::kI8).Values<int8_t>(),
            (std::vector<int8_t>{2, -2, 127, -128, 0, 127, 127, 0}));
  EXPECT_EQ(CastTo(x, DType::kU8).Values<uint8_t>(),
            (std::vector<uint8_t>{2, 0, 255, 0, 0, 255, 255, 0}));
  EXPECT_EQ(CastTo(F64({3}, {9.3e18, -9.3e18, -7.99}), DType::kI64).Values<int64_t>(),
            (std::vector<int64_t>{std::numeric_limits<int64_t>::max(),
                                  std::numeric_limits<int64_t>::min(), -7}));
}

TEST(CastTest, BoolsIntegersAndFloats) {
  HostTensor b = CastTo(F32({5}, {0, -0.0f, 0.1f, kNaN, -3}), DType::kBool);
  EXPECT_EQ(b.dtype, DType::kBool);
  EXPECT_EQ(b.Values<uint8_t>(), (std::vector<uint8_t>{0, 0, 1, 1, 1}));
  ExpectNear(CastTo(Bool({3}, {0, 1, 7}), DType::kF32).Values<float>(), {0, 1, 1});
  EXPECT_EQ(CastTo(Bool({2}, {7, 0}), DType::kI64).Values<int64_t>(), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(CastTo(I64({3}, {300, -1, 128}), DType::kU8).Values<uint8_t>(),
            (std::vector<uint8_t>{44, 255, 128}));
  EXPECT_EQ(CastTo(I64({2}, {128, -129}), DType::kI8).Values<int8_t>(),
            (std::vector<int8_t>{-128, 127}));
  EXPECT_EQ(CastTo(U8({2}, {0, 200}), DType::kBool).Values<uint8_t>(),
            (std::vector<uint8_t>{0, 1}));
  ExpectNear(CastTo(I32({2}, {-7, 16777217}), DType::kF32).Values<float>(), {-7, 16777216});
  EXPECT_EQ(CastTo(F32({1}, {0.1f}), DType::kF64).Values<double>()[0], static_cast<double>(0.1f));
  EXPECT_EQ(CastTo(F32({2}, {1.5f, -2}), DType::kF32).Values<float>(),
            (std::vector<float>{1.5f, -2}));
}

TEST(CastTest, SixteenBitFloats) {
  HostTensor h = CastTo(F64({4}, {1.0 / 3, 70000, -2.5, 1e-8}), DType::kF16);
  EXPECT_EQ(h.dtype, DType::kF16);
  EXPECT_EQ(h.Values<uint16_t>(), (std::vector<uint16_t>{0x3555, 0x7C00, 0xC100, 0x0000}));
  HostTensor bf = CastTo(F32({2}, {1.0f / 3, -65504}), DType::kBF16);
  EXPECT_EQ(bf.Values<uint16_t>(),
            (std::vector<uint16_t>{0x3EAB, 0xC780}));  // round to nearest even
  EXPECT_EQ(CastTo(F16({2}, {0.333251953125f, -2.5f}), DType::kF64).Values<double>(),
            (std::vector<double>{0.333251953125, -2.5}));
  EXPECT_EQ(CastTo(BF16({1}, {-3.5f}), DType::kI32).Values<int32_t>(), (std::vector<int32_t>{-3}));
  ExpectNear(HalfValues(CastTo(F16({1}, {1.5f}), DType::kBF16)), {1.5f});
}

TEST(CastTest, WideningToF32IsExactForEveryValue) {
  // The widening fast path (F16C, split over threads) against the scalar conversion: all 65536
  // halves and bfloat16s, and every int8.
  HostTensor h{DType::kF16, {65536}, std::vector<uint8_t>(65536 * 2)};
  HostTensor b{DType::kBF16, {65536}, std::vector<uint8_t>(65536 * 2)};
  for (uint32_t i = 0; i < 65536; ++i) {
    const uint16_t v = static_cast<uint16_t>(i);
    std::memcpy(h.bytes.data() + 2 * i, &v, 2);
    std::memcpy(b.bytes.data() + 2 * i, &v, 2);
  }
  const std::vector<float> hf = CastTo(h, DType::kF32).Values<float>();
  const std::vector<float> bf = CastTo(b, DType::kF32).Values<float>();
  for (uint32_t i = 0; i < 65536; ++i) {
    const float want_h = HalfToFloat(static_cast<uint16_t>(i)), want_b = Bf16ToFloat(static_cast<uint16_t>(i));
    if (std::isnan(want_h)) {
      EXPECT_TRUE(std::isnan(hf[i])) << i;
    } else {
      EXPECT_EQ(std::bit_cast<uint32_t>(hf[i]), std::bit_cast<uint32_t>(want_h)) << i;
    }
    if (std::isnan(want_b)) {
      EXPECT_TRUE(std::isnan(bf[i])) << i;
    } else {
      EXPECT_EQ(std::bit_cast<uint32_t>(bf[i]), std::bit_cast<uint32_t>(want_b)) << i;
    }
  }
  HostTensor q{DType::kI8, {256}, std::vector<uint8_t>(256)};
  for (int i = 0; i < 256; ++i) q.bytes[static_cast<size_t>(i)] = static_cast<uint8_t>(i);
  const std::vector<float> qf = CastTo(q, DType::kF32).Values<float>();
  for (int i = 0; i < 256; ++i) EXPECT_EQ(qf[static_cast<size_t>(i)], static_cast<float>(static_cast<int8_t>(i))) << i;
}

TEST(CastTest, CastLikeTakesTheSecondInputsType) {
  HostTensor r = Eval1("CastLike", {}, {F32({2, 2}, {1.7f, -1.7f, 0, 3}), I32({1}, {0})}, 15);
  EXPECT_EQ(r.dtype, DType::kI32);
  EXPECT_EQ(r.shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(r.Values<int32_t>(), (std::vector<int32_t>{1, -1, 0, 3}));
  HostTensor h = Eval1("CastLike", {}, {F64({2}, {0.5, 2}), F16({3}, {0, 0, 0})}, 15);
  EXPECT_EQ(h.dtype, DType::kF16);
  ExpectNear(HalfValues(h), {0.5f, 2});
}

TEST(CastTest, RefusesUnknownTargets) {
  EXPECT_EQ(EvalError("Cast", {{"to", int64_t{42}}}, {F32({1}, {0})}),
            "Cast: 'to' names an element type that is not supported (DType 42); supported: f32, "
            "f16, bf16, i64, i32, i8, u8, bool, f64, i16, u16, u32, u64");
  EXPECT_TRUE(Contains(EvalError("Cast", {{"to", int64_t{-1}}}, {F32({1}, {0})}), "(DType -1)"));
  EXPECT_EQ(EvalError("Cast", {}, {F32({1}, {0})}), "Cast: attribute 'to' is required");
  EXPECT_EQ(EvalError("Cast", {{"to", 1.0}}, {F32({1}, {0})}),
            "Cast: attribute 'to' must be int, found float");
}

// ---- Refusals shared by the families ----

TEST(RefusalTest, TypesShapesAndAttributes) {
  EXPECT_EQ(EvalError("Sqrt", {}, {I64({1}, {4})}),
            "Sqrt: input 0 is i64, which this op does not take; supported: f32, f16, bf16, f64");
  EXPECT_EQ(EvalError("Neg", {}, {U8({1}, {4})}),
            "Neg: input 0 is u8, which this op does not take; supported: f32, f16, bf16, i64, i32, "
            "i8, f64, i16");
  EXPECT_EQ(EvalError("Add", {}, {F32({1}, {1}), I32({1}, {1})}),
            "Add: input 1 is i32 but input 0 is f32; the inputs must have the same type");
  EXPECT_EQ(EvalError("Add", {}, {F32({2, 3}, {1, 2, 3, 4, 5, 6}), F32({2}, {1, 2})}),
            "Add: input 1 f32[2] does not broadcast with shape f32[2,3]");
  EXPECT_EQ(EvalError("Max", {}, {F32({3}, {1, 2, 3}), F32({3}, {1, 2, 3}), F32({2}, {1, 2})}),
            "Max: input 2 f32[2] does not broadcast with shape f32[3]");
  EXPECT_TRUE(Contains(EvalError("And", {}, {F32({1}, {1}), F32({1}, {1})}), "supported: bool"));
  EXPECT_TRUE(Contains(EvalError("Less", {}, {Bool({1}, {1}), Bool({1}, {1})}), "input 0 is bool"));
  EXPECT_TRUE(Contains(EvalError("Not", {}, {F32({1}, {1})}), "supported: bool"));
  EXPECT_EQ(EvalError("Add", {{"axis", int64_t{1}}, {"broadcast", int64_t{1}}},
                      {F32({2, 3}, {1, 2, 3, 4, 5, 6}), F32({2}, {1, 2})}, 1, 6),
            "Add: legacy broadcasting with 'axis' (opset < 7) is not supported; convert the model "
            "to opset 7 or later");
  EXPECT_EQ(EvalError("LeakyRelu", {{"alpha", std::string("x")}}, {F32({1}, {1})}),
            "LeakyRelu: attribute 'alpha' must be float, found string");
  EXPECT_EQ(EvalError("IsInf", {{"detect_positive", 1.0}}, {F32({1}, {1})}),
            "IsInf: attribute 'detect_positive' must be int, found float");
  EXPECT_TRUE(Contains(EvalError("Add", {}, {F32({1}, {1})}), "takes 2 data inputs, found 1"));
  EXPECT_TRUE(Contains(EvalError("Sum", {}, {}), "found 0"));
}

}  // namespace
}  // namespace ts::ops
