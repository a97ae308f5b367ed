#include "passes/liveness.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ir/text.h"
#include "passes/schedule.h"

namespace ts::passes {
namespace {

ir::Graph Parse(const std::string& text) {
  auto g = ir::ParseGraph(text);
  EXPECT_TRUE(g.ok()) << g.status().ToString() << "\n" << text;
  return g.ok() ? *std::move(g) : ir::Graph();
}

Liveness Compute(const ir::Graph& g) {
  auto order = TopologicalOrder(g);
  EXPECT_TRUE(order.ok()) << order.status().ToString();
  if (!order.ok()) return {};
  auto lv = ComputeLiveness(g, *order);
  EXPECT_TRUE(lv.ok()) << lv.status().ToString();
  return lv.ok() ? *std::move(lv) : Liveness();
}

// One buffer as a row: name, bytes, [first, last], resident.
struct Row {
  std::string name;
  uint64_t bytes;
  int64_t first, last;
  bool resident;
};

void ExpectBuffers(const Liveness& lv, const std::vector<Row>& rows) {
  ASSERT_EQ(lv.buffers.size(), rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    SCOPED_TRACE("buffer " + std::to_string(i) + " '" + rows[i].name + "'");
    const Buffer& b = lv.buffers[i];
    EXPECT_EQ(b.name, rows[i].name);
    EXPECT_EQ(b.bytes, rows[i].bytes);
    EXPECT_EQ(b.live.bytes, rows[i].bytes);
    EXPECT_EQ(b.live.first, rows[i].first);
    EXPECT_EQ(b.live.last, rows[i].last);
    EXPECT_EQ(b.resident, rows[i].resident);
  }
}

// skip = Relu(x) first; a chain; up = Neg(h2) right before cat = Concat(skip, up) on axis 1
// (dims before it are 1). In place, `up` (the last produced input) lives inside `cat` after
// skip's 2 x 4 floats, `skip` keeps its own buffer, and `cat`'s buffer starts where `up` is made.
TEST(ComputeLivenessTest, ConcatInPlaceHoldsTheLastProducedInputInsideTheOutput) {
  const std::string text =
      "tsir 1 opset 13\n"
      "input \"x\" f32[1,2,4]\n"
      "act \"skip\" f32[1,2,4]\nact \"h\" f32[1,3,4]\nact \"h2\" f32[1,3,4]\nact \"up\" f32[1,3,4]\n"
      "output \"cat\" f32[1,5,4]\n"
      "input \"g\" f32[1,3,4]\n"
      "node \"relu\" Relu(\"x\") -> (\"skip\")\n"
      "node \"sig\" Sigmoid(\"g\") -> (\"h\")\n"
      "node \"tanh\" Tanh(\"h\") -> (\"h2\")\n"
      "node \"neg\" Neg(\"h2\") -> (\"up\")\n"
      "node \"cat\" Concat(\"skip\", \"up\") -> (\"cat\") {axis=i:1}\n"
      "inputs \"x\", \"g\"\noutputs \"cat\"\n";
  ir::Graph g = Parse(text);
  auto order = TopologicalOrder(g);
  ASSERT_TRUE(order.ok());
  auto plain = ComputeLiveness(g, *order);
  auto in_place = ComputeLiveness(g, *order, /*concat_in_place=*/true);
  ASSERT_TRUE(plain.ok() && in_place.ok());
  EXPECT_EQ(plain->concat_inputs_in_place, 0);
  EXPECT_EQ(in_place->concat_inputs_in_place, 1);
  const int skip = *g.FindValue("skip"), up = *g.FindValue("up"), cat = *g.FindValue("cat");
  EXPECT_NE(plain->buffer_of_value[up], plain->buffer_of_value[cat]);
  EXPECT_EQ(in_place->buffer_of_value[up], in_place->buffer_of_value[cat]);
  EXPECT_EQ(in_place->offset_of_value[up], 2u * 4 * 4) << "after skip's 2 x 4 floats";
  EXPECT_EQ(in_place->offset_of_value[cat], 0u);
  EXPECT_NE(in_place->buffer_of_value[skip], in_place->buffer_of_value[cat]) << "made long before";
  const Buffer& cat_buffer = in_place->buffers[in_place->buffer_of_value[cat]];
  EXPECT_EQ(cat_buffer.bytes, 5u * 4 * 4);
  EXPECT_EQ(cat_buffer.live.first, 3) << "from the step that makes `up`";
  EXPECT_EQ(in_place->buffers.size() + 1, plain->buffers.size());
}

TEST(ComputeLivenessTest, ConcatInPlaceNeedsContiguousSlicesAndPlainActivations) {
  // Axis 1 with a leading dim of 2: each input is two separate runs of the output. Inputs that
  // are graph inputs or weights keep their own bytes. A value given twice is copied.
  for (const char* body : {
           "input \"a\" f32[2,2]\ninput \"b\" f32[2,2]\nact \"ra\" f32[2,2]\nact \"rb\" f32[2,2]\n"
           "output \"y\" f32[2,4]\nnode \"ra\" Relu(\"a\") -> (\"ra\")\nnode \"rb\" Relu(\"b\") -> (\"rb\")\n"
           "node \"cat\" Concat(\"ra\", \"rb\") -> (\"y\") {axis=i:1}\ninputs \"a\", \"b\"\noutputs \"y\"\n",
           "input \"a\" f32[1,2]\ninput \"b\" f32[1,2]\noutput \"y\" f32[1,4]\n"
           "node \"cat\" Concat(\"a\", \"b\") -> (\"y\") {axis=i:1}\ninputs \"a\", \"b\"\noutputs \"y\"\n",
           "input \"a\" f32[1,2]\nact \"r\" f32[1,2]\noutput \"y\" f32[1,4]\nnode \"r\" Relu(\"a\") -> (\"r\")\n"
           "node \"cat\" Concat(\"r\", \"r\") -> (\"y\") {axis=i:1}\ninputs \"a\"\noutputs \"y\"\n",
       }) {
    SCOPED_TRACE(body);
    ir::Graph g = Parse(std::string("tsir 1 opset 13\n") + body);
    auto order = TopologicalOrder(g);
    ASSERT_TRUE(order.ok());
    auto lv = ComputeLiveness(g, *order, /*concat_in_place=*/true);
    ASSERT_TRUE(lv.ok()) << lv.status().ToString();
    EXPECT_EQ(lv->concat_inputs_in_place, 0);
  }
}

// An in-place op's output shares its first input's buffer; a weight so written is marked, and
// placement never streams it (its contents must survive from run to run).
TEST(ComputeLivenessTest, InPlaceWriteSharesTheCacheAndMarksItWritten) {
  ir::Graph g = Parse(
      "tsir 1 opset 17\n"
      "input \"rows\" f32[1,1,1,2]\ninput \"pos\" i64[1]\n"
      "weight \"cache\" f32[1,1,4,2] data=hex:" + std::string(64, '0') + "\n"
      "act \"updated\" f32[1,1,4,2]\noutput \"y\" f32[1,1,4,2]\n"
      "node \"w\" TsKvWrite(\"cache\", \"rows\", \"pos\") -> (\"updated\")\n"
      "node \"n\" Neg(\"updated\") -> (\"y\")\n"
      "inputs \"rows\", \"pos\"\noutputs \"y\"\n");
  Liveness lv = Compute(g);
  const int cache = *g.FindValue("cache"), updated = *g.FindValue("updated");
  EXPECT_EQ(lv.buffer_of_value[cache], lv.buffer_of_value[updated]);
  const Buffer& b = lv.buffers[lv.buffer_of_value[cache]];
  EXPECT_TRUE(b.resident);
  EXPECT_TRUE(b.written);
  EXPECT_EQ(lv.steps.size(), 2u) << "the write is a step";
}

TEST(ComputeLivenessTest, AliasReshapeSharesItsInputBufferAndExtendsItsLife) {
  ir::Graph g = Parse(
      "tsir 1 opset 13\n"
      "input \"x\" f32[2,3]\n"
      "input \"y\" f32[6]\n"
      "act \"a\" f32[2,3]\n"
      "act \"b\" f32[6]\n"
      "act \"c\" f32[6]\n"
      "output \"z\" f32[6]\n"
      "node \"relu\" Relu(\"x\") -> (\"a\")\n"
      "node \"flat\" Reshape(\"a\") -> (\"b\") {shape=ints:[6]}\n"
      "node \"neg\" Neg(\"b\") -> (\"c\")\n"
      "node \"add\" Add(\"c\", \"y\") -> (\"z\")\n"
      "inputs \"x\", \"y\"\n"
      "outputs \"z\"\n");
  Liveness lv = Compute(g);
  // The Reshape moves no data: it is not a step.
  EXPECT_EQ(lv.steps, (std::vector<int>{0, 2, 3}));
  ExpectBuffers(lv, {
                        {"x", 24, 0, 0, false},
                        {"y", 24, 0, 2, false},  // a graph input is live from step 0
                        {"a", 24, 0, 1, false},  // through "b", read by "neg" at step 1
                        {"c", 24, 1, 2, false},
                        {"z", 24, 2, 2, false},
                    });
  // Value ids x=0 y=1 a=2 b=3 c=4 z=5; "b" is "a"'s bytes.
  EXPECT_EQ(lv.buffer_of_value, (std::vector<int>{0, 1, 2, 2, 3, 4}));
}

TEST(ComputeLivenessTest, WeightsAreResidentAndOutputsLiveToTheLastStep) {
  ir::Graph g = Parse(
      "tsir 1 opset 13\n"
      "input \"x\" f32[4]\n"
      "weight \"w\" f32[4] data=hex:" + std::string(32, '0') + "\n"
      "weight \"unused\" f32[2] data=hex:" + std::string(16, '0') + "\n"
      "act \"t\" f32[4]\n"
      "output \"early\" f32[4]\n"
      "output \"z\" f32[4]\n"
      "node \"relu\" Relu(\"x\") -> (\"early\")\n"
      "node \"neg\" Neg(\"x\") -> (\"t\")\n"
      "node \"add\" Add(\"t\", \"w\") -> (\"z\")\n"
      "inputs \"x\"\n"
      "outputs \"early\", \"z\"\n");
  Liveness lv = Compute(g);
  EXPECT_EQ(lv.steps, (std::vector<int>{0, 1, 2}));
  ExpectBuffers(lv, {
                        {"x", 16, 0, 1, false},
                        {"w", 16, 0, 2, true},       // read at step 2 only, loaded up front
                        {"t", 16, 1, 2, false},
                        {"early", 16, 0, 2, false},  // written at 0, returned at the end
                        {"z", 16, 2, 2, false},
                    });
  // A weight that nothing reads needs no buffer.
  EXPECT_EQ(lv.buffer_of_value, (std::vector<int>{0, 1, -1, 2, 3, 4}));
}

TEST(ComputeLivenessTest, IdentityIntoAGraphOutputKeepsTheProducerBufferToTheEnd) {
  ir::Graph g = Parse(
      "tsir 1 opset 13\n"
      "input \"x\" f32[8]\n"
      "act \"r\" f32[8]\n"
      "act \"s\" f32[8]\n"
      "output \"z\" f32[8]\n"
      "output \"n\" f32[8]\n"
      "node \"relu\" Relu(\"x\") -> (\"r\")\n"
      "node \"id\" Identity(\"r\") -> (\"z\")\n"
      "node \"sig\" Sigmoid(\"x\") -> (\"s\")\n"
      "node \"neg\" Neg(\"s\") -> (\"n\")\n"
      "inputs \"x\"\n"
      "outputs \"z\", \"n\"\n");
  Liveness lv = Compute(g);
  EXPECT_EQ(lv.steps, (std::vector<int>{0, 2, 3}));
  ExpectBuffers(lv, {
                        {"x", 32, 0, 1, false},
                        {"r", 32, 0, 2, false},  // returned as "z"
                        {"s", 32, 1, 2, false},
                        {"n", 32, 2, 2, false},
                    });
  EXPECT_EQ(lv.buffer_of_value, (std::vector<int>{0, 1, 2, 1, 3}));
}

TEST(ComputeLivenessTest, AliasOfAGraphInputUsesTheInputBuffer) {
  ir::Graph g = Parse(
      "tsir 1 opset 13\n"
      "input \"x\" f32[2,2]\n"
      "act \"v\" f32[4]\n"
      "output \"z\" f32[4]\n"
      "node \"flat\" Reshape(\"x\") -> (\"v\") {shape=ints:[4]}\n"
      "node \"exp\" Exp(\"v\") -> (\"z\")\n"
      "inputs \"x\"\n"
      "outputs \"z\"\n");
  Liveness lv = Compute(g);
  EXPECT_EQ(lv.steps, (std::vector<int>{1}));
  ExpectBuffers(lv, {{"x", 16, 0, 0, false}, {"z", 16, 0, 0, false}});
  EXPECT_EQ(lv.buffer_of_value, (std::vector<int>{0, 0, 1}));
}

TEST(ComputeLivenessTest, ValueWithoutAnInferredShapeIsAnInternalError) {
  ir::Graph g = Parse(
      "tsir 1 opset 13\n"
      "input \"x\" f32[2]\n"
      "output \"z\" f32[?]\n"
      "node \"relu\" Relu(\"x\") -> (\"z\")\n"
      "inputs \"x\"\n"
      "outputs \"z\"\n");
  auto lv = ComputeLiveness(g, {0});
  ASSERT_FALSE(lv.ok());
  EXPECT_EQ(lv.status().code(), Code::kInternal);
  EXPECT_NE(lv.status().message().find("value 'z' has no inferred shape"), std::string::npos)
      << lv.status().message();
}

}  // namespace
}  // namespace ts::passes
