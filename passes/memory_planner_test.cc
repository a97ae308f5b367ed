#include "passes/memory_planner.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace ts::passes {
namespace {

// gmock is not linked (see third_party/system), so substring checks are spelled out.
#define EXPECT_CONTAINS(text, part) \
  EXPECT_NE(std::string(text).find(part), std::string::npos) << "in: " << (text) << "\n"

// Plans, then checks the plan with the overlap checker, as every planner test must.
OffsetPlan PlanAndCheck(const std::vector<Interval>& intervals, uint64_t alignment = 64) {
  OffsetPlan plan = PlanOffsets(intervals, alignment);
  Status st = CheckNoOverlap(intervals, plan, alignment);
  EXPECT_TRUE(st.ok()) << st.ToString() << "\n" << DrawPlan(intervals, plan);
  return plan;
}

TEST(AlignUpTest, RoundsUpToTheNextMultiple) {
  EXPECT_EQ(AlignUp(0, 64), 0u);
  EXPECT_EQ(AlignUp(1, 64), 64u);
  EXPECT_EQ(AlignUp(64, 64), 64u);
  EXPECT_EQ(AlignUp(65, 64), 128u);
  EXPECT_EQ(AlignUp(100, 16), 112u);
}

TEST(PlanOffsetsTest, EmptyInputGivesAnEmptyArena) {
  OffsetPlan plan = PlanAndCheck({});
  EXPECT_TRUE(plan.offsets.empty());
  EXPECT_EQ(plan.arena_bytes, 0u);
}

TEST(PlanOffsetsTest, BuffersDisjointInTimeShareOffsetZero) {
  //                    first last bytes
  OffsetPlan plan = PlanAndCheck({{0, 0, 128}, {1, 1, 256}, {2, 2, 64}});
  EXPECT_EQ(plan.offsets, (std::vector<uint64_t>{0, 0, 0}));
  EXPECT_EQ(plan.arena_bytes, 256u);
}

TEST(PlanOffsetsTest, BestFitTakesTheSmallestGapThatFits) {
  const std::vector<Interval> intervals = {
      {0, 0, 64},   // 0 "a"
      {0, 1, 64},   // 1 "b"
      {0, 2, 64},   // 2 "c"
      {0, 0, 64},   // 3 "t": the buffer under test
      {1, 1, 192},  // 4 frame at step 1
      {2, 2, 320},  // 5 frame at step 2
  };
  // Placement order: 5 (320), 4 (192), then the 64-byte buffers by index (all start at 0).
  //   5 [2,2]: nothing placed                                         -> 0
  //   4 [1,1]: 5 is at another step                                   -> 0
  //   0 [0,0]: overlaps neither frame                                 -> 0
  //   1 [0,1]: overlaps 4 [0,192) and 0 [0,64)                        -> 192 (above them)
  //   2 [0,2]: overlaps 5 [0,320), 4, 0, 1                            -> 320 (above them)
  //   3 [0,0]: overlaps 0 [0,64), 1 [192,256), 2 [320,384); gaps are [64,192) (128 bytes)
  //            and [256,320) (64 bytes): best fit takes the 64-byte gap -> 256 (first fit: 64)
  OffsetPlan plan = PlanAndCheck(intervals);
  EXPECT_EQ(plan.offsets, (std::vector<uint64_t>{0, 192, 320, 256, 0, 0}));
  EXPECT_EQ(plan.arena_bytes, 384u);  // 2 ends at 384
}

TEST(PlanOffsetsTest, TooSmallGapIsSkipped) {
  const std::vector<Interval> intervals = {
      {0, 1, 256},  // 0
      {1, 2, 192},  // 1
      {2, 3, 128},  // 2
      {3, 4, 192},  // 3
  };
  // Order: 0, 1 (192, first 1), 3 (192, first 3), 2 (128).
  //   0 [0,1]                                             -> 0
  //   1 [1,2]: overlaps 0 [0,256)                         -> 256
  //   3 [3,4]: overlaps nothing placed                    -> 0
  //   2 [2,3]: overlaps 1 [256,448) and 3 [0,192); the gap [192,256) is 64 bytes, too small
  //            for 128                                    -> 448 (above them)
  OffsetPlan plan = PlanAndCheck(intervals);
  EXPECT_EQ(plan.offsets, (std::vector<uint64_t>{0, 256, 448, 0}));
  EXPECT_EQ(plan.arena_bytes, 576u);
  // The bound is 448 (step 1: 0 and 1): greedy loses 128 bytes here.
  EXPECT_EQ(LiveBytesLowerBound(intervals).bytes, 448u);
}

// The orders PlanOffsets tries, each checked like PlanAndCheck.
OffsetPlan InOrderAndCheck(const std::vector<Interval>& intervals, const std::vector<size_t>& order) {
  OffsetPlan plan = PlanOffsetsInOrder(intervals, order);
  Status st = CheckNoOverlap(intervals, plan, kArenaAlignment);
  EXPECT_TRUE(st.ok()) << st.ToString() << "\n" << DrawPlan(intervals, plan);
  return plan;
}

TEST(PlanOffsetsTest, BusiestStepFirstPacksThePeakStepTogether) {
  const std::vector<Interval> intervals = {
      {0, 3, 128},  // 0
      {4, 4, 256},  // 1
      {3, 3, 192},  // 2
      {2, 2, 128},  // 3
      {2, 2, 128},  // 4
  };
  // Live per step: 128, 128, 384 (0, 3, 4), 320 (0, 2), 256 (1).
  EXPECT_EQ(LiveBytesLowerBound(intervals).bytes, 384u);
  // Largest first: 1 -> 0, 2 -> 0, 0 -> 192 (above 2), 3 -> 0 (below 0), and 4 finds only the
  // 64-byte gap [128,192) below 0 -> 320: arena 448.
  EXPECT_EQ(LargestFirst(intervals), (std::vector<size_t>{1, 2, 0, 3, 4}));
  OffsetPlan by_size = InOrderAndCheck(intervals, LargestFirst(intervals));
  EXPECT_EQ(by_size.offsets, (std::vector<uint64_t>{192, 0, 0, 0, 320}));
  EXPECT_EQ(by_size.arena_bytes, 448u);
  // Busiest step first: the buffers of step 2 (busiest at 384: 0, 3, 4) stack from 0, then 2
  // (busiest at 320) above 0, then 1: arena 384, the bound.
  EXPECT_EQ(BusiestStepFirst(intervals), (std::vector<size_t>{0, 3, 4, 2, 1}));
  OffsetPlan by_step = InOrderAndCheck(intervals, BusiestStepFirst(intervals));
  EXPECT_EQ(by_step.offsets, (std::vector<uint64_t>{0, 0, 128, 128, 256}));
  EXPECT_EQ(by_step.arena_bytes, 384u);
  // PlanOffsets keeps the smaller.
  EXPECT_EQ(PlanAndCheck(intervals).offsets, by_step.offsets);
}

TEST(PlanOffsetsTest, LongestLivedFirstWinsWhereTheOthersFragment) {
  const std::vector<Interval> intervals = {
      {0, 3, 128},  // 0
      {2, 4, 128},  // 1
      {1, 1, 256},  // 2
      {4, 4, 192},  // 3
  };
  EXPECT_EQ(LongestLivedFirst(intervals), (std::vector<size_t>{0, 1, 2, 3}));
  EXPECT_EQ(InOrderAndCheck(intervals, LargestFirst(intervals)).arena_bytes, 512u);
  EXPECT_EQ(InOrderAndCheck(intervals, BusiestStepFirst(intervals)).arena_bytes, 512u);
  // 0 -> 0, 1 -> 128 (above 0), 2 -> 128 (above 0), 3 -> 256 (above 1; the 128 bytes below
  // it are too few): arena 448.
  OffsetPlan by_life = InOrderAndCheck(intervals, LongestLivedFirst(intervals));
  EXPECT_EQ(by_life.offsets, (std::vector<uint64_t>{0, 128, 128, 256}));
  EXPECT_EQ(by_life.arena_bytes, 448u);
  EXPECT_EQ(PlanAndCheck(intervals).arena_bytes, 448u);
  // Still above the bound (384 at step 1: 0 and 2): greedy orders are heuristics.
  EXPECT_EQ(LiveBytesLowerBound(intervals).bytes, 384u);
}

TEST(PlanOffsetsTest, EqualSizesArePlacedByFirstUseThenIndex) {
  // All live together, so each goes above the previous one; the order shows in the offsets.
  const std::vector<Interval> intervals = {{2, 5, 64}, {0, 5, 64}, {2, 5, 64}};
  OffsetPlan plan = PlanAndCheck(intervals);
  // Order: 1 (first 0), 0 (first 2, index 0), 2 (first 2, index 2).
  EXPECT_EQ(plan.offsets, (std::vector<uint64_t>{64, 0, 128}));
  EXPECT_EQ(plan.arena_bytes, 192u);
}

TEST(PlanOffsetsTest, OffsetsAreAlignedAndSizesRoundedUp) {
  // All live at step 0. Order by raw size: 100, 65, 1.
  const std::vector<Interval> intervals = {{0, 0, 1}, {0, 0, 65}, {0, 0, 100}};
  OffsetPlan plan = PlanAndCheck(intervals);
  // 100 -> [0,128), 65 -> [128,256), 1 -> [256,320).
  EXPECT_EQ(plan.offsets, (std::vector<uint64_t>{256, 128, 0}));
  EXPECT_EQ(plan.arena_bytes, 320u);

  // Alignment 16: 100 -> [0,112), 65 -> [112,192), 1 -> [192,208).
  OffsetPlan plan16 = PlanAndCheck(intervals, 16);
  EXPECT_EQ(plan16.offsets, (std::vector<uint64_t>{192, 112, 0}));
  EXPECT_EQ(plan16.arena_bytes, 208u);
}

TEST(PlanOffsetsTest, ZeroByteBuffersTakeNoSpace) {
  // Alone: offset 0, arena 0.
  OffsetPlan alone = PlanAndCheck({{0, 3, 0}});
  EXPECT_EQ(alone.offsets, (std::vector<uint64_t>{0}));
  EXPECT_EQ(alone.arena_bytes, 0u);

  // Zero-byte buffers are placed last and need no gap:
  //   0 [0,0] -> 0;  1 [0,1]: overlaps 0 -> 64;  3 [1,2]: overlaps only 1 [64,128) -> 0.
  //   2 [0,2] 0 bytes: overlaps 0 [0,64), 3 [0,64), 1 [64,128): no gap -> 128, the arena's end,
  //   which leaves the arena at 128.
  const std::vector<Interval> intervals = {{0, 0, 64}, {0, 1, 64}, {0, 2, 0}, {1, 2, 64}};
  OffsetPlan plan = PlanAndCheck(intervals);
  EXPECT_EQ(plan.offsets, (std::vector<uint64_t>{0, 64, 128, 0}));
  EXPECT_EQ(plan.arena_bytes, 128u);
  EXPECT_EQ(LiveBytesLowerBound(intervals).bytes, 128u);
}

TEST(PlanOffsetsTest, ChainIsPlannedAtTheLowerBound) {
  // a -> [n0] -> b -> [n1] -> c: a lives at step 0, b over both steps, c at step 1.
  const std::vector<Interval> chain = {{0, 0, 1000}, {0, 1, 2000}, {1, 1, 1000}};
  OffsetPlan plan = PlanAndCheck(chain);
  // b (2048 aligned) at 0; a and c (1024 each) never meet, both sit above b.
  EXPECT_EQ(plan.offsets, (std::vector<uint64_t>{2048, 0, 2048}));
  EXPECT_EQ(plan.arena_bytes, 3072u);
  LiveBound bound = LiveBytesLowerBound(chain);
  EXPECT_EQ(bound.bytes, 3072u);
  EXPECT_EQ(bound.step, 0);
  EXPECT_EQ(plan.arena_bytes, bound.bytes);
}

TEST(LiveBytesLowerBoundTest, EmptyIsZeroAtStepZero) {
  LiveBound bound = LiveBytesLowerBound({});
  EXPECT_EQ(bound.bytes, 0u);
  EXPECT_EQ(bound.step, 0);
}

TEST(LiveBytesLowerBoundTest, SumsAlignedBytesAtThePeakStep) {
  // step 0: 128; step 1: 128 + 64 = 192; step 2: 128 + 256 = 384; step 3: 256 + 64 = 320.
  LiveBound bound = LiveBytesLowerBound({{0, 2, 100}, {1, 1, 64}, {2, 3, 200}, {3, 3, 10}});
  EXPECT_EQ(bound.bytes, 384u);
  EXPECT_EQ(bound.step, 2);
}

TEST(LiveBytesLowerBoundTest, TiesReportTheFirstStep) {
  // 128 at step 0, 64 at step 1, 128 again at step 2.
  LiveBound bound = LiveBytesLowerBound({{0, 0, 128}, {1, 1, 64}, {2, 2, 128}});
  EXPECT_EQ(bound.bytes, 128u);
  EXPECT_EQ(bound.step, 0);
}

TEST(LiveBytesLowerBoundTest, PeakMayStartAfterStepZeroAndUsesTheAlignment) {
  LiveBound bound = LiveBytesLowerBound({{5, 7, 10}});
  EXPECT_EQ(bound.bytes, 64u);
  EXPECT_EQ(bound.step, 5);
  EXPECT_EQ(LiveBytesLowerBound({{5, 7, 10}}, 16).bytes, 16u);
}

// ResNet-18 layer2.0 (the first downsampling basic block), batch 1, f32, batch norm folded
// into the convolutions, biases left out: the buffers and intervals that liveness produces
// for its six steps
//   0 conv1 3x3/2 (x -> c1)   1 relu (c1 -> r1)   2 conv2 3x3 (r1 -> c2)
//   3 downsample 1x1/2 (x -> d)   4 add (c2, d -> s)   5 relu (s -> y)
// with the three weights resident throughout.
const std::vector<Interval>& ResNetDownsampleBlock() {
  static const std::vector<Interval> table = {
      {0, 3, 802816},  // 0 x   [1,64,56,56]
      {0, 5, 294912},  // 1 w1  [128,64,3,3]
      {0, 1, 401408},  // 2 c1  [1,128,28,28]
      {1, 2, 401408},  // 3 r1
      {0, 5, 589824},  // 4 w2  [128,128,3,3]
      {2, 4, 401408},  // 5 c2
      {0, 5, 32768},   // 6 wd  [128,64,1,1]
      {3, 4, 401408},  // 7 d
      {4, 5, 401408},  // 8 s
      {5, 5, 401408},  // 9 y
  };
  return table;
}

TEST(PlanOffsetsTest, ResNetDownsampleBlockPacksAtTheLowerBound) {
  const auto& table = ResNetDownsampleBlock();
  OffsetPlan plan = PlanAndCheck(table);
  // Order: x, w2, c1, r1, c2, d, s, y (equal sizes by first use), w1, wd.
  //   x 0; w2 802816 (above x); c1 1392640 (above w2); r1 1794048 (above c1);
  //   c2 1392640 (c1's slot, free after step 1); d 1794048 (r1's slot, free after step 2);
  //   s 0 (x's first half, free after step 3); y 401408 (x's second half);
  //   w1 2195456 and wd 2490368 on top, as they overlap everything.
  EXPECT_EQ(plan.offsets, (std::vector<uint64_t>{0, 2195456, 1392640, 1794048, 802816, 1392640,
                                                 2490368, 1794048, 0, 401408}));
  EXPECT_EQ(plan.arena_bytes, 2523136u);
  // Steps 1-3 each hold two 401408-byte activations, x and the 917504 bytes of weights.
  LiveBound bound = LiveBytesLowerBound(table);
  EXPECT_EQ(bound.bytes, 2523136u);
  EXPECT_EQ(bound.step, 1);
  EXPECT_DOUBLE_EQ(static_cast<double>(plan.arena_bytes) / bound.bytes, 1.0);
}

TEST(PlanOffsetsTest, RandomIntervalSetsAreValidAlignedAndAboveTheBound) {
  std::mt19937 rng(20240611);
  std::uniform_int_distribution<int> count_dist(0, 60);
  std::uniform_int_distribution<int64_t> step_dist(0, 39);
  std::uniform_int_distribution<uint64_t> size_dist(1, 1 << 20);
  for (int trial = 0; trial < 500; ++trial) {
    SCOPED_TRACE("trial " + std::to_string(trial));
    std::vector<Interval> intervals(count_dist(rng));
    uint64_t aligned_sum = 0;
    for (Interval& iv : intervals) {
      int64_t a = step_dist(rng), b = step_dist(rng);
      iv = {std::min(a, b), std::max(a, b), size_dist(rng)};
      aligned_sum += AlignUp(iv.bytes, kArenaAlignment);
    }
    OffsetPlan plan = PlanOffsets(intervals);
    Status st = CheckNoOverlap(intervals, plan);
    ASSERT_TRUE(st.ok()) << st.ToString() << "\n" << DrawPlan(intervals, plan);
    const LiveBound bound = LiveBytesLowerBound(intervals);
    EXPECT_GE(plan.arena_bytes, bound.bytes);
    EXPECT_LE(plan.arena_bytes, aligned_sum);
    for (uint64_t off : plan.offsets) EXPECT_EQ(off % kArenaAlignment, 0u);
  }
}

TEST(CheckNoOverlapTest, NamesTwoBuffersThatOverlapInTimeAndSpace) {
  const std::vector<Interval> intervals = {{0, 1, 64}, {2, 3, 64}, {1, 2, 64}};
  OffsetPlan plan{{0, 0, 0}, 64};  // 0 and 1 may share; 2 meets both
  Status st = CheckNoOverlap(intervals, plan);
  EXPECT_EQ(st.code(), Code::kInternal);
  EXPECT_CONTAINS(st.message(), "buffers 0 and 2 overlap in time and space");
}

TEST(CheckNoOverlapTest, RejectsMisalignedAndOutOfArenaBuffers) {
  Status misaligned = CheckNoOverlap({{0, 0, 64}}, OffsetPlan{{32}, 96});
  EXPECT_EQ(misaligned.code(), Code::kInternal);
  EXPECT_CONTAINS(misaligned.message(), "buffer 0 misaligned at 32");

  Status past_end = CheckNoOverlap({{0, 0, 64}, {0, 0, 65}}, OffsetPlan{{0, 64}, 128});
  EXPECT_EQ(past_end.code(), Code::kInternal);
  EXPECT_CONTAINS(past_end.message(), "buffer 1 ends past the arena");

  Status size = CheckNoOverlap({{0, 0, 64}}, OffsetPlan{{}, 64});
  EXPECT_EQ(size.code(), Code::kInternal);
  EXPECT_CONTAINS(size.message(), "plan size mismatch");
}

TEST(CheckNoOverlapTest, ZeroByteBuffersNeverOverlap) {
  EXPECT_TRUE(CheckNoOverlap({{0, 1, 64}, {0, 1, 0}}, OffsetPlan{{0, 0}, 64}).ok());
}

TEST(DrawPlanTest, Golden) {
  const std::vector<Interval> intervals = {{0, 1, 100}, {1, 2, 64}};
  OffsetPlan plan = PlanAndCheck(intervals);
  EXPECT_EQ(DrawPlan(intervals, plan),
            "   0 @         0        100 |##.|\n"
            "   1 @       128         64 |.##|\n");
}

}  // namespace
}  // namespace ts::passes
