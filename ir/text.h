// The textual IR: a line-based, readable form of a Graph that parses back to an equal Graph.
// Used for golden tests of passes (build or parse, run, compare text) and for --dump-after.
//
//   tsir 1 opset 17
//   input "x" f32[2,3]
//   weight "w" f32[3,4] data=hex:0000803f...
//   act "y" f32[2,4]
//   act "u" f32[?]
//   output "z" f32[2,4]
//   node "mm" MatMul("x", "w") -> ("y")
//   node "c" Clip("y", _, "m") -> ("z") {alpha=f:0.5, axes=ints:[1,0], k=i:3, mode=s:"abc"}
//   inputs "x"
//   outputs "z"
//
// Lines (tokens may be separated by spaces or tabs; blank lines and lines whose first
// non-blank character is '#' are skipped by the parser, never printed):
//   tsir 1 opset <int>       the header; the first line, exactly once. 1 is the format version.
//   <kind> <name> <type> [data=hex:<2 hex digits per byte>]
//                            one value; kind is input|output|weight|act|const. Values are
//                            printed in id order, so parsing gives every value its old id.
//   node <name> <op>(<ref>, ...) -> (<ref>, ...) [{<key>=<attr>, ...}]
//                            one node, in node order. An input ref `_` is an omitted optional
//                            input (id -1). Attributes print sorted by key.
//   inputs <ref>, ...        graph.inputs, exactly once (may be empty)
//   outputs <ref>, ...       graph.outputs, exactly once (may be empty)
//
// <name>, <ref>: a quoted string, because ONNX names contain anything. Escapes: \" \\ \n \t
//   and \xNN; the printer escapes every byte outside 0x20..0x7e, so printed text is ASCII.
//   The parser also takes raw bytes >= 0x80 (UTF-8 in hand-written files), never raw control
//   characters. A ref must name a value defined on an earlier line.
// <op>, <key>: bare when they match [A-Za-z_][A-Za-z0-9_.:]* (keys: [A-Za-z_][A-Za-z0-9_]*),
//   otherwise quoted.
// <type>: dtype name and dims: `f32[2,3]`, `f32[]` for a scalar. A value whose shape is not
//   known yet prints `f32[?]`, or `f32[?2,3]` when it still carries (stale) dims. Dims are
//   non-negative decimal integers that fit int64.
// <attr>: i:<int64> | f:<double> | s:<string> | ints:[<int64>, ...] | floats:[<double>, ...].
//   Doubles print as the shortest text that reads back to the same bits (std::to_chars), plus
//   inf, -inf, nan, -nan; NaN payloads are not kept.
//
// Graphs that fail Verify's id-range check still print (broken IR is what one dumps), with a
// bad reference shown as `<invalid N>`; such text, like any `data=elided`, does not parse.
// The parser checks syntax and name resolution only; run Verify for the structural rules.
#ifndef TENSORSHUNT_IR_TEXT_H_
#define TENSORSHUNT_IR_TEXT_H_

#include <string>
#include <string_view>

#include "ir/graph.h"
#include "ir/status.h"

namespace ts::ir {

struct PrintOptions {
  // Prints `data=elided` instead of the bytes, for dumps of models with large weights. The
  // parser rejects `data=elided`: a graph without its weights is not the graph that was printed.
  bool elide_data = false;
};

std::string PrintGraph(const Graph& g, const PrintOptions& options = {});

// Parses the text form. Hostile-input safe: never crashes, no recursion, every count checked.
// Errors are Code::kBadInput with "line L, column C: what; expected ..." (L and C 1-based,
// C counted in bytes).
StatusOr<Graph> ParseGraph(std::string_view text);

}  // namespace ts::ir

#endif  // TENSORSHUNT_IR_TEXT_H_
