// Tests for the data movement and shape ops (shape.cc). Expected values are from the ONNX spec's
// examples or numpy (np.transpose, np.pad, np.tril, np.tile, ...).
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "runtime/ops/test_util.h"

namespace ts::ops {
namespace {

using testing::Bool;
using testing::Eval1;
using testing::EvalError;
using testing::F32;
using testing::I32;
using testing::I64;
using testing::U8;

using Shape = std::vector<int64_t>;
using I = std::vector<int64_t>;

ir::AttrValue Ints(I v) { return v; }
ir::AttrValue Floats(std::vector<double> v) { return v; }

std::vector<int64_t> Iota(int64_t n, int64_t from = 0) {
  std::vector<int64_t> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = from + i;
  return v;
}

std::vector<float> IotaF(int64_t n, float from = 0) {
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = from + static_cast<float>(i);
  return v;
}

// Evaluates an op with several outputs; fails the test on an error.
std::vector<HostTensor> EvalN(const std::string& op, const ir::AttrMap& attrs,
                              const std::vector<HostTensor>& inputs, size_t n, int64_t opset) {
  auto out = EvaluateOp(op, opset, attrs, inputs, n);
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  return out.ok() ? *out : std::vector<HostTensor>(n);
}

// ---- Registration

TEST(ShapeOpsTest, ParamsFollowTheOpset) {
  EXPECT_EQ(FindOp("Slice")->params(9), std::vector<std::string>{});
  EXPECT_EQ(FindOp("Slice")->params(13),
            (std::vector<std::string>{"", "starts", "ends", "axes", "steps"}));
  EXPECT_EQ(FindOp("Squeeze")->params(11), std::vector<std::string>{});
  EXPECT_EQ(FindOp("Squeeze")->params(13), (std::vector<std::string>{"", "axes"}));
  EXPECT_EQ(FindOp("Pad")->params(13), (std::vector<std::string>{"", "pads", "constant_value"}));
  EXPECT_EQ(FindOp("Pad")->params(18).back(), "axes");
  EXPECT_EQ(FindOp("Dropout")->params(12),
            (std::vector<std::string>{"", "ratio", "training_mode"}));
  EXPECT_EQ(FindOp("Range")->params(11), (std::vector<std::string>{"start", "limit", "delta"}));
  EXPECT_TRUE(FindOp("Shape")->types_only);
  EXPECT_TRUE(FindOp("Size")->types_only);
  EXPECT_FALSE(FindOp("Reshape")->types_only);
}

// ---- Reshape, Identity, Dropout, Flatten, Squeeze, Unsqueeze

TEST(ReshapeTest, InfersMinusOneAndCopiesZero) {
  auto y = Eval1("Reshape", {{"shape", Ints({0, -1})}}, {I64({2, 3, 4}, Iota(24))});
  EXPECT_EQ(y.shape, (Shape{2, 12}));
  EXPECT_EQ(y.Values<int64_t>(), Iota(24));
  EXPECT_EQ(Eval1("Reshape", {{"shape", Ints({-1})}}, {F32({2, 2}, {1, 2, 3, 4})}).shape, Shape{4});
}

TEST(ReshapeTest, AllowZeroKeepsALiteralZero) {
  auto y = Eval1("Reshape", {{"shape", Ints({3, 4, 0})}, {"allowzero", int64_t{1}}},
                 {F32({0, 3, 4}, {})}, 14);
  EXPECT_EQ(y.shape, (Shape{3, 4, 0}));
  // Without allowzero the 0 copies the input's dimension 2 (4): 48 elements, not 0.
  EXPECT_EQ(EvalError("Reshape", {{"shape", Ints({3, 4, 0})}}, {F32({0, 3, 4}, {})}),
            "Reshape: cannot reshape [0,3,4] (0 elements) to [3,4,4] (48)");
}

TEST(ReshapeTest, Refusals) {
  const auto x = F32({2, 3}, IotaF(6));
  EXPECT_EQ(EvalError("Reshape", {{"shape", Ints({-1, -1})}}, {x}),
            "Reshape: shape [-1,-1] has more than one -1");
  EXPECT_EQ(EvalError("Reshape", {{"shape", Ints({4, -1})}}, {x}),
            "Reshape: cannot infer the -1 in [4,-1] for an input [2,3]");
  EXPECT_EQ(EvalError("Reshape", {{"shape", Ints({6, 1, 0})}}, {x}),
            "Reshape: shape[2] is 0 (copy the input's dimension) but the input [2,3] has rank 2");
  EXPECT_EQ(EvalError("Reshape", {{"shape", Ints({-2, -3})}}, {x}),
            "Reshape: shape [-2,-3] has a negative dimension");
  EXPECT_EQ(EvalError("Reshape", {}, {x}),
            "Reshape: the target shape is required and must be known at compile time");
}

TEST(IdentityTest, CopiesEveryDtype) {
  auto x = HostTensor::Of<int8_t>(DType::kI8, {3}, {-1, 0, 7});
  auto y = Eval1("Identity", {}, {x});
  EXPECT_EQ(y.dtype, DType::kI8);
  EXPECT_EQ(y.Values<int8_t>(), (std::vector<int8_t>{-1, 0, 7}));
}

TEST(DropoutTest, InferenceIsIdentityWithAnAllTrueMask) {
  auto out = EvalN("Dropout", {{"ratio", Floats({0.5})}, {"training_mode", Ints({0})}},
                   {F32({2, 2}, {1, -2, 3, 4})}, 2, 13);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].Values<float>(), (std::vector<float>{1, -2, 3, 4}));
  EXPECT_EQ(out[1].dtype, DType::kBool);
  EXPECT_EQ(out[1].Values<uint8_t>(), (std::vector<uint8_t>{1, 1, 1, 1}));
  // Before opset 10 the mask has the input's type; the ratio is a float attribute.
  auto old = EvalN("Dropout", {{"ratio", 0.3}}, {F32({2}, {5, 6})}, 2, 9);
  EXPECT_EQ(old[1].dtype, DType::kF32);
  EXPECT_EQ(old[1].Values<float>(), (std::vector<float>{1, 1}));
}

TEST(DropoutTest, RefusesTrainingMode) {
  EXPECT_EQ(EvalError("Dropout", {{"training_mode", Ints({1})}}, {F32({1}, {1})}, 1, 13),
            "Dropout: training_mode is true, but this runtime only does inference (export the "
            "model in eval mode)");
}

TEST(FlattenTest, AxesIncludingNegative) {
  const auto x = F32({2, 3, 4, 5}, IotaF(120));
  EXPECT_EQ(Eval1("Flatten", {{"axis", int64_t{2}}}, {x}).shape, (Shape{6, 20}));
  EXPECT_EQ(Eval1("Flatten", {}, {x}).shape, (Shape{2, 60}));
  EXPECT_EQ(Eval1("Flatten", {{"axis", int64_t{0}}}, {x}).shape, (Shape{1, 120}));
  auto y = Eval1("Flatten", {{"axis", int64_t{-1}}}, {x}, 13);
  EXPECT_EQ(y.shape, (Shape{24, 5}));
  EXPECT_EQ(y.Values<float>(), IotaF(120));
  EXPECT_EQ(EvalError("Flatten", {{"axis", int64_t{-1}}}, {x}, 1, 9),
            "Flatten: axis -1 is out of range [0, 4] for an input of rank 4");
  EXPECT_EQ(EvalError("Flatten", {{"axis", int64_t{5}}}, {x}),
            "Flatten: axis 5 is out of range [-4, 4] for an input of rank 4");
}

TEST(SqueezeTest, GivenAxesOrAllOnes) {
  const auto x = F32({1, 3, 1, 2}, IotaF(6));
  EXPECT_EQ(Eval1("Squeeze", {{"axes", Ints({-2})}}, {x}, 13).shape, (Shape{1, 3, 2}));
  EXPECT_EQ(Eval1("Squeeze", {{"axes", Ints({0, 2})}}, {x}, 11).shape, (Shape{3, 2}));
  auto y = Eval1("Squeeze", {}, {x}, 13);
  EXPECT_EQ(y.shape, (Shape{3, 2}));
  EXPECT_EQ(y.Values<float>(), IotaF(6));
  EXPECT_EQ(EvalError("Squeeze", {{"axes", Ints({1})}}, {x}),
            "Squeeze: cannot squeeze axis 1 of [1,3,1,2]: its size is not 1");
  EXPECT_EQ(EvalError("Squeeze", {{"axes", Ints({4})}}, {x}),
            "Squeeze: axis 4 is out of range for rank 4");
}

TEST(UnsqueezeTest, UnsortedAndNegativeAxes) {
  const auto x = I64({2, 3}, Iota(6));
  EXPECT_EQ(Eval1("Unsqueeze", {{"axes", Ints({3, 0})}}, {x}, 13).shape, (Shape{1, 2, 3, 1}));
  EXPECT_EQ(Eval1("Unsqueeze", {{"axes", Ints({-1})}}, {x}, 11).shape, (Shape{2, 3, 1}));
  auto y = Eval1("Unsqueeze", {{"axes", Ints({1})}}, {x});
  EXPECT_EQ(y.shape, (Shape{2, 1, 3}));
  EXPECT_EQ(y.Values<int64_t>(), Iota(6));
  EXPECT_EQ(EvalError("Unsqueeze", {{"axes", Ints({0, -4})}}, {x}),
            "Unsqueeze: axis -4 is repeated");
  EXPECT_EQ(EvalError("Unsqueeze", {}, {x}), "Unsqueeze: attribute 'axes' is required");
}

// ---- Transpose, Concat, Split

TEST(TransposeTest, PermAndDefault) {
  std::vector<int32_t> v(24);
  for (int i = 0; i < 24; ++i) v[i] = i;
  auto y = Eval1("Transpose", {{"perm", Ints({1, 2, 0})}}, {I32({2, 3, 4}, v)});
  EXPECT_EQ(y.shape, (Shape{3, 4, 2}));
  EXPECT_EQ(y.Values<int32_t>(), (std::vector<int32_t>{0, 12, 1, 13, 2, 14, 3, 15, 4, 16, 5, 17,
                                                       6, 18, 7, 19, 8, 20, 9, 21, 10, 22, 11,
                                                       23}));
  // Default: reversed axes. f16 moves as 16-bit words.
  auto h = HostTensor::Of<uint16_t>(DType::kF16, {2, 3}, {1, 2, 3, 4, 5, 6});
  auto t = Eval1("Transpose", {}, {h});
  EXPECT_EQ(t.dtype, DType::kF16);
  EXPECT_EQ(t.shape, (Shape{3, 2}));
  EXPECT_EQ(t.Values<uint16_t>(), (std::vector<uint16_t>{1, 4, 2, 5, 3, 6}));
  EXPECT_EQ(EvalError("Transpose", {{"perm", Ints({0, 0})}}, {h}),
            "Transpose: perm [0,0] is not a permutation of the 2 input axes");
}

// The planner may place an input inside the output (passes/liveness.h): the kernel must leave
// it there and copy only the others.
TEST(ConcatTest, InputAlreadyInPlaceIsLeftAlone) {
  std::vector<float> out = {0, 0, 7, 8, 9};  // the second input already sits at [2, 5)
  std::vector<float> first = {1, 2};
  ir::AttrMap attrs = {{"axis", int64_t{1}}};
  KernelContext ctx{13, AttrView(attrs), {}, {}};
  ctx.inputs = {{DType::kF32, {1, 2}, first.data()}, {DType::kF32, {1, 3}, out.data() + 2}};
  ctx.outputs = {{DType::kF32, {1, 5}, out.data()}};
  FindOp("Concat")->run(ctx);
  EXPECT_EQ(out, (std::vector<float>{1, 2, 7, 8, 9}));
}

// Rows [1,2,T=2,D=2] written at positions 1 and 2 of a [1,2,L=4,2] cache, in place (out is the
// cache's bytes) and into a separate output (a copy of the cache first); a row past L is dropped.
TEST(KvWriteTest, WritesRowsAtThePositionInPlaceOrIntoACopy) {
  std::vector<float> cache(16, 0), rows = {1, 2, 3, 4, 5, 6, 7, 8};
  int64_t pos = 1;
  ir::AttrMap attrs;
  KernelContext ctx{17, AttrView(attrs), {}, {}};
  ctx.inputs = {{DType::kF32, {1, 2, 4, 2}, cache.data()}, {DType::kF32, {1, 2, 2, 2}, rows.data()},
                {DType::kI64, {1}, &pos}};
  ctx.outputs = {{DType::kF32, {1, 2, 4, 2}, cache.data()}};
  FindOp("TsKvWrite")->run(ctx);
  EXPECT_EQ(cache, (std::vector<float>{0, 0, 1, 2, 3, 4, 0, 0, 0, 0, 5, 6, 7, 8, 0, 0}));
  std::vector<float> out(16, -1);
  pos = 3;
  ctx.outputs = {{DType::kF32, {1, 2, 4, 2}, out.data()}};
  FindOp("TsKvWrite")->run(ctx);
  EXPECT_EQ(out, (std::vector<float>{0, 0, 1, 2, 3, 4, 1, 2, 0, 0, 5, 6, 7, 8, 5, 6}));
  // Types: the cache's; rows must match it but for T; one i64 position.
  auto ok = InferOp(*FindOp("TsKvWrite"), 17, attrs,
                    {{DType::kF32, {1, 2, 4, 2}}, {DType::kF32, {1, 2, 1, 2}}, {DType::kI64, {1}}}, 1);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ((*ok)[0].shape, (Shape{1, 2, 4, 2}));
  auto bad = InferOp(*FindOp("TsKvWrite"), 17, attrs,
                     {{DType::kF32, {1, 2, 4, 2}}, {DType::kF32, {1, 3, 1, 2}}, {DType::kI64, {1}}}, 1);
  EXPECT_FALSE(bad.ok());
}

TEST(ConcatTest, AxesAndEmptyInputs) {
  auto y = Eval1("Concat", {{"axis", int64_t{1}}},
                 {F32({2, 0}, {}), F32({2, 2}, {1, 2, 3, 4}), F32({2, 1}, {5, 6})});
  EXPECT_EQ(y.shape, (Shape{2, 3}));
  EXPECT_EQ(y.Values<float>(), (std::vector<float>{1, 2, 5, 3, 4, 6}));
  auto b = Eval1("Concat", {{"axis", int64_t{-2}}}, {Bool({1, 2}, {1, 0}), Bool({1, 2}, {0, 1})});
  EXPECT_EQ(b.shape, (Shape{2, 2}));
  EXPECT_EQ(b.Values<uint8_t>(), (std::vector<uint8_t>{1, 0, 0, 1}));
  EXPECT_EQ(Eval1("Concat", {{"axis", int64_t{0}}}, {F32({3}, {1, 2, 3})}).shape, Shape{3});
}

TEST(ConcatTest, Refusals) {
  EXPECT_EQ(EvalError("Concat", {{"axis", int64_t{0}}}, {F32({1}, {1}), I64({1}, {1})}),
            "Concat: inputs have different types (f32 and i64)");
  EXPECT_EQ(EvalError("Concat", {{"axis", int64_t{0}}},
                      {F32({1, 2}, {1, 2}), F32({1, 3}, {1, 2, 3})}),
            "Concat: input shapes [1,2] and [1,3] differ outside axis 0");
  EXPECT_EQ(EvalError("Concat", {{"axis", int64_t{2}}}, {F32({1, 2}, {1, 2})}),
            "Concat: axis 2 is out of range for rank 2");
  EXPECT_EQ(EvalError("Concat", {}, {F32({1}, {1})}), "Concat: attribute 'axis' is required");
}

TEST(SplitTest, GivenSizesEqualPartsAndNumOutputs) {
  auto out = EvalN("Split", {{"axis", int64_t{1}}, {"split", Ints({1, 3})}},
                   {F32({2, 4}, IotaF(8))}, 2, 13);
  EXPECT_EQ(out[0].shape, (Shape{2, 1}));
  EXPECT_EQ(out[0].Values<float>(), (std::vector<float>{0, 4}));
  EXPECT_EQ(out[1].Values<float>(), (std::vector<float>{1, 2, 3, 5, 6, 7}));
  out = EvalN("Split", {}, {I64({6}, Iota(6))}, 3, 11);
  EXPECT_EQ(out[2].Values<int64_t>(), (I{4, 5}));
  // Opset 18: ceil(5 / 3) = 2 per chunk, the last one smaller.
  out = EvalN("Split", {{"num_outputs", int64_t{3}}}, {I64({5}, Iota(5))}, 3, 18);
  EXPECT_EQ(out[0].Values<int64_t>(), (I{0, 1}));
  EXPECT_EQ(out[1].Values<int64_t>(), (I{2, 3}));
  EXPECT_EQ(out[2].Values<int64_t>(), (I{4}));
  out = EvalN("Split", {{"split", Ints({0, 0})}}, {F32({0}, {})}, 2, 13);
  EXPECT_EQ(out[1].shape, Shape{0});
}

TEST(SplitTest, Refusals) {
  const auto x = F32({5}, IotaF(5));
  EXPECT_EQ(EvalError("Split", {{"split", Ints({2, 2})}}, {x}, 2),
            "Split: split [2,2] must have one size >= 0 per output (2) summing to the axis' "
            "size 5");
  EXPECT_EQ(EvalError("Split", {}, {x}, 2),
            "Split: the axis' size 5 does not split evenly into 2 outputs; give 'split'");
  EXPECT_EQ(EvalError("Split", {{"num_outputs", int64_t{3}}}, {x}, 2, 18),
            "Split: num_outputs is 3 but the node has 2 outputs");
  EXPECT_EQ(EvalError("Split", {{"num_outputs", int64_t{4}}}, {x}, 4, 18),
            "Split: cannot split a dimension of 5 into 4 chunks of 2");
}

// ---- Slice

TEST(SliceTest, StepsClampingAndSentinels) {
  const auto a = I64({10}, Iota(10));
  EXPECT_EQ(Eval1("Slice", {{"starts", Ints({8})}, {"ends", Ints({1})}, {"steps", Ints({-3})}},
                  {a}).Values<int64_t>(),
            (I{8, 5, 2}));
  const int64_t kMin = std::numeric_limits<int64_t>::min();
  const int64_t kMax = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(Eval1("Slice", {{"starts", Ints({-1})}, {"ends", Ints({kMin})}, {"steps", Ints({-1})}},
                  {a}).Values<int64_t>(),
            (I{9, 8, 7, 6, 5, 4, 3, 2, 1, 0}));
  EXPECT_EQ(Eval1("Slice", {{"starts", Ints({7})}, {"ends", Ints({kMax})}, {"steps", Ints({kMax})}},
                  {a}).Values<int64_t>(),
            (I{7}));
  // numpy x[1:1000, -2::-2] on arange(20).reshape(4, 5), axes given out of order.
  auto y = Eval1("Slice", {{"starts", Ints({-2, 1})}, {"ends", Ints({kMin, 1000})},
                           {"axes", Ints({-1, 0})}, {"steps", Ints({-2, 1})}},
                 {F32({4, 5}, IotaF(20))});
  EXPECT_EQ(y.shape, (Shape{3, 2}));
  EXPECT_EQ(y.Values<float>(), (std::vector<float>{8, 6, 13, 11, 18, 16}));
}

TEST(SliceTest, OldAttributesAndEmptyResults) {
  auto y = Eval1("Slice", {{"starts", Ints({1})}, {"ends", Ints({3})}, {"axes", Ints({1})}},
                 {U8({2, 4}, {1, 2, 3, 4, 5, 6, 7, 8})}, 9);
  EXPECT_EQ(y.Values<uint8_t>(), (std::vector<uint8_t>{2, 3, 6, 7}));
  auto e = Eval1("Slice", {{"starts", Ints({3})}, {"ends", Ints({1})}}, {F32({4}, IotaF(4))});
  EXPECT_EQ(e.shape, Shape{0});
  e = Eval1("Slice", {{"starts", Ints({20})}, {"ends", Ints({30})}}, {F32({4}, IotaF(4))});
  EXPECT_EQ(e.shape, Shape{0});
  e = Eval1("Slice", {{"starts", Ints({0})}, {"ends", Ints({-1})}, {"steps", Ints({-1})}},
            {F32({0, 2}, {})});
  EXPECT_EQ(e.shape, (Shape{0, 2}));
}

TEST(SliceTest, Refusals) {
  const auto x = F32({2, 2}, IotaF(4));
  EXPECT_EQ(EvalError("Slice", {{"starts", Ints({0})}, {"ends", Ints({1})}, {"steps", Ints({0})}},
                      {x}),
            "Slice: steps must not be 0");
  EXPECT_EQ(EvalError("Slice", {{"starts", Ints({0, 0})}, {"ends", Ints({1, 1})},
                                {"axes", Ints({1, -1})}}, {x}),
            "Slice: axis -1 is repeated");
  EXPECT_EQ(EvalError("Slice", {{"starts", Ints({0})}, {"ends", Ints({1, 1})}}, {x}),
            "Slice: starts, ends, axes and steps must have the same length");
  EXPECT_EQ(EvalError("Slice", {{"ends", Ints({1})}}, {x}),
            "Slice: attribute 'starts' is required");
}

// ---- Gather, GatherElements

TEST(GatherTest, AxesNegativeAndNdIndices) {
  const auto data = F32({2, 3}, {1, 2, 3, 4, 5, 6});
  auto y = Eval1("Gather", {{"axis", int64_t{1}}}, {data, I64({1, 2}, {2, -3})});
  EXPECT_EQ(y.shape, (Shape{2, 1, 2}));
  EXPECT_EQ(y.Values<float>(), (std::vector<float>{3, 1, 6, 4}));
  y = Eval1("Gather", {}, {data, I32({2}, {1, -2})});
  EXPECT_EQ(y.Values<float>(), (std::vector<float>{4, 5, 6, 1, 2, 3}));
  y = Eval1("Gather", {{"axis", int64_t{-1}}}, {data, I64({}, {-1})});  // a scalar index
  EXPECT_EQ(y.shape, Shape{2});
  EXPECT_EQ(y.Values<float>(), (std::vector<float>{3, 6}));
}

TEST(GatherTest, OutOfRangeIndicesReadZerosAndBadTypesAreRefused) {
  const auto data = I64({3, 2}, {1, 2, 3, 4, 5, 6});
  auto y = Eval1("Gather", {}, {data, I64({3}, {2, 3, -4})});
  EXPECT_EQ(y.Values<int64_t>(), (I{5, 6, 0, 0, 0, 0}));
  EXPECT_EQ(EvalError("Gather", {}, {data, F32({1}, {0})}),
            "Gather: indices must be i32 or i64, found f32");
  EXPECT_EQ(EvalError("Gather", {{"axis", int64_t{2}}}, {data, I64({1}, {0})}),
            "Gather: axis 2 is out of range for rank 2");
}

TEST(GatherNDTest, SpecExamplesBatchDimsAndErrors) {
  // ONNX's GatherND examples 1, 2 and 5.
  auto y = Eval1("GatherND", {}, {I64({2, 2}, {0, 1, 2, 3}), I64({2, 2}, {0, 0, 1, 1})});
  EXPECT_EQ(y.shape, Shape{2});
  EXPECT_EQ(y.Values<int64_t>(), (I{0, 3}));
  y = Eval1("GatherND", {}, {I64({2, 2}, {0, 1, 2, 3}), I64({2, 1}, {1, 0})});
  EXPECT_EQ(y.shape, (Shape{2, 2}));
  EXPECT_EQ(y.Values<int64_t>(), (I{2, 3, 0, 1}));
  const auto data = F32({2, 2, 2}, {0, 1, 2, 3, 4, 5, 6, 7});
  y = Eval1("GatherND", {{"batch_dims", int64_t{1}}}, {data, I64({2, 1}, {1, 0})});
  EXPECT_EQ(y.shape, (Shape{2, 2}));
  EXPECT_EQ(y.Values<float>(), (std::vector<float>{2, 3, 4, 5}));
  // Negative and out-of-range tuples (the latter read zeros, as Gather's do).
  y = Eval1("GatherND", {}, {data, I64({2, 2}, {-1, -1, 2, 0})});
  EXPECT_EQ(y.Values<float>(), (std::vector<float>{6, 7, 0, 0}));
  EXPECT_EQ(EvalError("GatherND", {}, {data, I64({1, 4}, {0, 0, 0, 0})}),
            "GatherND: the last axis of indices [1,4] must be 1..3 for data [2,2,2]");
  EXPECT_EQ(EvalError("GatherND", {{"batch_dims", int64_t{1}}}, {data, I64({3, 1}, {0, 0, 0})}),
            "GatherND: batch axis 0 differs: data [2,2,2], indices [3,1]");
  EXPECT_EQ(EvalError("GatherND", {}, {data, I32({1, 1}, {0})}),
            "GatherND: indices must be i64, found i32");
}

TEST(GatherElementsTest, SpecExamplesAndOutOfRange) {
  const auto data = F32({3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  // ONNX's gather_elements_negative_indices: axis 0, indices [[-1, -2, 0], [-2, 0, 0]].
  auto y = Eval1("GatherElements", {}, {data, I64({2, 3}, {-1, -2, 0, -2, 0, 0})});
  EXPECT_EQ(y.Values<float>(), (std::vector<float>{7, 5, 3, 4, 2, 3}));
  // Axis 1 with fewer rows than data; 3 and -4 are out of range.
  y = Eval1("GatherElements", {{"axis", int64_t{1}}}, {data, I32({2, 2}, {1, 3, -4, 2})});
  EXPECT_EQ(y.shape, (Shape{2, 2}));
  EXPECT_EQ(y.Values<float>(), (std::vector<float>{2, 0, 0, 6}));
  EXPECT_EQ(EvalError("GatherElements", {{"axis", int64_t{1}}}, {data, I64({4, 1}, {0, 0, 0, 0})}),
            "GatherElements: indices [4,1] must have the rank of data [3,3] and no larger size "
            "outside axis 1");
}

// ---- Expand, Tile

TEST(ExpandTest, BidirectionalBroadcast) {
  auto y = Eval1("Expand", {{"shape", Ints({2, 1, 3})}}, {F32({2, 1}, {1, 2})});
  EXPECT_EQ(y.shape, (Shape{2, 2, 3}));
  EXPECT_EQ(y.Values<float>(), (std::vector<float>{1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2}));
  // A smaller shape keeps the input's dims.
  EXPECT_EQ(Eval1("Expand", {{"shape", Ints({1})}}, {F32({3, 4}, IotaF(12))}).shape, (Shape{3, 4}));
  EXPECT_EQ(Eval1("Expand", {{"shape", Ints({0, 1})}}, {F32({1}, {1})}).shape, (Shape{0, 1}));
  EXPECT_EQ(EvalError("Expand", {{"shape", Ints({2})}}, {F32({3}, {1, 2, 3})}),
            "Expand: cannot broadcast [3] with shape [2]");
  EXPECT_EQ(EvalError("Expand", {{"shape", Ints({-1})}}, {F32({1}, {1})}),
            "Expand: cannot broadcast [1] with shape [-1]");
}

TEST(TileTest, RepeatsIncludingZero) {
  auto y = Eval1("Tile", {{"repeats", Ints({2, 3})}}, {I64({2, 2}, {1, 2, 3, 4})});
  EXPECT_EQ(y.shape, (Shape{4, 6}));
  EXPECT_EQ(y.Values<int64_t>(), (I{1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4,
                                    1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4}));
  EXPECT_EQ(Eval1("Tile", {{"repeats", Ints({0, 2})}}, {F32({2, 1}, {1, 2})}).shape, (Shape{0, 2}));
  EXPECT_EQ(EvalError("Tile", {{"repeats", Ints({2})}}, {F32({2, 1}, {1, 2})}),
            "Tile: repeats [2] must have one entry per input axis (2)");
  EXPECT_EQ(EvalError("Tile", {{"repeats", Ints({1, -1})}}, {F32({2, 1}, {1, 2})}),
            "Tile: repeats [1,-1] has a negative entry");
}

// ---- Pad

TEST(PadTest, ConstantAcrossOpsets) {
  const auto x = F32({2, 2}, {1, 2, 3, 4});
  auto y = Eval1("Pad", {{"pads", Ints({0, 1, 1, 0})}, {"constant_value", Floats({9})}}, {x}, 13);
  EXPECT_EQ(y.shape, (Shape{3, 3}));
  EXPECT_EQ(y.Values<float>(), (std::vector<float>{9, 1, 2, 9, 3, 4, 9, 9, 9}));
  // Opset 2-10: pads and value are attributes.
  y = Eval1("Pad", {{"pads", Ints({0, 1, 0, 0})}, {"value", 1.5}}, {x}, 9);
  EXPECT_EQ(y.Values<float>(), (std::vector<float>{1.5, 1, 2, 1.5, 3, 4}));
  // Default 0; negative pads crop; an i64 constant stays exact.
  y = Eval1("Pad", {{"pads", Ints({-1, 0, 0, 1})}}, {x});
  EXPECT_EQ(y.Values<float>(), (std::vector<float>{3, 4, 0}));
  const int64_t big = (int64_t{1} << 60) + 1;
  auto z = Eval1("Pad", {{"pads", Ints({1, 0})}, {"constant_value", Ints({big})}},
                 {I64({1}, {5})});
  EXPECT_EQ(z.Values<int64_t>(), (I{big, 5}));
}

TEST(PadTest, ReflectEdgeWrap) {
  const auto m = I32({2, 3}, {1, 2, 3, 4, 5, 6});
  auto y = Eval1("Pad", {{"mode", std::string("reflect")}, {"pads", Ints({1, 2, 0, 1})}}, {m});
  EXPECT_EQ(y.shape, (Shape{3, 6}));
  EXPECT_EQ(y.Values<int32_t>(), (std::vector<int32_t>{6, 5, 4, 5, 6, 5, 3, 2, 1, 2, 3, 2,
                                                       6, 5, 4, 5, 6, 5}));
  y = Eval1("Pad", {{"mode", std::string("edge")}, {"pads", Ints({0, 1, 1, 2})}}, {m});
  EXPECT_EQ(y.Values<int32_t>(), (std::vector<int32_t>{1, 1, 2, 3, 3, 3, 4, 4, 5, 6, 6, 6,
                                                       4, 4, 5, 6, 6, 6}));
  y = Eval1("Pad", {{"mode", std::string("wrap")}, {"pads", Ints({1, 0, 1, 2})}}, {m}, 19);
  EXPECT_EQ(y.Values<int32_t>(), (std::vector<int32_t>{4, 5, 6, 4, 5, 1, 2, 3, 1, 2,
                                                       4, 5, 6, 4, 5, 1, 2, 3, 1, 2}));
  // numpy's reflect past the edge keeps reflecting: [1, 2, 3] padded by 5 on the left.
  y = Eval1("Pad", {{"mode", std::string("reflect")}, {"pads", Ints({5, 0})}},
            {I32({3}, {1, 2, 3})});
  EXPECT_EQ(y.Values<int32_t>(), (std::vector<int32_t>{2, 1, 2, 3, 2, 1, 2, 3}));
}

TEST(PadTest, AxesFromOpset18) {
  auto y = Eval1("Pad",
                 {{"pads", Ints({1, 2})}, {"axes", Ints({-1})}, {"constant_value", Ints({7})}},
                 {U8({2, 1}, {1, 2})}, 18);
  EXPECT_EQ(y.shape, (Shape{2, 4}));
  EXPECT_EQ(y.Values<uint8_t>(), (std::vector<uint8_t>{7, 1, 7, 7, 7, 2, 7, 7}));
}

TEST(PadTest, Refusals) {
  const auto x = F32({2, 0}, {});
  EXPECT_EQ(EvalError("Pad", {{"pads", Ints({1, 1})}}, {x}),
            "Pad: pads [1,1] must have 2 entries per padded axis (4)");
  EXPECT_EQ(EvalError("Pad", {{"mode", std::string("edge")}, {"pads", Ints({0, 1, 0, 0})}}, {x}),
            "Pad: mode 'edge' cannot pad the empty axis 1");
  EXPECT_EQ(EvalError("Pad", {{"mode", std::string("wrap")}, {"pads", Ints({0, 0, 0, 0})}}, {x}, 1,
                      18),
            "Pad: mode 'wrap' is not one of constant, reflect, edge (wrap needs opset 19)");
  EXPECT_EQ(EvalError("Pad", {{"pads", Ints({-3, 0, 0, 0})}}, {x}),
            "Pad: pads [-3,0,0,0] give axis 0 of size 2 an invalid size");
  EXPECT_EQ(EvalError("Pad", {}, {x}), "Pad: pads are required and must be known at compile time");
  // A constant-mode pad of the empty axis is fine.
  EXPECT_EQ(Eval1("Pad", {{"pads", Ints({0, 1, 0, 0})}}, {x}).Values<float>(),
            (std::vector<float>{0, 0}));
}

// ---- Shape, Size

TEST(ShapeTest, StartAndEndClamp) {
  const auto x = F32({3, 4, 5}, IotaF(60));
  EXPECT_EQ(Eval1("Shape", {}, {x}).Values<int64_t>(), (I{3, 4, 5}));
  EXPECT_EQ(
      Eval1("Shape", {{"start", int64_t{1}}, {"end", int64_t{-1}}}, {x}, 15).Values<int64_t>(),
      I{4});
  EXPECT_EQ(Eval1("Shape", {{"start", int64_t{-10}}, {"end", int64_t{10}}}, {x}, 15)
                .Values<int64_t>(),
            (I{3, 4, 5}));
  auto e = Eval1("Shape", {{"start", int64_t{2}}, {"end", int64_t{1}}}, {x}, 15);
  EXPECT_EQ(e.shape, Shape{0});
  auto s = Eval1("Size", {}, {x});
  EXPECT_EQ(s.dtype, DType::kI64);
  EXPECT_EQ(s.shape, Shape{});
  EXPECT_EQ(s.Values<int64_t>(), I{60});
  EXPECT_EQ(Eval1("Size", {}, {F32({2, 0}, {})}).Values<int64_t>(), I{0});
}

// ---- ConstantOfShape, Range

TEST(ConstantOfShapeTest, ValueAndDtype) {
  auto y = Eval1("ConstantOfShape", {{"shape", Ints({2, 3})}}, {}, 9);
  EXPECT_EQ(y.dtype, DType::kF32);
  EXPECT_EQ(y.Values<float>(), std::vector<float>(6, 0));
  const int64_t big = (int64_t{1} << 62) + 1;
  y = Eval1("ConstantOfShape", {{"shape", Ints({2})}, {"value", Ints({big})},
                                {"value.dtype", int64_t(DType::kI64)}}, {});
  EXPECT_EQ(y.Values<int64_t>(), (I{big, big}));
  y = Eval1("ConstantOfShape", {{"shape", Ints({})}, {"value", Floats({1.5})},
                                {"value.dtype", int64_t(DType::kF64)}}, {});
  EXPECT_EQ(y.shape, Shape{});
  EXPECT_EQ(y.Values<double>(), std::vector<double>{1.5});
  y = Eval1("ConstantOfShape", {{"shape", Ints({0, 4})}, {"value", Ints({1})},
                                {"value.dtype", int64_t(DType::kBool)}}, {});
  EXPECT_EQ(y.shape, (Shape{0, 4}));
}

TEST(ConstantOfShapeTest, Refusals) {
  EXPECT_EQ(EvalError("ConstantOfShape", {{"shape", Ints({2, -1})}}, {}),
            "ConstantOfShape: shape [2,-1] has a negative dimension");
  EXPECT_EQ(EvalError("ConstantOfShape", {{"shape", Ints({1})}, {"value", Floats({0.5})},
                                          {"value.dtype", int64_t(DType::kI32)}}, {}),
            "ConstantOfShape: value must be an integer for dtype i32");
  EXPECT_EQ(EvalError("ConstantOfShape", {{"shape", Ints({1})}, {"value.dtype", int64_t{99}}}, {}),
            "ConstantOfShape: 'value.dtype' is not a known dtype (99)");
  EXPECT_EQ(EvalError("ConstantOfShape", {}, {}),
            "ConstantOfShape: the shape input is required and must be known at compile time");
}

ir::AttrMap OneHotAttrs(ir::AttrValue depth, ir::AttrValue values, DType t) {
  return {{"depth", depth}, {"values", values}, {"values.dtype", int64_t(t)}};
}

ir::AttrMap RangeAttrs(DType t, ir::AttrValue start, ir::AttrValue limit, ir::AttrValue delta) {
  return {{"start", start}, {"limit", limit}, {"delta", delta}, {"start.dtype", int64_t(t)}};
}

TEST(RangeTest, FloatAndIntegerTypes) {
  auto y = Eval1("Range", RangeAttrs(DType::kF32, Floats({1}), Floats({5}), Floats({2})), {}, 11);
  EXPECT_EQ(y.dtype, DType::kF32);
  EXPECT_EQ(y.Values<float>(), (std::vector<float>{1, 3}));
  y = Eval1("Range", RangeAttrs(DType::kF64, Floats({0}), Floats({1}), Floats({0.25})), {}, 11);
  EXPECT_EQ(y.Values<double>(), (std::vector<double>{0, 0.25, 0.5, 0.75}));
  y = Eval1("Range", RangeAttrs(DType::kI32, Ints({10}), Ints({4}), Ints({-3})), {}, 11);
  EXPECT_EQ(y.Values<int32_t>(), (std::vector<int32_t>{10, 7}));
  y = Eval1("Range", RangeAttrs(DType::kI64, Ints({0}), Ints({5}), Ints({-1})), {}, 11);
  EXPECT_EQ(y.shape, Shape{0});
  // The span past int64 is computed exactly.
  const int64_t kMax = std::numeric_limits<int64_t>::max();
  y = Eval1("Range", RangeAttrs(DType::kI64, Ints({-kMax}), Ints({kMax}), Ints({kMax})), {}, 11);
  EXPECT_EQ(y.Values<int64_t>(), (I{-kMax, 0}));
}

TEST(RangeTest, NewerIntegerTypes) {
  // i16 and u64 exist where ir/dtype.h has them.
  if (auto i16 = DTypeFromName("i16")) {
    auto y = Eval1("Range", RangeAttrs(*i16, Ints({5}), Ints({0}), Ints({-2})), {}, 11);
    EXPECT_EQ(y.Values<int16_t>(), (std::vector<int16_t>{5, 3, 1}));
    EXPECT_EQ(EvalError("Range", RangeAttrs(*i16, Ints({0}), Ints({40000}), Ints({1})), {}),
              "Range: limit does not fit i16");
  }
  if (auto u64 = DTypeFromName("u64")) {
    // A u64 index past int64's range is out of range, not negative.
    auto y = Eval1("OneHot", OneHotAttrs(Ints({2}), Ints({0, 1}), DType::kI64),
                   {HostTensor::Of<uint64_t>(*u64, {2}, {~uint64_t{0}, 1})}, 11);
    EXPECT_EQ(y.Values<int64_t>(), (I{0, 0, 0, 1}));
  }
}

TEST(RangeTest, Refusals) {
  EXPECT_EQ(EvalError("Range", RangeAttrs(DType::kI64, Ints({0}), Ints({5}), Ints({0})), {}),
            "Range: delta must not be 0");
  EXPECT_EQ(EvalError("Range", RangeAttrs(DType::kF32, Floats({0}), Floats({1e30}), Floats({1})),
                      {}),
            "Range: the output would have too many elements (or a NaN bound)");
  EXPECT_EQ(EvalError("Range", RangeAttrs(DType::kI32, Ints({0}), Floats({5}), Ints({1})), {}),
            "Range: limit must be an integer for type i32");
  EXPECT_EQ(EvalError("Range", RangeAttrs(DType::kU8, Ints({0}), Ints({5}), Ints({1})), {}),
            "Range: type u8 is not f32, f64, i16, i32 or i64");
  EXPECT_EQ(EvalError("Range", {{"start", Ints({0})}, {"limit", Ints({1})}, {"delta", Ints({1})}},
                      {}),
            "Range: 'start.dtype' is required (start must be known at compile time)");
}

// ---- Trilu, OneHot

TEST(TriluTest, LowerUpperAndBatches) {
  const auto x = I64({4, 5}, Iota(20, 1));
  EXPECT_EQ(Eval1("Trilu", {{"upper", int64_t{0}}, {"k", Ints({-1})}}, {x}, 14).Values<int64_t>(),
            (I{0, 0, 0, 0, 0, 6, 0, 0, 0, 0, 11, 12, 0, 0, 0, 16, 17, 18, 0, 0}));
  EXPECT_EQ(Eval1("Trilu", {{"k", Ints({1})}}, {x}, 14).Values<int64_t>(),
            (I{0, 2, 3, 4, 5, 0, 0, 8, 9, 10, 0, 0, 0, 14, 15, 0, 0, 0, 0, 20}));
  EXPECT_EQ(Eval1("Trilu", {}, {I64({2, 3, 3}, Iota(18, 1))}, 14).Values<int64_t>(),
            (I{1, 2, 3, 0, 5, 6, 0, 0, 9, 10, 11, 12, 0, 14, 15, 0, 0, 18}));
  // A k past every column keeps all (lower) or nothing (upper).
  const int64_t kMax = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(Eval1("Trilu", {{"upper", int64_t{0}}, {"k", Ints({kMax})}}, {x}, 14).Values<int64_t>(),
            Iota(20, 1));
  EXPECT_EQ(Eval1("Trilu", {{"k", Ints({kMax})}}, {x}, 14).Values<int64_t>(), I(20, 0));
  EXPECT_EQ(Eval1("Trilu", {{"k", Ints({-kMax})}}, {x}, 14).Values<int64_t>(), Iota(20, 1));
  EXPECT_EQ(EvalError("Trilu", {}, {F32({3}, {1, 2, 3})}, 1, 14),
            "Trilu: the input must have rank >= 2");
}

TEST(OneHotTest, AxesNegativeAndOutOfRangeIndices) {
  // 5 and -5 are outside [-4, 3]: all-off rows.
  auto y = Eval1("OneHot", OneHotAttrs(Ints({4}), Floats({0, 1}), DType::kF32),
                 {I64({4}, {0, -1, 5, -5})}, 11);
  EXPECT_EQ(y.shape, (Shape{4, 4}));
  EXPECT_EQ(y.Values<float>(), (std::vector<float>{1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0,
                                                   0, 0, 0, 0}));
  // Axis 0, a float depth, float indices (truncated) and i64 values.
  auto attrs = OneHotAttrs(Floats({3}), Ints({2, 5}), DType::kI64);
  attrs["axis"] = int64_t{0};
  auto z = Eval1("OneHot", attrs, {F32({2}, {1.7f, 0})}, 11);
  EXPECT_EQ(z.shape, (Shape{3, 2}));
  EXPECT_EQ(z.Values<int64_t>(), (I{2, 5, 5, 2, 2, 2}));
  attrs["axis"] = int64_t{-2};
  EXPECT_EQ(Eval1("OneHot", attrs, {I32({2, 2}, {0, 1, 2, 0})}, 11).shape, (Shape{2, 3, 2}));
}

TEST(OneHotTest, Refusals) {
  const auto idx = I64({1}, {0});
  EXPECT_EQ(EvalError("OneHot", OneHotAttrs(Ints({0}), Ints({0, 1}), DType::kI64), {idx}),
            "OneHot: depth must be a number in [1, 2^48), found 0.000000");
  EXPECT_EQ(EvalError("OneHot", OneHotAttrs(Ints({2}), Ints({1}), DType::kI64), {idx}),
            "OneHot: values must be [off_value, on_value] of type i64");
  EXPECT_EQ(EvalError("OneHot", OneHotAttrs(Ints({2}), Floats({0, 1}), DType::kI32), {idx}),
            "OneHot: values must be [off_value, on_value] of type i32");
  EXPECT_EQ(EvalError("OneHot", OneHotAttrs(Ints({2}), Ints({0, 1}), DType::kI64),
                      {Bool({1}, {1})}),
            "OneHot: indices must be numeric, found bool");
  EXPECT_EQ(EvalError("OneHot", {{"depth", Ints({2})}, {"values", Ints({0, 1})}}, {idx}),
            "OneHot: 'values.dtype' is required (values must be known at compile time)");
}

// ---- DepthToSpace, SpaceToDepth

TEST(DepthToSpaceTest, DcrAndCrd) {
  const auto x = F32({1, 8, 1, 1}, IotaF(8));
  auto y = Eval1("DepthToSpace", {{"blocksize", int64_t{2}}}, {x});
  EXPECT_EQ(y.shape, (Shape{1, 2, 2, 2}));
  EXPECT_EQ(y.Values<float>(), (std::vector<float>{0, 2, 4, 6, 1, 3, 5, 7}));
  y = Eval1("DepthToSpace", {{"blocksize", int64_t{2}}, {"mode", std::string("CRD")}}, {x});
  EXPECT_EQ(y.Values<float>(), IotaF(8));
  EXPECT_EQ(EvalError("DepthToSpace", {{"blocksize", int64_t{3}}}, {x}),
            "DepthToSpace: channels 8 are not a multiple of blocksize^2 9");
  EXPECT_EQ(EvalError("DepthToSpace", {{"blocksize", int64_t{2}}}, {F32({8, 1, 1}, IotaF(8))}),
            "DepthToSpace: the input must be 4-D [N,C,H,W], found [8,1,1]");
}

TEST(SpaceToDepthTest, InvertsDcr) {
  auto y = Eval1("SpaceToDepth", {{"blocksize", int64_t{2}}}, {I64({1, 2, 2, 2}, Iota(8))});
  EXPECT_EQ(y.shape, (Shape{1, 8, 1, 1}));
  EXPECT_EQ(y.Values<int64_t>(), (I{0, 4, 1, 5, 2, 6, 3, 7}));
  auto back = Eval1("DepthToSpace", {{"blocksize", int64_t{2}}}, {y});
  EXPECT_EQ(back.Values<int64_t>(), Iota(8));
  EXPECT_EQ(EvalError("SpaceToDepth", {{"blocksize", int64_t{2}}}, {F32({1, 1, 3, 2}, IotaF(6))}),
            "SpaceToDepth: height and width of [1,1,3,2] must be multiples of blocksize 2");
  EXPECT_EQ(EvalError("SpaceToDepth", {{"blocksize", int64_t{0}}}, {F32({1, 1, 2, 2}, IotaF(4))}),
            "SpaceToDepth: blocksize 0 must be in [1, 2^24]");
}

}  // namespace
}  // namespace ts::ops
