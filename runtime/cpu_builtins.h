// Kernels built into the runtime for the CPU target (planfmt::Builtin): matrix products,
// softmax, transpose, copy. f32, row-major. Shapes come from the step's TensorRefs.
#ifndef TENSORSHUNT_RUNTIME_CPU_BUILTINS_H_
#define TENSORSHUNT_RUNTIME_CPU_BUILTINS_H_

#include <cstdint>

#include "ir/status.h"
#include "planfmt/plan.h"

namespace ts::runtime {

// Checks, once at load, that a builtin step's arguments and parameters are consistent (shapes,
// counts, dtypes), so RunBuiltin need not. Errors are kBadInput naming the step.
Status CheckBuiltin(const planfmt::Step& step);

// Runs a checked builtin step on the arena.
void RunBuiltin(const planfmt::Step& step, uint8_t* arena);

}  // namespace ts::runtime

#endif  // TENSORSHUNT_RUNTIME_CPU_BUILTINS_H_
