// The kernel description shared by the backends: a postfix program over a fused elementwise
// node's inputs ("$0 $1 Add Relu"), evaluated per output element. Lowered to LLVM IR for the
// CPU (cpu_llvm.h) and to CUDA C (cuda_c.h).
#ifndef TENSORSHUNT_CODEGEN_EXPR_H_
#define TENSORSHUNT_CODEGEN_EXPR_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ir/status.h"

namespace ts::codegen {

struct ExprInstr {
  int input = -1;  // >= 0: push input `input`; otherwise apply `op` to the top of the stack
  std::string op;
  int arity = 0;
};

struct ExprProgram {
  int num_inputs = 0;
  std::vector<ExprInstr> instrs;
};

// Parses and checks a program: known ops, inputs in [0, num_inputs), a stack that never
// underflows and ends with one value.
StatusOr<ExprProgram> ParseExprProgram(std::string_view text, int num_inputs);

// Scalar reference semantics, used by tests to check generated code.
float EvalExprScalar(const ExprProgram& p, const std::vector<float>& inputs);

// One fused kernel, as every backend lowers it: out[i] = program(inputs broadcast to out).
struct ElementwiseKernel {
  std::string symbol;
  ExprProgram program;
  std::vector<int64_t> out_shape;
  std::vector<std::vector<int64_t>> in_shapes;  // each broadcastable to out_shape
};

// The loop nest of one kernel after merging: dims and, per input, element strides.
struct LoopNest {
  std::vector<int64_t> dims;
  std::vector<std::vector<int64_t>> in_strides;
};
LoopNest BuildLoopNest(const ElementwiseKernel& k);

}  // namespace ts::codegen

#endif  // TENSORSHUNT_CODEGEN_EXPR_H_
