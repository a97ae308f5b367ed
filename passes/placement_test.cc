// The placement guarantee as a property: over random graphs and budgets, every budget at or
// above the minimum feasible total gets a plan within it, and every budget below it is refused.
#include "passes/placement.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>

#include "ir/text.h"
#include "passes/pipeline.h"

namespace ts::passes {
namespace {

std::string Zeros(int64_t bytes) { return "data=hex:" + std::string(2 * bytes, '0'); }

// A random MLP-like chain: MatMul + bias Add + activation per layer, widths in [1, 48],
// sometimes a skip connection between layers of equal width.
ir::Graph RandomGraph(std::mt19937& rng) {
  std::uniform_int_distribution<int> width(1, 48), layers(1, 6), coin(0, 1);
  const int batch = 1 + static_cast<int>(rng() % 8);
  std::vector<int> dims = {width(rng)};
  const int n = layers(rng);
  for (int i = 0; i < n; ++i) dims.push_back(coin(rng) && i > 0 ? dims.back() : width(rng));
  std::string values = "input \"x\" f32[" + std::to_string(batch) + "," + std::to_string(dims[0]) + "]\n";
  std::string nodes;
  std::string prev = "x";
  for (int i = 0; i < n; ++i) {
    const std::string l = std::to_string(i);
    values += "weight \"w" + l + "\" f32[" + std::to_string(dims[i]) + "," + std::to_string(dims[i + 1]) +
              "] " + Zeros(4LL * dims[i] * dims[i + 1]) + "\n";
    values += "weight \"b" + l + "\" f32[" + std::to_string(dims[i + 1]) + "] " + Zeros(4LL * dims[i + 1]) + "\n";
    values += "act \"m" + l + "\" f32[?]\nact \"a" + l + "\" f32[?]\n";
    nodes += "node \"mm" + l + "\" MatMul(\"" + prev + "\", \"w" + l + "\") -> (\"m" + l + "\")\n";
    nodes += "node \"add" + l + "\" Add(\"m" + l + "\", \"b" + l + "\") -> (\"a" + l + "\")\n";
    std::string out = i + 1 == n ? "y" : "h" + l;
    values += (i + 1 == n ? "output \"" : "act \"") + out + "\" f32[?]\n";
    if (i > 0 && dims[i] == dims[i + 1] && coin(rng)) {
      nodes += "node \"skip" + l + "\" Add(\"a" + l + "\", \"" + prev + "\") -> (\"" + out + "\")\n";
    } else {
      nodes += "node \"act" + l + "\" Relu(\"a" + l + "\") -> (\"" + out + "\")\n";
    }
    prev = out;
  }
  auto g = ir::ParseGraph("tsir 1 opset 13\n" + values + nodes + "inputs \"x\"\noutputs \"y\"\n");
  EXPECT_TRUE(g.ok()) << g.status().ToString();
  return g.ok() ? *std::move(g) : ir::Graph();
}

uint64_t MinimumFrom(const Status& s) {
  const std::string key = "the minimum feasible budget is ";
  size_t at = s.message().find(key);
  EXPECT_NE(at, std::string::npos) << s.message();
  return at == std::string::npos ? 0 : std::stoull(s.message().substr(at + key.size()));
}

TEST(PlacementPropertyTest, EveryBudgetAtOrAboveTheMinimumFitsAndBelowIsRefused) {
  std::mt19937 rng(20261122);
  int streamed_plans = 0;
  for (int trial = 0; trial < 60; ++trial) {
    const ir::Graph g = RandomGraph(rng);
    auto unbudgeted = RunPipeline(g, {});
    ASSERT_TRUE(unbudgeted.ok()) << unbudgeted.status().ToString();
    const uint64_t max = unbudgeted->TotalBytes();
    PipelineOptions options;
    options.budget_bytes = 1;
    auto refused = RunPipeline(g, options);
    ASSERT_FALSE(refused.ok());
    ASSERT_EQ(refused.status().code(), Code::kDoesNotFit);
    const uint64_t min = MinimumFrom(refused.status());
    ASSERT_GT(min, 0u);
    ASSERT_LE(min, max);

    std::vector<uint64_t> budgets = {min, max, min + (max - min) / 2, min + (max - min) / 4};
    for (int i = 0; i < 6; ++i) budgets.push_back(min + rng() % (max - min + 1));
    for (uint64_t budget : budgets) {
      options.budget_bytes = budget;
      auto cg = RunPipeline(g, options);
      ASSERT_TRUE(cg.ok()) << "trial " << trial << " budget " << budget << " (min " << min
                           << ", max " << max << "): " << cg.status().ToString();
      EXPECT_LE(cg->TotalBytes(), budget) << "trial " << trial;
      streamed_plans += cg->streamed_bytes > 0;
    }
    options.budget_bytes = min - 1;
    auto under = RunPipeline(g, options);
    ASSERT_FALSE(under.ok()) << "trial " << trial << ": one byte under the minimum fitted";
    EXPECT_EQ(under.status().code(), Code::kDoesNotFit);
  }
  // The property is only interesting if budgets forced streaming in many plans.
  EXPECT_GT(streamed_plans, 100);
}

TEST(PlacementTest, StreamedWeightsLiveFromTheirLoadToTheirLastUse) {
  std::mt19937 rng(7);
  const ir::Graph g = RandomGraph(rng);
  auto unbudgeted = RunPipeline(g, {});
  ASSERT_TRUE(unbudgeted.ok());
  PipelineOptions options;
  options.budget_bytes = 1;
  const uint64_t min = MinimumFrom(RunPipeline(g, options).status());
  options.budget_bytes = min;
  auto cg = RunPipeline(g, options);
  ASSERT_TRUE(cg.ok()) << cg.status().ToString();
  int streamed = 0;
  for (size_t b = 0; b < cg->liveness.buffers.size(); ++b) {
    const Buffer& buf = cg->liveness.buffers[b];
    if (!buf.resident || !cg->streamed[b]) continue;
    ++streamed;
    EXPECT_GE(cg->load_step[b], 0) << buf.name;
    EXPECT_LE(cg->load_step[b], std::max<int64_t>(buf.use.first - cg->prefetch_distance, 0)) << buf.name;
  }
  EXPECT_GT(streamed, 0) << "the minimum of this graph streams weights";
  EXPECT_LT(cg->TotalBytes(), unbudgeted->TotalBytes());
}

// Between the minimum and everything resident there is room to read ahead: loads move earlier
// than the prefetch distance, in the order of first use, and the plan still fits.
TEST(PlacementTest, LoadsStartAsEarlyAsTheBudgetAllows) {
  std::mt19937 rng(20261123);
  int moved = 0, plans = 0;
  for (int trial = 0; trial < 40; ++trial) {
    const ir::Graph g = RandomGraph(rng);
    auto unbudgeted = RunPipeline(g, {});
    ASSERT_TRUE(unbudgeted.ok());
    PipelineOptions options;
    options.budget_bytes = 1;
    const uint64_t min = MinimumFrom(RunPipeline(g, options).status());
    for (int eighth = 0; eighth < 8; ++eighth) {
      options.budget_bytes = min + (unbudgeted->TotalBytes() - min) * eighth / 8;
      auto cg = RunPipeline(g, options);
      ASSERT_TRUE(cg.ok()) << cg.status().ToString();
      ASSERT_LE(cg->TotalBytes(), options.budget_bytes);
      if (cg->streamed_bytes == 0) continue;
      ++plans;
      std::vector<std::pair<int64_t, int64_t>> first_use_and_load;
      for (size_t b = 0; b < cg->liveness.buffers.size(); ++b) {
        if (!cg->streamed[b]) continue;
        const Buffer& buf = cg->liveness.buffers[b];
        const int64_t at_distance = std::max<int64_t>(buf.use.first - cg->prefetch_distance, 0);
        EXPECT_LE(cg->load_step[b], at_distance) << buf.name;
        moved += cg->load_step[b] < at_distance;
        first_use_and_load.push_back({buf.use.first, cg->load_step[b]});
      }
      std::sort(first_use_and_load.begin(), first_use_and_load.end());
      for (size_t i = 1; i < first_use_and_load.size(); ++i) {
        EXPECT_LE(first_use_and_load[i - 1].second, first_use_and_load[i].second) << "trial " << trial;
      }
    }
  }
  EXPECT_GT(plans, 10);
  EXPECT_GT(moved, 10) << "read-ahead never moved a load";
}

// An embedding-like weight `e`, the largest, is needed by the first step; four smaller ones
// follow, each after a long step. Largest first streams `e`, whose read nothing can hide; with
// a profile the planner keeps `e` resident and streams later weights, whose reads hide.
TEST(PlacementTest, WithAProfileTheWeightNeededFirstStaysResident) {
  std::string text = "tsir 1 opset 13\ninput \"x\" f32[1,1024]\nweight \"e\" f32[1024,256] " +
                     Zeros(4 * 1024 * 256) + "\nact \"h0\" f32[?]\n";
  std::string nodes = "node \"emb\" MatMul(\"x\", \"e\") -> (\"h0\")\n";
  for (int i = 1; i <= 4; ++i) {
    const std::string l = std::to_string(i), prev = "h" + std::to_string(i - 1);
    text += "weight \"w" + l + "\" f32[256,256] " + Zeros(4 * 256 * 256) + "\n";
    text += (i == 4 ? "output \"" : "act \"") + std::string("h") + l + "\" f32[?]\n";
    nodes += "node \"mm" + l + "\" MatMul(\"" + prev + "\", \"w" + l + "\") -> (\"h" + l + "\")\n";
  }
  auto g = ir::ParseGraph(text + nodes + "inputs \"x\"\noutputs \"h4\"\n");
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  HardwareProfile slow;  // 1 MFLOP/s: each 256x256 product takes 131 ms; reads 1 GB/s
  slow.name = "slow";
  slow.target = "cpu";
  slow.peak_flops_fp32 = 1e6;
  slow.device_memory_bandwidth = 1e12;
  slow.nvme.read_bandwidth = 1e9;
  PipelineOptions options;
  options.budget_bytes = 1792 * 1024;  // weights are 2 MiB
  auto by_size = RunPipeline(*g, options);
  ASSERT_TRUE(by_size.ok()) << by_size.status().ToString();
  options.profile = &slow;
  auto timed = RunPipeline(*g, options);
  ASSERT_TRUE(timed.ok()) << timed.status().ToString();
  EXPECT_LE(timed->TotalBytes(), options.budget_bytes);
  auto streamed = [](const CompiledGraph& cg, const std::string& name) {
    for (size_t b = 0; b < cg.liveness.buffers.size(); ++b) {
      if (cg.liveness.buffers[b].name == name) return static_cast<bool>(cg.streamed[b]);
    }
    ADD_FAILURE() << "no buffer " << name;
    return false;
  };
  EXPECT_TRUE(streamed(*by_size, "e"));
  EXPECT_FALSE(streamed(*timed, "e"));
  EXPECT_GT(timed->streamed_bytes, 0u);
  ASSERT_TRUE(timed->predicted.has_value());
  EXPECT_NEAR(timed->predicted->stall_s, 0, 1e-9) << "the streamed weights' reads hide behind compute";
}

}  // namespace
}  // namespace ts::passes
