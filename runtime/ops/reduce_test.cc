// Tests for the reduce family: Reduce*, ArgMax/ArgMin, Softmax/LogSoftmax, CumSum, TopK, Einsum.
// Expected values are from the ONNX reference formulas (numpy), computed by hand where small.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
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
using testing::I32;
using testing::I64;
using testing::U8;

using Ints = std::vector<int64_t>;
constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNan = std::numeric_limits<float>::quiet_NaN();

HostTensor F64(Ints shape, const std::vector<double>& v) {
  return HostTensor::Of(DType::kF64, std::move(shape), v);
}
HostTensor F16(Ints shape, const std::vector<float>& v) {
  std::vector<uint16_t> bits;
  for (float f : v) bits.push_back(FloatToHalf(f));
  return HostTensor::Of(DType::kF16, std::move(shape), bits);
}
std::vector<float> F16Values(const HostTensor& t) {
  std::vector<float> v;
  for (uint16_t b : t.Values<uint16_t>()) v.push_back(HalfToFloat(b));
  return v;
}

// The example input of the ONNX Reduce* tests: [3, 2, 2] holding 1..12.
HostTensor Example() { return F32({3, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}); }

// ---- Reduce* ----

TEST(ReduceTest, SumAxesFromParameterOrAttribute) {
  // Opset 13 passes axes as input 1 (an attribute once compiled); opset 11 as an attribute.
  for (int64_t opset : {11, 13}) {
    HostTensor y = Eval1("ReduceSum", {{"axes", Ints{1}}}, {Example()}, opset);
    EXPECT_EQ(y.shape, (Ints{3, 1, 2}));
    ExpectNear(y.Values<float>(), {4, 6, 12, 14, 20, 22});
  }
  HostTensor y = Eval1("ReduceSum", {{"axes", Ints{-2}}, {"keepdims", int64_t{0}}}, {Example()});
  EXPECT_EQ(y.shape, (Ints{3, 2}));
  ExpectNear(y.Values<float>(), {4, 6, 12, 14, 20, 22});
}

TEST(ReduceTest, DefaultAxesReduceAllAndNoop) {
  HostTensor all = Eval1("ReduceSum", {}, {Example()}, 13);
  EXPECT_EQ(all.shape, (Ints{1, 1, 1}));
  ExpectNear(all.Values<float>(), {78});
  // An empty axes input reduces everything unless noop_with_empty_axes is set.
  HostTensor empty =
      Eval1("ReduceSum", {{"axes", Ints{}}, {"keepdims", int64_t{0}}}, {Example()}, 13);
  EXPECT_EQ(empty.shape, Ints{});
  ExpectNear(empty.Values<float>(), {78});
  HostTensor noop =
      Eval1("ReduceSum", {{"axes", Ints{}}, {"noop_with_empty_axes", int64_t{1}}}, {Example()}, 13);
  EXPECT_EQ(noop.shape, (Ints{3, 2, 2}));
  EXPECT_EQ(noop.Values<float>(), Example().Values<float>());
  // ReduceMean takes noop_with_empty_axes from opset 18; before, it is not part of the op.
  EXPECT_EQ(Eval1("ReduceMean", {{"noop_with_empty_axes", int64_t{1}}}, {Example()}, 18).shape,
            (Ints{3, 2, 2}));
  EXPECT_EQ(Eval1("ReduceMean", {{"noop_with_empty_axes", int64_t{1}}}, {Example()}, 17).shape,
            (Ints{1, 1, 1}));
}

TEST(ReduceTest, EveryKindOverOneAxis) {
  const HostTensor x = F32({2, 3}, {1, 2, 3, 4, 5, 6});
  const ir::AttrMap attrs = {{"axes", Ints{1}}, {"keepdims", int64_t{0}}};
  const std::vector<std::pair<std::string, std::vector<float>>> cases = {
      {"ReduceSum", {6, 15}},
      {"ReduceMean", {2, 5}},
      {"ReduceMax", {3, 6}},
      {"ReduceMin", {1, 4}},
      {"ReduceProd", {6, 120}},
      {"ReduceSumSquare", {14, 77}},
      {"ReduceL1", {6, 15}},
      {"ReduceL2", {3.7416575f, 8.774964f}},
      {"ReduceLogSum", {1.7917595f, 2.7080503f}},
      {"ReduceLogSumExp", {3.407606f, 6.407606f}},
  };
  for (const auto& [op, want] : cases) {
    SCOPED_TRACE(op);
    HostTensor y = Eval1(op, attrs, {x}, 13);
    EXPECT_EQ(y.shape, (Ints{2}));
    ExpectNear(y.Values<float>(), want);
  }
  ExpectNear(Eval1("ReduceL1", attrs, {F32({1, 2}, {-1.5f, 2})}).Values<float>(), {3.5f});
}

TEST(ReduceTest, MiddleAxesAroundSizeOneDims) {
  std::vector<float> v(12);
  for (int i = 0; i < 12; ++i) v[i] = static_cast<float>(i);
  HostTensor y = Eval1("ReduceSum", {{"axes", Ints{0, 2}}}, {F32({2, 1, 3, 2}, v)});
  EXPECT_EQ(y.shape, (Ints{1, 1, 1, 2}));
  ExpectNear(y.Values<float>(), {30, 36});
  // Reducing the outer axis of [3, 2]: accumulation across rows.
  ExpectNear(Eval1("ReduceMax", {{"axes", Ints{0}}}, {F32({3, 2}, {1, 9, 7, 2, 3, 4})})
                 .Values<float>(),
             {7, 9});
}

TEST(ReduceTest, LogSumExpIsStableAndNanPropagatesThroughMax) {
  HostTensor y = Eval1("ReduceLogSumExp", {{"keepdims", int64_t{0}}}, {F32({2}, {1000, 1000})});
  ExpectNear(y.Values<float>(), {1000.6931f});
  ExpectNear(Eval1("ReduceMax", {}, {F32({3}, {1, kNan, 2})}).Values<float>(), {kNan});
}

TEST(ReduceTest, EmptySetGivesTheIdentity) {
  const HostTensor x = F32({2, 0}, {});
  const ir::AttrMap attrs = {{"axes", Ints{1}}, {"keepdims", int64_t{0}}};
  const std::vector<std::pair<std::string, float>> cases = {
      {"ReduceSum", 0},       {"ReduceProd", 1},    {"ReduceMax", -kInf},
      {"ReduceMin", kInf},    {"ReduceMean", kNan}, {"ReduceLogSum", -kInf},
      {"ReduceLogSumExp", -kInf}, {"ReduceL2", 0},
  };
  for (const auto& [op, want] : cases) {
    SCOPED_TRACE(op);
    HostTensor y = Eval1(op, attrs, {x});
    EXPECT_EQ(y.shape, (Ints{2}));
    for (float got : y.Values<float>()) {
      if (std::isnan(want)) EXPECT_TRUE(std::isnan(got));
      else EXPECT_EQ(got, want);  // exact: ExpectNear does not take infinities
    }
  }
  EXPECT_EQ(Eval1("ReduceMax", attrs, {I32({2, 0}, {})}).Values<int32_t>(),
            (std::vector<int32_t>(2, std::numeric_limits<int32_t>::lowest())));
}

TEST(ReduceTest, IntegerAndSmallTypes) {
  const ir::AttrMap axis1 = {{"axes", Ints{1}}, {"keepdims", int64_t{0}}};
  EXPECT_EQ(Eval1("ReduceSum", axis1, {I64({2, 2}, {1, -5, 7, 8})}).Values<int64_t>(),
            (Ints{-4, 15}));
  EXPECT_EQ(Eval1("ReduceMean", axis1, {I32({2, 2}, {1, 2, 7, 8})}).Values<int32_t>(),
            (std::vector<int32_t>{1, 7}));  // truncated
  EXPECT_EQ(Eval1("ReduceProd", axis1, {I32({1, 3}, {-2, 3, 4})}).Values<int32_t>(),
            (std::vector<int32_t>{-24}));
  HostTensor i8 = HostTensor::Of(DType::kI8, {2, 2}, std::vector<int8_t>{-7, -3, 5, -128});
  EXPECT_EQ(Eval1("ReduceMax", axis1, {i8}).Values<int8_t>(), (std::vector<int8_t>{-3, 5}));
  EXPECT_EQ(Eval1("ReduceMin", axis1, {U8({2, 2}, {9, 3, 200, 255})}).Values<uint8_t>(),
            (std::vector<uint8_t>{3, 200}));
  // Bool Max/Min from opset 20 (any/all), written as 0 or 1.
  EXPECT_EQ(Eval1("ReduceMax", axis1, {Bool({2, 2}, {0, 2, 0, 0})}, 20).Values<uint8_t>(),
            (std::vector<uint8_t>{1, 0}));
  EXPECT_EQ(Eval1("ReduceMin", axis1, {Bool({2, 2}, {1, 1, 0, 1})}, 20).Values<uint8_t>(),
            (std::vector<uint8_t>{1, 0}));
  EXPECT_NE(EvalError("ReduceMax", axis1, {Bool({2, 2}, {0, 1, 0, 0})}, 1, 18), "");
  EXPECT_EQ(EvalError("ReduceSum", axis1, {U8({2, 2}, {1, 2, 3, 4})}),
            "ReduceSum: does not take u8 input (takes f32 f16 bf16 f64 i32 i64)");
}

TEST(ReduceTest, HalfAndDouble) {
  HostTensor h = Eval1("ReduceMean", {{"axes", Ints{0}}}, {F16({2, 2}, {1, 2, 4, 8})});
  EXPECT_EQ(h.dtype, DType::kF16);
  ExpectNear(F16Values(h), {2.5f, 5});
  HostTensor d = Eval1("ReduceL2", {{"keepdims", int64_t{0}}}, {F64({2}, {3, 4})});
  EXPECT_EQ(d.Values<double>(), (std::vector<double>{5}));
}

TEST(ReduceTest, RefusesBadAxesAndAttributes) {
  EXPECT_EQ(EvalError("ReduceSum", {{"axes", Ints{3}}}, {Example()}),
            "ReduceSum: axis 3 is out of range for rank 3 (allowed: -3..2)");
  EXPECT_EQ(EvalError("ReduceMean", {{"axes", Ints{1, -2}}}, {Example()}),
            "ReduceMean: axis -2 appears twice in 'axes'");
  EXPECT_EQ(EvalError("ReduceMax", {{"keepdims", int64_t{2}}}, {Example()}),
            "ReduceMax: attribute 'keepdims' must be 0 or 1, found 2");
  EXPECT_NE(EvalError("ReduceMin", {{"axes", std::vector<double>{1}}}, {Example()}), "");
}

TEST(ReduceTest, AxesBecomeAParameterAtTheirOpset) {
  const OpDef* sum = FindOp("ReduceSum");
  const OpDef* mean = FindOp("ReduceMean");
  ASSERT_TRUE(sum && mean);
  EXPECT_EQ(sum->params(12), std::vector<std::string>{});
  EXPECT_EQ(sum->params(13), (std::vector<std::string>{"", "axes"}));
  EXPECT_EQ(mean->params(17), std::vector<std::string>{});
  EXPECT_EQ(mean->params(18), (std::vector<std::string>{"", "axes"}));
}

// ---- ArgMax, ArgMin ----

TEST(ArgTest, KeepdimsAxesAndSelectLastIndex) {
  const HostTensor x = F32({2, 2}, {2, 1, 3, 10});
  HostTensor y = Eval1("ArgMax", {}, {x});  // axis 0, keepdims 1
  EXPECT_EQ(y.dtype, DType::kI64);
  EXPECT_EQ(y.shape, (Ints{1, 2}));
  EXPECT_EQ(y.Values<int64_t>(), (Ints{1, 1}));
  y = Eval1("ArgMin", {{"axis", int64_t{-1}}, {"keepdims", int64_t{0}}}, {x});
  EXPECT_EQ(y.shape, (Ints{2}));
  EXPECT_EQ(y.Values<int64_t>(), (Ints{1, 0}));
  const HostTensor ties = F32({2, 2}, {2, 2, 3, 10});
  EXPECT_EQ(Eval1("ArgMax", {{"axis", int64_t{1}}}, {ties}).Values<int64_t>(), (Ints{0, 1}));
  EXPECT_EQ(Eval1("ArgMax", {{"axis", int64_t{1}}, {"select_last_index", int64_t{1}}}, {ties})
                .Values<int64_t>(),
            (Ints{1, 1}));
  EXPECT_EQ(Eval1("ArgMin", {{"select_last_index", int64_t{1}}}, {I32({3}, {4, 1, 1})})
                .Values<int64_t>(),
            (Ints{2}));
  EXPECT_EQ(Eval1("ArgMax", {}, {F32({3}, {1, kNan, 3})}).Values<int64_t>(), (Ints{1}));
}

TEST(ArgTest, Refusals) {
  EXPECT_EQ(EvalError("ArgMax", {}, {F32({0, 2}, {})}),
            "ArgMax: axis 0 of f32[0,2] is empty: there is no index to return");
  EXPECT_EQ(EvalError("ArgMin", {{"axis", int64_t{2}}}, {F32({2, 2}, {1, 2, 3, 4})}),
            "ArgMin: axis 2 is out of range for rank 2 (allowed: -2..1)");
  EXPECT_EQ(EvalError("ArgMax", {}, {Bool({2}, {0, 1})}), "ArgMax: does not take bool input");
}

// ---- Softmax, LogSoftmax ----

TEST(SoftmaxTest, LastAxisAndStability) {
  HostTensor y = Eval1("Softmax", {}, {F32({2, 3}, {1, 2, 3, 1, 1, 1})}, 13);
  ExpectNear(y.Values<float>(),
             {0.09003057f, 0.24472847f, 0.66524096f, 1 / 3.0f, 1 / 3.0f, 1 / 3.0f});
  y = Eval1("LogSoftmax", {}, {F32({3}, {1000, 1001, 1002})}, 13);
  ExpectNear(y.Values<float>(), {-2.40760596f, -1.40760596f, -0.40760596f});
}

TEST(SoftmaxTest, OldOpsetsFlattenAtAxis) {
  const HostTensor x = F32({2, 2, 2}, {0, 1, 2, 3, 4, 5, 6, 7});
  // Opset 11: default axis 1 coerces to [2, 4].
  const std::vector<float> flat = {0.0320586f, 0.08714432f, 0.23688282f, 0.64391426f};
  std::vector<float> want = flat;
  want.insert(want.end(), flat.begin(), flat.end());
  ExpectNear(Eval1("Softmax", {}, {x}, 11).Values<float>(), want);
  // Opset 13: axis 1 alone.
  const float a = 0.11920292f, b = 0.88079708f;
  ExpectNear(Eval1("Softmax", {{"axis", int64_t{1}}}, {x}, 13).Values<float>(),
             {a, a, b, b, a, a, b, b});
  ExpectNear(Eval1("LogSoftmax", {{"axis", int64_t{-2}}}, {x}, 13).Values<float>(),
             {std::log(a), std::log(a), std::log(b), std::log(b), std::log(a), std::log(a),
              std::log(b), std::log(b)});
}

TEST(SoftmaxTest, TypesAndRefusals) {
  HostTensor h = Eval1("Softmax", {}, {F16({2}, {0, 1})});
  EXPECT_EQ(h.dtype, DType::kF16);
  ExpectNear(F16Values(h), {0.26894142f, 0.73105858f}, 1e-3f);
  ExpectNear({static_cast<float>(Eval1("Softmax", {}, {F64({2}, {0, 1})}).Values<double>()[1])},
             {0.73105858f});
  EXPECT_EQ(EvalError("Softmax", {}, {I32({2}, {1, 2})}), "Softmax: takes float input, found i32");
  EXPECT_EQ(EvalError("LogSoftmax", {{"axis", int64_t{2}}}, {F32({2, 2}, {1, 2, 3, 4})}),
            "LogSoftmax: axis 2 is out of range for rank 2 (allowed: -2..1)");
  EXPECT_NE(EvalError("Softmax", {}, {F32({}, {1})}), "");
}

// ---- CumSum ----

TEST(CumSumTest, ExclusiveAndReverse) {
  const HostTensor x = F64({5}, {1, 2, 3, 4, 5});
  auto run = [&](int64_t exclusive, int64_t reverse) {
    return Eval1("CumSum",
                 {{"axis", Ints{0}}, {"exclusive", exclusive}, {"reverse", reverse}}, {x})
        .Values<double>();
  };
  EXPECT_EQ(run(0, 0), (std::vector<double>{1, 3, 6, 10, 15}));
  EXPECT_EQ(run(1, 0), (std::vector<double>{0, 1, 3, 6, 10}));
  EXPECT_EQ(run(0, 1), (std::vector<double>{15, 14, 12, 9, 5}));
  EXPECT_EQ(run(1, 1), (std::vector<double>{14, 12, 9, 5, 0}));
}

TEST(CumSumTest, AxesAndTypes) {
  const HostTensor x = I32({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(Eval1("CumSum", {{"axis", Ints{0}}}, {x}).Values<int32_t>(),
            (std::vector<int32_t>{1, 2, 3, 5, 7, 9}));
  // A scalar axis may also arrive as an int.
  EXPECT_EQ(Eval1("CumSum", {{"axis", int64_t{-1}}}, {x}).Values<int32_t>(),
            (std::vector<int32_t>{1, 3, 6, 4, 9, 15}));
  ExpectNear(Eval1("CumSum", {{"axis", Ints{1}}}, {F32({1, 3}, {0.5f, 0.25f, 1})}).Values<float>(),
             {0.5f, 0.75f, 1.75f});
  EXPECT_EQ(FindOp("CumSum")->params(14), (std::vector<std::string>{"", "axis"}));
}

TEST(CumSumTest, Refusals) {
  const HostTensor x = F32({2}, {1, 2});
  EXPECT_EQ(EvalError("CumSum", {}, {x}),
            "CumSum: needs 'axis' (input 1) as one constant integer, found 0 values");
  EXPECT_EQ(EvalError("CumSum", {{"axis", Ints{1}}}, {x}),
            "CumSum: axis 1 is out of range for rank 1 (allowed: -1..0)");
  EXPECT_EQ(EvalError("CumSum", {{"axis", Ints{0}}}, {U8({2}, {1, 2})}),
            "CumSum: does not take u8 input (takes f32 f16 bf16 f64 i32 i64)");
}

// ---- TopK ----

std::vector<HostTensor> TopK(const ir::AttrMap& attrs, const HostTensor& x, int64_t opset = 11) {
  auto out = EvaluateOp("TopK", opset, attrs, {x}, 2);
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  return out.ok() ? *out : std::vector<HostTensor>(2);
}

TEST(TopKTest, LargestSmallestAndAxis) {
  const HostTensor x = F32({3, 4}, {0, 1, 2, 3, 4, 5, 6, 7, 11, 10, 9, 8});
  auto out = TopK({{"k", Ints{3}}, {"axis", int64_t{1}}}, x);
  EXPECT_EQ(out[0].shape, (Ints{3, 3}));
  EXPECT_EQ(out[0].Values<float>(), (std::vector<float>{3, 2, 1, 7, 6, 5, 11, 10, 9}));
  EXPECT_EQ(out[1].dtype, DType::kI64);
  EXPECT_EQ(out[1].Values<int64_t>(), (Ints{3, 2, 1, 3, 2, 1, 0, 1, 2}));
  out = TopK({{"k", Ints{3}}, {"largest", int64_t{0}}}, x);
  EXPECT_EQ(out[0].Values<float>(), (std::vector<float>{0, 1, 2, 4, 5, 6, 8, 9, 10}));
  EXPECT_EQ(out[1].Values<int64_t>(), (Ints{0, 1, 2, 0, 1, 2, 3, 2, 1}));
  out = TopK({{"k", Ints{1}}, {"axis", int64_t{0}}}, x);
  EXPECT_EQ(out[0].shape, (Ints{1, 4}));
  EXPECT_EQ(out[0].Values<float>(), (std::vector<float>{11, 10, 9, 8}));
  EXPECT_EQ(out[1].Values<int64_t>(), (Ints{2, 2, 2, 2}));
}

TEST(TopKTest, TiesNanAndOldOpset) {
  // Equal values come out by index; NaN counts as the largest.
  auto out = TopK({{"k", Ints{3}}}, I64({5}, {3, 1, 3, 2, 1}));
  EXPECT_EQ(out[0].Values<int64_t>(), (Ints{3, 3, 2}));
  EXPECT_EQ(out[1].Values<int64_t>(), (Ints{0, 2, 3}));
  out = TopK({{"k", Ints{2}}, {"largest", int64_t{0}}}, I64({5}, {3, 1, 3, 2, 1}));
  EXPECT_EQ(out[1].Values<int64_t>(), (Ints{1, 4}));
  out = TopK({{"k", Ints{2}}}, F32({3}, {1, kNan, 2}));
  EXPECT_EQ(out[1].Values<int64_t>(), (Ints{1, 2}));
  // Opset 1-9: k is an int attribute.
  out = TopK({{"k", int64_t{1}}}, F32({2, 2}, {1, 4, 3, 2}), 9);
  EXPECT_EQ(out[0].Values<float>(), (std::vector<float>{4, 3}));
  EXPECT_EQ(out[1].Values<int64_t>(), (Ints{1, 0}));
  EXPECT_EQ(FindOp("TopK")->params(9), std::vector<std::string>{});
  EXPECT_EQ(FindOp("TopK")->params(10), (std::vector<std::string>{"", "k"}));
}

TEST(TopKTest, Refusals) {
  const HostTensor x = F32({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(EvalError("TopK", {{"k", Ints{4}}}, {x}, 2),
            "TopK: k 4 is out of range for axis 1 of size 3");
  EXPECT_EQ(EvalError("TopK", {{"k", Ints{-1}}}, {x}, 2),
            "TopK: k -1 is out of range for axis 1 of size 3");
  EXPECT_EQ(EvalError("TopK", {}, {x}, 2),
            "TopK: needs 'k' as one constant integer, found 0 values");
  EXPECT_EQ(EvalError("TopK", {{"k", Ints{1}}, {"axis", int64_t{-3}}}, {x}, 2),
            "TopK: axis -3 is out of range for rank 2 (allowed: -2..1)");
  EXPECT_NE(EvalError("TopK", {{"k", Ints{1}}}, {x}, 1), "");  // both outputs are required
}

// ---- Einsum ----

HostTensor Einsum(const std::string& eq, const std::vector<HostTensor>& in) {
  return Eval1("Einsum", {{"equation", eq}}, in, 12);
}

TEST(EinsumTest, MatmulTransposeAndImplicitOutput) {
  const HostTensor a = F32({2, 2}, {1, 2, 3, 4});
  const HostTensor b = F32({2, 2}, {5, 6, 7, 8});
  for (const char* eq : {"ij,jk->ik", "ij,jk", " i j , j k -> i k "}) {
    HostTensor y = Einsum(eq, {a, b});
    EXPECT_EQ(y.shape, (Ints{2, 2})) << eq;
    ExpectNear(y.Values<float>(), {19, 22, 43, 50});
  }
  ExpectNear(Einsum("ij->ji", {a}).Values<float>(), {1, 3, 2, 4});
  // Implicit output: labels seen once, in alphabetical order ("ba" -> "ab": a transpose).
  HostTensor t = Einsum("ba", {F32({2, 3}, {1, 2, 3, 4, 5, 6})});
  EXPECT_EQ(t.shape, (Ints{3, 2}));
  ExpectNear(t.Values<float>(), {1, 4, 2, 5, 3, 6});
  HostTensor outer = Einsum("i,j", {F32({2}, {1, 2}), F32({3}, {3, 4, 5})});
  ExpectNear(outer.Values<float>(), {3, 4, 5, 6, 8, 10});
  HostTensor dot = Einsum("i,i", {F64({3}, {1, 2, 3}), F64({3}, {4, 5, 6})});
  EXPECT_EQ(dot.shape, Ints{});
  EXPECT_EQ(dot.Values<double>(), (std::vector<double>{32}));
}

TEST(EinsumTest, DiagonalsEllipsisAndIntegers) {
  const HostTensor a = F32({2, 2}, {1, 2, 3, 4});
  ExpectNear(Einsum("ii", {a}).Values<float>(), {5});
  ExpectNear(Einsum("ii->i", {a}).Values<float>(), {1, 4});
  HostTensor batch = Einsum("...ii ->...i", {F32({2, 2, 2}, {0, 1, 2, 3, 4, 5, 6, 7})});
  EXPECT_EQ(batch.shape, (Ints{2, 2}));
  ExpectNear(batch.Values<float>(), {0, 3, 4, 7});
  // The ellipsis broadcasts: y has none of its dims.
  HostTensor bc = Einsum("...i,...i->...", {F32({2, 3}, {1, 2, 3, 4, 5, 6}), F32({3}, {1, 1, 2})});
  EXPECT_EQ(bc.shape, (Ints{2}));
  ExpectNear(bc.Values<float>(), {9, 21});
  EXPECT_EQ(Einsum("ij,jk", {I64({2, 2}, {1, 2, 3, 4}), I64({2, 2}, {5, 6, 7, 8})})
                .Values<int64_t>(),
            (Ints{19, 22, 43, 50}));
  // Sums over an empty label give zeros.
  HostTensor z = Einsum("ij,jk->ik", {F32({2, 0}, {}), F32({0, 3}, {})});
  EXPECT_EQ(z.shape, (Ints{2, 3}));
  ExpectNear(z.Values<float>(), std::vector<float>(6, 0));
}

TEST(EinsumTest, Refusals) {
  const HostTensor a = F32({2, 3}, {1, 2, 3, 4, 5, 6});
  auto err = [](const std::string& eq, const std::vector<HostTensor>& in) {
    return EvalError("Einsum", {{"equation", eq}}, in, 1, 12);
  };
  EXPECT_EQ(err("ij,jk", {a}), "Einsum: equation 'ij,jk' names 2 operands, found 1 inputs");
  EXPECT_EQ(err("i", {a}), "Einsum: operand 0 has rank 2 but its term has 1 labels");
  EXPECT_EQ(err("ij,ij", {a, F32({3, 2}, {1, 2, 3, 4, 5, 6})}),
            "Einsum: label 'i' has sizes 2 and 3 in different operands");
  EXPECT_EQ(err("ii", {a}), "Einsum: operand 0 repeats a label over dims of different sizes");
  EXPECT_EQ(err("i1", {a}), "Einsum: equation has the character '1'; labels are letters");
  EXPECT_EQ(err("...j->j", {a}),
            "Einsum: equation '...j->j' needs '...' in its output for the inputs' '...'");
  EXPECT_EQ(err("ij->k", {a}),
            "Einsum: output label 'k' is repeated or missing from the inputs (equation 'ij->k')");
  EXPECT_EQ(err("ij->ii", {a}),
            "Einsum: output label 'i' is repeated or missing from the inputs (equation 'ij->ii')");
  EXPECT_EQ(err("ij->i->j", {a}), "Einsum: equation 'ij->i->j' has more than one '->'");
  EXPECT_EQ(err("..i", {a}), "Einsum: equation term '..i' has a stray '.' or two ellipses");
  EXPECT_EQ(err("ij,jk", {a, I32({3, 1}, {1, 2, 3})}),
            "Einsum: inputs must share one type, found f32 and i32");
  EXPECT_EQ(EvalError("Einsum", {}, {a}, 1, 12), "Einsum: attribute 'equation' is required");
}

}  // namespace
}  // namespace ts::ops
