#include "ir/verifier.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ts::ir {
namespace {

Bytes ZeroBytes(size_t n) { return ir::MakeBytes(std::vector<uint8_t>(n, 0)); }

int Add(Graph& g, std::string name, ValueKind kind, std::vector<int64_t> shape,
        Bytes data = nullptr, DType dtype = DType::kF32) {
  Value v;
  v.name = std::move(name);
  v.kind = kind;
  v.dtype = dtype;
  v.shape = std::move(shape);
  v.data = std::move(data);
  auto id = g.AddValue(std::move(v));
  EXPECT_TRUE(id.ok()) << id.status().ToString();
  return id.ok() ? *id : -1;
}

int AddNode(Graph& g, std::string name, std::string op, std::vector<int> in,
            std::vector<int> out) {
  Node n;
  n.name = std::move(name);
  n.op = std::move(op);
  n.inputs = std::move(in);
  n.outputs = std::move(out);
  return g.AddNode(std::move(n));
}

// x (input), w (weight), m (const) -> add -> y (act) -> clip(y, _, m) -> z (output)
enum { kX, kW, kM, kY, kZ };
Graph Valid() {
  Graph g;
  g.opset = 17;
  Add(g, "x", ValueKind::kInput, {2, 2});
  Add(g, "w", ValueKind::kWeight, {2}, ZeroBytes(8));
  Add(g, "m", ValueKind::kConstant, {}, ZeroBytes(8), DType::kI64);
  Add(g, "y", ValueKind::kActivation, {2, 2});
  Add(g, "z", ValueKind::kOutput, {2, 2});
  AddNode(g, "add", "Add", {kX, kW}, {kY});
  AddNode(g, "clip", "Clip", {kY, -1, kM}, {kZ});
  g.inputs = {kX};
  g.outputs = {kZ};
  return g;
}

void ExpectInvalid(const Graph& g, const std::string& part, VerifyOptions options = {}) {
  Status s = Verify(g, options);
  ASSERT_FALSE(s.ok()) << "expected an error containing: " << part;
  EXPECT_EQ(s.code(), Code::kBadInput);
  EXPECT_NE(s.message().find(part), std::string::npos) << s.message();
}

TEST(VerifyTest, ValidGraphPasses) {
  Status s = Verify(Valid());
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST(VerifyTest, ReturningAnInputOrWeightDirectlyPasses) {
  Graph g = Valid();
  g.outputs = {kZ, kX, kW};
  EXPECT_TRUE(Verify(g).ok()) << Verify(g).ToString();
}

TEST(VerifyTest, UnusedValuesAndEmptyNodeNamesPass) {
  Graph g = Valid();
  Value dead;
  dead.name = "dead";
  dead.shape_known = false;
  ASSERT_TRUE(g.AddValue(dead).ok());
  g.nodes[0].name = "";
  EXPECT_TRUE(Verify(g).ok()) << Verify(g).ToString();
}

TEST(VerifyTest, NodeInputOutOfRange) {
  Graph g = Valid();
  g.nodes[0].inputs[1] = 17;
  ExpectInvalid(g, "node 'add' (Add): input 1 refers to value 17 which does not exist");
  g.nodes[0].inputs[1] = -2;
  ExpectInvalid(g, "node 'add' (Add): input 1 refers to value -2 which does not exist");
}

TEST(VerifyTest, NodeOutputOutOfRange) {
  Graph g = Valid();
  g.nodes[1].outputs[0] = -1;
  ExpectInvalid(g, "node 'clip' (Clip): output 0 refers to value -1 which does not exist");
}

TEST(VerifyTest, GraphInputAndOutputOutOfRange) {
  Graph g = Valid();
  g.inputs.push_back(5);
  ExpectInvalid(g, "graph input 1 refers to value 5 which does not exist");
  g = Valid();
  g.outputs[0] = -3;
  ExpectInvalid(g, "graph output 0 refers to value -3 which does not exist");
}

TEST(VerifyTest, EmptyOp) {
  Graph g = Valid();
  g.nodes[0].op = "";
  ExpectInvalid(g, "node 'add' (): op is empty");
}

TEST(VerifyTest, EmptyNodeNameIsNamedByIndex) {
  Graph g = Valid();
  g.nodes[1].name = "";
  g.nodes[1].inputs[0] = 99;
  ExpectInvalid(g, "node #1 (Clip): input 0 refers to value 99");
}

TEST(VerifyTest, DuplicateValueName) {
  Graph g = Valid();
  g.values.push_back(g.values[kY]);  // bypasses AddValue, as a careless pass might
  ExpectInvalid(g, "value 5: name 'y' is also used by value 3");
}

TEST(VerifyTest, InvalidDType) {
  Graph g = Valid();
  g.values[kY].dtype = static_cast<DType>(42);
  ExpectInvalid(g, "value 'y' (act): invalid dtype 42");
}

TEST(VerifyTest, NegativeDim) {
  Graph g = Valid();
  g.values[kY].shape = {2, -1};
  ExpectInvalid(g, "value 'y' (act): dim 1 is -1; dims must be non-negative");
}

TEST(VerifyTest, WeightWithoutData) {
  Graph g = Valid();
  g.values[kW].data = nullptr;
  ExpectInvalid(g, "value 'w' (weight): has no data");
}

TEST(VerifyTest, DataSizeMismatch) {
  Graph g = Valid();
  g.values[kW].data = ZeroBytes(4);
  ExpectInvalid(g, "value 'w' (weight): has 4 bytes of data but f32[2] needs 8");
  g = Valid();
  g.values[kM].data = ZeroBytes(0);
  ExpectInvalid(g, "value 'm' (const): has 0 bytes of data but i64[] needs 8");
}

TEST(VerifyTest, DataSizeOverflow) {
  Graph g = Valid();
  g.values[kW].shape = {int64_t{1} << 62, 4};
  ExpectInvalid(g, "value 'w' (weight): size of f32[4611686018427387904,4] overflows int64");
}

TEST(VerifyTest, ActivationOutputOrInputWithData) {
  Graph g = Valid();
  g.values[kY].data = ZeroBytes(16);
  ExpectInvalid(g, "value 'y' (act): has data; only weights and constants carry data");
  g = Valid();
  g.values[kZ].data = ZeroBytes(16);
  ExpectInvalid(g, "value 'z' (output): has data");
  g = Valid();
  g.values[kX].data = ZeroBytes(16);
  ExpectInvalid(g, "value 'x' (input): has data");
}

TEST(VerifyTest, InputValueNotListed) {
  Graph g = Valid();
  g.inputs.clear();
  ExpectInvalid(g, "value 'x' (input): not listed in the graph inputs");
}

TEST(VerifyTest, GraphInputOfWrongKindOrTwice) {
  Graph g = Valid();
  g.inputs.push_back(kW);
  ExpectInvalid(g, "graph input 1 is value 'w' (weight); graph inputs must have kind input");
  g = Valid();
  g.inputs.push_back(kX);
  ExpectInvalid(g, "graph input 1 is value 'x' (input), which is listed twice");
}

TEST(VerifyTest, NoOutputs) {
  Graph g = Valid();
  g.outputs.clear();
  ExpectInvalid(g, "graph has no outputs");
}

TEST(VerifyTest, OutputListedTwice) {
  Graph g = Valid();
  g.outputs.push_back(kZ);
  ExpectInvalid(g, "graph output 1 is value 'z' (output), which is listed twice");
}

TEST(VerifyTest, OutputValueNotListed) {
  Graph g = Valid();
  g.outputs = {kX};
  ExpectInvalid(g, "value 'z' (output): not listed in the graph outputs");
}

TEST(VerifyTest, ActivationListedAsOutput) {
  Graph g = Valid();
  g.outputs.push_back(kY);
  ExpectInvalid(g, "graph output 1 is value 'y' (act); a returned value must have kind output");
}

TEST(VerifyTest, NodeProducesSourceValue) {
  Graph g = Valid();
  g.nodes[0].outputs.push_back(kM);
  ExpectInvalid(g, "node 'add' (Add): output 1 is value 'm' (const), which no node may produce");
}

TEST(VerifyTest, ValueProducedTwice) {
  Graph g = Valid();
  AddNode(g, "again", "Relu", {kX}, {kY});
  ExpectInvalid(g, "value 'y' (act): produced by both node 'add' (Add) and node 'again' (Relu)");
  g = Valid();
  g.nodes[0].outputs.push_back(kY);
  ExpectInvalid(g, "produced by both node 'add' (Add) and node 'add' (Add)");
}

TEST(VerifyTest, NodeInputNotProduced) {
  Graph g = Valid();
  g.nodes[0].outputs.clear();
  ExpectInvalid(g, "node 'clip' (Clip): input 0 is value 'y' (act), which no node produces");
}

TEST(VerifyTest, GraphOutputNotProduced) {
  Graph g = Valid();
  g.nodes.pop_back();
  ExpectInvalid(g, "graph output 0 is value 'z' (output), which no node produces");
}

TEST(VerifyTest, CycleNamesANodeOnTheCycle) {
  Graph g;
  int x = Add(g, "x", ValueKind::kInput, {1});
  int p = Add(g, "p", ValueKind::kActivation, {1});
  int q = Add(g, "q", ValueKind::kActivation, {1});
  int z = Add(g, "z", ValueKind::kOutput, {1});
  AddNode(g, "down", "Relu", {p}, {z});  // waits on the cycle but is not part of it
  AddNode(g, "c1", "Add", {x, q}, {p});
  AddNode(g, "c2", "Relu", {p}, {q});
  g.inputs = {x};
  g.outputs = {z};
  ExpectInvalid(g, "graph has a cycle through node 'c");
}

TEST(VerifyTest, SelfLoop) {
  Graph g = Valid();
  g.nodes[1].inputs.push_back(kZ);
  ExpectInvalid(g, "graph has a cycle through node 'clip' (Clip)");
}

TEST(VerifyTest, UnknownShapeOfUsedValue) {
  Graph g = Valid();
  g.values[kY].shape_known = false;
  ExpectInvalid(g, "value 'y' (act): used by node 'clip' (Clip) but its shape is not known");
  EXPECT_TRUE(Verify(g, {.require_shapes = false}).ok());
  g = Valid();
  g.values[kZ].shape_known = false;
  ExpectInvalid(g, "value 'z' (output): a graph output whose shape is not known");
  // Stale dims on an unknown shape are not checked.
  g.values[kZ].shape = {-1};
  EXPECT_TRUE(Verify(g, {.require_shapes = false}).ok());
}

TEST(VerifyTest, LongChainNeedsNoRecursion) {
  Graph g;
  int prev = Add(g, "x", ValueKind::kInput, {1});
  g.inputs = {prev};
  const int kNodes = 200000;
  for (int i = 0; i < kNodes; ++i) {
    ValueKind kind = i + 1 == kNodes ? ValueKind::kOutput : ValueKind::kActivation;
    int next = Add(g, "v" + std::to_string(i), kind, {1});
    AddNode(g, "n" + std::to_string(i), "Relu", {prev}, {next});
    prev = next;
  }
  g.outputs = {prev};
  EXPECT_TRUE(Verify(g).ok()) << Verify(g).ToString();
  // Close the chain into one long cycle.
  g.nodes[0].inputs[0] = prev;
  ExpectInvalid(g, "graph has a cycle through node 'n");
}

}  // namespace
}  // namespace ts::ir
