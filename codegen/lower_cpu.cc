#include "codegen/lower_cpu.h"

#include <algorithm>
#include <map>

#include "codegen/cpu_llvm.h"
#include "ir/ops.h"
#include "passes/spill.h"
#include "runtime/ops/op.h"

namespace ts::codegen {
namespace {

class Lowerer {
 public:
  explicit Lowerer(const passes::CompiledGraph& cg) : cg_(cg), g_(cg.graph) {}

  StatusOr<LoweredPlan> Run(planfmt::Metadata metadata);

 private:
  planfmt::TensorRef Ref(int v) const {
    const ir::Value& val = g_.values[v];
    planfmt::TensorRef r;
    r.name = val.name;
    r.dtype = val.dtype;
    r.shape = val.shape;
    r.offset = cg_.offsets.offsets[cg_.liveness.buffer_of_value[v]] + cg_.liveness.offset_of_value[v];
    r.bytes = static_cast<uint64_t>(val.ByteSize());
    return r;
  }
  Status RequireF32(const ir::Node& n) const {
    for (int v : n.inputs) {
      if (v >= 0 && g_.values[v].dtype != DType::kF32) {
        return BadInputError("node '" + n.name + "' (" + n.op + "): input '" + g_.values[v].name +
                             "' is " + std::string(DTypeName(g_.values[v].dtype)) +
                             "; this version computes " + n.op +
                             " in f32 only on the CPU (convert the model to float32)");
      }
    }
    return OkStatus();
  }
  Status LowerNode(const ir::Node& n, size_t step_index);

  const passes::CompiledGraph& cg_;
  const ir::Graph& g_;
  planfmt::Program program_;
  std::vector<ElementwiseKernel> kernels_;
  std::map<int, uint64_t> spill_slot_;  // spill handle value -> its offset in the spill file
  uint64_t spill_bytes_ = 0;
};

// The runtime's builtins compute f32; everything else runs the op library's kernel.
bool IsBuiltin(const ir::Graph& g, const ir::Node& n) {
  if (n.op != "MatMul" && n.op != "Gemm" && n.op != "Softmax" && n.op != "Transpose") return false;
  // A half-precision product with an f32 result (passes::HalfPrecisionProducts, CUDA only).
  if (n.op == "MatMul" && n.IntAttr("out_dtype")) return true;
  for (int v : n.inputs) {
    if (v >= 0 && g.values[v].dtype != DType::kF32) return false;
  }
  return true;
}

Status Lowerer::LowerNode(const ir::Node& n, size_t step_index) {
  if (n.op == passes::kSpillOp || n.op == passes::kFillOp) {
    // The activation goes to its own 4096-aligned place in the spill file, found by its handle.
    const bool spill = n.op == passes::kSpillOp;
    if (n.inputs.size() != 1 || n.outputs.size() != 1 || n.inputs[0] < 0 || n.outputs[0] < 0) {
      return InternalError("node '" + n.name + "' (" + n.op + ") must have one input and one output");
    }
    const int handle = spill ? n.outputs[0] : n.inputs[0];
    const int tensor = spill ? n.inputs[0] : n.outputs[0];
    if (spill) {
      spill_slot_[handle] = spill_bytes_;
      spill_bytes_ += passes::AlignUp(static_cast<uint64_t>(g_.values[tensor].ByteSize()), 4096);
    }
    auto slot = spill_slot_.find(handle);
    if (slot == spill_slot_.end()) return InternalError("node '" + n.name + "' fills a handle nobody spilled");
    planfmt::Step s;
    s.node = n.name;
    s.kind = spill ? planfmt::StepKind::kSpill : planfmt::StepKind::kFill;
    s.args = {Ref(tensor)};
    s.num_inputs = spill ? 1 : 0;
    s.iparams = {static_cast<int64_t>(slot->second)};
    program_.steps.push_back(std::move(s));
    return OkStatus();
  }
  const ops::OpDef* def = ops::FindOp(n.op);
  const bool half_product = n.op == "MatMul" && n.IntAttr("out_dtype");  // CUDA only
  if ((n.op == ir::kElementwiseOp || n.op == "MatMul" || n.op == "Gemm" || !def) && !half_product) {
    RETURN_IF_ERROR(RequireF32(n));
  }
  planfmt::Step s;
  s.node = n.name;
  for (int v : n.inputs) {
    if (v >= 0) s.args.push_back(Ref(v));
  }
  s.num_inputs = static_cast<uint32_t>(s.args.size());
  for (int v : n.outputs) s.args.push_back(Ref(v));

  if (n.op == ir::kElementwiseOp) {
    ElementwiseKernel k;
    k.symbol = "ts_k" + std::to_string(step_index);
    auto program = ParseExprProgram(n.StringAttr("program").value_or(""),
                                    static_cast<int>(n.inputs.size()));
    if (!program.ok()) return program.status().Annotate("node '" + n.name + "' (" + n.op + ")");
    k.program = *std::move(program);
    k.out_shape = g_.values[n.outputs[0]].shape;
    for (int v : n.inputs) {
      if (v < 0) return InternalError("node '" + n.name + "' has an omitted input");
      k.in_shapes.push_back(g_.values[v].shape);
    }
    s.kind = planfmt::StepKind::kJitKernel;
    s.symbol = k.symbol;
    kernels_.push_back(std::move(k));
  } else if (def && !IsBuiltin(g_, n)) {
    s.kind = planfmt::StepKind::kOp;
    s.symbol = n.op;
    s.attrs = n.attrs;
    s.attrs["opset"] = g_.opset;
  } else if (n.op == "MatMul") {
    s.builtin = planfmt::Builtin::kMatMul;
    if (n.IntAttrOr("trans_b", 0) != 0) s.iparams = {1};
    if (n.StringAttr("weight_layout").value_or("") == "blocked64") s.iparams = {2};  // passes::BlockMatMulWeights
  } else if (n.op == "Gemm") {
    s.builtin = planfmt::Builtin::kGemm;
    s.iparams = {n.IntAttrOr("transA", 0) != 0, n.IntAttrOr("transB", 0) != 0};
    s.fparams = {n.FloatAttrOr("alpha", 1.0), n.FloatAttrOr("beta", 1.0)};
  } else if (n.op == "Softmax") {
    s.builtin = planfmt::Builtin::kSoftmax;
    s.iparams = {n.IntAttrOr("axis", -1), n.IntAttrOr("legacy", 0)};
  } else if (n.op == "Transpose") {
    s.builtin = planfmt::Builtin::kTranspose;
    s.iparams = n.IntsAttr("perm").value_or(std::vector<int64_t>{});
  } else {
    return InternalError("node '" + n.name + "' (" + n.op + ") has no CPU lowering");
  }
  program_.steps.push_back(std::move(s));
  return OkStatus();
}

StatusOr<LoweredPlan> Lowerer::Run(planfmt::Metadata metadata) {
  LoweredPlan out;
  const passes::Liveness& lv = cg_.liveness;

  // Weights and constants in first-use order, so the weights section is read front to back.
  std::vector<int64_t> first_use(lv.buffers.size(), INT64_MAX);
  for (size_t s = 0; s < lv.steps.size(); ++s) {
    for (int v : g_.nodes[lv.steps[s]].inputs) {
      if (v < 0) continue;
      int b = lv.buffer_of_value[v];
      first_use[b] = std::min<int64_t>(first_use[b], static_cast<int64_t>(s));
    }
  }
  std::vector<int> weights;
  for (size_t b = 0; b < lv.buffers.size(); ++b) {
    if (lv.buffers[b].resident) weights.push_back(static_cast<int>(b));
  }
  std::stable_sort(weights.begin(), weights.end(),
                   [&](int a, int b) { return first_use[a] < first_use[b]; });
  const bool placed = cg_.streamed.size() == lv.buffers.size();
  for (int b : weights) {
    const passes::Buffer& buf = lv.buffers[b];
    planfmt::WeightEntry w;
    w.name = buf.name;
    w.bytes = buf.bytes;
    w.arena_offset = cg_.offsets.offsets[b];
    w.streamed = placed && cg_.streamed[b];
    out.contents.weights.push_back(w);
    out.blobs.push_back({g_.values[buf.root_value].data->data(), buf.bytes});
  }

  // Steps, with each streamed weight's load at the start of its load step and a wait before
  // the step that first uses it.
  for (size_t i = 0; i < lv.steps.size(); ++i) {
    for (size_t w = 0; w < weights.size(); ++w) {
      const int b = weights[w];
      if (!out.contents.weights[w].streamed) continue;
      planfmt::Step step;
      step.iparams = {static_cast<int64_t>(w)};
      if (cg_.load_step[b] == static_cast<int64_t>(i)) {
        step.kind = planfmt::StepKind::kLoad;
        step.node = "load " + lv.buffers[b].name;
        program_.steps.push_back(step);
      }
    }
    for (size_t w = 0; w < weights.size(); ++w) {
      const int b = weights[w];
      if (!out.contents.weights[w].streamed || lv.buffers[b].use.first != static_cast<int64_t>(i)) {
        continue;
      }
      planfmt::Step step;
      step.kind = planfmt::StepKind::kWait;
      step.node = "wait " + lv.buffers[b].name;
      step.iparams = {static_cast<int64_t>(w)};
      program_.steps.push_back(step);
    }
    RETURN_IF_ERROR(LowerNode(g_.nodes[lv.steps[i]], i));
  }
  for (int v : g_.inputs) program_.inputs.push_back(Ref(v));
  for (int v : g_.outputs) program_.outputs.push_back(Ref(v));

  planfmt::MemoryPlan& mem = out.contents.memory;
  mem.arena_bytes = cg_.offsets.arena_bytes;
  mem.lower_bound_bytes = cg_.lower_bound.bytes;
  mem.peak_step = static_cast<uint32_t>(cg_.lower_bound.step);
  mem.peak_node = cg_.peak_node;
  mem.io_chunk_bytes = cg_.io_chunk_bytes;
  mem.io_queue_depth = cg_.io_queue_depth;
  for (size_t b = 0; b < cg_.liveness.buffers.size(); ++b) {
    const passes::Buffer& buf = cg_.liveness.buffers[b];
    // A streamed weight occupies its bytes from its load step to its last use.
    const bool streamed = placed && cg_.streamed[b];
    mem.buffers.push_back({buf.name, cg_.offsets.offsets[b], buf.bytes,
                           static_cast<uint32_t>(streamed ? cg_.load_step[b] : buf.live.first),
                           static_cast<uint32_t>(streamed ? buf.use.last : buf.live.last)});
  }

  out.contents.kernels.format = "llvm-bc";
  for (const ElementwiseKernel& k : kernels_) out.contents.kernels.symbols.push_back(k.symbol);
  ASSIGN_OR_RETURN(out.contents.kernels.code, EmitCpuModule(kernels_, &out.llvm_ir));
  out.kernels = kernels_;

  metadata.emplace_back("target", "cpu");
  metadata.emplace_back("kernel_format", "llvm-bc (optimised for the host CPU at load)");
  std::sort(metadata.begin(), metadata.end());
  out.contents.metadata = std::move(metadata);
  out.contents.program = std::move(program_);
  return out;
}

}  // namespace

StatusOr<LoweredPlan> LowerForCpu(const passes::CompiledGraph& cg, planfmt::Metadata metadata) {
  Lowerer lowerer(cg);
  return lowerer.Run(std::move(metadata));
}

}  // namespace ts::codegen
