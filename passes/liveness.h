// Buffers and their live intervals over the execution order.
#ifndef TENSORSHUNT_PASSES_LIVENESS_H_
#define TENSORSHUNT_PASSES_LIVENESS_H_

#include <string>
#include <vector>

#include "ir/graph.h"
#include "ir/status.h"
#include "passes/memory_planner.h"

namespace ts::passes {

struct Buffer {
  std::string name;         // the name of the value that owns the bytes
  int root_value = -1;      // that value's id
  uint64_t bytes = 0;
  Interval live;            // in steps
  Interval use;             // first and last step that reads or writes it (== live unless resident)
  bool resident = false;    // weights and constants: loaded before step 0, live throughout
};

struct Liveness {
  std::vector<int> steps;             // node ids that do work, in execution order
  std::vector<int> buffer_of_value;   // -1 for values that need no memory
  std::vector<Buffer> buffers;
};

// Steps are the nodes of `order` that move data; alias ops (ir::IsAliasOp) are not steps and
// their output shares the input's buffer, which then lives until the last use of either.
// Graph inputs are live from step 0, graph outputs until the last step, weights and constants
// over the whole program. Needs: shapes inferred, `order` topological.
StatusOr<Liveness> ComputeLiveness(const ir::Graph& g, const std::vector<int>& order);

}  // namespace ts::passes

#endif  // TENSORSHUNT_PASSES_LIVENESS_H_
