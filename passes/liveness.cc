#include "passes/liveness.h"

#include <algorithm>

#include "ir/ops.h"

namespace ts::passes {

StatusOr<Liveness> ComputeLiveness(const ir::Graph& g, const std::vector<int>& order) {
  Liveness lv;
  const size_t nv = g.values.size();
  std::vector<int> root(nv);
  for (size_t v = 0; v < nv; ++v) root[v] = static_cast<int>(v);
  // Alias outputs take the root of their input; order is topological so roots are final.
  for (int n : order) {
    const ir::Node& node = g.nodes[n];
    if (ir::IsAliasOp(node.op)) {
      if (node.inputs.empty() || node.inputs[0] < 0 || node.outputs.size() != 1) {
        return InternalError("alias node '" + node.name + "' must have one input and one output");
      }
      root[node.outputs[0]] = root[node.inputs[0]];
    } else {
      lv.steps.push_back(n);
    }
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
  return lv;
}

}  // namespace ts::passes
