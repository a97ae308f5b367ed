// Offset assignment for one arena over plain live intervals (TFLite Micro style: the planner
// knows nothing about graphs).
//
// Greedy by size, best fit: buffers are placed largest first (ties: earlier first use, then
// lower index). For each, the already-placed buffers whose intervals overlap it in time are
// taken in offset order and the smallest gap between them that fits is chosen; with no gap it
// goes above the highest of them. Offsets are multiples of `alignment`. The arena is the
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
