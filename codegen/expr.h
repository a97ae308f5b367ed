// The kernel description shared by the backends: a postfix program over a fused elementwise
// node's inputs ("$0 $1 Add Relu"), evaluated per output element. Lowered to LLVM IR for the
// CPU (cpu_llvm.h); the CUDA lowering will read the same program.
#ifndef TENSORSHUNT_CODEGEN_EXPR_H_
#define TENSORSHUNT_CODEGEN_EXPR_H_

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

}  // namespace ts::codegen

#endif  // TENSORSHUNT_CODEGEN_EXPR_H_
