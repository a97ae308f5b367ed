// Offset assignment for one arena over plain live intervals (TFLite Micro style: the planner
// knows nothing about graphs).
//
// Greedy best fit: buffers are placed one by one in a chosen order. For each, the
// already-placed buffers whose intervals overlap it in time are taken in offset order and the
// smallest gap between them that fits is chosen; with no gap it goes above the highest of them.
// Three orders are tried (largest first, busiest step first, longest lived first) and the
// smallest arena is kept. Offsets are multiples of `alignment`. The arena is the
// highest end. Lower bound: the largest sum of aligned sizes live at one step, which no
// placement can beat; the ratio arena/lower bound measures packing.
#ifndef TENSORSHUNT_PASSES_MEMORY_PLANNER_H_
#define TENSORSHUNT_PASSES_MEMORY_PLANNER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "ir/status.h"

namespace ts::passes {

struct Interval {
  int64_t first = 0;  // first step the buffer is live (inclusive)
  int64_t last = 0;   // last step the buffer is live (inclusive)
  uint64_t bytes = 0;
};

struct OffsetPlan {
  std::vector<uint64_t> offsets;  // parallel to the intervals
  uint64_t arena_bytes = 0;
};

inline constexpr uint64_t kArenaAlignment = 64;

uint64_t AlignUp(uint64_t x, uint64_t alignment);

// "12345 bytes (0.01 MiB)": byte counts in the planner's messages.
std::string BytesString(uint64_t bytes);

// Offsets for buffers live over `intervals` such that buffers live at a common step do not
// overlap: each buffer in turn, in `order`, goes into the smallest gap between the buffers
// already placed that overlap it in time (the lowest such gap on ties), or above them all.
// `order` must be a permutation of the interval indices.
OffsetPlan PlanOffsetsInOrder(const std::vector<Interval>& intervals, const std::vector<size_t>& order,
                              uint64_t alignment = kArenaAlignment);

// Placement orders for PlanOffsetsInOrder; ties go as LargestFirst.
// LargestFirst: by size, larger first, then by first step.
// BusiestStepFirst: by the most bytes live at any step of the buffer's interval, busier first
//   (so the buffers of the peak step are packed together before anything else).
// LongestLivedFirst: by the number of steps the buffer is live, more first.
std::vector<size_t> LargestFirst(const std::vector<Interval>& intervals);
std::vector<size_t> BusiestStepFirst(const std::vector<Interval>& intervals,
                                     uint64_t alignment = kArenaAlignment);
std::vector<size_t> LongestLivedFirst(const std::vector<Interval>& intervals);

// The smallest arena of the three orders' packings (the earlier order above on a tie).
OffsetPlan PlanOffsets(const std::vector<Interval>& intervals,
                       uint64_t alignment = kArenaAlignment);

struct LiveBound {
  uint64_t bytes = 0;  // max over steps of the aligned bytes live at that step
  int64_t step = 0;    // the first step where it is reached
};
LiveBound LiveBytesLowerBound(const std::vector<Interval>& intervals,
                              uint64_t alignment = kArenaAlignment);

// Fails (kInternal) naming the first two buffers that overlap in both time and space, or one
// that is misaligned. Every planner test runs this.
Status CheckNoOverlap(const std::vector<Interval>& intervals, const OffsetPlan& plan,
                      uint64_t alignment = kArenaAlignment);

// ASCII picture of the plan: one row per buffer, one column per step, for debugging.
std::string DrawPlan(const std::vector<Interval>& intervals, const OffsetPlan& plan);

}  // namespace ts::passes

#endif  // TENSORSHUNT_PASSES_MEMORY_PLANNER_H_
