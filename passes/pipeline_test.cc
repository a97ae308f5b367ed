#include "passes/pipeline.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ir/text.h"

namespace ts::passes {
namespace {

// gmock is not linked (see third_party/system), so substring checks are spelled out.
#define EXPECT_CONTAINS(text, part) \
  EXPECT_NE(std::string(text).find(part), std::string::npos) << "in: " << (text) << "\n"

std::string Zeros(int64_t bytes) { return "data=hex:" + std::string(2 * bytes, '0'); }

// A two-layer MLP, batch 8: 16 -> 32 (ReLU) -> 4, as the importer leaves it (shapes unknown).
ir::Graph SmallMlp() {
  auto g = ir::ParseGraph(
      "tsir 1 opset 13\n"
      "input \"x\" f32[8,16]\n"
      "weight \"w1\" f32[16,32] " + Zeros(16 * 32 * 4) + "\n"
      "weight \"b1\" f32[32] " + Zeros(32 * 4) + "\n"
      "weight \"w2\" f32[32,4] " + Zeros(32 * 4 * 4) + "\n"
      "weight \"b2\" f32[4] " + Zeros(4 * 4) + "\n"
      "act \"h1\" f32[?]\n"
      "act \"a1\" f32[?]\n"
      "act \"r1\" f32[?]\n"
      "act \"h2\" f32[?]\n"
      "output \"y\" f32[?]\n"
      "node \"mm1\" MatMul(\"x\", \"w1\") -> (\"h1\")\n"
      "node \"add1\" Add(\"h1\", \"b1\") -> (\"a1\")\n"
      "node \"relu1\" Relu(\"a1\") -> (\"r1\")\n"
      "node \"mm2\" MatMul(\"r1\", \"w2\") -> (\"h2\")\n"
      "node \"add2\" Add(\"h2\", \"b2\") -> (\"y\")\n"
      "inputs \"x\"\n"
      "outputs \"y\"\n");
  EXPECT_TRUE(g.ok()) << g.status().ToString();
  return g.ok() ? *std::move(g) : ir::Graph();
}

// After fusion (add1+relu1 become "relu1"), the buffers in value order and their plan:
//   buffer  bytes  aligned  live   offset   why
//   x        512    512    [0,0]   3072    above w1, h1 (r1 is not live yet)
//   w1      2048   2048    [0,3]      0    largest, placed first
//   b1       128    128    [0,3]   4608    above everything live throughout
//   w2       512    512    [0,3]   4096    above w1, h1, r1, x
//   b2        16     64    [0,3]   4736    last (smallest), on top
//   h1      1024   1024    [0,1]   2048    above w1
//   r1      1024   1024    [1,2]   3072    above w1, h1
//   h2       128    128    [2,3]   2048    h1's slot, free after step 1
//   y        128    128    [3,3]   2176    above h2 in the same slot
// Resident weights: 2048 + 128 + 512 + 64 = 2752 aligned. Live per step: 4288, 4800 (h1, r1),
// 3904, 3008: the bound is 4800 at step 1, "relu1", and the arena reaches it.
constexpr uint64_t kArena = 4800;
// Each weight takes one 4096-byte file block: 16384 bytes, so one 16384-byte staging chunk.
constexpr uint64_t kStaging = 16384;
constexpr uint64_t kTotal = kArena + kStaging;

TEST(RunPipelineTest, SmallMlpArenaLowerBoundAndPeak) {
  auto cg = RunPipeline(SmallMlp(), {});
  ASSERT_TRUE(cg.ok()) << cg.status().ToString();
  EXPECT_EQ(cg->order, (std::vector<int>{0, 1, 2, 3}));
  ASSERT_EQ(cg->liveness.buffers.size(), 9u);
  EXPECT_EQ(cg->offsets.offsets,
            (std::vector<uint64_t>{3072, 0, 4608, 4096, 4736, 2048, 3072, 2048, 2176}));
  EXPECT_EQ(cg->offsets.arena_bytes, kArena);
  EXPECT_EQ(cg->lower_bound.bytes, 4800u);
  EXPECT_EQ(cg->lower_bound.step, 1);
  EXPECT_EQ(cg->peak_node, "relu1");
  EXPECT_EQ(cg->resident_weight_bytes, 2048u + 128 + 512 + 16);
  EXPECT_EQ(cg->io_chunk_bytes, kStaging);
  EXPECT_EQ(cg->io_queue_depth, 1u);
  EXPECT_EQ(cg->TotalBytes(), kTotal);
}

// With a profile, the timeline is predicted; with everything resident it is all compute, and
// a budget that forces streaming adds reads and (with this slow disk) stalls.
TEST(RunPipelineTest, PredictionWithAProfile) {
  HardwareProfile p;
  p.name = "test";
  p.peak_flops_fp32 = 1e9;
  p.device_memory_bandwidth = 1e9;
  p.nvme.read_bandwidth = 1e6;  // 1 MB/s: any load stalls
  PipelineOptions options;
  options.profile = &p;
  auto cg = RunPipeline(SmallMlp(), options);
  ASSERT_TRUE(cg.ok()) << cg.status().ToString();
  ASSERT_TRUE(cg->predicted.has_value());
  EXPECT_EQ(cg->timings.back().pass, "predict");
  EXPECT_EQ(cg->predicted->transfer_s, 0);
  EXPECT_DOUBLE_EQ(cg->predicted->total_s, cg->predicted->compute_s);
  EXPECT_GT(cg->predicted->compute_s, 0);
  options.budget_bytes = kArena + 4096 - 1;  // forces streaming (see above)
  auto streamed = RunPipeline(SmallMlp(), options);
  ASSERT_TRUE(streamed.ok()) << streamed.status().ToString();
  EXPECT_GT(streamed->predicted->transfer_s, 0);
  EXPECT_GT(streamed->predicted->total_s, cg->predicted->total_s);
  // Each streamed weight is read as whole 4096-byte blocks; this profile has no read latency.
  double read_bytes = 0;
  for (size_t b = 0; b < streamed->liveness.buffers.size(); ++b) {
    if (streamed->streamed[b]) read_bytes += AlignUp(streamed->liveness.buffers[b].bytes, 4096);
  }
  EXPECT_NEAR(streamed->predicted->transfer_s, read_bytes / p.nvme.read_bandwidth, 1e-12);
}

TEST(RunPipelineTest, TimingsListThePassesInOrder) {
  auto cg = RunPipeline(SmallMlp(), {});
  ASSERT_TRUE(cg.ok()) << cg.status().ToString();
  std::vector<std::string> names;
  for (const PassTiming& t : cg->timings) {
    names.push_back(t.pass);
    EXPECT_GE(t.ms, 0.0) << t.pass;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"shape-inference", "fusion", "order", "liveness",
                                             "memory-plan"}));
  // "predict" runs only with a profile.
  EXPECT_EQ(names, std::vector<std::string>(PassNames().begin(), PassNames().end() - 1));
  EXPECT_EQ(PassNames().back(), "predict");
  ASSERT_EQ(cg->timings.size(), 5u);
  EXPECT_EQ(cg->timings[1].note, "1 elementwise ops folded into their consumers, 0 transposes into matrix products, "
            "0 batch normalizations into convolutions, 2 matrix product weights blocked by 64 columns");
  EXPECT_EQ(cg->timings[2].note, "4 nodes");
  EXPECT_EQ(cg->timings[3].note, "9 buffers over 4 steps");
}

// One byte under: everything stays resident, with the smallest staging (one 4096-byte chunk).
TEST(RunPipelineTest, BudgetOneByteUnderTheTotalShrinksStagingFirst) {
  PipelineOptions options;
  options.budget_bytes = kTotal - 1;
  auto cg = RunPipeline(SmallMlp(), options);
  ASSERT_TRUE(cg.ok()) << cg.status().ToString();
  EXPECT_EQ(cg->streamed_bytes, 0u);
  EXPECT_EQ(cg->io_chunk_bytes, 4096u);
  EXPECT_EQ(cg->TotalBytes(), kArena + 4096);
}

// Below everything-resident: weights stream, and the plan still fits.
TEST(RunPipelineTest, TighterBudgetStreamsWeightsAndFits) {
  PipelineOptions options;
  options.budget_bytes = kArena + 4096 - 1;
  auto cg = RunPipeline(SmallMlp(), options);
  ASSERT_TRUE(cg.ok()) << cg.status().ToString();
  EXPECT_GT(cg->streamed_bytes, 0u);
  EXPECT_LE(cg->TotalBytes(), options.budget_bytes);
}

// The minimum feasible budget named by the error fits exactly; one byte less does not.
TEST(RunPipelineTest, MinimumFeasibleBudgetIsExact) {
  PipelineOptions options;
  options.budget_bytes = 1;
  auto cg = RunPipeline(SmallMlp(), options);
  ASSERT_FALSE(cg.ok());
  EXPECT_EQ(cg.status().code(), Code::kDoesNotFit);
  const std::string& msg = cg.status().message();
  const std::string key = "the minimum feasible budget is ";
  size_t at = msg.find(key);
  ASSERT_NE(at, std::string::npos) << msg;
  const uint64_t minimum = std::stoull(msg.substr(at + key.size()));
  EXPECT_CONTAINS(msg, "weights streamed, prefetch");
  options.budget_bytes = minimum;
  auto fits = RunPipeline(SmallMlp(), options);
  ASSERT_TRUE(fits.ok()) << fits.status().ToString();
  EXPECT_EQ(fits->TotalBytes(), minimum);
  options.budget_bytes = minimum - 1;
  auto under = RunPipeline(SmallMlp(), options);
  ASSERT_FALSE(under.ok());
  EXPECT_EQ(under.status().code(), Code::kDoesNotFit);
}

TEST(RunPipelineTest, BudgetExactlyTheTotalFits) {
  PipelineOptions options;
  options.budget_bytes = kTotal;
  auto cg = RunPipeline(SmallMlp(), options);
  ASSERT_TRUE(cg.ok()) << cg.status().ToString();
  EXPECT_EQ(cg->TotalBytes(), options.budget_bytes);
}

TEST(RunPipelineTest, DumpAfterFusionShowsTheFusedGraph) {
  PipelineOptions options;
  options.dump_after = "fusion";
  auto cg = RunPipeline(SmallMlp(), options);
  ASSERT_TRUE(cg.ok()) << cg.status().ToString();
  EXPECT_EQ(cg->dump,
            "tsir 1 opset 13\n"
            "input \"x\" f32[8,16]\n"
            "weight \"w1\" f32[16,32] data=elided\n"
            "weight \"b1\" f32[32] data=elided\n"
            "weight \"w2\" f32[32,4] data=elided\n"
            "weight \"b2\" f32[4] data=elided\n"
            "act \"h1\" f32[8,32]\n"
            "act \"r1\" f32[8,32]\n"
            "act \"h2\" f32[8,4]\n"
            "output \"y\" f32[8,4]\n"
            "node \"mm1\" MatMul(\"x\", \"w1\") -> (\"h1\") {weight_layout=s:\"blocked64\"}\n"
            "node \"relu1\" Elementwise(\"h1\", \"b1\") -> (\"r1\") "
            "{ops=i:2, program=s:\"$0 $1 Add Relu\"}\n"
            "node \"mm2\" MatMul(\"r1\", \"w2\") -> (\"h2\") {weight_layout=s:\"blocked64\"}\n"
            "node \"add2\" Elementwise(\"h2\", \"b2\") -> (\"y\") "
            "{ops=i:1, program=s:\"$0 $1 Add\"}\n"
            "inputs \"x\"\n"
            "outputs \"y\"\n");
}

TEST(RunPipelineTest, ShapeErrorsComeBackAsBadInput) {
  auto g = ir::ParseGraph(
      "tsir 1 opset 13\n"
      "input \"x\" f32[8,16]\n"
      "weight \"w\" f32[8,4] " + Zeros(8 * 4 * 4) + "\n"
      "output \"y\" f32[?]\n"
      "node \"mm\" MatMul(\"x\", \"w\") -> (\"y\")\n"
      "inputs \"x\"\n"
      "outputs \"y\"\n");
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  auto cg = RunPipeline(*std::move(g), {});
  ASSERT_FALSE(cg.ok());
  EXPECT_EQ(cg.status().code(), Code::kBadInput);
  EXPECT_CONTAINS(cg.status().message(),
                  "node 'mm' (MatMul): inner dimensions differ: A is f32[8,16], B is f32[8,4]");
}

}  // namespace
}  // namespace ts::passes
