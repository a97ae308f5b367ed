#include "passes/schedule.h"

#include <gtest/gtest.h>

#include <random>

#include "ir/text.h"
#include "passes/liveness.h"
#include "passes/pipeline.h"
#include "passes/shape_inference.h"

namespace ts::passes {
namespace {

ir::Graph Parsed(const std::string& text) {
  auto g = ir::ParseGraph(text);
  EXPECT_TRUE(g.ok()) << g.status().ToString();
  if (g.ok()) EXPECT_TRUE(InferShapes(*g).ok());
  return g.ok() ? *std::move(g) : ir::Graph();
}

uint64_t Bound(const ir::Graph& g, const std::vector<int>& order) {
  auto lv = ComputeLiveness(g, order);
  EXPECT_TRUE(lv.ok());
  std::vector<Interval> iv;
  for (const Buffer& b : lv->buffers) iv.push_back(b.live);
  return LiveBytesLowerBound(iv).bytes;
}

// Two branches that each blow a small input up to 64 KiB and back down. In the model's node
// order both big intermediates are live together; finishing one branch first halves that.
// Each branch: [128,1] x [1,128] up to 64 KiB, then x [128,1] back down to 512 bytes.
const char* kTwoBranches =
    "tsir 1 opset 13\n"
    "input \"x\" f32[128,1]\n"
    "weight \"up\" f32[1,128] data=hex:" /* 512 bytes */;

std::string TwoBranchGraph() {
  std::string zeros_up(2 * 512, '0'), zeros_down(2 * 512, '0');
  return std::string(kTwoBranches) + zeros_up + "\n"
         "weight \"down\" f32[128,1] data=hex:" + zeros_down + "\n"
         "act \"a1\" f32[?]\nact \"b1\" f32[?]\nact \"a2\" f32[?]\nact \"b2\" f32[?]\n"
         "output \"y\" f32[?]\n"
         "node \"a_up\" MatMul(\"x\", \"up\") -> (\"a1\")\n"
         "node \"b_up\" MatMul(\"x\", \"up\") -> (\"b1\")\n"
         "node \"a_down\" MatMul(\"a1\", \"down\") -> (\"a2\")\n"
         "node \"b_down\" MatMul(\"b1\", \"down\") -> (\"b2\")\n"
         "node \"sum\" Add(\"a2\", \"b2\") -> (\"y\")\n"
         "inputs \"x\"\noutputs \"y\"\n";
}

TEST(MemoryAwareOrderTest, FinishesOneBranchBeforeStartingTheOther) {
  ir::Graph g = Parsed(TwoBranchGraph());
  auto model = TopologicalOrder(g);
  auto greedy = MemoryAwareOrder(g);
  ASSERT_TRUE(model.ok() && greedy.ok());
  EXPECT_EQ(*model, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(*greedy, (std::vector<int>{0, 2, 1, 3, 4}));
  // Model order peaks at b_up with a1 and b1 (64 KiB each) live; greedy peaks at b_up too, but
  // holds a2 (512 bytes) instead of a1: 65536 - 512 = 65024 bytes less.
  EXPECT_EQ(Bound(g, *model) - Bound(g, *greedy), 65024u);
}

TEST(MemoryAwareOrderTest, PipelineKeepsTheLowerBoundAndSaysSo) {
  auto cg = RunPipeline(ir::ParseGraph(TwoBranchGraph()).value(), {});
  ASSERT_TRUE(cg.ok()) << cg.status().ToString();
  EXPECT_EQ(cg->order, (std::vector<int>{0, 2, 1, 3, 4}));
  EXPECT_NE(cg->timings[2].note.find("memory-aware order lowers the live-bytes bound"), std::string::npos);
}

// Random DAGs: the greedy order is a valid topological order, and the pipeline's choice is
// never above the model order's bound.
TEST(MemoryAwareOrderTest, RandomDagsGiveValidOrdersNeverWorse) {
  std::mt19937 rng(99);
  int improved = 0;
  for (int trial = 0; trial < 200; ++trial) {
    const int n = 3 + static_cast<int>(rng() % 12);
    std::string text = "tsir 1 opset 13\ninput \"v0\" f32[4,4]\n";
    std::string nodes;
    for (int i = 1; i <= n; ++i) {
      const int a = static_cast<int>(rng() % i), b = static_cast<int>(rng() % i);
      text += std::string(i == n ? "output" : "act") + " \"v" + std::to_string(i) + "\" f32[?]\n";
      nodes += "node \"n" + std::to_string(i) + "\" Add(\"v" + std::to_string(a) + "\", \"v" +
               std::to_string(b) + "\") -> (\"v" + std::to_string(i) + "\")\n";
    }
    ir::Graph g = Parsed(text + nodes + "inputs \"v0\"\noutputs \"v" + std::to_string(n) + "\"\n");
    auto greedy = MemoryAwareOrder(g);
    ASSERT_TRUE(greedy.ok());
    ASSERT_EQ(greedy->size(), g.nodes.size());
    std::vector<int> position(g.nodes.size());
    for (size_t i = 0; i < greedy->size(); ++i) position[(*greedy)[i]] = static_cast<int>(i);
    const std::vector<int> producer = ir::Producers(g);
    for (size_t node = 0; node < g.nodes.size(); ++node) {
      for (int v : g.nodes[node].inputs) {
        if (producer[v] >= 0) {
          ASSERT_LT(position[producer[v]], position[node]) << "trial " << trial;
        }
      }
    }
    auto model = TopologicalOrder(g);
    auto cg = RunPipeline(g, {});
    ASSERT_TRUE(cg.ok());
    std::vector<Interval> iv;
    for (const Buffer& b : cg->liveness.buffers) iv.push_back(b.live);
    EXPECT_LE(LiveBytesLowerBound(iv).bytes, Bound(g, *model)) << "trial " << trial;
    improved += LiveBytesLowerBound(iv).bytes < Bound(g, *model);
  }
  EXPECT_GT(improved, 0) << "no random DAG benefited: the property test would not notice a regression";
}

}  // namespace
}  // namespace ts::passes
