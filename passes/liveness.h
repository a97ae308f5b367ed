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
  bool written = false;     // updated in place by a step (ir::WritesInPlace): state that must
                            // persist from run to run, so never streamed
};

struct Liveness {
  std::vector<int> steps;             // node ids that do work, in execution order
  std::vector<int> buffer_of_value;   // -1 for values that need no memory
  std::vector<uint64_t> offset_of_value;  // bytes from its buffer's start (in-place Concat inputs)
  std::vector<Buffer> buffers;
  int concat_inputs_in_place = 0;     // how many Concat inputs were planned inside their output
};

// Steps are the nodes of `order` that move data; alias ops (ir::IsAliasOp) are not steps and
// their output shares the input's buffer, which then lives until the last use of either.
// Graph inputs are live from step 0, graph outputs until the last step, weights and constants
// over the whole program. An in-place op's (ir::WritesInPlace) output shares its first input's
// buffer, like an alias, but the op is a step; a weight so written is marked `written`.
//
// With `concat_in_place`, a Concat whose output is contiguous per input (every dim before the
// axis is 1) has its last-produced inputs placed inside its output: the producer writes straight
// into its slice, the Concat step copies only the others (RunConcat skips an input already in
// place), and the output's buffer lives from that producer on. Only activations that are not
// aliases of something else qualify, each once. This lowers the live bytes at the Concat (its
// inputs and output are no longer all separate) and raises them between that producer and the
// Concat; the pipeline keeps whichever plan has the lower bound.
// Needs: shapes inferred, `order` topological.
StatusOr<Liveness> ComputeLiveness(const ir::Graph& g, const std::vector<int>& order,
                                   bool concat_in_place = false);

}  // namespace ts::passes

#endif  // TENSORSHUNT_PASSES_LIVENESS_H_
