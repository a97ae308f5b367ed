#include "passes/fusion.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "ir/text.h"
#include "ir/verifier.h"
#include "passes/schedule.h"
#include "passes/shape_inference.h"
#include "runtime/ops/conv_direct.h"
#include "runtime/ops/gemm_blocked.h"
#include "runtime/ops/op.h"

namespace ts::passes {
namespace {

ir::Graph Parse(const std::string& text) {
  auto g = ir::ParseGraph(text);
  EXPECT_TRUE(g.ok()) << g.status().ToString() << "\n" << text;
  return g.ok() ? *std::move(g) : ir::Graph();
}

// Parses `before`, fuses, checks the result verifies and prints as `after`; returns the
// number of ops folded away.
int ExpectFusesTo(const std::string& before, const std::string& after) {
  ir::Graph g = Parse(before);
  int folded = -1;
  auto fused = FuseElementwise(g, &folded);
  EXPECT_TRUE(fused.ok()) << fused.status().ToString();
  if (!fused.ok()) return -1;
  Status st = ir::Verify(*fused);
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(ir::PrintGraph(*fused), after);
  return folded;
}

TEST(FuseElementwiseTest, AddReluChainBecomesOneNode) {
  EXPECT_EQ(ExpectFusesTo("tsir 1 opset 13\n"
                          "input \"x\" f32[2,3]\n"
                          "input \"b\" f32[2,3]\n"
                          "act \"y\" f32[2,3]\n"
                          "output \"z\" f32[2,3]\n"
                          "node \"add\" Add(\"x\", \"b\") -> (\"y\")\n"
                          "node \"relu\" Relu(\"y\") -> (\"z\")\n"
                          "inputs \"x\", \"b\"\n"
                          "outputs \"z\"\n",
                          // The fused node keeps the last op's name; "y" is gone.
                          "tsir 1 opset 13\n"
                          "input \"x\" f32[2,3]\n"
                          "input \"b\" f32[2,3]\n"
                          "output \"z\" f32[2,3]\n"
                          "node \"relu\" Elementwise(\"x\", \"b\") -> (\"z\") "
                          "{ops=i:2, program=s:\"$0 $1 Add Relu\"}\n"
                          "inputs \"x\", \"b\"\n"
                          "outputs \"z\"\n"),
            1);
}

TEST(FuseElementwiseTest, LongChainFoldsIntoItsLastOp) {
  // ((x * w) + b) -> Sigmoid -> Neg: four ops, three folded.
  EXPECT_EQ(ExpectFusesTo("tsir 1 opset 13\n"
                          "input \"x\" f32[4]\n"
                          "input \"w\" f32[4]\n"
                          "input \"b\" f32[4]\n"
                          "act \"m\" f32[4]\n"
                          "act \"a\" f32[4]\n"
                          "act \"s\" f32[4]\n"
                          "output \"z\" f32[4]\n"
                          "node \"mul\" Mul(\"x\", \"w\") -> (\"m\")\n"
                          "node \"add\" Add(\"m\", \"b\") -> (\"a\")\n"
                          "node \"sig\" Sigmoid(\"a\") -> (\"s\")\n"
                          "node \"neg\" Neg(\"s\") -> (\"z\")\n"
                          "inputs \"x\", \"w\", \"b\"\n"
                          "outputs \"z\"\n",
                          "tsir 1 opset 13\n"
                          "input \"x\" f32[4]\n"
                          "input \"w\" f32[4]\n"
                          "input \"b\" f32[4]\n"
                          "output \"z\" f32[4]\n"
                          "node \"neg\" Elementwise(\"x\", \"w\", \"b\") -> (\"z\") "
                          "{ops=i:4, program=s:\"$0 $1 Mul $2 Add Sigmoid Neg\"}\n"
                          "inputs \"x\", \"w\", \"b\"\n"
                          "outputs \"z\"\n"),
            3);
}

TEST(FuseElementwiseTest, ValueWithTwoConsumersIsNotFolded) {
  EXPECT_EQ(ExpectFusesTo("tsir 1 opset 13\n"
                          "input \"x\" f32[2]\n"
                          "act \"y\" f32[2]\n"
                          "output \"p\" f32[2]\n"
                          "output \"q\" f32[2]\n"
                          "node \"exp\" Exp(\"x\") -> (\"y\")\n"
                          "node \"relu\" Relu(\"y\") -> (\"p\")\n"
                          "node \"neg\" Neg(\"y\") -> (\"q\")\n"
                          "inputs \"x\"\n"
                          "outputs \"p\", \"q\"\n",
                          // Folding "exp" into both would compute it twice.
                          "tsir 1 opset 13\n"
                          "input \"x\" f32[2]\n"
                          "act \"y\" f32[2]\n"
                          "output \"p\" f32[2]\n"
                          "output \"q\" f32[2]\n"
                          "node \"exp\" Elementwise(\"x\") -> (\"y\") "
                          "{ops=i:1, program=s:\"$0 Exp\"}\n"
                          "node \"relu\" Elementwise(\"y\") -> (\"p\") "
                          "{ops=i:1, program=s:\"$0 Relu\"}\n"
                          "node \"neg\" Elementwise(\"y\") -> (\"q\") "
                          "{ops=i:1, program=s:\"$0 Neg\"}\n"
                          "inputs \"x\"\n"
                          "outputs \"p\", \"q\"\n"),
            0);
}

TEST(FuseElementwiseTest, GraphOutputInTheMiddleOfAChainIsNotFolded) {
  EXPECT_EQ(ExpectFusesTo("tsir 1 opset 13\n"
                          "input \"x\" f32[2]\n"
                          "output \"y\" f32[2]\n"
                          "output \"z\" f32[2]\n"
                          "node \"abs\" Abs(\"x\") -> (\"y\")\n"
                          "node \"sqrt\" Sqrt(\"y\") -> (\"z\")\n"
                          "inputs \"x\"\n"
                          "outputs \"y\", \"z\"\n",
                          // "y" must be materialised for the caller, so "abs" stays a kernel.
                          "tsir 1 opset 13\n"
                          "input \"x\" f32[2]\n"
                          "output \"y\" f32[2]\n"
                          "output \"z\" f32[2]\n"
                          "node \"abs\" Elementwise(\"x\") -> (\"y\") "
                          "{ops=i:1, program=s:\"$0 Abs\"}\n"
                          "node \"sqrt\" Elementwise(\"y\") -> (\"z\") "
                          "{ops=i:1, program=s:\"$0 Sqrt\"}\n"
                          "inputs \"x\"\n"
                          "outputs \"y\", \"z\"\n"),
            0);
}

TEST(FuseElementwiseTest, BroadcastingInputStaysALeaf) {
  EXPECT_EQ(ExpectFusesTo("tsir 1 opset 13\n"
                          "input \"x\" f32[2,3]\n"
                          "input \"c\" f32[3]\n"
                          "act \"t\" f32[3]\n"
                          "output \"z\" f32[2,3]\n"
                          "node \"tanh\" Tanh(\"c\") -> (\"t\")\n"
                          "node \"add\" Add(\"x\", \"t\") -> (\"z\")\n"
                          "inputs \"x\", \"c\"\n"
                          "outputs \"z\"\n",
                          // "t" is [3], the add runs over [2,3]: folding would compute Tanh
                          // twice per element of "c".
                          "tsir 1 opset 13\n"
                          "input \"x\" f32[2,3]\n"
                          "input \"c\" f32[3]\n"
                          "act \"t\" f32[3]\n"
                          "output \"z\" f32[2,3]\n"
                          "node \"tanh\" Elementwise(\"c\") -> (\"t\") "
                          "{ops=i:1, program=s:\"$0 Tanh\"}\n"
                          "node \"add\" Elementwise(\"x\", \"t\") -> (\"z\") "
                          "{ops=i:1, program=s:\"$0 $1 Add\"}\n"
                          "inputs \"x\", \"c\"\n"
                          "outputs \"z\"\n"),
            0);
}

TEST(FuseElementwiseTest, SameLeafUsedTwiceGetsOneIndex) {
  EXPECT_EQ(ExpectFusesTo("tsir 1 opset 13\n"
                          "input \"x\" f32[4]\n"
                          "act \"sq\" f32[4]\n"
                          "output \"z\" f32[4]\n"
                          "node \"sq\" Mul(\"x\", \"x\") -> (\"sq\")\n"
                          "node \"add\" Add(\"sq\", \"x\") -> (\"z\")\n"
                          "inputs \"x\"\n"
                          "outputs \"z\"\n",
                          "tsir 1 opset 13\n"
                          "input \"x\" f32[4]\n"
                          "output \"z\" f32[4]\n"
                          "node \"add\" Elementwise(\"x\") -> (\"z\") "
                          "{ops=i:2, program=s:\"$0 $0 Mul $0 Add\"}\n"
                          "inputs \"x\"\n"
                          "outputs \"z\"\n"),
            1);
}

TEST(FuseElementwiseTest, NonElementwiseNodesAreUntouchedAndNotFolded) {
  EXPECT_EQ(ExpectFusesTo("tsir 1 opset 13\n"
                          "input \"x\" f32[2,3]\n"
                          "input \"w\" f32[3,4]\n"
                          "act \"y\" f32[2,4]\n"
                          "act \"r\" f32[2,4]\n"
                          "output \"z\" f32[4,2]\n"
                          "node \"mm\" MatMul(\"x\", \"w\") -> (\"y\")\n"
                          "node \"relu\" Relu(\"y\") -> (\"r\")\n"
                          "node \"t\" Transpose(\"r\") -> (\"z\") {perm=ints:[1,0]}\n"
                          "inputs \"x\", \"w\"\n"
                          "outputs \"z\"\n",
                          "tsir 1 opset 13\n"
                          "input \"x\" f32[2,3]\n"
                          "input \"w\" f32[3,4]\n"
                          "act \"y\" f32[2,4]\n"
                          "act \"r\" f32[2,4]\n"
                          "output \"z\" f32[4,2]\n"
                          "node \"mm\" MatMul(\"x\", \"w\") -> (\"y\")\n"
                          "node \"relu\" Elementwise(\"y\") -> (\"r\") "
                          "{ops=i:1, program=s:\"$0 Relu\"}\n"
                          "node \"t\" Transpose(\"r\") -> (\"z\") {perm=ints:[1,0]}\n"
                          "inputs \"x\", \"w\"\n"
                          "outputs \"z\"\n"),
            0);
}

TEST(FuseElementwiseTest, NullFusedCountIsAccepted) {
  ir::Graph g = Parse(
      "tsir 1 opset 13\n"
      "input \"x\" f32[2]\n"
      "output \"z\" f32[2]\n"
      "node \"relu\" Relu(\"x\") -> (\"z\")\n"
      "inputs \"x\"\n"
      "outputs \"z\"\n");
  auto fused = FuseElementwise(g);
  ASSERT_TRUE(fused.ok()) << fused.status().ToString();
  EXPECT_EQ(fused->nodes.size(), 1u);
}

TEST(RemoveUnusedTest, DropsDeadNodesAndUnreferencedValues) {
  ir::Graph g = Parse(
      "tsir 1 opset 13\n"
      "input \"x\" f32[2]\n"
      "input \"unused_input\" f32[2]\n"
      "const \"orphan\" i64[1] data=hex:0200000000000000\n"
      "act \"dead\" f32[2]\n"
      "act \"dead2\" f32[2]\n"
      "output \"z\" f32[2]\n"
      "node \"d1\" Exp(\"x\") -> (\"dead\")\n"
      "node \"d2\" Neg(\"dead\") -> (\"dead2\")\n"
      "node \"keep\" Relu(\"x\") -> (\"z\")\n"
      "inputs \"x\", \"unused_input\"\n"
      "outputs \"z\"\n");
  // Graph inputs stay (they are the calling convention); the dead chain, its values and the
  // orphan constant go.
  EXPECT_EQ(ir::PrintGraph(RemoveUnused(g)),
            "tsir 1 opset 13\n"
            "input \"x\" f32[2]\n"
            "input \"unused_input\" f32[2]\n"
            "output \"z\" f32[2]\n"
            "node \"keep\" Relu(\"x\") -> (\"z\")\n"
            "inputs \"x\", \"unused_input\"\n"
            "outputs \"z\"\n");
}

TEST(FoldTransposeIntoMatMulTest, TransposedWeightIsReadInPlace) {
  // logits = h x Transpose(emb): the MatMul reads emb with trans_b and the Transpose goes.
  ir::Graph g = Parse("tsir 1 opset 13\n"
                      "input \"h\" f32[2,3]\n"
                      "input \"emb\" f32[5,3]\n"
                      "act \"embt\" f32[3,5]\n"
                      "output \"y\" f32[2,5]\n"
                      "node \"t\" Transpose(\"emb\") -> (\"embt\") {perm=ints:[1,0]}\n"
                      "node \"mm\" MatMul(\"h\", \"embt\") -> (\"y\")\n"
                      "inputs \"h\", \"emb\"\n"
                      "outputs \"y\"\n");
  int rewritten = 0;
  ir::Graph out = FoldTransposeIntoMatMul(g, &rewritten);
  EXPECT_EQ(rewritten, 1);
  ASSERT_EQ(out.nodes.size(), 1u);
  EXPECT_EQ(out.nodes[0].op, "MatMul");
  EXPECT_EQ(out.values[out.nodes[0].inputs[1]].name, "emb");
  EXPECT_EQ(out.nodes[0].IntAttrOr("trans_b", 0), 1);
  EXPECT_TRUE(ir::Verify(out).ok());
}

TEST(FoldTransposeIntoMatMulTest, OtherPermutationsAndUsesStay) {
  // The MatMul still reads W in place; the Transpose stays for its other use.
  ir::Graph g = Parse("tsir 1 opset 13\n"
                      "input \"h\" f32[2,3]\n"
                      "input \"w\" f32[5,3]\n"
                      "act \"wt\" f32[3,5]\n"
                      "output \"y\" f32[2,5]\n"
                      "output \"z\" f32[3,5]\n"
                      "node \"t\" Transpose(\"w\") -> (\"wt\") {perm=ints:[1,0]}\n"
                      "node \"mm\" MatMul(\"h\", \"wt\") -> (\"y\")\n"
                      "node \"r\" Relu(\"wt\") -> (\"z\")\n"
                      "inputs \"h\", \"w\"\n"
                      "outputs \"y\", \"z\"\n");
  int rewritten = 0;
  ir::Graph out = FoldTransposeIntoMatMul(g, &rewritten);
  EXPECT_EQ(rewritten, 1);
  EXPECT_EQ(out.nodes.size(), 3u);  // the Transpose still feeds Relu
}

// ---- HalfPrecisionProducts

// h [2,3] f32 times two f16 weights widened to f32 (W as [n, k], read transposed), and a third
// product on an f32 weight that stays as it is.
ir::Graph HalfWeightGraph() {
  return Parse("tsir 1 opset 13\n"
               "input \"h\" f32[2,3]\n"
               "weight \"w1\" f16[2,3] data=hex:003c00400042004400450046\n"
               "weight \"w2\" f16[2,3] data=hex:003c00400042004400450046\n"
               "weight \"w3\" f32[3,2] data=hex:0000803f0000803f0000803f0000803f0000803f0000803f\n"
               "act \"w1f\" f32[2,3]\n"
               "act \"w2f\" f32[2,3]\n"
               "output \"y1\" f32[2,2]\n"
               "output \"y2\" f32[2,2]\n"
               "output \"y3\" f32[2,2]\n"
               "node \"c1\" Cast(\"w1\") -> (\"w1f\") {to=i:1}\n"
               "node \"c2\" Cast(\"w2\") -> (\"w2f\") {to=i:1}\n"
               "node \"mm1\" MatMul(\"h\", \"w1f\") -> (\"y1\") {trans_b=i:1}\n"
               "node \"mm2\" MatMul(\"h\", \"w2f\") -> (\"y2\") {trans_b=i:1}\n"
               "node \"mm3\" MatMul(\"h\", \"w3\") -> (\"y3\")\n"
               "inputs \"h\"\n"
               "outputs \"y1\", \"y2\", \"y3\"\n");
}

TEST(HalfPrecisionProductsTest, ProductsReadTheHalfWeightAndOneNarrowedActivation) {
  ir::Graph g = HalfWeightGraph();
  ASSERT_TRUE(InferShapes(g).ok());
  int rewritten = 0;
  auto out = HalfPrecisionProducts(g, &rewritten);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(rewritten, 2);
  int casts = 0, narrowed = -1;
  for (const ir::Node& n : out->nodes) {
    if (n.op == "Cast") {
      ++casts;  // only the one narrowing h: the weights' widening Casts are gone
      EXPECT_EQ(out->values[n.inputs[0]].name, "h");
      EXPECT_EQ(out->values[n.outputs[0]].dtype, DType::kF16);
      narrowed = n.outputs[0];
    }
  }
  EXPECT_EQ(casts, 1);
  for (const ir::Node& n : out->nodes) {
    if (n.op != "MatMul") continue;
    const std::string w = out->values[n.inputs[1]].name;
    if (w == "w3") {
      EXPECT_FALSE(n.IntAttr("out_dtype").has_value());
      EXPECT_EQ(out->values[n.inputs[0]].name, "h");
    } else {
      EXPECT_TRUE(w == "w1" || w == "w2") << w;
      EXPECT_EQ(n.inputs[0], narrowed);
      EXPECT_EQ(n.IntAttrOr("out_dtype", 0), static_cast<int64_t>(DType::kF32));
    }
  }
  // Shapes and types still infer (f16 x f16 -> f32) and the graph verifies.
  ASSERT_TRUE(InferShapes(*out).ok());
  EXPECT_EQ(out->values[*out->FindValue("y1")].dtype, DType::kF32);
  const Status verified = ir::Verify(*out);
  EXPECT_TRUE(verified.ok()) << verified.ToString();
}

TEST(HalfPrecisionProductsTest, AWidenedWeightWithAnotherUseKeepsItsCast) {
  ir::Graph g = Parse("tsir 1 opset 13\n"
                      "input \"h\" f32[2,3]\n"
                      "weight \"w\" f16[3,2] data=hex:003c00400042004400450046\n"
                      "act \"wf\" f32[3,2]\n"
                      "output \"y\" f32[2,2]\n"
                      "output \"z\" f32[3,2]\n"
                      "node \"c\" Cast(\"w\") -> (\"wf\") {to=i:1}\n"
                      "node \"mm\" MatMul(\"h\", \"wf\") -> (\"y\")\n"
                      "node \"r\" Relu(\"wf\") -> (\"z\")\n"
                      "inputs \"h\"\n"
                      "outputs \"y\", \"z\"\n");
  ASSERT_TRUE(InferShapes(g).ok());
  int rewritten = 0;
  auto out = HalfPrecisionProducts(g, &rewritten);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(rewritten, 1);  // the product reads w directly; Relu still reads the widened copy
  int casts = 0;
  for (const ir::Node& n : out->nodes) casts += n.op == "Cast";
  EXPECT_EQ(casts, 2);
  const Status verified = ir::Verify(*out);
  EXPECT_TRUE(verified.ok()) << verified.ToString();
}

// ---- PowAsMul

TEST(PowAsMulTest, SquaresAndCubesBecomeProductsThatFuse) {
  ir::Graph g = Parse("tsir 1 opset 13\n"
                      "input \"x\" f32[2,3]\n"
                      "const \"three\" f32[] data=hex:00004040\n"
                      "const \"two\" f32[1] data=hex:00000040\n"
                      "const \"half\" f32[] data=hex:0000003f\n"
                      "act \"c\" f32[2,3]\n"
                      "act \"s\" f32[2,3]\n"
                      "output \"y\" f32[2,3]\n"
                      "output \"z\" f32[2,3]\n"
                      "node \"cube\" Pow(\"x\", \"three\") -> (\"c\")\n"
                      "node \"square\" Pow(\"c\", \"two\") -> (\"s\")\n"
                      "node \"add\" Add(\"s\", \"x\") -> (\"y\")\n"
                      "node \"root\" Pow(\"x\", \"half\") -> (\"z\")\n"
                      "inputs \"x\"\n"
                      "outputs \"y\", \"z\"\n");
  int rewritten = 0;
  auto out = PowAsMul(g, &rewritten);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(rewritten, 2);  // x^0.5 stays a Pow
  EXPECT_TRUE(ir::Verify(*out).ok());
  int muls = 0, pows = 0;
  for (const ir::Node& n : out->nodes) {
    muls += n.op == "Mul";
    pows += n.op == "Pow";
  }
  EXPECT_EQ(muls, 3);
  EXPECT_EQ(pows, 1);
  int folded = 0;
  auto fused = FuseElementwise(*out, &folded);
  ASSERT_TRUE(fused.ok()) << fused.status().ToString();
  // The cube fuses into one kernel; the square of c reads c twice, so c stays materialised.
  std::vector<std::string> programs;
  for (const ir::Node& n : fused->nodes) {
    if (n.op == "Elementwise") programs.push_back(n.StringAttr("program").value_or(""));
  }
  EXPECT_EQ(programs, (std::vector<std::string>{"$0 $0 Mul $0 Mul", "$0 $0 Mul $1 Add"}))
      << ir::PrintGraph(*fused);
}

// ---- FoldBatchNormIntoConv

struct ConvBnGraph {
  ir::Graph g;
  std::map<std::string, std::vector<float>> data;
};

int AddF32(ConvBnGraph& c, const std::string& name, std::vector<int64_t> shape, ir::ValueKind kind,
           std::mt19937& rng, float lo, float hi) {
  ir::Value v;
  v.name = name;
  v.shape = std::move(shape);
  v.kind = kind;
  if (kind == ir::ValueKind::kWeight || kind == ir::ValueKind::kInput) {
    int64_t n = 1;
    for (int64_t d : v.shape) n *= d;
    std::vector<float> values(static_cast<size_t>(n));
    for (float& x : values) x = std::uniform_real_distribution<float>(lo, hi)(rng);
    c.data[name] = values;
    if (kind == ir::ValueKind::kWeight) {
      std::vector<uint8_t> bytes(values.size() * 4);
      std::memcpy(bytes.data(), values.data(), bytes.size());
      v.data = ir::MakeBytes(std::move(bytes));
    }
  }
  return *c.g.AddValue(v);
}

// x -> Conv(w, b) -> y -> BatchNormalization -> z, and y also a graph output when `y_used`.
ConvBnGraph MakeConvBn(bool y_used) {
  std::mt19937 rng(3);
  ConvBnGraph c;
  c.g.opset = 17;
  const int x = AddF32(c, "x", {1, 2, 5, 5}, ir::ValueKind::kInput, rng, -1, 1);
  const int w = AddF32(c, "w", {3, 2, 3, 3}, ir::ValueKind::kWeight, rng, -1, 1);
  const int b = AddF32(c, "b", {3}, ir::ValueKind::kWeight, rng, -1, 1);
  const int y = AddF32(c, "y", {1, 3, 5, 5}, y_used ? ir::ValueKind::kOutput : ir::ValueKind::kActivation, rng, 0, 0);
  const int gamma = AddF32(c, "gamma", {3}, ir::ValueKind::kWeight, rng, 0.5f, 2);
  const int beta = AddF32(c, "beta", {3}, ir::ValueKind::kWeight, rng, -1, 1);
  const int mean = AddF32(c, "mean", {3}, ir::ValueKind::kWeight, rng, -1, 1);
  const int var = AddF32(c, "var", {3}, ir::ValueKind::kWeight, rng, 0.1f, 3);
  const int z = AddF32(c, "z", {1, 3, 5, 5}, ir::ValueKind::kOutput, rng, 0, 0);
  c.g.nodes.push_back({"conv", "Conv", {x, w, b}, {y},
                       {{"pads", std::vector<int64_t>{1, 1, 1, 1}}, {"opset", int64_t{17}}}});
  c.g.nodes.push_back({"bn", "BatchNormalization", {y, gamma, beta, mean, var}, {z},
                       {{"epsilon", 1e-3}, {"opset", int64_t{17}}}});
  c.g.inputs = {x};
  c.g.outputs = y_used ? std::vector<int>{y, z} : std::vector<int>{z};
  return c;
}

ops::HostTensor Host(const ir::Value& v, const std::vector<float>& values) {
  return ops::HostTensor::Of(DType::kF32, v.shape, values);
}

std::vector<float> Floats(const ir::Value& v) {
  std::vector<float> out(v.data->size() / 4);
  std::memcpy(out.data(), v.data->data(), v.data->size());
  return out;
}

TEST(FoldBatchNormIntoConvTest, FoldedConvComputesConvThenNorm) {
  ConvBnGraph c = MakeConvBn(false);
  const ir::Graph& g = c.g;
  int rewritten = 0;
  auto out = FoldBatchNormIntoConv(g, &rewritten);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(rewritten, 1);
  ASSERT_EQ(out->nodes.size(), 1u);
  const ir::Node& conv = out->nodes[0];
  EXPECT_EQ(conv.op, "Conv");
  EXPECT_EQ(out->values[conv.outputs[0]].name, "z");
  EXPECT_TRUE(ir::Verify(*out).ok());

  // Reference: the two ops, evaluated by the op library, against the folded Conv.
  auto val = [&](const char* name) { return *std::find_if(g.values.begin(), g.values.end(), [&](const ir::Value& v) { return v.name == name; }); };
  const ops::HostTensor x = Host(val("x"), c.data["x"]);
  auto y = ops::EvaluateOp("Conv", 17, g.nodes[0].attrs,
                           {x, Host(val("w"), c.data["w"]), Host(val("b"), c.data["b"])}, 1);
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  auto z = ops::EvaluateOp("BatchNormalization", 17, g.nodes[1].attrs,
                           {(*y)[0], Host(val("gamma"), c.data["gamma"]),
                            Host(val("beta"), c.data["beta"]), Host(val("mean"), c.data["mean"]),
                            Host(val("var"), c.data["var"])},
                           1);
  ASSERT_TRUE(z.ok()) << z.status().ToString();
  const ir::Value& w2 = out->values[conv.inputs[1]];
  const ir::Value& b2 = out->values[conv.inputs[2]];
  auto folded = ops::EvaluateOp("Conv", 17, conv.attrs, {x, Host(w2, Floats(w2)), Host(b2, Floats(b2))}, 1);
  ASSERT_TRUE(folded.ok()) << folded.status().ToString();
  const std::vector<float> want = (*z)[0].Values<float>(), got = (*folded)[0].Values<float>();
  ASSERT_EQ(want.size(), got.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(got[i], want[i], 1e-5f * (1 + std::fabs(want[i]))) << "element " << i;
  }
}

TEST(FoldBatchNormIntoConvTest, AConvOutputWithAnotherUseStays) {
  ConvBnGraph c = MakeConvBn(true);
  int rewritten = 0;
  auto out = FoldBatchNormIntoConv(c.g, &rewritten);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(rewritten, 0);
  EXPECT_EQ(out->nodes.size(), 2u);
}

// ---- FuseConvEpilogues

// x -> conv1(w1, b1) -> y1 -> Relu -> r1 -> conv2(w2, no bias) -> y2 -> Add(nx, y2) -> s -> Relu -> out
// x -> Neg -> nx, listed after conv2: the fused conv2 reads nx, so it must take the Relu's place
// in node order, not the Conv's.
// x -> conv3(w1, b1) -> y3 (a graph output) -> Relu -> r3 (a graph output)
// x -> conv4(w1, b1) -> y4 -> Add(y4, t [1,2,1,1], broadcast) -> u (a graph output)
struct EpilogueGraph {
  ConvBnGraph c;
  int x, w1, b1, w2, t, y1, r1, y2, nx, s, out, y3, r3, y4, u;
};

EpilogueGraph MakeEpilogueGraph() {
  std::mt19937 rng(5);
  EpilogueGraph e;
  ConvBnGraph& c = e.c;
  c.g.opset = 17;
  auto act = [&](const char* name, std::vector<int64_t> shape, ir::ValueKind kind = ir::ValueKind::kActivation) {
    return AddF32(c, name, std::move(shape), kind, rng, 0, 0);
  };
  e.x = AddF32(c, "x", {1, 2, 5, 5}, ir::ValueKind::kInput, rng, -1, 1);
  e.w1 = AddF32(c, "w1", {2, 2, 3, 3}, ir::ValueKind::kWeight, rng, -1, 1);
  e.b1 = AddF32(c, "b1", {2}, ir::ValueKind::kWeight, rng, -1, 1);
  e.w2 = AddF32(c, "w2", {2, 2, 1, 1}, ir::ValueKind::kWeight, rng, -1, 1);
  e.t = AddF32(c, "t", {1, 2, 1, 1}, ir::ValueKind::kWeight, rng, -1, 1);
  const std::vector<int64_t> shape = {1, 2, 5, 5};
  e.y1 = act("y1", shape);
  e.r1 = act("r1", shape);
  e.y2 = act("y2", shape);
  e.nx = act("nx", shape);
  e.s = act("s", shape);
  e.out = act("out", shape, ir::ValueKind::kOutput);
  e.y3 = act("y3", shape, ir::ValueKind::kOutput);
  e.r3 = act("r3", shape, ir::ValueKind::kOutput);
  e.y4 = act("y4", shape);
  e.u = act("u", shape, ir::ValueKind::kOutput);
  const ir::AttrMap pads = {{"pads", std::vector<int64_t>{1, 1, 1, 1}}};
  c.g.nodes = {
      {"conv1", "Conv", {e.x, e.w1, e.b1}, {e.y1}, pads},
      {"relu1", "Relu", {e.y1}, {e.r1}, {}},
      {"conv2", "Conv", {e.r1, e.w2}, {e.y2}, {}},
      {"neg", "Neg", {e.x}, {e.nx}, {}},
      {"add2", "Add", {e.nx, e.y2}, {e.s}, {}},
      {"relu2", "Relu", {e.s}, {e.out}, {}},
      {"conv3", "Conv", {e.x, e.w1, e.b1}, {e.y3}, pads},
      {"relu3", "Relu", {e.y3}, {e.r3}, {}},
      {"conv4", "Conv", {e.x, e.w1, e.b1}, {e.y4}, pads},
      {"add4", "Add", {e.y4, e.t}, {e.u}, {}},
  };
  c.g.inputs = {e.x};
  c.g.outputs = {e.out, e.y3, e.r3, e.u};
  return e;
}

// Value ids of `g` (renumbered by the pass) as names.
std::vector<std::string> Names(const ir::Graph& g, const std::vector<int>& ids) {
  std::vector<std::string> names;
  for (int v : ids) names.push_back(v >= 0 ? g.values[v].name : "");
  return names;
}

const ir::Node* NodeNamed(const ir::Graph& g, const std::string& name) {
  for (const ir::Node& n : g.nodes) {
    if (n.name == name) return &n;
  }
  return nullptr;
}

TEST(FuseConvEpiloguesTest, FoldsReluAndResidualAddsOnly) {
  EpilogueGraph e = MakeEpilogueGraph();
  ASSERT_TRUE(ir::Verify(e.c.g).ok());
  int fused = 0;
  auto out = FuseConvEpilogues(e.c.g, &fused);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(fused, 2);
  ASSERT_TRUE(ir::Verify(*out).ok()) << ir::PrintGraph(*out);
  ASSERT_TRUE(TopologicalOrder(*out).ok());

  const ir::Node* c1 = NodeNamed(*out, "conv1");
  ASSERT_NE(c1, nullptr);
  EXPECT_EQ(c1->op, "TsFusedConv");
  EXPECT_EQ(Names(*out, c1->inputs), (std::vector<std::string>{"x", "w1", "b1"}));
  EXPECT_EQ(Names(*out, c1->outputs), std::vector<std::string>{"r1"});
  EXPECT_EQ(c1->StringAttr("activation"), "Relu");
  EXPECT_EQ(c1->IntsAttr("pads"), (std::vector<int64_t>{1, 1, 1, 1}));

  // conv2 had no bias: it gets a zero one, and the Add's other operand as its addend.
  const ir::Node* c2 = NodeNamed(*out, "conv2");
  ASSERT_NE(c2, nullptr);
  EXPECT_EQ(c2->op, "TsFusedConv");
  ASSERT_EQ(c2->inputs.size(), 4u);
  EXPECT_EQ(Names(*out, c2->inputs)[0], "r1");
  EXPECT_EQ(Names(*out, c2->inputs)[3], "nx");
  EXPECT_GT(c2 - out->nodes.data(), NodeNamed(*out, "neg") - out->nodes.data());
  EXPECT_EQ(Names(*out, c2->outputs), std::vector<std::string>{"out"});
  EXPECT_EQ(c2->StringAttr("activation"), "Relu");
  const ir::Value& zero = out->values[c2->inputs[2]];
  EXPECT_EQ(zero.shape, std::vector<int64_t>{2});
  EXPECT_EQ(Floats(zero), (std::vector<float>{0, 0}));

  // conv3's output is a graph output; conv4's Add broadcasts: both stay as they were.
  EXPECT_EQ(NodeNamed(*out, "conv3")->op, "Conv");
  EXPECT_EQ(NodeNamed(*out, "relu3")->op, "Relu");
  EXPECT_EQ(NodeNamed(*out, "conv4")->op, "Conv");
  EXPECT_EQ(NodeNamed(*out, "add4")->op, "Add");
  EXPECT_EQ(NodeNamed(*out, "relu1"), nullptr);
  EXPECT_EQ(NodeNamed(*out, "add2"), nullptr);
  EXPECT_EQ(NodeNamed(*out, "relu2"), nullptr);
  EXPECT_EQ(out->nodes.size(), 7u);

  // The fused conv2 computes Relu(Add(nx, Conv(r1, w2))) (x standing in for nx).
  const ir::Graph& g = e.c.g;
  const ops::HostTensor x = Host(g.values[e.x], e.c.data["x"]);
  std::vector<float> r1_values(50);
  for (size_t i = 0; i < r1_values.size(); ++i) r1_values[i] = std::sin(float(i));
  const ops::HostTensor r1 = Host(g.values[e.r1], r1_values);
  auto conv = ops::EvaluateOp("Conv", 17, {}, {r1, Host(g.values[e.w2], e.c.data["w2"])}, 1);
  ASSERT_TRUE(conv.ok());
  auto sum = ops::EvaluateOp("Add", 17, {}, {x, (*conv)[0]}, 1);
  ASSERT_TRUE(sum.ok());
  auto want = ops::EvaluateOp("Relu", 17, {}, {(*sum)[0]}, 1);
  ASSERT_TRUE(want.ok());
  auto got = ops::EvaluateOp("TsFusedConv", 17, c2->attrs,
                             {r1, Host(g.values[e.w2], e.c.data["w2"]), Host(zero, Floats(zero)), x}, 1);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  const std::vector<float> w = (*want)[0].Values<float>(), v = (*got)[0].Values<float>();
  ASSERT_EQ(w.size(), v.size());
  for (size_t i = 0; i < w.size(); ++i) EXPECT_NEAR(v[i], w[i], 1e-6f * (1 + std::fabs(w[i]))) << i;
}

TEST(FuseConvEpiloguesTest, InfersTheSameShapes) {
  EpilogueGraph e = MakeEpilogueGraph();
  auto out = FuseConvEpilogues(e.c.g);
  ASSERT_TRUE(out.ok());
  ir::Graph g = *out;
  ASSERT_TRUE(InferShapes(g).ok());
  EXPECT_EQ(g.values[*g.FindValue("out")].shape, (std::vector<int64_t>{1, 2, 5, 5}));
}

// x [1,32,8,8] -> convA (w 64x32x3x3, no bias) -> yA: blocked, with a zero bias
// x -> convB (w 32x32x3x3, 32 output channels) -> yB: left as it is
// x -> convC (wS) -> yC and x -> convD (wS): a shared weight, left as it is
// x -> fusedE (TsFusedConv, w 64x32x3x3, bias, Relu) -> yE: blocked, bias and Relu kept
TEST(BlockConvWeightsTest, BlocksTheConvolutionsItPrefers) {
  std::mt19937 rng(9);
  ConvBnGraph c;
  c.g.opset = 17;
  const int x = AddF32(c, "x", {1, 32, 8, 8}, ir::ValueKind::kInput, rng, -1, 1);
  const int wa = AddF32(c, "wA", {64, 32, 3, 3}, ir::ValueKind::kWeight, rng, -1, 1);
  const int wb = AddF32(c, "wB", {32, 32, 3, 3}, ir::ValueKind::kWeight, rng, -1, 1);
  const int bb = AddF32(c, "bB", {32}, ir::ValueKind::kWeight, rng, -1, 1);
  const int ws = AddF32(c, "wS", {64, 32, 3, 3}, ir::ValueKind::kWeight, rng, -1, 1);
  const int we = AddF32(c, "wE", {64, 32, 3, 3}, ir::ValueKind::kWeight, rng, -1, 1);
  const int be = AddF32(c, "bE", {64}, ir::ValueKind::kWeight, rng, -1, 1);
  const std::vector<int64_t> shape64 = {1, 64, 8, 8};
  const int ya = AddF32(c, "yA", shape64, ir::ValueKind::kOutput, rng, 0, 0);
  const int yb = AddF32(c, "yB", {1, 32, 8, 8}, ir::ValueKind::kOutput, rng, 0, 0);
  const int yc = AddF32(c, "yC", shape64, ir::ValueKind::kOutput, rng, 0, 0);
  const int yd = AddF32(c, "yD", shape64, ir::ValueKind::kOutput, rng, 0, 0);
  const int ye = AddF32(c, "yE", shape64, ir::ValueKind::kOutput, rng, 0, 0);
  const ir::AttrMap pads = {{"pads", std::vector<int64_t>{1, 1, 1, 1}}};
  ir::AttrMap relu = pads;
  relu["activation"] = std::string("Relu");
  c.g.nodes = {
      {"convA", "Conv", {x, wa}, {ya}, pads},
      {"convB", "Conv", {x, wb, bb}, {yb}, pads},
      {"convC", "Conv", {x, ws}, {yc}, pads},
      {"convD", "Conv", {x, ws}, {yd}, pads},
      {"fusedE", "TsFusedConv", {x, we, be}, {ye}, relu},
  };
  c.g.inputs = {x};
  c.g.outputs = {ya, yb, yc, yd, ye};
  ASSERT_TRUE(ir::Verify(c.g).ok());
  int blocked = 0;
  auto out = BlockConvWeights(c.g, &blocked);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(blocked, 2);
  ASSERT_TRUE(ir::Verify(*out).ok()) << ir::PrintGraph(*out);
  EXPECT_EQ(NodeNamed(*out, "convB")->op, "Conv");
  EXPECT_EQ(NodeNamed(*out, "convC")->op, "Conv");
  EXPECT_EQ(NodeNamed(*out, "convD")->op, "Conv");
  EXPECT_EQ(out->FindValue("wA"), std::nullopt) << "the unblocked weight is no longer used";

  const ops::HostTensor xh = Host(c.g.values[x], c.data["x"]);
  for (const char* name : {"convA", "fusedE"}) {
    SCOPED_TRACE(name);
    const ir::Node* n = NodeNamed(*out, name);
    ASSERT_NE(n, nullptr);
    EXPECT_EQ(n->op, "TsFusedConv");
    EXPECT_EQ(n->StringAttr("weight_layout"), "blocked16");
    EXPECT_EQ(n->IntsAttr("pads"), (std::vector<int64_t>{1, 1, 1, 1}));
    ASSERT_EQ(n->inputs.size(), 3u);
    const ir::Value& w = out->values[n->inputs[1]];
    const bool a = std::string(name) == "convA";
    const std::vector<float>& plain = c.data[a ? "wA" : "wE"];
    EXPECT_EQ(w.shape, (std::vector<int64_t>{64, 32, 3, 3}));
    std::vector<float> want(plain.size());
    ops::BlockConvWeights(64, 32 * 9, plain.data(), want.data());
    EXPECT_EQ(Floats(w), want);
    const ir::Value& b = out->values[n->inputs[2]];
    EXPECT_EQ(Floats(b), a ? std::vector<float>(64, 0.0f) : c.data["bE"]);
    EXPECT_EQ(n->StringAttr("activation").value_or(""), a ? "" : "Relu");
    // The rewritten node computes what the original did, bit for bit.
    ir::AttrMap attrs = a ? pads : relu;
    std::vector<ops::HostTensor> in = {xh, Host(c.g.values[a ? wa : we], plain)};
    if (!a) in.push_back(Host(c.g.values[be], c.data["bE"]));
    auto want_y = ops::EvaluateOp(a ? "Conv" : "TsFusedConv", 17, attrs, in, 1);
    ASSERT_TRUE(want_y.ok()) << want_y.status().ToString();
    auto got_y = ops::EvaluateOp("TsFusedConv", 17, n->attrs, {xh, Host(w, Floats(w)), Host(b, Floats(b))}, 1);
    ASSERT_TRUE(got_y.ok()) << got_y.status().ToString();
    EXPECT_EQ((*got_y)[0].Values<float>(), (*want_y)[0].Values<float>());
  }
}

// a [2,3,5] -> mm1 (b1 [5,70], f32 constant) -> y1: blocked
// a -> mm2 (bs [5,8]) -> y2 and a -> mm3 (bs): a shared B, left as it is
// a -> mm4 (b4 [5,8], trans_b = 1): transposed, left as it is
// a -> mm5 (a2, an input): no constant B, left as it is
TEST(BlockMatMulWeightsTest, BlocksConstantWeightsReadOnce) {
  std::mt19937 rng(3);
  ConvBnGraph c;
  c.g.opset = 17;
  const int a = AddF32(c, "a", {2, 3, 5}, ir::ValueKind::kInput, rng, -1, 1);
  const int a2 = AddF32(c, "a2", {5, 8}, ir::ValueKind::kInput, rng, -1, 1);
  const int b1 = AddF32(c, "b1", {5, 70}, ir::ValueKind::kWeight, rng, -1, 1);
  const int bs = AddF32(c, "bs", {5, 8}, ir::ValueKind::kWeight, rng, -1, 1);
  const int b4 = AddF32(c, "b4", {8, 5}, ir::ValueKind::kWeight, rng, -1, 1);
  const int y1 = AddF32(c, "y1", {2, 3, 70}, ir::ValueKind::kOutput, rng, 0, 0);
  const int y2 = AddF32(c, "y2", {2, 3, 8}, ir::ValueKind::kOutput, rng, 0, 0);
  const int y3 = AddF32(c, "y3", {2, 3, 8}, ir::ValueKind::kOutput, rng, 0, 0);
  const int y4 = AddF32(c, "y4", {2, 3, 8}, ir::ValueKind::kOutput, rng, 0, 0);
  const int y5 = AddF32(c, "y5", {2, 3, 8}, ir::ValueKind::kOutput, rng, 0, 0);
  c.g.nodes = {
      {"mm1", "MatMul", {a, b1}, {y1}, {}},
      {"mm2", "MatMul", {a, bs}, {y2}, {}},
      {"mm3", "MatMul", {a, bs}, {y3}, {}},
      {"mm4", "MatMul", {a, b4}, {y4}, {{"trans_b", int64_t{1}}}},
      {"mm5", "MatMul", {a, a2}, {y5}, {}},
  };
  c.g.inputs = {a, a2};
  c.g.outputs = {y1, y2, y3, y4, y5};
  ASSERT_TRUE(ir::Verify(c.g).ok());
  int blocked = 0;
  auto out = BlockMatMulWeights(c.g, &blocked);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(blocked, 1);
  ASSERT_TRUE(ir::Verify(*out).ok()) << ir::PrintGraph(*out);
  const ir::Node* mm1 = NodeNamed(*out, "mm1");
  ASSERT_NE(mm1, nullptr);
  EXPECT_EQ(mm1->StringAttr("weight_layout"), "blocked64");
  const ir::Value& b = out->values[mm1->inputs[1]];
  EXPECT_EQ(b.shape, (std::vector<int64_t>{5, 70}));
  std::vector<float> want(c.data["b1"].size());
  ops::BlockMatMulWeights(5, 70, c.data["b1"].data(), want.data());
  EXPECT_EQ(Floats(b), want);
  EXPECT_EQ(mm1->inputs[1], b1) << "B keeps its id";
  EXPECT_EQ(Floats(c.g.values[b1]), c.data["b1"]) << "the input graph is unchanged";
  for (const char* name : {"mm2", "mm3", "mm4", "mm5"}) {
    EXPECT_EQ(NodeNamed(*out, name)->attrs.count("weight_layout"), 0u) << name;
  }
}

}  // namespace
}  // namespace ts::passes
