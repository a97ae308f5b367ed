// Lowering of a compiled graph to a CPU plan: steps with fixed arena offsets, generated LLVM
// kernels for the elementwise nodes, runtime builtins for the rest, weights in first-use order.
#ifndef TENSORSHUNT_CODEGEN_LOWER_CPU_H_
#define TENSORSHUNT_CODEGEN_LOWER_CPU_H_

#include <string>
#include <vector>

#include "codegen/expr.h"
#include "ir/status.h"
#include "passes/pipeline.h"
#include "planfmt/plan.h"
#include "planfmt/writer.h"

namespace ts::codegen {

struct LoweredPlan {
  planfmt::PlanContents contents;
  std::vector<planfmt::WeightBlob> blobs;  // parallel to contents.weights; point into the graph
  std::string llvm_ir;                     // textual IR of the kernel module
  std::vector<ElementwiseKernel> kernels;  // what the kernel module holds, for other backends
};

// Needs: RunPipeline done. `metadata` is copied into the plan (and sorted). The returned blobs
// point into `cg.graph`, which must outlive them.
StatusOr<LoweredPlan> LowerForCpu(const passes::CompiledGraph& cg, planfmt::Metadata metadata);

}  // namespace ts::codegen

#endif  // TENSORSHUNT_CODEGEN_LOWER_CPU_H_
