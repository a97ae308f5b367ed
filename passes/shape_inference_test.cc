#include "passes/shape_inference.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "ir/text.h"
#include "passes/schedule.h"

namespace ts::passes {
namespace {

// gmock is not linked (see third_party/system), so substring checks are spelled out.
#define EXPECT_CONTAINS(text, part) \
  EXPECT_NE(std::string(text).find(part), std::string::npos) << "in: " << (text) << "\n"

using Shape = std::vector<int64_t>;

ir::Graph Parse(const std::string& text) {
  auto g = ir::ParseGraph(text);
  EXPECT_TRUE(g.ok()) << g.status().ToString() << "\n" << text;
  return g.ok() ? *std::move(g) : ir::Graph();
}

// The hex of little-endian int64s, for a Reshape shape constant.
std::string HexI64(const std::vector<int64_t>& dims) {
  std::string s;
  for (int64_t d : dims) {
    uint64_t u = static_cast<uint64_t>(d);
    for (int b = 0; b < 8; ++b) {
      char byte[3];
      std::snprintf(byte, sizeof byte, "%02x", static_cast<unsigned>((u >> (8 * b)) & 0xff));
      s += byte;
    }
  }
  return s;
}

// Shape of the value named `name` after InferShapes succeeded on `g`.
Shape ShapeOf(const ir::Graph& g, const std::string& name) {
  std::optional<int> id = g.FindValue(name);
  EXPECT_TRUE(id.has_value()) << name;
  if (!id) return {};
  EXPECT_TRUE(g.values[*id].shape_known) << name;
  return g.values[*id].shape;
}

// One node "n" (`call`, e.g. `MatMul("a", "b")`, then `attrs`) over the values declared in
// `inputs`, writing "y"; returns y's shape or the error of InferShapes.
StatusOr<Shape> InferOne(const std::string& inputs, const std::string& call,
                         const std::string& attrs = "") {
  ir::Graph g = Parse("tsir 1 opset 13\n" + inputs +
                      "output \"y\" f32[?]\n"
                      "node \"n\" " + call + " -> (\"y\")" + attrs + "\n"
                      "inputs\n"
                      "outputs \"y\"\n");
  Status st = InferShapes(g);
  if (!st.ok()) return st;
  return ShapeOf(g, "y");
}

// Inputs as constants, so `inputs` may stay empty and shapes are free.
std::string Const(const std::string& name, const std::string& type, int64_t bytes) {
  return "const \"" + name + "\" " + type + " data=hex:" + std::string(2 * bytes, '0') + "\n";
}

void ExpectBadInput(const StatusOr<Shape>& r, const std::string& part) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kBadInput) << r.status().ToString();
  EXPECT_CONTAINS(r.status().message(), part);
}

TEST(BroadcastShapesTest, Table) {
  struct Row {
    Shape a, b;
    std::optional<Shape> out;
  };
  const Row rows[] = {
      {{}, {}, Shape{}},
      {{3}, {}, Shape{3}},
      {{}, {2, 3}, Shape{2, 3}},
      {{2, 3}, {3}, Shape{2, 3}},
      {{2, 1}, {1, 3}, Shape{2, 3}},
      {{4, 1, 5}, {3, 1}, Shape{4, 3, 5}},
      {{1}, {0}, Shape{0}},
      {{2, 3}, {2}, std::nullopt},
      {{0}, {2}, std::nullopt},
      {{5, 4}, {1, 3, 4}, std::nullopt},
  };
  for (const Row& row : rows) {
    EXPECT_EQ(BroadcastShapes(row.a, row.b), row.out);
    EXPECT_EQ(BroadcastShapes(row.b, row.a), row.out) << "broadcasting is symmetric";
  }
}

// --- MatMul -------------------------------------------------------------------------------

TEST(InferShapesTest, MatMul2D) {
  auto r = InferOne(Const("a", "f32[2,3]", 24) + Const("b", "f32[3,4]", 48),
                    "MatMul(\"a\", \"b\")");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, (Shape{2, 4}));
}

TEST(InferShapesTest, MatMulBroadcastsBatchDims) {
  // Batch [5,1] with [4] -> [5,4]; matrices [2,3] x [3,6] -> [2,6].
  auto r = InferOne(Const("a", "f32[5,1,2,3]", 5 * 2 * 3 * 4) +
                        Const("b", "f32[4,3,6]", 4 * 3 * 6 * 4),
                    "MatMul(\"a\", \"b\")");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, (Shape{5, 4, 2, 6}));
}

TEST(InferShapesTest, MatMulPromotesVectorsAndDropsTheAddedDim) {
  struct Row {
    std::string a, b;
    int64_t a_bytes, b_bytes;
    Shape out;
  };
  const Row rows[] = {
      {"f32[3]", "f32[3,4]", 12, 48, {4}},          // [1,3] x [3,4] -> [1,4] -> [4]
      {"f32[2,3]", "f32[3]", 24, 12, {2}},          // [2,3] x [3,1] -> [2,1] -> [2]
      {"f32[3]", "f32[3]", 12, 12, {}},             // dot product: a scalar
      {"f32[3]", "f32[5,3,4]", 12, 240, {5, 4}},    // vector times a batch of matrices
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.a + " x " + row.b);
    auto r = InferOne(Const("a", row.a, row.a_bytes) + Const("b", row.b, row.b_bytes),
                      "MatMul(\"a\", \"b\")");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(*r, row.out);
  }
}

TEST(InferShapesTest, MatMulInnerMismatchNamesTheNodeAndBothShapes) {
  ExpectBadInput(InferOne(Const("a", "f32[2,3]", 24) + Const("b", "f32[4,5]", 80),
                          "MatMul(\"a\", \"b\")"),
                 "node 'n' (MatMul): inner dimensions differ: A is f32[2,3], B is f32[4,5]");
}

TEST(InferShapesTest, MatMulBatchMismatch) {
  ExpectBadInput(InferOne(Const("a", "f32[2,1,3]", 24) + Const("b", "f32[3,3,1]", 36),
                          "MatMul(\"a\", \"b\")"),
                 "node 'n' (MatMul): batch dimensions do not broadcast");
}

// --- Gemm ---------------------------------------------------------------------------------

TEST(InferShapesTest, GemmTransposesAAndB) {
  // A^T is [3,4], B^T is [4,5].
  const std::string ab = Const("a", "f32[4,3]", 48) + Const("b", "f32[5,4]", 80);
  auto r = InferOne(ab, "Gemm(\"a\", \"b\")", " {transA=i:1, transB=i:1}");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, (Shape{3, 5}));

  ExpectBadInput(InferOne(ab, "Gemm(\"a\", \"b\")", " {transA=i:1}"),
                 "node 'n' (Gemm): inner dimensions differ: A is f32[4,3] (transposed), B is "
                 "f32[5,4]");
}

TEST(InferShapesTest, GemmCBroadcastsToTheOutput) {
  const std::string ab = Const("a", "f32[3,4]", 48) + Const("b", "f32[4,5]", 80);
  for (const auto& [type, bytes] : std::vector<std::pair<std::string, int64_t>>{
           {"f32[5]", 20}, {"f32[3,1]", 12}, {"f32[]", 4}, {"f32[3,5]", 60}}) {
    SCOPED_TRACE(type);
    auto r = InferOne(ab + Const("c", type, bytes), "Gemm(\"a\", \"b\", \"c\")");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(*r, (Shape{3, 5}));
  }
}

TEST(InferShapesTest, GemmRejectsACThatDoesNotBroadcastToTheOutput) {
  const std::string ab = Const("a", "f32[3,4]", 48) + Const("b", "f32[4,5]", 80);
  ExpectBadInput(InferOne(ab + Const("c", "f32[4]", 16), "Gemm(\"a\", \"b\", \"c\")"),
                 "node 'n' (Gemm): C f32[4] does not broadcast to [3,5]");
  // Broadcasts, but to a bigger shape than the output.
  ExpectBadInput(InferOne(ab + Const("c", "f32[2,3,5]", 120), "Gemm(\"a\", \"b\", \"c\")"),
                 "node 'n' (Gemm): C f32[2,3,5] does not broadcast to [3,5]");
}

// --- Reshape ------------------------------------------------------------------------------

// A constant x of `x_type` reshaped by a constant shape input "s" holding `spec`.
StatusOr<Shape> ReshapeX(const std::string& x_type, int64_t x_bytes, const Shape& spec,
                         const std::string& attrs = "") {
  return InferOne(Const("x", x_type, x_bytes) + "const \"s\" i64[" +
                      std::to_string(spec.size()) + "] data=hex:" + HexI64(spec) + "\n",
                  "Reshape(\"x\", \"s\")", attrs);
}

TEST(InferShapesTest, ReshapeZeroCopiesADimAndMinusOneIsInferred) {
  auto r = ReshapeX("f32[2,3,4]", 96, {0, -1});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, (Shape{2, 12}));
  r = ReshapeX("f32[2,3,4]", 96, {-1, 0, 2});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, (Shape{4, 3, 2}));
}

TEST(InferShapesTest, ReshapeAllowZeroKeepsZeroAsADim) {
  // x has no elements: with allowzero the 0 is a real dim; without, it copies x's dim 1 (3),
  // which asks for 9 elements.
  auto r = ReshapeX("f32[0,3]", 0, {3, 0}, " {allowzero=i:1}");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, (Shape{3, 0}));
  ExpectBadInput(ReshapeX("f32[0,3]", 0, {3, 0}),
                 "node 'n' (Reshape): cannot reshape f32[0,3] (0 elements) into 9 elements");
}

TEST(InferShapesTest, ReshapeWrongTotalIsAnError) {
  ExpectBadInput(ReshapeX("f32[2,3]", 24, {4, 2}),
                 "node 'n' (Reshape): cannot reshape f32[2,3] (6 elements) into 8 elements");
  ExpectBadInput(ReshapeX("f32[2,3]", 24, {4, -1}),
                 "node 'n' (Reshape): cannot infer -1: 6 elements into known 4");
  ExpectBadInput(ReshapeX("f32[2,3]", 24, {-1, -1}),
                 "node 'n' (Reshape): more than one -1 in the target shape");
  ExpectBadInput(ReshapeX("f32[2,3]", 24, {0, 0, 0}),
                 "node 'n' (Reshape): 0 in the target shape copies a dimension that does not "
                 "exist");
}

TEST(InferShapesTest, ReshapeShapeInputBecomesTheShapeAttribute) {
  ir::Graph g = Parse(
      "tsir 1 opset 13\n"
      "input \"x\" f32[2,3,4]\n"
      "const \"s\" i64[2] data=hex:" + HexI64({0, -1}) + "\n"
      "output \"y\" f32[?]\n"
      "node \"r\" Reshape(\"x\", \"s\") -> (\"y\") {allowzero=i:0}\n"
      "inputs \"x\"\n"
      "outputs \"y\"\n");
  ASSERT_TRUE(InferShapes(g).ok());
  // The constant is no longer referenced, so RemoveUnused drops it.
  EXPECT_EQ(ir::PrintGraph(RemoveUnused(g)),
            "tsir 1 opset 13\n"
            "input \"x\" f32[2,3,4]\n"
            "output \"y\" f32[2,12]\n"
            "node \"r\" Reshape(\"x\") -> (\"y\") {shape=ints:[2,12]}\n"
            "inputs \"x\"\n"
            "outputs \"y\"\n");
}

TEST(InferShapesTest, ReshapeShapeAttributeFormAndRerunAreStable) {
  // Opset 1-4 form: the target is an attribute; 0 copies and -1 infers there too.
  ir::Graph g = Parse(
      "tsir 1 opset 4\n"
      "input \"x\" f32[2,3,4]\n"
      "output \"y\" f32[?]\n"
      "node \"r\" Reshape(\"x\") -> (\"y\") {shape=ints:[0,-1]}\n"
      "inputs \"x\"\n"
      "outputs \"y\"\n");
  ASSERT_TRUE(InferShapes(g).ok());
  EXPECT_EQ(ShapeOf(g, "y"), (Shape{2, 12}));
  // The normalised form infers to the same shape again.
  ASSERT_TRUE(InferShapes(g).ok());
  EXPECT_EQ(ShapeOf(g, "y"), (Shape{2, 12}));
}

TEST(InferShapesTest, ReshapeNormalisedZeroDimIsStableOnRerun) {
  // With allowzero the normalised `shape` attribute holds a literal 0; running inference again
  // (e.g. on a --dump-after text parsed back) must not turn it into "copy dim 1".
  ir::Graph g = Parse(
      "tsir 1 opset 14\n"
      "input \"x\" f32[0,3]\n"
      "const \"s\" i64[2] data=hex:" + HexI64({3, 0}) + "\n"
      "output \"y\" f32[?]\n"
      "node \"r\" Reshape(\"x\", \"s\") -> (\"y\") {allowzero=i:1}\n"
      "inputs \"x\"\n"
      "outputs \"y\"\n");
  ASSERT_TRUE(InferShapes(g).ok());
  EXPECT_EQ(ShapeOf(g, "y"), (Shape{3, 0}));
  Status again = InferShapes(g);
  ASSERT_TRUE(again.ok()) << again.ToString();
  EXPECT_EQ(ShapeOf(g, "y"), (Shape{3, 0}));
}

TEST(InferShapesTest, ReshapeWithAComputedShapeIsUnsupported) {
  ir::Graph g = Parse(
      "tsir 1 opset 13\n"
      "input \"x\" f32[6]\n"
      "input \"t\" i64[2]\n"
      "act \"s\" i64[?]\n"
      "output \"y\" f32[?]\n"
      "node \"shape\" Identity(\"t\") -> (\"s\")\n"
      "node \"r\" Reshape(\"x\", \"s\") -> (\"y\")\n"
      "inputs \"x\", \"t\"\n"
      "outputs \"y\"\n");
  Status st = InferShapes(g);
  EXPECT_EQ(st.code(), Code::kBadInput);
  EXPECT_CONTAINS(st.message(),
                  "node 'r' (Reshape): input 1 ('s') sets its 'shape' and must be known at "
                  "compile time, but it depends on graph input t: fix that input's value with "
                  "--bind NAME=FILE");
}

TEST(InferShapesTest, KnownShapeVectorsFoldThroughReshapeIdentityAndTranspose) {
  // What torch.onnx's TorchScript exporter writes for an attention mask's Expand: the target
  // shape goes through Reshape (and here Identity and Transpose) on its way, all of it known
  // once the input shapes are fixed, so Expand gets a constant shape and nothing remains to run
  // but the Expand itself.
  ir::Graph g = Parse(
      "tsir 1 opset 13\n"
      "input \"x\" f32[1,4]\n"
      "const \"dims\" i64[2] data=hex:" + HexI64({3, 4}) + "\n"
      "const \"flat\" i64[1] data=hex:" + HexI64({-1}) + "\n"
      "act \"r\" i64[?]\n"
      "act \"i\" i64[?]\n"
      "act \"t\" i64[?]\n"
      "output \"y\" f32[?]\n"
      "node \"reshape\" Reshape(\"dims\", \"flat\") -> (\"r\")\n"
      "node \"identity\" Identity(\"r\") -> (\"i\")\n"
      "node \"transpose\" Transpose(\"i\") -> (\"t\")\n"
      "node \"expand\" Expand(\"x\", \"t\") -> (\"y\")\n"
      "inputs \"x\"\n"
      "outputs \"y\"\n");
  Status st = InferShapes(g);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(ShapeOf(g, "y"), (Shape{3, 4}));
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0].op, "Expand");
  const std::optional<int> t_id = g.FindValue("t");
  ASSERT_TRUE(t_id.has_value());
  EXPECT_TRUE(g.values[*t_id].HasData());
}

TEST(InferShapesTest, AWeightWidenedByACastIsNotFoldedButAConstantIs) {
  // int8 weights dequantized in the program (tsc compile --weight-quant int8) must stay int8 in
  // the bundle: folding the Cast would store the f32 copy. A constant's Cast still folds.
  ir::Graph g = Parse(
      "tsir 1 opset 13\n"
      "weight \"w\" i8[2,2] data=hex:01ff0280\n"
      "const \"c\" i8[2,2] data=hex:01ff0280\n"
      "act \"wf\" f32[?]\n"
      "act \"cf\" f32[?]\n"
      "output \"y\" f32[?]\n"
      "node \"castw\" Cast(\"w\") -> (\"wf\") {to=i:1}\n"
      "node \"castc\" Cast(\"c\") -> (\"cf\") {to=i:1}\n"
      "node \"add\" Add(\"wf\", \"cf\") -> (\"y\")\n"
      "inputs\n"
      "outputs \"y\"\n");
  Status st = InferShapes(g);
  ASSERT_TRUE(st.ok()) << st.ToString();
  std::vector<std::string> ops;
  for (const ir::Node& n : g.nodes) ops.push_back(n.name);
  EXPECT_EQ(ops, (std::vector<std::string>{"castw", "add"}));
  EXPECT_FALSE(g.values[*g.FindValue("wf")].HasData());
  EXPECT_TRUE(g.values[*g.FindValue("cf")].HasData());
}

// --- Transpose ----------------------------------------------------------------------------

TEST(InferShapesTest, TransposeDefaultPermReversesAndIsRecorded) {
  ir::Graph g = Parse(
      "tsir 1 opset 13\n"
      "input \"x\" f32[2,3,4]\n"
      "output \"y\" f32[?]\n"
      "node \"t\" Transpose(\"x\") -> (\"y\")\n"
      "inputs \"x\"\n"
      "outputs \"y\"\n");
  ASSERT_TRUE(InferShapes(g).ok());
  EXPECT_EQ(ShapeOf(g, "y"), (Shape{4, 3, 2}));
  EXPECT_EQ(g.nodes[0].IntsAttr("perm"), (Shape{2, 1, 0}));
}

TEST(InferShapesTest, TransposeExplicitPerm) {
  auto r = InferOne(Const("x", "f32[2,3,4]", 96), "Transpose(\"x\")", " {perm=ints:[1,2,0]}");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, (Shape{3, 4, 2}));
}

TEST(InferShapesTest, TransposeBadPermIsAnError) {
  const std::string x = Const("x", "f32[2,3,4]", 96);
  ExpectBadInput(InferOne(x, "Transpose(\"x\")", " {perm=ints:[0,0,1]}"),
                 "node 'n' (Transpose): perm is not a permutation of 0..2");
  ExpectBadInput(InferOne(x, "Transpose(\"x\")", " {perm=ints:[0,1,3]}"),
                 "node 'n' (Transpose): perm is not a permutation of 0..2");
  ExpectBadInput(InferOne(x, "Transpose(\"x\")", " {perm=ints:[1,0]}"),
                 "node 'n' (Transpose): perm has the wrong length");
}

// --- Softmax ------------------------------------------------------------------------------

// Runs Softmax over f32[2,3,4] at `opset` and returns the normalised (axis, legacy).
std::pair<int64_t, int64_t> SoftmaxAttrs(int64_t opset, const std::string& attrs) {
  ir::Graph g = Parse("tsir 1 opset " + std::to_string(opset) +
                      "\n"
                      "input \"x\" f32[2,3,4]\n"
                      "output \"y\" f32[?]\n"
                      "node \"s\" Softmax(\"x\") -> (\"y\")" + attrs + "\n"
                      "inputs \"x\"\n"
                      "outputs \"y\"\n");
  Status st = InferShapes(g);
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(ShapeOf(g, "y"), (Shape{2, 3, 4}));
  return {g.nodes[0].IntAttrOr("axis", -99), g.nodes[0].IntAttrOr("legacy", -99)};
}

TEST(InferShapesTest, SoftmaxAxisAndLegacyFollowTheOpset) {
  using P = std::pair<int64_t, int64_t>;
  // Opset 13 changed the default axis from 1 to -1 and the semantics from "flatten from axis".
  EXPECT_EQ(SoftmaxAttrs(13, ""), (P{2, 0}));
  EXPECT_EQ(SoftmaxAttrs(17, ""), (P{2, 0}));
  EXPECT_EQ(SoftmaxAttrs(12, ""), (P{1, 1}));
  EXPECT_EQ(SoftmaxAttrs(11, ""), (P{1, 1}));
  // Negative axes are normalised.
  EXPECT_EQ(SoftmaxAttrs(13, " {axis=i:-2}"), (P{1, 0}));
  EXPECT_EQ(SoftmaxAttrs(11, " {axis=i:-1}"), (P{2, 1}));
  // An explicit `legacy` (already normalised) wins over the opset.
  EXPECT_EQ(SoftmaxAttrs(11, " {axis=i:2, legacy=i:0}"), (P{2, 0}));
}

TEST(InferShapesTest, SoftmaxAxisOutOfRange) {
  ExpectBadInput(InferOne(Const("x", "f32[2,3,4]", 96), "Softmax(\"x\")", " {axis=i:3}"),
                 "node 'n' (Softmax): axis 3 is out of range for f32[2,3,4]");
  ExpectBadInput(InferOne(Const("x", "f32[2,3,4]", 96), "Softmax(\"x\")", " {axis=i:-4}"),
                 "node 'n' (Softmax): axis -4 is out of range for f32[2,3,4]");
}

// --- Elementwise and the rest -------------------------------------------------------------

TEST(InferShapesTest, ElementwiseBroadcasts) {
  auto r = InferOne(Const("a", "f32[2,1]", 8) + Const("b", "f32[3]", 12), "Add(\"a\", \"b\")");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, (Shape{2, 3}));
}

TEST(InferShapesTest, ElementwiseDtypeMismatchIsAnError) {
  ExpectBadInput(InferOne(Const("a", "f32[2]", 8) + Const("b", "i32[2]", 8), "Add(\"a\", \"b\")"),
                 "node 'n' (Add): input 1 is i32 but input 0 is f32; the inputs must have the same type");
}

TEST(InferShapesTest, ElementwiseShapesThatDoNotBroadcast) {
  ExpectBadInput(InferOne(Const("a", "f32[2]", 8) + Const("b", "f32[3]", 12),
                          "Mul(\"a\", \"b\")"),
                 "node 'n' (Mul): input 1 f32[3] does not broadcast with shape f32[2]");
}

TEST(InferShapesTest, WrongArityAndUnknownOps) {
  ExpectBadInput(InferOne(Const("a", "f32[2]", 8), "Add(\"a\")"),
                 "node 'n' (Add): takes 2 data inputs, found 1");
  ExpectBadInput(InferOne(Const("a", "f32[2]", 8), "Conv(\"a\")"),
                 "node 'n' (Conv): takes 2-3 data inputs, found 1");
  ExpectBadInput(InferOne(Const("a", "f32[2]", 8), "LSTM(\"a\")"),
                 "node 'n' (LSTM): no shape inference for this op");
}

TEST(InferShapesTest, FollowsDataflowNotNodeOrder) {
  // The consumer is listed first; inference still sees the producer's shape.
  ir::Graph g = Parse(
      "tsir 1 opset 13\n"
      "input \"x\" f32[2,3]\n"
      "act \"t\" f32[?]\n"
      "output \"y\" f32[?]\n"
      "node \"second\" Relu(\"t\") -> (\"y\")\n"
      "node \"first\" Transpose(\"x\") -> (\"t\")\n"
      "inputs \"x\"\n"
      "outputs \"y\"\n");
  ASSERT_TRUE(InferShapes(g).ok());
  EXPECT_EQ(ShapeOf(g, "y"), (Shape{3, 2}));
}

}  // namespace
}  // namespace ts::passes

namespace ts::passes {
namespace {

TEST(ShapeInferenceReviewTest, AttributeOfTheWrongTypeIsRefused) {
  auto g = ir::ParseGraph(
      "tsir 1 opset 13\ninput \"x\" f32[2,3]\noutput \"y\" f32[?]\n"
      "node \"t\" Transpose(\"x\") -> (\"y\") {perm=floats:[1,0]}\ninputs \"x\"\noutputs \"y\"\n");
  ASSERT_TRUE(g.ok());
  Status s = InferShapes(*g);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kBadInput);
  EXPECT_NE(s.message().find("attribute 'perm' has the wrong type"), std::string::npos);
}

TEST(ShapeInferenceReviewTest, FusedNodesInferAgain) {
  auto g = ir::ParseGraph(
      "tsir 1 opset 13\ninput \"x\" f32[2,3]\ninput \"b\" f32[3]\noutput \"y\" f32[?]\n"
      "node \"f\" Elementwise(\"x\", \"b\") -> (\"y\") {ops=i:2, program=s:\"$0 $1 Add Relu\"}\n"
      "inputs \"x\", \"b\"\noutputs \"y\"\n");
  ASSERT_TRUE(g.ok());
  ASSERT_TRUE(InferShapes(*g).ok());
  EXPECT_EQ(g->values[*g->FindValue("y")].shape, (std::vector<int64_t>{2, 3}));
}

}  // namespace
}  // namespace ts::passes
