// Execution order and graph clean-up.
#ifndef TENSORSHUNT_PASSES_SCHEDULE_H_
#define TENSORSHUNT_PASSES_SCHEDULE_H_

#include <vector>

#include "ir/graph.h"
#include "ir/status.h"

namespace ts::passes {

// A topological order of the nodes (node ids). Among ready nodes the one with the lowest id goes
// first, so the order is deterministic and keeps the model's own order where it is valid.
// Fails naming a node on a cycle.
StatusOr<std::vector<int>> TopologicalOrder(const ir::Graph& g);

// A topological order that keeps memory low: among ready nodes it runs the one that adds the
// fewest bytes (its outputs, minus the inputs it is the last to read), lowest id on ties. A
// heuristic: the pipeline keeps whichever of this and TopologicalOrder has the lower live-bytes
// bound. Needs: shapes inferred.
StatusOr<std::vector<int>> MemoryAwareOrder(const ir::Graph& g);

// A copy of `g` without nodes whose outputs are never used and without values that nothing
// references (e.g. a Reshape's shape constant once it became an attribute). Node order kept.
ir::Graph RemoveUnused(const ir::Graph& g);

}  // namespace ts::passes

#endif  // TENSORSHUNT_PASSES_SCHEDULE_H_
