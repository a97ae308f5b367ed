#include "passes/spill.h"

#include <algorithm>
#include <string>

namespace ts::passes {

StatusOr<uint64_t> SpillAround(ir::Graph& g, std::vector<int>& order, const Liveness& lv,
                               int64_t peak_step) {
  const size_t nv = g.values.size();
  if (lv.buffer_of_value.size() != nv || lv.offset_of_value.size() != nv) {
    return InternalError("SpillAround: liveness was computed on another graph");
  }
  // Values per buffer: a candidate's buffer holds it alone.
  std::vector<int> values_in(lv.buffers.size(), 0);
  for (size_t v = 0; v < nv; ++v) {
    if (lv.buffer_of_value[v] >= 0) ++values_in[static_cast<size_t>(lv.buffer_of_value[v])];
  }
  // The steps that read or write each value, in order.
  std::vector<std::vector<int64_t>> uses(nv);
  for (size_t s = 0; s < lv.steps.size(); ++s) {
    const ir::Node& node = g.nodes[static_cast<size_t>(lv.steps[s])];
    for (const std::vector<int>* io : {&node.inputs, &node.outputs}) {
      for (int v : *io) {
        if (v >= 0 && (uses[v].empty() || uses[v].back() != static_cast<int64_t>(s))) {
          uses[v].push_back(static_cast<int64_t>(s));
        }
      }
    }
  }
  int best = -1;
  int64_t best_prev = 0, best_next = 0;
  uint64_t best_bytes = 0;
  for (size_t v = 0; v < nv; ++v) {
    const ir::Value& x = g.values[v];
    const int b = lv.buffer_of_value[v];
    if (x.kind != ir::ValueKind::kActivation || b < 0 || values_in[static_cast<size_t>(b)] != 1 ||
        lv.offset_of_value[v] != 0 || uses[v].empty()) {
      continue;
    }
    const uint64_t bytes = lv.buffers[static_cast<size_t>(b)].bytes;
    auto after = std::upper_bound(uses[v].begin(), uses[v].end(), peak_step);
    if (bytes == 0 || after == uses[v].end() || after == uses[v].begin() || *(after - 1) == peak_step) {
      continue;
    }
    const int64_t prev = *(after - 1), next = *after;
    if (bytes > best_bytes || (bytes == best_bytes && next - prev > best_next - best_prev)) {
      best = static_cast<int>(v);
      best_bytes = bytes;
      best_prev = prev;
      best_next = next;
    }
  }
  if (best < 0) return uint64_t{0};

  const ir::Value x = g.values[static_cast<size_t>(best)];
  ir::Value handle;
  handle.name = g.UniqueName(x.name + ".spill");
  handle.dtype = DType::kU8;
  handle.shape = {0};
  ASSIGN_OR_RETURN(const int h, g.AddValue(std::move(handle)));
  ir::Value filled;
  filled.name = g.UniqueName(x.name + ".fill");
  filled.dtype = x.dtype;
  filled.shape = x.shape;
  ASSIGN_OR_RETURN(const int f, g.AddValue(std::move(filled)));
  const int spill = g.AddNode({"spill " + x.name, std::string(kSpillOp), {best}, {h}, {}});
  const int fill = g.AddNode({"fill " + x.name, std::string(kFillOp), {h}, {f}, {}});

  const int prev_node = lv.steps[static_cast<size_t>(best_prev)];
  const int next_node = lv.steps[static_cast<size_t>(best_next)];
  auto prev_at = std::find(order.begin(), order.end(), prev_node);
  order.insert(prev_at + 1, spill);
  auto next_at = std::find(order.begin(), order.end(), next_node);
  const auto fill_pos = static_cast<size_t>(next_at - order.begin());
  order.insert(next_at, fill);
  // The next use and every later one read the filled copy.
  for (size_t i = fill_pos + 1; i < order.size(); ++i) {
    for (int& in : g.nodes[static_cast<size_t>(order[i])].inputs) {
      if (in == best) in = f;
    }
  }
  return best_bytes;
}

}  // namespace ts::passes
