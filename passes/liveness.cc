#include "passes/liveness.h"

#include <algorithm>

#include "ir/ops.h"

namespace ts::passes {

namespace {

// The Concat inputs of node `n` that may be planned inside its output, with their byte offsets
// there: the last-produced activations among them (see ComputeLiveness).
std::vector<std::pair<int, uint64_t>> InPlaceConcatInputs(const ir::Graph& g, const ir::Node& node,
                                                          const std::vector<int>& parent,
                                                          const std::vector<int64_t>& defined_at) {
  std::vector<std::pair<int, uint64_t>> out;
  if (node.outputs.size() != 1 || node.outputs[0] < 0 || node.inputs.size() < 2) return out;
  const ir::Value& y = g.values[node.outputs[0]];
  if (!y.shape_known || y.shape.empty()) return out;
  int64_t axis = node.IntAttrOr("axis", 0);
  const auto rank = static_cast<int64_t>(y.shape.size());
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return out;
  for (int64_t d = 0; d < axis; ++d) {
    if (y.shape[d] != 1) return out;
  }
  uint64_t inner = static_cast<uint64_t>(DTypeSize(y.dtype));
  for (int64_t d = axis + 1; d < rank; ++d) inner *= static_cast<uint64_t>(y.shape[d]);
  int64_t latest = -1;
  for (int v : node.inputs) {
    if (v >= 0) latest = std::max(latest, defined_at[v]);
  }
  uint64_t at = 0;
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    const int v = node.inputs[i];
    if (v < 0) return {};
    const ir::Value& x = g.values[v];
    if (!x.shape_known || x.shape.size() != y.shape.size() || x.dtype != y.dtype) return {};
    const bool repeated = std::count(node.inputs.begin(), node.inputs.end(), v) > 1;
    if (x.kind == ir::ValueKind::kActivation && parent[v] == v && defined_at[v] == latest && !repeated) {
      out.push_back({v, at});
    }
    at += static_cast<uint64_t>(x.shape[axis]) * inner;
  }
  return out;
}

}  // namespace

StatusOr<Liveness> ComputeLiveness(const ir::Graph& g, const std::vector<int>& order,
                                   bool concat_in_place) {
  Liveness lv;
  const size_t nv = g.values.size();
  // Each value's bytes lie in its parent's at parent_offset; a root is its own parent.
  std::vector<int> parent(nv);
  std::vector<uint64_t> parent_offset(nv, 0);
  for (size_t v = 0; v < nv; ++v) parent[v] = static_cast<int>(v);
  std::vector<int64_t> defined_at(nv, -1);  // the step that writes it
  std::vector<int> written_in_place;        // first inputs of in-place ops
  for (int n : order) {
    const ir::Node& node = g.nodes[n];
    if (ir::IsAliasOp(node.op)) {
      // Alias outputs share their input's bytes.
      if (node.inputs.empty() || node.inputs[0] < 0 || node.outputs.size() != 1) {
        return InternalError("alias node '" + node.name + "' must have one input and one output");
      }
      parent[node.outputs[0]] = node.inputs[0];
      continue;
    }
    if (ir::WritesInPlace(node.op)) {
      if (node.inputs.empty() || node.inputs[0] < 0 || node.outputs.size() != 1) {
        return InternalError("in-place node '" + node.name + "' must have a first input and one output");
      }
      parent[node.outputs[0]] = node.inputs[0];
      written_in_place.push_back(node.inputs[0]);
    }
    if (concat_in_place && node.op == "Concat") {
      for (const auto& [v, offset] : InPlaceConcatInputs(g, node, parent, defined_at)) {
        parent[v] = node.outputs[0];
        parent_offset[v] = offset;
        ++lv.concat_inputs_in_place;
      }
    }
    for (int v : node.outputs) {
      if (v >= 0) defined_at[v] = static_cast<int64_t>(lv.steps.size());
    }
    lv.steps.push_back(n);
  }
  // Roots and offsets by following parents (parents come later in `order` only through Concat,
  // whose output is never an input's ancestor, so the chains end).
  std::vector<int> root(nv, -1);
  lv.offset_of_value.assign(nv, 0);
  for (size_t v = 0; v < nv; ++v) {
    int r = static_cast<int>(v);
    uint64_t offset = 0;
    for (size_t hops = 0; parent[r] != r; ++hops) {
      if (hops > nv) return InternalError("a cycle of aliases through value '" + g.values[v].name + "'");
      offset += parent_offset[r];
      r = parent[r];
    }
    root[v] = r;
    lv.offset_of_value[v] = offset;
  }
  const int64_t last_step = std::max<int64_t>(static_cast<int64_t>(lv.steps.size()) - 1, 0);

  std::vector<int64_t> first(nv, INT64_MAX), last(nv, -1);
  std::vector<bool> used(nv, false);
  auto touch = [&](int v, int64_t step) {
    int r = root[v];
    used[r] = true;
    first[r] = std::min(first[r], step);
    last[r] = std::max(last[r], step);
  };
  for (int v : g.inputs) touch(v, 0);
  for (int64_t s = 0; s < static_cast<int64_t>(lv.steps.size()); ++s) {
    const ir::Node& node = g.nodes[lv.steps[s]];
    for (int v : node.inputs) if (v >= 0) touch(v, s);
    for (int v : node.outputs) if (v >= 0) touch(v, s);
  }
  for (int v : g.outputs) touch(v, last_step);

  lv.buffer_of_value.assign(nv, -1);
  std::vector<int> buffer_of_root(nv, -1);
  for (size_t r = 0; r < nv; ++r) {
    if (!used[r] || root[r] != static_cast<int>(r)) continue;
    const ir::Value& val = g.values[r];
    if (!val.shape_known) return InternalError("value '" + val.name + "' has no inferred shape");
    Buffer b;
    b.name = val.name;
    b.root_value = static_cast<int>(r);
    b.bytes = static_cast<uint64_t>(val.ByteSize());
    b.resident = val.kind == ir::ValueKind::kWeight || val.kind == ir::ValueKind::kConstant;
    b.use = Interval{std::min(first[r], last_step), last[r], b.bytes};
    b.live = b.resident ? Interval{0, last_step, b.bytes} : b.use;
    buffer_of_root[r] = static_cast<int>(lv.buffers.size());
    lv.buffers.push_back(std::move(b));
  }
  for (size_t v = 0; v < nv; ++v) {
    if (buffer_of_root[root[v]] >= 0) lv.buffer_of_value[v] = buffer_of_root[root[v]];
  }
  for (int v : written_in_place) {
    const int b = lv.buffer_of_value[static_cast<size_t>(v)];
    if (b >= 0) lv.buffers[static_cast<size_t>(b)].written = true;
  }
  return lv;
}

}  // namespace ts::passes
