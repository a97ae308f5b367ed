// The compiler's middle: from an imported graph to a graph with an execution order and a
// memory plan. pipeline.cc reads top to bottom as the list of passes.
#ifndef TENSORSHUNT_PASSES_PIPELINE_H_
#define TENSORSHUNT_PASSES_PIPELINE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "ir/status.h"
#include "passes/cost_model.h"
#include "passes/hardware_profile.h"
#include "passes/liveness.h"
#include "passes/memory_planner.h"
#include "passes/placement.h"

namespace ts::passes {

struct PipelineOptions {
  uint64_t budget_bytes = 0;           // 0: no budget
  bool spill = true;                   // below the minimum, spill activations (passes/spill.h)
  bool remat = true;                   // ... or recompute them where they qualify
  bool verify_between_passes = true;   // run ir::Verify after every pass
  std::string dump_after;              // a pass name: its output IR lands in CompiledGraph::dump
  const HardwareProfile* profile = nullptr;  // when set, the timeline is predicted on it
  bool half_products = false;  // HalfPrecisionProducts (passes/fusion.h): the CUDA target
  bool conv_epilogues = true;  // FuseConvEpilogues and BlockConvWeights (passes/fusion.h): the CPU target
  bool blocked_matmul_weights = true;  // BlockMatMulWeights (passes/fusion.h): the CPU target
};

struct PassTiming {
  std::string pass;
  double ms = 0;
  std::string note;  // what changed, e.g. "12 ops fused into 4 kernels"
};

struct CompiledGraph {
  ir::Graph graph;
  std::vector<int> order;
  Liveness liveness;
  OffsetPlan offsets;      // parallel to liveness.buffers
  LiveBound lower_bound;   // over liveness.buffers
  std::string peak_node;   // the node at lower_bound.step
  uint64_t resident_weight_bytes = 0;
  uint64_t io_chunk_bytes = 0;   // weight-loading staging, part of the runtime's overhead
  uint32_t io_queue_depth = 0;
  // Placement (passes/placement.h), per liveness buffer: streamed weights are loaded at the
  // start of load_step and live until their last use; the others are resident.
  std::vector<bool> streamed;
  std::vector<int64_t> load_step;
  uint64_t streamed_bytes = 0;
  int prefetch_distance = 0;
  int spills = 0;                // activations written to storage and read back (passes/spill.h)
  uint64_t spilled_bytes = 0;
  int recomputed = 0;            // activations rematerialised instead (passes/spill.h)
  uint64_t recomputed_bytes = 0;
  std::optional<Timeline> predicted;  // with PipelineOptions::profile
  std::vector<PassTiming> timings;
  std::string dump;

  uint64_t StagingBytes() const { return io_chunk_bytes * io_queue_depth; }
  // What the plan needs in all: the arena plus the runtime's staging buffers.
  uint64_t TotalBytes() const { return offsets.arena_bytes + StagingBytes(); }
};

// Shape inference, fusion, execution order, liveness, placement + offset planning under the
// budget. A budget below the minimum feasible total fails with Code::kDoesNotFit and names the
// minimum and the peak.
StatusOr<CompiledGraph> RunPipeline(ir::Graph g, const PipelineOptions& options);

// The names accepted by PipelineOptions::dump_after.
const std::vector<std::string>& PassNames();

}  // namespace ts::passes

#endif  // TENSORSHUNT_PASSES_PIPELINE_H_
