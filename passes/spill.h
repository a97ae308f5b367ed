// Spilling activations to storage so a plan fits a budget it otherwise would not.
//
// A long-lived activation that the step where the plan peaks does not touch is written to a
// scratch file after its last use before that step and read back just before its next use
// after it; its arena bytes are free in between. In the graph, each spill is two nodes:
//
//   Spill(x) -> x.spill      after x's last use before the peak; x.spill is a 0-byte handle
//   Fill(x.spill) -> x.fill  just before x's next use; that use and every later one read x.fill
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

// Rewrites `g` and `order` (node ids in execution order) to spill the largest qualifying
// activation of `lv` (computed on them) that is live at step `peak_step` without being used
// there (ties: the longer gap). Returns its bytes, or 0 when no activation qualifies (nothing
// changed).
StatusOr<uint64_t> SpillAround(ir::Graph& g, std::vector<int>& order, const Liveness& lv,
                               int64_t peak_step);

}  // namespace ts::passes

#endif  // TENSORSHUNT_PASSES_SPILL_H_
