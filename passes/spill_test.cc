#include "passes/spill.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "ir/text.h"
#include "passes/pipeline.h"
#include "passes/schedule.h"

namespace ts::passes {
namespace {

std::string Zeros(int64_t bytes) { return "data=hex:" + std::string(2 * bytes, '0'); }

// skip = Relu(x) is used by step 1 and again only by the last step; the steps between work on
// a wider tensor, so the peak lies there, where skip is live but unused.
ir::Graph SkipGraph() {
  auto g = ir::ParseGraph(
      "tsir 1 opset 13\n"
      "input \"x\" f32[1,64]\n"
      "weight \"w\" f32[64,256] " + Zeros(4 * 64 * 256) + "\n"
      "weight \"v\" f32[256,64] " + Zeros(4 * 256 * 64) + "\n"
      "act \"skip\" f32[1,64]\nact \"s2\" f32[1,64]\nact \"wide\" f32[1,256]\nact \"wide2\" f32[1,256]\n"
      "act \"narrow\" f32[1,64]\n"
      "output \"y\" f32[1,64]\n"
      "node \"relu\" Relu(\"x\") -> (\"skip\")\n"
      "node \"neg\" Neg(\"skip\") -> (\"s2\")\n"
      "node \"up\" MatMul(\"s2\", \"w\") -> (\"wide\")\n"
      "node \"tanh\" Tanh(\"wide\") -> (\"wide2\")\n"
      "node \"down\" MatMul(\"wide2\", \"v\") -> (\"narrow\")\n"
      "node \"add\" Add(\"narrow\", \"skip\") -> (\"y\")\n"
      "inputs \"x\"\noutputs \"y\"\n");
  EXPECT_TRUE(g.ok()) << g.status().ToString();
  return g.ok() ? *std::move(g) : ir::Graph();
}

TEST(SpillAroundTest, SpillsTheIdleActivationAndRewritesLaterUses) {
  ir::Graph g = SkipGraph();
  auto order = TopologicalOrder(g);
  ASSERT_TRUE(order.ok());
  auto lv = ComputeLiveness(g, *order);
  ASSERT_TRUE(lv.ok());
  // Step 3 (tanh) touches wide and wide2 only; skip is live there, unused.
  auto spilled = SpillAround(g, *order, *lv, 3);
  ASSERT_TRUE(spilled.ok()) << spilled.status().ToString();
  EXPECT_EQ(spilled->bytes, 256u);
  EXPECT_FALSE(spilled->recomputed) << "x, Relu's input, is dead by then";
  const int skip = *g.FindValue("skip");
  const int filled = *g.FindValue("skip.fill");
  std::vector<std::string> ops;
  for (int n : *order) ops.push_back(g.nodes[n].op);
  EXPECT_EQ(ops, (std::vector<std::string>{"Relu", "Neg", "Spill", "MatMul", "Tanh", "MatMul", "Fill", "Add"}));
  const ir::Node& add = g.nodes[order->back()];
  EXPECT_EQ(add.inputs[1], filled) << "the last use reads the filled copy";
  EXPECT_EQ(g.nodes[(*order)[1]].inputs[0], skip) << "earlier uses keep the original";
  // Liveness: skip ends at the spill; its copy starts at the fill.
  auto after = ComputeLiveness(g, *order);
  ASSERT_TRUE(after.ok());
  const Buffer& a = after->buffers[after->buffer_of_value[skip]];
  const Buffer& b = after->buffers[after->buffer_of_value[filled]];
  EXPECT_EQ(a.live.last, 2);
  EXPECT_EQ(b.live.first, 6);
}

TEST(SpillAroundTest, NothingQualifiesAtAStepThatUsesEverythingLive) {
  ir::Graph g = SkipGraph();
  auto order = TopologicalOrder(g);
  ASSERT_TRUE(order.ok());
  auto lv = ComputeLiveness(g, *order);
  ASSERT_TRUE(lv.ok());
  const std::vector<int> before = *order;
  // Step 5 (add) reads narrow and skip and writes y: every live activation is used there.
  auto spilled = SpillAround(g, *order, *lv, 5);
  ASSERT_TRUE(spilled.ok());
  EXPECT_EQ(spilled->bytes, 0u);
  EXPECT_EQ(*order, before);
}

// The same shape, but x is used again at the end: Relu(x) can run again there, no I/O needed.
TEST(SpillAroundTest, RecomputesWhenTheProducersInputsAreStillThere) {
  auto g = ir::ParseGraph(
      "tsir 1 opset 13\n"
      "input \"x\" f32[1,64]\n"
      "weight \"w\" f32[64,256] " + Zeros(4 * 64 * 256) + "\n"
      "weight \"v\" f32[256,64] " + Zeros(4 * 256 * 64) + "\n"
      "act \"skip\" f32[1,64]\nact \"wide\" f32[1,256]\nact \"wide2\" f32[1,256]\n"
      "act \"narrow\" f32[1,64]\nact \"sum\" f32[1,64]\n"
      "output \"y\" f32[1,64]\n"
      "node \"relu\" Relu(\"x\") -> (\"skip\")\n"
      "node \"up\" MatMul(\"skip\", \"w\") -> (\"wide\")\n"
      "node \"tanh\" Tanh(\"wide\") -> (\"wide2\")\n"
      "node \"down\" MatMul(\"wide2\", \"v\") -> (\"narrow\")\n"
      "node \"add\" Add(\"narrow\", \"skip\") -> (\"sum\")\n"
      "node \"add2\" Add(\"sum\", \"x\") -> (\"y\")\n"
      "inputs \"x\"\noutputs \"y\"\n");
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  auto order = TopologicalOrder(*g);
  ASSERT_TRUE(order.ok());
  auto lv = ComputeLiveness(*g, *order);
  ASSERT_TRUE(lv.ok());
  auto freed = SpillAround(*g, *order, *lv, 2);  // tanh
  ASSERT_TRUE(freed.ok()) << freed.status().ToString();
  EXPECT_EQ(freed->bytes, 256u);
  EXPECT_TRUE(freed->recomputed);
  std::vector<std::string> ops;
  for (int n : *order) ops.push_back(g->nodes[n].op);
  EXPECT_EQ(ops, (std::vector<std::string>{"Relu", "MatMul", "Tanh", "MatMul", "Relu", "Add", "Add"}));
  const int again = *g->FindValue("skip.remat");
  EXPECT_EQ(g->nodes[(*order)[4]].inputs[0], *g->FindValue("x"));
  EXPECT_EQ(g->nodes[(*order)[4]].outputs[0], again);
  EXPECT_EQ(g->nodes[(*order)[5]].inputs[1], again);
}

// Through the pipeline: a budget below the minimum without spilling fits with one spill; the
// reported minimum is exact (it fits, one byte under does not), and the plan's order carries the
// spill before the peak and the fill after it.
TEST(SpillPipelineTest, BudgetBelowTheUnspilledMinimumFitsBySpilling) {
  const ir::Graph g = SkipGraph();
  PipelineOptions options;
  options.budget_bytes = 1;
  auto refused = RunPipeline(g, options);
  ASSERT_FALSE(refused.ok());
  const std::string msg = refused.status().message();
  EXPECT_NE(msg.find("(after spilling 1 activation (256 bytes"), std::string::npos) << msg;
  const std::string key = "the minimum feasible budget is ";
  const uint64_t min = std::stoull(msg.substr(msg.find(key) + key.size()));
  options.budget_bytes = min;
  auto fits = RunPipeline(g, options);
  ASSERT_TRUE(fits.ok()) << fits.status().ToString();
  EXPECT_EQ(fits->spills, 1);
  EXPECT_EQ(fits->spilled_bytes, 256u);
  EXPECT_LE(fits->TotalBytes(), min);
  options.budget_bytes = min - 1;
  auto under = RunPipeline(g, options);
  ASSERT_FALSE(under.ok());
  EXPECT_EQ(under.status().code(), Code::kDoesNotFit);
  // With spilling off (SkipGraph's activation cannot be recomputed: x is dead by then), the
  // minimum is the unspilled one.
  options.budget_bytes = min;
  options.spill = false;
  auto off = RunPipeline(g, options);
  ASSERT_FALSE(off.ok());
  EXPECT_EQ(off.status().message().find("after"), std::string::npos) << off.status().message();
  options.spill = true;
  // Unbudgeted plans never spill.
  auto unbudgeted = RunPipeline(g, {});
  ASSERT_TRUE(unbudgeted.ok());
  EXPECT_EQ(unbudgeted->spills, 0);
}

}  // namespace
}  // namespace ts::passes
