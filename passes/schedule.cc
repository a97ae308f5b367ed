#include "passes/schedule.h"

#include <algorithm>
#include <functional>
#include <queue>

#include "ir/ops.h"

namespace ts::passes {
namespace {

// For each node, how many of its inputs another node produces (reads of one value count each).
std::vector<int> PendingInputs(const ir::Graph& g, const std::vector<int>& producer) {
  std::vector<int> pending(g.nodes.size(), 0);
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    for (int v : g.nodes[n].inputs) {
      if (v >= 0 && producer[v] >= 0) ++pending[n];
    }
  }
  return pending;
}

}  // namespace

StatusOr<std::vector<int>> TopologicalOrder(const ir::Graph& g) {
  const std::vector<int> producer = ir::Producers(g);
  const auto consumers = ir::Consumers(g);
  std::vector<int> pending = PendingInputs(g, producer);
  std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    if (pending[n] == 0) ready.push(static_cast<int>(n));
  }
  std::vector<int> order;
  order.reserve(g.nodes.size());
  while (!ready.empty()) {
    int n = ready.top();
    ready.pop();
    order.push_back(n);
    for (int v : g.nodes[n].outputs) {
      if (v < 0) continue;
      for (int c : consumers[v]) {
        if (--pending[c] == 0) ready.push(c);
      }
    }
  }
  if (order.size() != g.nodes.size()) {
    for (size_t n = 0; n < g.nodes.size(); ++n) {
      if (pending[n] > 0) {
        return BadInputError("node '" + g.nodes[n].name + "' (" + g.nodes[n].op +
                             ") is on a cycle; the graph must be acyclic");
      }
    }
  }
  return order;
}

StatusOr<std::vector<int>> MemoryAwareOrder(const ir::Graph& g) {
  const std::vector<int> producer = ir::Producers(g);
  const auto consumers = ir::Consumers(g);
  std::vector<int> pending = PendingInputs(g, producer);
  // Reads left per value; a value whose count reaches zero is freed (unless it must survive).
  std::vector<int> reads_left(g.values.size(), 0);
  for (size_t v = 0; v < g.values.size(); ++v) reads_left[v] = static_cast<int>(consumers[v].size());
  std::vector<bool> keep(g.values.size(), false);
  for (int v : g.outputs) keep[v] = true;
  for (size_t v = 0; v < g.values.size(); ++v) {
    const ir::ValueKind k = g.values[v].kind;
    keep[v] = keep[v] || k == ir::ValueKind::kWeight || k == ir::ValueKind::kConstant;
  }
  auto delta = [&](int n) {
    const ir::Node& node = g.nodes[n];
    int64_t d = 0;
    if (!ir::IsAliasOp(node.op)) {
      for (int v : node.outputs) {
        if (v >= 0) d += g.values[v].ByteSize();
      }
    }
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const int v = node.inputs[i];
      if (v < 0 || keep[v]) continue;
      // Count each value once even when the node reads it twice.
      if (std::find(node.inputs.begin(), node.inputs.begin() + i, v) != node.inputs.begin() + i) continue;
      const int uses = static_cast<int>(std::count(node.inputs.begin(), node.inputs.end(), v));
      if (reads_left[v] == uses) d -= g.values[v].ByteSize();
    }
    return d;
  };
  std::vector<int> ready;
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    if (pending[n] == 0) ready.push_back(static_cast<int>(n));
  }
  std::vector<int> order;
  order.reserve(g.nodes.size());
  while (!ready.empty()) {
    size_t best = 0;
    int64_t best_delta = delta(ready[0]);
    for (size_t i = 1; i < ready.size(); ++i) {
      const int64_t d = delta(ready[i]);
      if (d < best_delta || (d == best_delta && ready[i] < ready[best])) {
        best = i;
        best_delta = d;
      }
    }
    const int n = ready[best];
    ready.erase(ready.begin() + static_cast<std::ptrdiff_t>(best));
    order.push_back(n);
    for (int v : g.nodes[n].inputs) {
      if (v >= 0) --reads_left[v];
    }
    for (int v : g.nodes[n].outputs) {
      if (v < 0) continue;
      for (int c : consumers[v]) {
        if (--pending[c] == 0) ready.push_back(c);
      }
    }
  }
  if (order.size() != g.nodes.size()) return TopologicalOrder(g);  // names the cycle
  return order;
}

ir::Graph RemoveUnused(const ir::Graph& g) {
  // Mark backwards from the outputs: a node is live when one of its outputs is needed.
  std::vector<bool> needed(g.values.size(), false), live_node(g.nodes.size(), false);
  for (int v : g.outputs) needed[v] = true;
  for (int v : g.inputs) needed[v] = true;
  const std::vector<int> producer = ir::Producers(g);
  std::vector<int> stack(g.outputs.begin(), g.outputs.end());
  while (!stack.empty()) {
    int v = stack.back();
    stack.pop_back();
    int p = producer[v];
    if (p < 0 || live_node[p]) continue;
    live_node[p] = true;
    for (int o : g.nodes[p].outputs) needed[o] = true;
    for (int in : g.nodes[p].inputs) {
      if (in >= 0 && !needed[in]) {
        needed[in] = true;
        stack.push_back(in);
      } else if (in >= 0 && producer[in] >= 0 && !live_node[producer[in]]) {
        stack.push_back(in);
      }
    }
  }
  ir::Graph out;
  out.opset = g.opset;
  std::vector<int> remap(g.values.size(), -1);
  for (size_t v = 0; v < g.values.size(); ++v) {
    if (!needed[v]) continue;
    remap[v] = *out.AddValue(g.values[v]);  // names were unique in g, so this cannot fail
  }
  auto map_ids = [&](std::vector<int> ids) {
    for (int& id : ids) id = id >= 0 ? remap[id] : -1;
    return ids;
  };
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    if (!live_node[n]) continue;
    ir::Node node = g.nodes[n];
    node.inputs = map_ids(node.inputs);
    node.outputs = map_ids(node.outputs);
    out.AddNode(std::move(node));
  }
  out.inputs = map_ids(g.inputs);
  out.outputs = map_ids(g.outputs);
  return out;
}

}  // namespace ts::passes
