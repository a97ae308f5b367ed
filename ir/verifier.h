// Structural checks of a Graph: the invariants every pass may assume and must keep.
//
// The importer runs Verify on every model it builds, so every failure is Code::kBadInput (a
// model file can cause any of them) with a message naming the node or value. Tests and
// --verify-each run it between passes, where a failure means the pass broke the IR.
//
// Checked, in this order (the first failure is returned):
//   - every value id in nodes, graph.inputs and graph.outputs is in range (-1 only as an
//     omitted node input); every node has a non-empty op;
//   - value names are unique; dtypes are valid; known shapes have non-negative dims;
//   - weights and constants have data, of exactly dtype size x element count bytes when the
//     shape is known (overflow-checked); inputs, activations and outputs have no data;
//   - graph.inputs lists exactly the kInput values, each once;
//   - graph.outputs is non-empty, lists each value once, lists every kOutput value, and lists
//     no activation (a weight, constant or input may be returned directly, as ONNX allows);
//   - every node output is an activation or output and is produced by exactly one node;
//   - every node input and graph output is an input, weight or constant, or is produced by a
//     node; the nodes form no cycle (checked iteratively: any graph size is safe);
//   - with require_shapes, every value that a node consumes or the graph returns has
//     shape_known.
// Node names may be empty (ONNX allows it); such nodes are named by index in messages.
#ifndef TENSORSHUNT_IR_VERIFIER_H_
#define TENSORSHUNT_IR_VERIFIER_H_

#include "ir/graph.h"
#include "ir/status.h"

namespace ts::ir {

struct VerifyOptions {
  // False straight after import, before passes/shape_inference has run.
  bool require_shapes = true;
};

Status Verify(const Graph& g, const VerifyOptions& options = {});

}  // namespace ts::ir

#endif  // TENSORSHUNT_IR_VERIFIER_H_
