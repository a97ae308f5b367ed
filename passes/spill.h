// Spilling activations to storage, or recomputing them, so a plan fits a budget it otherwise
// would not.
//
// A long-lived activation that the step where the plan peaks does not touch is freed after its
// last use before that step and brought back just before its next use after it. When its
// producer is elementwise (a fused kernel or one of ir::ElementwiseArity's ops) and every input
// of that producer is still available at the next use (a weight or constant, or a value live
// then anyway), it is rematerialised: a copy of the producer runs again right before the next
// use, which costs one elementwise pass and no I/O. Otherwise it is spilled: written to a
// scratch file and read back. In the graph, each spill is two nodes:
//
//   Spill(x) -> x.spill      after x's last use before the peak; x.spill is a 0-byte handle
//   Fill(x.spill) -> x.fill  just before x's next use; that use and every later one read x.fill
//
// and a rematerialisation is one node, a copy of the producer writing x.remat just before the
// next use.
//
// Only activations that own their buffer alone qualify: no alias shares it, no Concat holds it,
// and it is not a graph input or output.
#ifndef TENSORSHUNT_PASSES_SPILL_H_
#define TENSORSHUNT_PASSES_SPILL_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "ir/graph.h"
#include "ir/status.h"
#include "passes/liveness.h"

namespace ts::passes {

inline constexpr std::string_view kSpillOp = "Spill";
inline constexpr std::string_view kFillOp = "Fill";

// What SpillAround did.
struct Freed {
  uint64_t bytes = 0;   // 0: no activation qualified, nothing changed
  bool recomputed = false;  // rematerialised rather than spilled
};

// Rewrites `g` and `order` (node ids in execution order) to free the largest qualifying
// activation of `lv` (computed on them) that is live at step `peak_step` without being used
// there (ties: the longer gap), by rematerialisation where it qualifies, else by spilling.
// `spill` and `remat` allow each way; an activation that only a disallowed way could free is
// not chosen.
StatusOr<Freed> SpillAround(ir::Graph& g, std::vector<int>& order, const Liveness& lv,
                            int64_t peak_step, bool spill = true, bool remat = true);

}  // namespace ts::passes

#endif  // TENSORSHUNT_PASSES_SPILL_H_
