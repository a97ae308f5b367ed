#include "ir/verifier.h"

#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

namespace ts::ir {
namespace {

std::string NodeDesc(const Graph& g, int n) {
  const Node& node = g.nodes[n];
  std::string who = node.name.empty() ? "node #" + std::to_string(n) : "node '" + node.name + "'";
  return who + " (" + node.op + ")";
}

std::string ValueDesc(const Value& v) {
  return "value '" + v.name + "' (" + std::string(ValueKindName(v.kind)) + ")";
}

std::string TypeText(const Value& v) {
  std::string s(DTypeName(v.dtype));
  s += '[';
  for (size_t k = 0; k < v.shape.size(); ++k) {
    if (k > 0) s += ',';
    s += std::to_string(v.shape[k]);
  }
  return s + ']';
}

bool IsSource(ValueKind k) {
  return k == ValueKind::kInput || k == ValueKind::kWeight || k == ValueKind::kConstant;
}

// Everything after this check may index g.values with any id it finds.
Status CheckIds(const Graph& g) {
  const int nv = static_cast<int>(g.values.size());
  auto missing = [](int id) {
    return "refers to value " + std::to_string(id) + " which does not exist";
  };
  for (int n = 0; n < static_cast<int>(g.nodes.size()); ++n) {
    const Node& node = g.nodes[n];
    if (node.op.empty()) return BadInputError(NodeDesc(g, n) + ": op is empty");
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      int id = node.inputs[i];
      if (id < -1 || id >= nv) {
        return BadInputError(NodeDesc(g, n) + ": input " + std::to_string(i) + " " + missing(id));
      }
    }
    for (size_t i = 0; i < node.outputs.size(); ++i) {
      int id = node.outputs[i];
      if (id < 0 || id >= nv) {
        return BadInputError(NodeDesc(g, n) + ": output " + std::to_string(i) + " " +
                             missing(id));
      }
    }
  }
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    if (g.inputs[i] < 0 || g.inputs[i] >= nv) {
      return BadInputError("graph input " + std::to_string(i) + " " + missing(g.inputs[i]));
    }
  }
  for (size_t i = 0; i < g.outputs.size(); ++i) {
    if (g.outputs[i] < 0 || g.outputs[i] >= nv) {
      return BadInputError("graph output " + std::to_string(i) + " " + missing(g.outputs[i]));
    }
  }
  return OkStatus();
}

Status CheckValues(const Graph& g) {
  std::unordered_map<std::string, int> by_name;
  for (int id = 0; id < static_cast<int>(g.values.size()); ++id) {
    const Value& v = g.values[id];
    auto [it, inserted] = by_name.emplace(v.name, id);
    if (!inserted) {
      return BadInputError("value " + std::to_string(id) + ": name '" + v.name +
                           "' is also used by value " + std::to_string(it->second));
    }
    if (!IsValidDType(static_cast<uint8_t>(v.dtype))) {
      return BadInputError(ValueDesc(v) + ": invalid dtype " +
                           std::to_string(static_cast<int>(v.dtype)));
    }
    if (v.shape_known) {
      for (size_t k = 0; k < v.shape.size(); ++k) {
        if (v.shape[k] < 0) {
          return BadInputError(ValueDesc(v) + ": dim " + std::to_string(k) + " is " +
                               std::to_string(v.shape[k]) + "; dims must be non-negative");
        }
      }
    }
    if (v.kind == ValueKind::kWeight || v.kind == ValueKind::kConstant) {
      if (!v.HasData()) {
        return BadInputError(ValueDesc(v) + ": has no data; weights and constants need bytes");
      }
      if (!v.shape_known) continue;
      auto bytes = CheckedByteSize(v.dtype, v.shape);
      if (!bytes) return BadInputError(ValueDesc(v) + ": size of " + TypeText(v) +
                                       " overflows int64");
      if (static_cast<uint64_t>(*bytes) != v.data->size()) {
        return BadInputError(ValueDesc(v) + ": has " + std::to_string(v.data->size()) +
                             " bytes of data but " + TypeText(v) + " needs " +
                             std::to_string(*bytes));
      }
    } else if (v.HasData()) {
      return BadInputError(ValueDesc(v) + ": has data; only weights and constants carry data");
    }
  }
  return OkStatus();
}

Status CheckGraphInputsOutputs(const Graph& g) {
  std::vector<char> listed(g.values.size(), 0);
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    const Value& v = g.values[g.inputs[i]];
    if (v.kind != ValueKind::kInput) {
      return BadInputError("graph input " + std::to_string(i) + " is " + ValueDesc(v) +
                           "; graph inputs must have kind input");
    }
    if (listed[g.inputs[i]]) {
      return BadInputError("graph input " + std::to_string(i) + " is " + ValueDesc(v) +
                           ", which is listed twice");
    }
    listed[g.inputs[i]] = 1;
  }
  for (size_t id = 0; id < g.values.size(); ++id) {
    if (g.values[id].kind == ValueKind::kInput && !listed[id]) {
      return BadInputError(ValueDesc(g.values[id]) + ": not listed in the graph inputs");
    }
  }

  if (g.outputs.empty()) return BadInputError("graph has no outputs");
  listed.assign(g.values.size(), 0);
  for (size_t i = 0; i < g.outputs.size(); ++i) {
    const Value& v = g.values[g.outputs[i]];
    if (v.kind == ValueKind::kActivation) {
      return BadInputError("graph output " + std::to_string(i) + " is " + ValueDesc(v) +
                           "; a returned value must have kind output");
    }
    if (listed[g.outputs[i]]) {
      return BadInputError("graph output " + std::to_string(i) + " is " + ValueDesc(v) +
                           ", which is listed twice");
    }
    listed[g.outputs[i]] = 1;
  }
  for (size_t id = 0; id < g.values.size(); ++id) {
    if (g.values[id].kind == ValueKind::kOutput && !listed[id]) {
      return BadInputError(ValueDesc(g.values[id]) + ": not listed in the graph outputs");
    }
  }
  return OkStatus();
}

// Fills `producer` (node per value, -1 for none) while checking that there is at most one.
Status CheckProducers(const Graph& g, std::vector<int>& producer) {
  producer.assign(g.values.size(), -1);
  for (int n = 0; n < static_cast<int>(g.nodes.size()); ++n) {
    const Node& node = g.nodes[n];
    for (size_t i = 0; i < node.outputs.size(); ++i) {
      int id = node.outputs[i];
      const Value& v = g.values[id];
      if (IsSource(v.kind)) {
        return BadInputError(NodeDesc(g, n) + ": output " + std::to_string(i) + " is " +
                             ValueDesc(v) + ", which no node may produce");
      }
      if (producer[id] >= 0) {
        return BadInputError(ValueDesc(v) + ": produced by both " + NodeDesc(g, producer[id]) +
                             " and " + NodeDesc(g, n) + "; a value has one producer");
      }
      producer[id] = n;
    }
  }
  return OkStatus();
}

Status CheckAvailableAndAcyclic(const Graph& g, const std::vector<int>& producer) {
  const int nn = static_cast<int>(g.nodes.size());
  std::vector<int> pending(nn, 0);  // inputs (counted per use) whose producer has not run
  for (int n = 0; n < nn; ++n) {
    const Node& node = g.nodes[n];
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      int id = node.inputs[i];
      if (id < 0) continue;
      const Value& v = g.values[id];
      if (producer[id] >= 0) {
        ++pending[n];
      } else if (!IsSource(v.kind)) {
        return BadInputError(NodeDesc(g, n) + ": input " + std::to_string(i) + " is " +
                             ValueDesc(v) + ", which no node produces");
      }
    }
  }
  for (size_t i = 0; i < g.outputs.size(); ++i) {
    const Value& v = g.values[g.outputs[i]];
    if (!IsSource(v.kind) && producer[g.outputs[i]] < 0) {
      return BadInputError("graph output " + std::to_string(i) + " is " + ValueDesc(v) +
                           ", which no node produces");
    }
  }

  // Kahn's algorithm: a node runs once all its producers have.
  std::vector<std::vector<int>> consumers = Consumers(g);
  std::deque<int> ready;
  for (int n = 0; n < nn; ++n) {
    if (pending[n] == 0) ready.push_back(n);
  }
  int done = 0;
  while (!ready.empty()) {
    int n = ready.front();
    ready.pop_front();
    ++done;
    for (int id : g.nodes[n].outputs) {
      for (int c : consumers[id]) {
        if (--pending[c] == 0) ready.push_back(c);
      }
    }
  }
  if (done == nn) return OkStatus();

  // Every node left waits on another node left, so walking back along waiting inputs must
  // revisit a node, and that node lies on a cycle; naming it beats naming one merely downstream.
  // Each node is visited at most once, so the walk is linear even for hostile fan-in.
  int cur = 0;
  while (pending[cur] == 0) ++cur;
  std::vector<char> seen(nn, 0);
  while (!seen[cur]) {
    seen[cur] = 1;
    for (int id : g.nodes[cur].inputs) {
      if (id >= 0 && producer[id] >= 0 && pending[producer[id]] > 0) {
        cur = producer[id];
        break;
      }
    }
  }
  return BadInputError("graph has a cycle through " + NodeDesc(g, cur));
}

Status CheckShapesKnown(const Graph& g) {
  for (int n = 0; n < static_cast<int>(g.nodes.size()); ++n) {
    for (int id : g.nodes[n].inputs) {
      if (id >= 0 && !g.values[id].shape_known) {
        return BadInputError(ValueDesc(g.values[id]) + ": used by " + NodeDesc(g, n) +
                             " but its shape is not known; run shape inference first");
      }
    }
  }
  for (int id : g.outputs) {
    if (!g.values[id].shape_known) {
      return BadInputError(ValueDesc(g.values[id]) +
                           ": a graph output whose shape is not known; run shape inference first");
    }
  }
  return OkStatus();
}

}  // namespace

Status Verify(const Graph& g, const VerifyOptions& options) {
  RETURN_IF_ERROR(CheckIds(g));
  RETURN_IF_ERROR(CheckValues(g));
  RETURN_IF_ERROR(CheckGraphInputsOutputs(g));
  std::vector<int> producer;
  RETURN_IF_ERROR(CheckProducers(g, producer));
  RETURN_IF_ERROR(CheckAvailableAndAcyclic(g, producer));
  if (options.require_shapes) RETURN_IF_ERROR(CheckShapesKnown(g));
  return OkStatus();
}

}  // namespace ts::ir
