#include "ir/graph.h"

#include <limits>

namespace ts::ir {

std::string_view ValueKindName(ValueKind k) {
  switch (k) {
    case ValueKind::kInput: return "input";
    case ValueKind::kOutput: return "output";
    case ValueKind::kWeight: return "weight";
    case ValueKind::kActivation: return "act";
    case ValueKind::kConstant: return "const";
  }
  return "?";
}

int64_t Value::ByteSize() const {
  auto b = CheckedByteSize(dtype, shape);
  return b ? *b : std::numeric_limits<int64_t>::max();
}

namespace {
template <typename T>
std::optional<T> Get(const std::map<std::string, AttrValue>& attrs, const std::string& key) {
  auto it = attrs.find(key);
  if (it == attrs.end()) return std::nullopt;
  if (const T* v = std::get_if<T>(&it->second)) return *v;
  return std::nullopt;
}
}  // namespace

std::optional<int64_t> Node::IntAttr(const std::string& key) const {
  return Get<int64_t>(attrs, key);
}
std::optional<double> Node::FloatAttr(const std::string& key) const {
  if (auto f = Get<double>(attrs, key)) return f;
  if (auto i = Get<int64_t>(attrs, key)) return static_cast<double>(*i);
  return std::nullopt;
}
std::optional<std::string> Node::StringAttr(const std::string& key) const {
  return Get<std::string>(attrs, key);
}
std::optional<std::vector<int64_t>> Node::IntsAttr(const std::string& key) const {
  return Get<std::vector<int64_t>>(attrs, key);
}
int64_t Node::IntAttrOr(const std::string& key, int64_t dflt) const {
  return IntAttr(key).value_or(dflt);
}
double Node::FloatAttrOr(const std::string& key, double dflt) const {
  return FloatAttr(key).value_or(dflt);
}

StatusOr<int> Graph::AddValue(Value v) {
  if (by_name_.count(v.name)) {
    return BadInputError("tensor name '" + v.name + "' is defined twice; names must be unique");
  }
  int id = static_cast<int>(values.size());
  by_name_.emplace(v.name, id);
  values.push_back(std::move(v));
  return id;
}

int Graph::AddNode(Node n) {
  nodes.push_back(std::move(n));
  return static_cast<int>(nodes.size()) - 1;
}

std::optional<int> Graph::FindValue(const std::string& name) const {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return std::nullopt;
  return it->second;
}

std::string Graph::UniqueName(const std::string& base) const {
  if (!by_name_.count(base)) return base;
  for (int i = 1;; ++i) {
    std::string candidate = base + "." + std::to_string(i);
    if (!by_name_.count(candidate)) return candidate;
  }
}

std::vector<int> Producers(const Graph& g) {
  std::vector<int> producer(g.values.size(), -1);
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    for (int v : g.nodes[n].outputs) {
      if (v >= 0 && v < static_cast<int>(producer.size())) producer[v] = static_cast<int>(n);
    }
  }
  return producer;
}

std::vector<std::vector<int>> Consumers(const Graph& g) {
  std::vector<std::vector<int>> consumers(g.values.size());
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    for (int v : g.nodes[n].inputs) {
      if (v >= 0 && v < static_cast<int>(consumers.size())) {
        consumers[v].push_back(static_cast<int>(n));
      }
    }
  }
  return consumers;
}

}  // namespace ts::ir
