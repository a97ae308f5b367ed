// Facts about ops that several components need: which ops are elementwise (and their arity),
// and which ops only reinterpret their input (aliases: no data is moved).
#ifndef TENSORSHUNT_IR_OPS_H_
#define TENSORSHUNT_IR_OPS_H_

#include <string_view>

namespace ts::ir {

// Arity of an elementwise op usable in a fused "Elementwise" node's program, or 0.
inline int ElementwiseArity(std::string_view op) {
  for (std::string_view u : {"Relu", "Sigmoid", "Tanh", "Neg", "Exp", "Log", "Sqrt", "Abs", "Erf"}) {
    if (op == u) return 1;
  }
  for (std::string_view b : {"Add", "Sub", "Mul", "Div"}) {
    if (op == b) return 2;
  }
  return 0;
}

// Ops whose output is the input's bytes under another shape.
inline bool IsAliasOp(std::string_view op) { return op == "Reshape" || op == "Identity"; }

// Ops that compute but whose output is their first input's bytes, updated in place: the planner
// gives both one buffer (a key/value cache the model writes at each step).
inline bool WritesInPlace(std::string_view op) { return op == "TsKvWrite"; }

// The op name of a fused elementwise node; its "program" attribute is a postfix expression over
// its inputs: "$0 $1 Add Relu" (see codegen/expr.h).
inline constexpr std::string_view kElementwiseOp = "Elementwise";

// The op name of a Conv with its epilogue, TsFusedConv(X, W, B[, Z]) {Conv's attributes,
// activation = "" | "Relu"}: activation(Conv(X, W, B) + Z), f32 (passes::FuseConvEpilogues).
// With weight_layout = "blocked16", W's bytes are in blocks of 16 output channels
// (ops::kBlockedConvWeights, passes::BlockConvWeights), its declared shape still [M, C, kh, kw].
inline constexpr std::string_view kFusedConvOp = "TsFusedConv";

}  // namespace ts::ir

#endif  // TENSORSHUNT_IR_OPS_H_
