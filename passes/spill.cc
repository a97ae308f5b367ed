#include "passes/spill.h"

#include <algorithm>
#include <string>

#include "ir/ops.h"

namespace ts::passes {

namespace {

bool IsElementwise(const ir::Node& n) {
  return n.op == ir::kElementwiseOp || ir::ElementwiseArity(n.op) > 0;
}

// Whether `x` (value id) can be recomputed right before step `next`: its producer is an
// elementwise step whose inputs are resident or live then anyway.
bool CanRecompute(const ir::Graph& g, const Liveness& lv, const std::vector<int>& producers, int x,
                  int64_t next) {
  const int p = producers[static_cast<size_t>(x)];
  if (p < 0) return false;
  const ir::Node& node = g.nodes[static_cast<size_t>(p)];
  if (!IsElementwise(node) || node.outputs.size() != 1) return false;
  for (int in : node.inputs) {
    if (in < 0) continue;
    const ir::Value& v = g.values[static_cast<size_t>(in)];
    const int b = lv.buffer_of_value[static_cast<size_t>(in)];
    const bool resident = v.kind == ir::ValueKind::kWeight || v.kind == ir::ValueKind::kConstant;
    const bool live_then = b >= 0 && lv.buffers[static_cast<size_t>(b)].live.first <= next &&
                           next <= lv.buffers[static_cast<size_t>(b)].live.last;
    if (!resident && !live_then) return false;
  }
  return true;
}

// Inserts `node` (which makes `copy`) into `order` just before `next_node`; that node and every
// later one read `copy` instead of `x`.
void BringBackBefore(ir::Graph& g, std::vector<int>& order, int next_node, int node, int x, int copy) {
  auto at = std::find(order.begin(), order.end(), next_node);
  const auto pos = static_cast<size_t>(at - order.begin());
  order.insert(at, node);
  for (size_t i = pos + 1; i < order.size(); ++i) {
    for (int& in : g.nodes[static_cast<size_t>(order[i])].inputs) {
      if (in == x) in = copy;
    }
  }
}

}  // namespace

StatusOr<Freed> SpillAround(ir::Graph& g, std::vector<int>& order, const Liveness& lv,
                            int64_t peak_step, bool spill, bool remat) {
  const std::vector<int> producers = ir::Producers(g);
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
    if (!spill && !(remat && CanRecompute(g, lv, producers, static_cast<int>(v), next))) continue;
    if (bytes > best_bytes || (bytes == best_bytes && next - prev > best_next - best_prev)) {
      best = static_cast<int>(v);
      best_bytes = bytes;
      best_prev = prev;
      best_next = next;
    }
  }
  if (best < 0) return Freed{};

  const ir::Value x = g.values[static_cast<size_t>(best)];
  const int next_node = lv.steps[static_cast<size_t>(best_next)];
  // Rematerialise when the producer is elementwise and its inputs are there at the next use.
  const int producer = producers[static_cast<size_t>(best)];
  if (remat && CanRecompute(g, lv, producers, best, best_next)) {
    ir::Value again;
    again.name = g.UniqueName(x.name + ".remat");
    again.dtype = x.dtype;
    again.shape = x.shape;
    ASSIGN_OR_RETURN(const int r, g.AddValue(std::move(again)));
    ir::Node copy = g.nodes[static_cast<size_t>(producer)];
    copy.name = "recompute " + x.name;
    copy.outputs = {r};
    BringBackBefore(g, order, next_node, g.AddNode(std::move(copy)), best, r);
    return Freed{best_bytes, true};
  }
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
  const int spill_node = g.AddNode({"spill " + x.name, std::string(kSpillOp), {best}, {h}, {}});
  const int fill_node = g.AddNode({"fill " + x.name, std::string(kFillOp), {h}, {f}, {}});

  const int prev_node = lv.steps[static_cast<size_t>(best_prev)];
  auto prev_at = std::find(order.begin(), order.end(), prev_node);
  order.insert(prev_at + 1, spill_node);
  BringBackBefore(g, order, next_node, fill_node, best, f);
  return Freed{best_bytes, false};
}

}  // namespace ts::passes
