// The TensorShunt IR: a dataflow graph of Values (typed, statically shaped tensors) and Nodes
// (an op name, input and output values, attributes).
//
// Ownership: a Graph owns its values and nodes; ids are indices into `values` and `nodes` and
// stay valid as long as nothing is erased (passes that remove nodes rebuild the graph).
// Weight and constant data are immutable and shared, so copying a Graph is cheap.
// Not thread-safe for mutation.
#ifndef TENSORSHUNT_IR_GRAPH_H_
#define TENSORSHUNT_IR_GRAPH_H_

#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "ir/attr.h"
#include "ir/dtype.h"
#include "ir/status.h"

namespace ts::ir {

enum class ValueKind : uint8_t {
  kInput,       // fed by the caller at run time
  kOutput,      // produced by a node and returned to the caller
  kWeight,      // data known at compile time, from the model's initializers
  kActivation,  // produced and consumed inside the graph
  kConstant,    // data known at compile time, from Constant nodes or folding
};

std::string_view ValueKindName(ValueKind k);

// A tensor's immutable bytes: owned here, or a view of memory that `keep` holds alive (a
// checkpoint file mapped into memory, so that its tensors reach the bundle without a copy).
class TensorBytes {
 public:
  explicit TensorBytes(std::vector<uint8_t> owned)
      : owned_(std::move(owned)), p_(owned_.data()), n_(owned_.size()) {}
  TensorBytes(std::shared_ptr<const void> keep, const uint8_t* p, size_t n) : keep_(std::move(keep)), p_(p), n_(n) {}
  TensorBytes(const TensorBytes&) = delete;
  TensorBytes& operator=(const TensorBytes&) = delete;

  const uint8_t* data() const { return p_; }
  size_t size() const { return n_; }
  const uint8_t* begin() const { return p_; }
  const uint8_t* end() const { return p_ + n_; }
  bool empty() const { return n_ == 0; }
  std::vector<uint8_t> ToVector() const { return std::vector<uint8_t>(begin(), end()); }
  friend bool operator==(const TensorBytes& a, const TensorBytes& b) {
    return a.n_ == b.n_ && (a.n_ == 0 || std::memcmp(a.p_, b.p_, a.n_) == 0);
  }
  friend bool operator==(const TensorBytes& a, const std::vector<uint8_t>& b) {
    return a.n_ == b.size() && (a.n_ == 0 || std::memcmp(a.p_, b.data(), a.n_) == 0);
  }

 private:
  std::vector<uint8_t> owned_;
  std::shared_ptr<const void> keep_;
  const uint8_t* p_;
  size_t n_;
};

using Bytes = std::shared_ptr<const TensorBytes>;
inline Bytes MakeBytes(std::vector<uint8_t> owned) { return std::make_shared<const TensorBytes>(std::move(owned)); }

struct Value {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;  // static dims; empty means scalar
  bool shape_known = true;     // false until shape inference has run for this value
  ValueKind kind = ValueKind::kActivation;
  Bytes data;                  // weights and constants only; little-endian, row-major

  bool HasData() const { return data != nullptr; }
  // Bytes of the tensor; only meaningful when shape_known. Saturates at INT64_MAX.
  int64_t ByteSize() const;
};


struct Node {
  std::string name;
  std::string op;
  std::vector<int> inputs;   // value ids; -1 marks an omitted optional input
  std::vector<int> outputs;  // value ids
  std::map<std::string, AttrValue> attrs;

  std::optional<int64_t> IntAttr(const std::string& key) const;
  std::optional<double> FloatAttr(const std::string& key) const;
  std::optional<std::string> StringAttr(const std::string& key) const;
  std::optional<std::vector<int64_t>> IntsAttr(const std::string& key) const;
  int64_t IntAttrOr(const std::string& key, int64_t dflt) const;
  double FloatAttrOr(const std::string& key, double dflt) const;
};

class Graph {
 public:
  // Adds a value; its name must be unique in the graph.
  StatusOr<int> AddValue(Value v);
  int AddNode(Node n);
  std::optional<int> FindValue(const std::string& name) const;
  // A name not yet used, built from `base`.
  std::string UniqueName(const std::string& base) const;

  std::vector<Value> values;
  std::vector<Node> nodes;
  std::vector<int> inputs;   // graph inputs, in call order
  std::vector<int> outputs;  // graph outputs, in return order
  int64_t opset = 0;         // ONNX default-domain opset the model was written against

 private:
  std::unordered_map<std::string, int> by_name_;
};

// For each value, the node that produces it (-1 for inputs, weights and constants).
std::vector<int> Producers(const Graph& g);
// For each value, the nodes that consume it, in node order (a node appears once per use).
std::vector<std::vector<int>> Consumers(const Graph& g);

}  // namespace ts::ir

#endif  // TENSORSHUNT_IR_GRAPH_H_
