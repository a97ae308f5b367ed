#include "passes/pipeline.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "ir/text.h"
#include "ir/verifier.h"
#include "passes/fusion.h"
#include "passes/schedule.h"
#include "passes/shape_inference.h"
#include "passes/spill.h"

namespace ts::passes {
namespace {

constexpr uint64_t kFileAlignment = 4096;

class Runner {
 public:
  Runner(const PipelineOptions& options, CompiledGraph& out) : options_(options), out_(out) {}

  // Runs one pass over out_.graph, timing it, verifying after it, dumping if asked.
  template <typename Fn>
  Status Step(const std::string& name, Fn&& fn) {
    auto start = std::chrono::steady_clock::now();
    std::string note;
    RETURN_IF_ERROR(fn(note));
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                    .count();
    out_.timings.push_back({name, ms, note});
    if (options_.verify_between_passes) {
      RETURN_IF_ERROR_CTX(ir::Verify(out_.graph), "IR invalid after " + name);
    }
    if (options_.dump_after == name) out_.dump = ir::PrintGraph(out_.graph, {.elide_data = true});
    return OkStatus();
  }

 private:
  const PipelineOptions& options_;
  CompiledGraph& out_;
};

// At most this many activations are spilled or recomputed to make one plan fit.
constexpr int kMaxSpills = 64;

// "1 activation", "2 activations".
std::string Count(int n, const std::string& noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

// The most bytes `lv`'s buffers keep live at one step.
uint64_t LiveBytes(const Liveness& lv) {
  std::vector<Interval> iv;
  for (const Buffer& buf : lv.buffers) iv.push_back(buf.live);
  return LiveBytesLowerBound(iv).bytes;
}

// The liveness of `order`, with Concat inputs written in place when that lowers the live-bytes
// bound; `note` says what was chosen.
StatusOr<Liveness> ChooseLiveness(const ir::Graph& g, const std::vector<int>& order, std::string* note) {
  ASSIGN_OR_RETURN(Liveness plain, ComputeLiveness(g, order));
  *note = std::to_string(plain.buffers.size()) + " buffers over " + std::to_string(plain.steps.size()) +
          " steps";
  ASSIGN_OR_RETURN(Liveness in_place, ComputeLiveness(g, order, /*concat_in_place=*/true));
  if (in_place.concat_inputs_in_place == 0) return plain;
  const uint64_t plain_bound = LiveBytes(plain), in_place_bound = LiveBytes(in_place);
  if (in_place_bound >= plain_bound) return plain;
  *note += "; " + std::to_string(in_place.concat_inputs_in_place) +
           " Concat inputs written in place lower the live-bytes bound from " + BytesString(plain_bound) +
           " to " + BytesString(in_place_bound);
  return in_place;
}

// Per compute step its roofline time on `profile`, and the profile's storage link.
PlacementTiming Timing(const CompiledGraph& out, const HardwareProfile& profile) {
  PlacementTiming t;
  for (int n : out.liveness.steps) {
    const ir::Node& node = out.graph.nodes[n];
    if (node.op == kSpillOp || node.op == kFillOp) {
      // A synchronous write or read of the activation, at the storage link's read rate and
      // latency (profiles describe no write rate; the flush after each spill is not counted).
      const int x = node.op == kSpillOp ? node.inputs[0] : node.outputs[0];
      t.step_seconds.push_back(TransferSeconds(static_cast<uint64_t>(out.graph.values[x].ByteSize()),
                                               profile.nvme.read_bandwidth, profile.nvme.latency_s));
      continue;
    }
    t.step_seconds.push_back(ComputeSeconds(EstimateOpCost(out.graph, node), profile));
  }
  // The CUDA runtime keeps streamed weights in pinned host memory and copies them to the device
  // (runtime/cuda/backend.h); the CPU runtime reads them from the bundle on storage.
  const bool pinned_host = profile.target == "cuda" && profile.h2d_pinned.bandwidth > 0;
  t.storage.bandwidth = pinned_host ? profile.h2d_pinned.bandwidth : profile.nvme.read_bandwidth;
  t.storage.latency_s = pinned_host ? profile.h2d_pinned.latency_s : profile.nvme.latency_s;
  t.storage.whole_copies = pinned_host;
  // On the CPU target the reader copies every streamed byte out of staging (a read and a write)
  // and hashes it (a read), on the cores the kernels use.
  if (profile.target == "cpu" && profile.device_memory_bandwidth > 0) {
    t.storage.host_s_per_byte = 3 / profile.device_memory_bandwidth;
  }
  return t;
}

}  // namespace

const std::vector<std::string>& PassNames() {
  static const std::vector<std::string> names = {"shape-inference", "fusion", "order",
                                                 "liveness", "memory-plan", "predict"};
  return names;
}

StatusOr<CompiledGraph> RunPipeline(ir::Graph g, const PipelineOptions& options) {
  CompiledGraph out;
  out.graph = std::move(g);
  Runner run(options, out);

  RETURN_IF_ERROR(run.Step("shape-inference", [&](std::string& note) -> Status {
    RETURN_IF_ERROR(InferShapes(out.graph));
    out.graph = RemoveUnused(out.graph);
    note = std::to_string(out.graph.values.size()) + " values";
    return OkStatus();
  }));

  RETURN_IF_ERROR(run.Step("fusion", [&](std::string& note) -> Status {
    int folded = 0, transposes = 0, norms = 0, pows = 0;
    ASSIGN_OR_RETURN(out.graph, FoldBatchNormIntoConv(out.graph, &norms));
    int epilogues = 0, blocked = 0;
    if (options.conv_epilogues) {
      ASSIGN_OR_RETURN(out.graph, FuseConvEpilogues(out.graph, &epilogues));
      ASSIGN_OR_RETURN(out.graph, BlockConvWeights(out.graph, &blocked));
    }
    ASSIGN_OR_RETURN(out.graph, PowAsMul(out.graph, &pows));
    out.graph = FoldTransposeIntoMatMul(out.graph, &transposes);
    int half = 0;
    if (options.half_products) {
      ASSIGN_OR_RETURN(out.graph, HalfPrecisionProducts(out.graph, &half));
    }
    ASSIGN_OR_RETURN(out.graph, FuseElementwise(out.graph, &folded));
    int matmuls = 0;
    if (options.blocked_matmul_weights) {
      ASSIGN_OR_RETURN(out.graph, BlockMatMulWeights(out.graph, &matmuls));
    }
    note = std::to_string(folded) + " elementwise ops folded into their consumers, " +
           std::to_string(transposes) + " transposes into matrix products, " +
           std::to_string(norms) + " batch normalizations into convolutions" +
           (epilogues ? ", " + std::to_string(epilogues) + " additions/ReLUs into convolutions" : "") +
           (blocked ? ", " + std::to_string(blocked) + " convolution weights blocked by 16 output channels" : "") +
           (matmuls ? ", " + std::to_string(matmuls) + " matrix product weights blocked by 64 columns" : "") +
           (pows ? ", " + std::to_string(pows) + " powers into products" : "") +
           (half ? ", " + std::to_string(half) + " products on half-precision weights kept in their type" : "");
    return OkStatus();
  }));

  RETURN_IF_ERROR(run.Step("order", [&](std::string& note) -> Status {
    // The model's own order, or the memory-aware one when its live-bytes bound is lower.
    ASSIGN_OR_RETURN(out.order, TopologicalOrder(out.graph));
    note = std::to_string(out.order.size()) + " nodes";
    // MemoryAwareOrder rescans the ready nodes at every pick (quadratic): beyond this size it
    // would cost more than it saves until it keeps them in a heap.
    constexpr size_t kMaxNodesForGreedyOrder = 20000;
    if (out.graph.nodes.size() > kMaxNodesForGreedyOrder) {
      note += "; memory-aware order skipped (over 20000 nodes)";
      return OkStatus();
    }
    ASSIGN_OR_RETURN(std::vector<int> greedy, MemoryAwareOrder(out.graph));
    if (greedy != out.order) {
      ASSIGN_OR_RETURN(Liveness a, ComputeLiveness(out.graph, out.order));
      ASSIGN_OR_RETURN(Liveness b, ComputeLiveness(out.graph, greedy));
      const uint64_t model_bound = LiveBytes(a), greedy_bound = LiveBytes(b);
      if (greedy_bound < model_bound) {
        out.order = std::move(greedy);
        note += "; memory-aware order lowers the live-bytes bound from " + BytesString(model_bound) +
                " to " + BytesString(greedy_bound);
      }
    }
    return OkStatus();
  }));

  RETURN_IF_ERROR(run.Step("liveness", [&](std::string& note) -> Status {
    ASSIGN_OR_RETURN(out.liveness, ChooseLiveness(out.graph, out.order, &note));
    return OkStatus();
  }));

  RETURN_IF_ERROR(run.Step("memory-plan", [&](std::string& note) -> Status {
    uint64_t file_bytes = 0;
    for (const Buffer& b : out.liveness.buffers) {
      if (b.resident) file_bytes += AlignUp(b.bytes, kFileAlignment);
    }
    std::vector<std::string> step_names;
    Refusal refused;
    auto place = [&]() -> StatusOr<Placement> {
      step_names.clear();
      for (int n : out.liveness.steps) step_names.push_back(out.graph.nodes[n].name);
      std::optional<PlacementTiming> timing;
      if (options.profile) timing = Timing(out, *options.profile);
      return PlaceWeights(out.liveness, step_names, options.budget_bytes, file_bytes,
                          timing ? &*timing : nullptr, &refused);
    };
    // Below the minimum, spill the activations the minimum's peak step does not touch, one at a
    // time, and place again. The reported minimum is the least over the attempts, so it is exact:
    // at that budget the same sequence of spills reaches a plan that fits.
    StatusOr<Placement> placed = place();
    Status least_refusal;
    uint64_t least_minimum = UINT64_MAX;
    while (!placed.ok()) {
      if (placed.status().code() != Code::kDoesNotFit) return placed.status();
      if (refused.minimum_bytes < least_minimum) {
        least_minimum = refused.minimum_bytes;
        least_refusal = placed.status();
        std::string freed;
        if (out.spills > 0) {
          freed = "spilling " + Count(out.spills, "activation") + " (" + BytesString(out.spilled_bytes) +
                  ") to storage";
        }
        if (out.recomputed > 0) {
          freed += std::string(freed.empty() ? "" : " and ") + "recomputing " +
                   Count(out.recomputed, "activation") + " (" + BytesString(out.recomputed_bytes) + ")";
        }
        if (!freed.empty()) least_refusal = DoesNotFitError(least_refusal.message() + " (after " + freed + ")");
      }
      if (options.budget_bytes == 0 || out.spills + out.recomputed >= kMaxSpills) break;
      if (!options.spill && !options.remat) break;
      ASSIGN_OR_RETURN(const Freed freed, SpillAround(out.graph, out.order, out.liveness, refused.peak_step,
                                                      options.spill, options.remat));
      if (freed.bytes == 0) break;
      if (freed.recomputed) {
        ++out.recomputed;
        out.recomputed_bytes += freed.bytes;
      } else {
        ++out.spills;
        out.spilled_bytes += freed.bytes;
      }
      std::string liveness_note;
      ASSIGN_OR_RETURN(out.liveness, ChooseLiveness(out.graph, out.order, &liveness_note));
      placed = place();
    }
    if (!placed.ok()) return least_refusal;
    Placement p = *std::move(placed);
    RETURN_IF_ERROR(CheckNoOverlap(p.intervals, p.offsets));
    out.offsets = p.offsets;
    out.lower_bound = p.bound;
    out.streamed = p.streamed;
    out.load_step = p.load_step;
    out.streamed_bytes = p.streamed_bytes;
    out.prefetch_distance = p.prefetch_distance;
    out.io_chunk_bytes = p.staging.chunk_bytes;
    out.io_queue_depth = p.staging.depth;
    for (size_t b = 0; b < out.liveness.buffers.size(); ++b) {
      if (out.liveness.buffers[b].resident && !p.streamed[b]) {
        out.resident_weight_bytes += out.liveness.buffers[b].bytes;
      }
    }
    if (!step_names.empty()) {
      out.peak_node = step_names[std::min<size_t>(out.lower_bound.step, step_names.size() - 1)];
    }
    note = "arena " + BytesString(out.offsets.arena_bytes) + ", lower bound " +
           BytesString(out.lower_bound.bytes) + ", streamed " + BytesString(out.streamed_bytes);
    if (out.spills > 0) {
      note += ", " + Count(out.spills, "activation") + " spilled to storage (" + BytesString(out.spilled_bytes) + ")";
    }
    if (out.recomputed > 0) {
      note += ", " + Count(out.recomputed, "activation") + " recomputed (" + BytesString(out.recomputed_bytes) + ")";
    }
    return OkStatus();
  }));

  if (options.profile) {
    RETURN_IF_ERROR(run.Step("predict", [&](std::string& note) -> Status {
      out.predicted = PredictPlacement(out.liveness, out.streamed, out.load_step,
                                       Staging{out.io_chunk_bytes, out.io_queue_depth},
                                       Timing(out, *options.profile));
      char buf[160];
      std::snprintf(buf, sizeof buf, "%.3f ms on %s, %.0f%% of transfer time hidden",
                    out.predicted->total_s * 1e3, options.profile->name.c_str(),
                    out.predicted->hidden_fraction * 100);
      note = buf;
      return OkStatus();
    }));
  }
  return out;
}

}  // namespace ts::passes
