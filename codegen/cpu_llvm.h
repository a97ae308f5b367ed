// Lowering of elementwise kernels to LLVM IR for the CPU backend.
//
// Each kernel becomes `void SYMBOL(void** args)`: args[0..n) are the inputs, args[n] the
// output, all f32, row-major. Shapes are static and baked in; broadcasting is a stride of 0.
// Adjacent dimensions that are contiguous for every operand are merged, so a same-shape chain
// is one flat loop. The module is target-independent: tsr optimises it for the host CPU
// (vector width included) when it JIT-links the plan (runtime/cpu_jit.h).
#ifndef TENSORSHUNT_CODEGEN_CPU_LLVM_H_
#define TENSORSHUNT_CODEGEN_CPU_LLVM_H_

#include <cstdint>
#include <string>
#include <vector>

#include "codegen/expr.h"
#include "ir/status.h"

namespace ts::codegen {

// Emits one LLVM module holding every kernel, as bitcode. `ir_text`, when given, receives the
// textual IR (for --dump and tests).
StatusOr<std::vector<uint8_t>> EmitCpuModule(const std::vector<ElementwiseKernel>& kernels,
                                             std::string* ir_text = nullptr);

}  // namespace ts::codegen

#endif  // TENSORSHUNT_CODEGEN_CPU_LLVM_H_
