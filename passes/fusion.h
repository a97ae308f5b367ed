// Elementwise fusion.
#ifndef TENSORSHUNT_PASSES_FUSION_H_
#define TENSORSHUNT_PASSES_FUSION_H_

#include "ir/graph.h"
#include "ir/status.h"

namespace ts::passes {

// Replaces every elementwise op (ir::ElementwiseArity) by an "Elementwise" node whose `program`
// attribute is a postfix expression over its inputs, and merges chains into one node: a
// producer is folded into its consumer when its output has that single use, is not a graph
// output, and has the consumer's output shape (so the fused loop runs over one iteration
// space). Needs: shapes inferred. Returns the number of ops folded away through `fused`.
StatusOr<ir::Graph> FuseElementwise(const ir::Graph& g, int* fused = nullptr);

}  // namespace ts::passes

#endif  // TENSORSHUNT_PASSES_FUSION_H_
