// Shape and dtype inference over the IR.
#ifndef TENSORSHUNT_PASSES_SHAPE_INFERENCE_H_
#define TENSORSHUNT_PASSES_SHAPE_INFERENCE_H_

#include <cstdint>
#include <vector>

#include "ir/graph.h"
#include "ir/status.h"

namespace ts::passes {

// Fills dtype and shape of every node output. Needs: graph-input shapes fixed (the importer
// does it), nodes acyclic. Normalises attributes the later passes rely on: Softmax gets an
// explicit non-negative `axis` and `legacy` (opset < 13), Transpose an explicit `perm`, and
// Reshape's constant shape input becomes its `shape` attribute (the input is dropped).
Status InferShapes(ir::Graph& g);

// numpy broadcasting of two shapes; nullopt when they are incompatible.
std::optional<std::vector<int64_t>> BroadcastShapes(const std::vector<int64_t>& a,
                                                     const std::vector<int64_t>& b);

}  // namespace ts::passes

#endif  // TENSORSHUNT_PASSES_SHAPE_INFERENCE_H_
