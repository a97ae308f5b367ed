// Placement under a budget: which weights stay resident and which stream in from the bundle.
#ifndef TENSORSHUNT_PASSES_PLACEMENT_H_
#define TENSORSHUNT_PASSES_PLACEMENT_H_

#include <cstdint>
#include <vector>

#include "ir/status.h"
#include "passes/cost_model.h"
#include "passes/liveness.h"
#include "passes/memory_planner.h"

namespace ts::passes {

// The runtime's weight-reading staging buffers, counted in the budget.
struct Staging {
  uint64_t chunk_bytes = 0;  // multiple of 4096
  uint32_t depth = 0;        // reads in flight
  uint64_t Bytes() const { return chunk_bytes * depth; }
};

// What a plan's time is predicted from: per compute step its seconds, and the storage link
// (its chunk size and depth are each plan's staging).
struct PlacementTiming {
  std::vector<double> step_seconds;
  StorageLink storage;
};

struct Placement {
  std::vector<bool> streamed;      // per liveness buffer
  std::vector<int64_t> load_step;  // per buffer: the step at whose start its load starts; -1 if resident
  int prefetch_distance = 0;       // least steps between a load's start and the weight's first use
  std::vector<Interval> intervals; // what the offset plan packed (streamed weights: [load, last use])
  OffsetPlan offsets;
  LiveBound bound;
  Staging staging;
  uint64_t streamed_bytes = 0;     // read from storage on every run

  uint64_t TotalBytes() const { return offsets.arena_bytes + staging.Bytes(); }
};

// What PlaceWeights reports when it refuses a budget.
struct Refusal {
  uint64_t minimum_bytes = 0;  // the minimum feasible total
  int64_t peak_step = 0;       // where that plan peaks
};

// Keeps every weight resident when that fits `budget_bytes` (0: no budget), with the largest
// staging that fits, and otherwise streams
// weights, largest first, each loaded `prefetch_distance` steps before its first use and
// released after its last, searching the fewest streamed weights that fit; prefetch distance 1
// (the load overlaps the previous step) is preferred to 0, and larger staging to smaller.
// The plan found then reads ahead: in order of first use, each load moves to the earliest step
// at which the plan still fits (never before the previous load), so reads run while earlier
// steps compute, as far ahead as the arena allows. load_step may so be earlier than
// first use - prefetch_distance.
// The minimum feasible total is the smallest over every plan of this form (any number of the
// largest weights streamed, either prefetch distance, any staging); guarantee: every budget at
// or above it gets a plan within it.
// Below that, kDoesNotFit names the minimum, its peak step and node. `weight_file_bytes` is the
// weights' size in the bundle (each 4096-aligned), which bounds useful staging.
// Needs: liveness computed.
// Read-ahead keeps the arena within 1.02x the live-bytes lower bound (tightly packed) unless,
// with `timing`, filling the budget is predicted more than 2% faster.
// With `timing`, other sets of streamed weights are tried at the same prefetch distance and
// staging, each read ahead as above, and the one with the shortest predicted run is taken: more
// of the largest weights than the fewest that fit (the arena bytes they free let the reads run
// further ahead), and the weights in "hideable first" order (those whose read fits in the
// compute before their first use, largest first, then the rest; a weight needed at the first
// step costs its whole read every run), from the fewest of that order that fit upward. Counts
// are tried at growing gaps until a plan's reads alone would take longer than the best run.
// When refused, `refused` (if given) gets the minimum feasible total and its peak step.
StatusOr<Placement> PlaceWeights(const Liveness& liveness, const std::vector<std::string>& step_names,
                                 uint64_t budget_bytes, uint64_t weight_file_bytes,
                                 const PlacementTiming* timing = nullptr, Refusal* refused = nullptr);

// One run of a plan streaming `streamed` weights (loads at `load_step`, read in 4096-aligned
// sizes through chunk_bytes x depth of staging), simulated by PredictTimeline.
Timeline PredictPlacement(const Liveness& liveness, const std::vector<bool>& streamed,
                          const std::vector<int64_t>& load_step, const Staging& staging,
                          const PlacementTiming& timing);

}  // namespace ts::passes

#endif  // TENSORSHUNT_PASSES_PLACEMENT_H_
