#include "passes/shape_inference.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <map>
#include <string>

#include "ir/ops.h"
#include "passes/schedule.h"
#include "runtime/ops/op.h"

namespace ts::passes {
namespace {

// 256 TiB: beyond any tensor a budgeted plan can hold, and far from 64-bit overflow when the
// planner adds offsets and sizes.
constexpr int64_t kMaxTensorBytes = int64_t{1} << 48;
// Nodes whose inputs are all known are evaluated at compile time when their inputs and outputs
// are at most this large; bigger ones stay in the program (their result would bloat the bundle
// for little gain).
constexpr int64_t kMaxFoldBytes = int64_t{16} << 20;

// A parameter tensor as an attribute: ints for integer and bool types, floats otherwise.
ir::AttrValue ParamAttr(const ir::Value& v) {
  const int64_t count = v.HasData() ? static_cast<int64_t>(v.data->size()) / DTypeSize(v.dtype) : 0;
  const uint8_t* p = v.data->data();
  auto load = [&]<typename T>(int64_t i) {
    T x;
    std::memcpy(&x, p + i * sizeof(T), sizeof(T));
    return x;
  };
  std::vector<int64_t> ints;
  std::vector<double> floats;
  for (int64_t i = 0; i < count; ++i) {
    switch (v.dtype) {
      case DType::kF32: floats.push_back(load.operator()<float>(i)); break;
      case DType::kF64: floats.push_back(load.operator()<double>(i)); break;
      case DType::kF16: floats.push_back(ops::HalfToFloat(load.operator()<uint16_t>(i))); break;
      case DType::kBF16: floats.push_back(ops::Bf16ToFloat(load.operator()<uint16_t>(i))); break;
      case DType::kI64: ints.push_back(load.operator()<int64_t>(i)); break;
      case DType::kI32: ints.push_back(load.operator()<int32_t>(i)); break;
      case DType::kI8: ints.push_back(load.operator()<int8_t>(i)); break;
      case DType::kU8:
      case DType::kBool: ints.push_back(p[i]); break;
      case DType::kI16: ints.push_back(load.operator()<int16_t>(i)); break;
      case DType::kU16: ints.push_back(load.operator()<uint16_t>(i)); break;
      case DType::kU32: ints.push_back(load.operator()<uint32_t>(i)); break;
      case DType::kU64: ints.push_back(static_cast<int64_t>(load.operator()<uint64_t>(i))); break;
    }
  }
  if (ops::IsFloat(v.dtype)) return floats;
  return ints;
}

std::string ShapeStr(const ir::Value& v) { return TypeString(v.dtype, v.shape); }

class Inferrer {
 public:
  explicit Inferrer(ir::Graph& g)
      : g_(g), producer_(ir::Producers(g)), folded(g.nodes.size(), false) {}
  Status InferNode(ir::Node& n);

 private:
  Status Fail(const ir::Node& n, const std::string& what) {
    return BadInputError("node '" + n.name + "' (" + n.op + "): " + what);
  }
  StatusOr<const ir::Value*> In(const ir::Node& n, size_t i) {
    if (i >= n.inputs.size() || n.inputs[i] < 0) {
      return Fail(n, "input " + std::to_string(i) + " is required but missing");
    }
    return &g_.values[n.inputs[i]];
  }
  Status SetOut(const ir::Node& n, DType t, std::vector<int64_t> shape) {
    if (n.outputs.size() != 1) {
      return Fail(n, "expected 1 output, found " + std::to_string(n.outputs.size()));
    }
    auto bytes = CheckedByteSize(t, shape);
    if (!bytes || *bytes > kMaxTensorBytes) {
      return Fail(n, "output " + TypeString(t, shape) + " is over the 2^48-byte limit on one tensor");
    }
    ir::Value& out = g_.values[n.outputs[0]];
    out.dtype = t;
    out.shape = std::move(shape);
    out.shape_known = true;
    return OkStatus();
  }
  // Checks the input count, after dropping omitted ("") trailing inputs from the node so later
  // passes never see an id of -1. No op of this version takes an omitted input in the middle.
  Status Arity(ir::Node& n, size_t lo, size_t hi) {
    while (!n.inputs.empty() && n.inputs.back() < 0) n.inputs.pop_back();
    const size_t count = n.inputs.size();
    for (size_t i = 0; i < count; ++i) {
      if (n.inputs[i] < 0) return Fail(n, "input " + std::to_string(i) + " is omitted but required");
    }
    if (count < lo || count > hi) {
      return Fail(n, "takes " + std::to_string(lo) + (lo == hi ? "" : "-" + std::to_string(hi)) +
                         " inputs, found " + std::to_string(count));
    }
    return OkStatus();
  }

  Status SetOuts(const ir::Node& n, const std::vector<ops::TensorType>& types) {
    for (size_t i = 0; i < types.size(); ++i) {
      auto bytes = CheckedByteSize(types[i].dtype, types[i].shape);
      if (!bytes || *bytes > kMaxTensorBytes) {
        return Fail(n, "output " + TypeString(types[i].dtype, types[i].shape) +
                           " is over the 2^48-byte limit on one tensor");
      }
      ir::Value& out = g_.values[n.outputs[i]];
      out.dtype = types[i].dtype;
      out.shape = types[i].shape;
      out.shape_known = true;
    }
    return OkStatus();
  }
  // The graph inputs `v` is computed from (at most 3 named), for messages.
  std::string UpstreamInputs(int v) const;
  Status LibraryOp(ir::Node& n, const ops::OpDef& def);
  // The op library's "OP: what" as "node 'NAME' (OP): what".
  Status FromLibrary(const ir::Node& n, const Status& st) {
    const std::string& m = st.message();
    const size_t colon = m.find(": ");
    if (colon == std::string::npos) return Fail(n, m);
    return Status(st.code(), "node '" + n.name + "' (" + m.substr(0, colon) + ")" + m.substr(colon));
  }
  // Input i of n sets parameter `what` and is not known at compile time.
  Status NotKnown(const ir::Node& n, size_t i, const std::string& what) const;
  Status Fold(ir::Node& n, const ops::OpDef& def);

  Status MatMul(ir::Node& n);
  Status Gemm(ir::Node& n);
  Status Reshape(ir::Node& n);
  Status Transpose(ir::Node& n);
  Status Softmax(ir::Node& n);

  ir::Graph& g_;
  std::vector<int> producer_;

 public:
  std::vector<bool> folded;  // per node: evaluated at compile time, to be removed
};

std::string Inferrer::UpstreamInputs(int v) const {
  std::vector<int> stack = {v};
  std::vector<bool> seen(g_.values.size(), false);
  std::vector<std::string> names;
  while (!stack.empty()) {
    const int x = stack.back();
    stack.pop_back();
    if (x < 0 || seen[x]) continue;
    seen[x] = true;
    if (g_.values[x].kind == ir::ValueKind::kInput) names.push_back(g_.values[x].name);
    const int p = producer_[x];
    if (p >= 0) stack.insert(stack.end(), g_.nodes[p].inputs.begin(), g_.nodes[p].inputs.end());
  }
  std::sort(names.begin(), names.end());
  std::string out;
  for (size_t i = 0; i < names.size() && i < 3; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > 3) out += ", ...";
  return out;
}

Status Inferrer::NotKnown(const ir::Node& n, size_t i, const std::string& what) const {
  const int v = n.inputs[i];
  const std::string from = UpstreamInputs(v);
  return BadInputError("node '" + n.name + "' (" + n.op + "): input " + std::to_string(i) + " ('" +
                       g_.values[v].name + "') sets its '" + what +
                       "' and must be known at compile time" +
                       (from.empty() ? "; make it a constant in the model"
                                     : ", but it depends on graph input " + from +
                                           ": fix that input's value with --bind NAME=FILE"));
}

// Parameter inputs become attributes (they must be known now), the library infers the output
// types, and a node whose inputs are all known is evaluated on the spot.
Status Inferrer::LibraryOp(ir::Node& n, const ops::OpDef& def) {
  if (!n.attrs.count("opset")) {  // not yet in canonical form
    const std::vector<std::string> params = def.params ? def.params(g_.opset) : std::vector<std::string>{};
    std::vector<int> data;
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      const int v = n.inputs[i];
      if (i >= params.size() || params[i].empty()) {
        data.push_back(v);
        continue;
      }
      if (v < 0) continue;  // an omitted parameter
      const ir::Value& pv = g_.values[v];
      if (!pv.HasData()) return NotKnown(n, i, params[i]);
      n.attrs[params[i]] = ParamAttr(pv);
      n.attrs[params[i] + ".dtype"] = static_cast<int64_t>(pv.dtype);
    }
    while (!data.empty() && data.back() < 0) data.pop_back();
    if (std::find(data.begin(), data.end(), -1) != data.end()) {
      return Fail(n, "an omitted input before a given one is not supported");
    }
    n.inputs = std::move(data);
    n.attrs["opset"] = g_.opset;
  }
  std::vector<ops::TensorType> types;
  for (int v : n.inputs) types.push_back({g_.values[v].dtype, g_.values[v].shape});
  auto out = ops::InferOp(def, g_.opset, n.attrs, types, n.outputs.size());
  if (!out.ok()) return FromLibrary(n, out.status());
  RETURN_IF_ERROR(SetOuts(n, *out));

  bool known = true;
  int64_t bytes = 0;
  for (int v : n.inputs) {
    known &= g_.values[v].HasData();
    bytes += g_.values[v].ByteSize();
  }
  for (int v : n.outputs) bytes += g_.values[v].ByteSize();
  // A weight that a Cast widens (int8 or f16 weights to f32) stays as it is stored: folding
  // would store and stream the wide copy instead.
  if (n.op == "Cast" && n.inputs.size() == 1 && g_.values[n.inputs[0]].kind == ir::ValueKind::kWeight &&
      DTypeSize(g_.values[n.outputs[0]].dtype) > DTypeSize(g_.values[n.inputs[0]].dtype)) {
    known = false;
  }
  if ((known || def.types_only) && bytes <= kMaxFoldBytes) return Fold(n, def);
  return OkStatus();
}

Status Inferrer::Fold(ir::Node& n, const ops::OpDef& def) {
  std::vector<ops::HostTensor> inputs;
  for (int v : n.inputs) {
    const ir::Value& x = g_.values[v];
    ops::HostTensor t{x.dtype, x.shape, {}};
    if (x.HasData()) {
      t.bytes = x.data->ToVector();
    } else {
      t.bytes.assign(static_cast<size_t>(x.ByteSize()), 0);  // types_only: bytes unread
    }
    inputs.push_back(std::move(t));
  }
  auto out = ops::EvaluateOp(def.name, g_.opset, n.attrs, inputs, n.outputs.size(), kMaxFoldBytes);
  if (!out.ok()) return FromLibrary(n, out.status());
  for (size_t i = 0; i < n.outputs.size(); ++i) {
    ir::Value& v = g_.values[n.outputs[i]];
    v.data = ir::MakeBytes(std::move((*out)[i].bytes));
    v.kind = ir::ValueKind::kConstant;
  }
  folded[&n - g_.nodes.data()] = true;
  return OkStatus();
}

Status Inferrer::MatMul(ir::Node& n) {
  RETURN_IF_ERROR(Arity(n, 2, 2));
  ASSIGN_OR_RETURN(const ir::Value* a, In(n, 0));
  ASSIGN_OR_RETURN(const ir::Value* b, In(n, 1));
  if (a->dtype != b->dtype) return Fail(n, "A is " + ShapeStr(*a) + ", B is " + ShapeStr(*b));
  if (a->shape.empty() || b->shape.empty()) return Fail(n, "inputs must have rank >= 1");
  std::vector<int64_t> as = a->shape, bs = b->shape;
  if (n.IntAttrOr("trans_b", 0) != 0) {  // set by FoldTransposeIntoMatMul
    if (bs.size() != 2) return Fail(n, "trans_b needs a 2-D B, B is " + ShapeStr(*b));
    std::swap(bs[0], bs[1]);
  }
  bool a_vec = as.size() == 1, b_vec = bs.size() == 1;
  if (a_vec) as.insert(as.begin(), 1);
  if (b_vec) bs.push_back(1);
  int64_t k = as.back();
  if (bs[bs.size() - 2] != k) {
    return Fail(n, "inner dimensions differ: A is " + ShapeStr(*a) + ", B is " + ShapeStr(*b));
  }
  std::vector<int64_t> abatch(as.begin(), as.end() - 2), bbatch(bs.begin(), bs.end() - 2);
  auto batch = BroadcastShapes(abatch, bbatch);
  if (!batch) {
    return Fail(n, "batch dimensions do not broadcast: A is " + ShapeStr(*a) + ", B is " +
                       ShapeStr(*b));
  }
  std::vector<int64_t> out = *batch;
  if (!a_vec) out.push_back(as[as.size() - 2]);
  if (!b_vec) out.push_back(bs.back());
  if (auto out_dtype = n.IntAttr("out_dtype")) {  // set by HalfPrecisionProducts
    if (*out_dtype != static_cast<int64_t>(DType::kF32) || (a->dtype != DType::kF16 && a->dtype != DType::kBF16)) {
      return Fail(n, "out_dtype=f32 is for f16 or bf16 operands, A is " + ShapeStr(*a));
    }
    return SetOut(n, DType::kF32, out);
  }
  return SetOut(n, a->dtype, out);
}

Status Inferrer::Gemm(ir::Node& n) {
  RETURN_IF_ERROR(Arity(n, 2, 3));
  ASSIGN_OR_RETURN(const ir::Value* a, In(n, 0));
  ASSIGN_OR_RETURN(const ir::Value* b, In(n, 1));
  if (a->shape.size() != 2 || b->shape.size() != 2) {
    return Fail(n, "A and B must be 2-D: A is " + ShapeStr(*a) + ", B is " + ShapeStr(*b));
  }
  const bool ta = n.IntAttrOr("transA", 0) != 0, tb = n.IntAttrOr("transB", 0) != 0;
  const int64_t m = ta ? a->shape[1] : a->shape[0], k = ta ? a->shape[0] : a->shape[1];
  const int64_t kb = tb ? b->shape[1] : b->shape[0], nn = tb ? b->shape[0] : b->shape[1];
  if (k != kb) {
    return Fail(n, "inner dimensions differ: A is " + ShapeStr(*a) + (ta ? " (transposed)" : "") +
                       ", B is " + ShapeStr(*b) + (tb ? " (transposed)" : ""));
  }
  if (n.inputs.size() > 2 && n.inputs[2] >= 0) {
    const ir::Value& c = g_.values[n.inputs[2]];
    auto bc = BroadcastShapes(c.shape, {m, nn});
    if (!bc || *bc != std::vector<int64_t>{m, nn}) {
      return Fail(n, "C " + ShapeStr(c) + " does not broadcast to [" + std::to_string(m) + "," +
                         std::to_string(nn) + "]");
    }
  }
  if (a->dtype != b->dtype) return Fail(n, "A and B have different element types");
  return SetOut(n, a->dtype, {m, nn});
}

Status Inferrer::Reshape(ir::Node& n) {
  ASSIGN_OR_RETURN(const ir::Value* x, In(n, 0));
  std::vector<int64_t> spec;
  if (auto attr = n.IntsAttr("shape"); attr && n.inputs.size() == 1) {
    spec = *attr;  // opset 1-4 form, or already normalised
  } else {
    RETURN_IF_ERROR(Arity(n, 2, 2));
    ASSIGN_OR_RETURN(const ir::Value* s, In(n, 1));
    if (!s->HasData()) return NotKnown(n, 1, "shape");
    if (s->dtype != DType::kI64 || s->shape.size() != 1) {
      return Fail(n, "the shape input '" + s->name + "' must be a 1-D int64 tensor, found " +
                         ShapeStr(*s));
    }
    spec.resize(s->shape[0]);
    std::memcpy(spec.data(), s->data->data(), spec.size() * sizeof(int64_t));
  }
  const bool allowzero = n.IntAttrOr("allowzero", 0) != 0;
  auto total_opt = CheckedElementCount(x->shape);
  if (!total_opt) return Fail(n, "input size overflows");
  const int64_t total = *total_opt;
  std::vector<int64_t> out(spec.size());
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < spec.size(); ++i) {
    int64_t d = spec[i];
    if (d == -1) {
      if (infer >= 0) return Fail(n, "more than one -1 in the target shape");
      infer = static_cast<int>(i);
      continue;
    }
    if (d == 0 && !allowzero) {
      if (i >= x->shape.size()) return Fail(n, "0 in the target shape copies a dimension that does not exist");
      d = x->shape[i];
    }
    if (d < 0) return Fail(n, "invalid target dimension " + std::to_string(d));
    out[i] = d;
    if (__builtin_mul_overflow(known, d, &known)) return Fail(n, "target shape overflows");
  }
  if (infer >= 0) {
    if (known == 0 || total % known != 0) {
      return Fail(n, "cannot infer -1: " + std::to_string(total) + " elements into known " +
                         std::to_string(known));
    }
    out[infer] = total / known;
  } else if (known != total) {
    return Fail(n, "cannot reshape " + ShapeStr(*x) + " (" + std::to_string(total) +
                       " elements) into " + std::to_string(known) + " elements");
  }
  n.inputs.resize(1);
  // The attribute now holds literal dims. A literal 0 needs allowzero kept, or a second run
  // over the normalised node (e.g. text from --dump-after parsed back) would read it as "copy".
  if (std::find(out.begin(), out.end(), 0) != out.end()) {
    n.attrs["allowzero"] = int64_t{1};
  } else {
    n.attrs.erase("allowzero");
  }
  n.attrs["shape"] = out;
  return SetOut(n, x->dtype, out);
}

Status Inferrer::Transpose(ir::Node& n) {
  RETURN_IF_ERROR(Arity(n, 1, 1));
  ASSIGN_OR_RETURN(const ir::Value* x, In(n, 0));
  const int64_t rank = static_cast<int64_t>(x->shape.size());
  std::vector<int64_t> perm;
  if (auto p = n.IntsAttr("perm")) {
    perm = *p;
  } else {
    for (int64_t i = rank - 1; i >= 0; --i) perm.push_back(i);
  }
  if (static_cast<int64_t>(perm.size()) != rank) return Fail(n, "perm has the wrong length");
  std::vector<bool> seen(rank, false);
  std::vector<int64_t> out(rank);
  for (int64_t i = 0; i < rank; ++i) {
    if (perm[i] < 0 || perm[i] >= rank || seen[perm[i]]) {
      return Fail(n, "perm is not a permutation of 0.." + std::to_string(rank - 1));
    }
    seen[perm[i]] = true;
    out[i] = x->shape[perm[i]];
  }
  n.attrs["perm"] = perm;
  return SetOut(n, x->dtype, out);
}

Status Inferrer::Softmax(ir::Node& n) {
  RETURN_IF_ERROR(Arity(n, 1, 1));
  ASSIGN_OR_RETURN(const ir::Value* x, In(n, 0));
  const bool legacy = n.IntAttr("legacy") ? *n.IntAttr("legacy") != 0 : g_.opset < 13;
  const int64_t rank = static_cast<int64_t>(x->shape.size());
  int64_t axis = n.IntAttrOr("axis", legacy ? 1 : -1);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= std::max<int64_t>(rank, 1)) {
    return Fail(n, "axis " + std::to_string(n.IntAttrOr("axis", 0)) + " is out of range for " +
                       ShapeStr(*x));
  }
  n.attrs["axis"] = axis;
  n.attrs["legacy"] = int64_t{legacy ? 1 : 0};
  return SetOut(n, x->dtype, x->shape);
}

// Attributes this version reads, with the type the ONNX spec gives them: a model that sets one
// with another type (a FLOATS perm, say) is refused rather than silently read as absent.
Status CheckAttrTypes(const ir::Node& n) {
  static const std::map<std::string, size_t> kTypes = {
      {"perm", 3}, {"shape", 3}, {"axis", 0}, {"transA", 0}, {"transB", 0}, {"allowzero", 0},
      {"legacy", 0}, {"alpha", 1}, {"beta", 1}, {"program", 2}, {"ops", 0}};
  for (const auto& [key, value] : n.attrs) {
    auto it = kTypes.find(key);
    if (it == kTypes.end()) continue;
    const bool int_as_float = it->second == 1 && value.index() == 0;
    if (value.index() != it->second && !int_as_float) {
      return BadInputError("node '" + n.name + "' (" + n.op + "): attribute '" + key +
                           "' has the wrong type for this op; check the exporter");
    }
  }
  return OkStatus();
}

Status Inferrer::InferNode(ir::Node& n) {
  RETURN_IF_ERROR(CheckAttrTypes(n));
  if (n.op == ir::kElementwiseOp) {  // already fused (e.g. IR read back after --dump-after)
    if (n.inputs.empty()) return Fail(n, "a fused elementwise node needs inputs");
    RETURN_IF_ERROR(Arity(n, 1, n.inputs.size()));
    ASSIGN_OR_RETURN(const ir::Value* first, In(n, 0));
    std::vector<int64_t> shape = first->shape;
    for (size_t i = 1; i < n.inputs.size(); ++i) {
      ASSIGN_OR_RETURN(const ir::Value* x, In(n, i));
      auto b = BroadcastShapes(shape, x->shape);
      if (!b) return Fail(n, "input shapes do not broadcast");
      shape = *b;
    }
    return SetOut(n, first->dtype, shape);
  }
  if (n.op == "MatMul") return MatMul(n);
  if (n.op == "Gemm") return Gemm(n);
  if (n.op == "Reshape" || n.op == "Identity") {
    if (n.op == "Reshape") {
      RETURN_IF_ERROR(Reshape(n));
    } else {
      RETURN_IF_ERROR(Arity(n, 1, 1));
      ASSIGN_OR_RETURN(const ir::Value* x, In(n, 0));
      RETURN_IF_ERROR(SetOut(n, x->dtype, x->shape));
    }
    // Known input, known output: the same bytes (exporters reshape shape vectors on their way
    // to Expand and Reshape).
    const ir::Value& x = g_.values[n.inputs[0]];
    if (x.HasData()) {
      ir::Value& y = g_.values[n.outputs[0]];
      y.data = x.data;
      y.kind = ir::ValueKind::kConstant;
      folded[&n - g_.nodes.data()] = true;
    }
    return OkStatus();
  }
  if (n.op == "Transpose" || n.op == "Softmax") {
    RETURN_IF_ERROR(n.op == "Transpose" ? Transpose(n) : Softmax(n));
    const ir::Value& x = g_.values[n.inputs[0]];
    const ops::OpDef* def = ops::FindOp(n.op);
    if (def && x.HasData() && 2 * x.ByteSize() <= kMaxFoldBytes) return Fold(n, *def);
    return OkStatus();
  }
  if (const ops::OpDef* def = ops::FindOp(n.op)) return LibraryOp(n, *def);
  if (int arity = ir::ElementwiseArity(n.op)) {
    RETURN_IF_ERROR(Arity(n, arity, arity));
    ASSIGN_OR_RETURN(const ir::Value* a, In(n, 0));
    if (arity == 1) return SetOut(n, a->dtype, a->shape);
    ASSIGN_OR_RETURN(const ir::Value* b, In(n, 1));
    if (a->dtype != b->dtype) {
      return Fail(n, "element types differ: " + ShapeStr(*a) + " and " + ShapeStr(*b));
    }
    auto out = BroadcastShapes(a->shape, b->shape);
    if (!out) return Fail(n, "shapes do not broadcast: " + ShapeStr(*a) + " and " + ShapeStr(*b));
    return SetOut(n, a->dtype, *out);
  }
  return Fail(n, "no shape inference for this op");
}

}  // namespace

std::optional<std::vector<int64_t>> BroadcastShapes(const std::vector<int64_t>& a,
                                                     const std::vector<int64_t>& b) {
  const size_t rank = std::max(a.size(), b.size());
  std::vector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1) return std::nullopt;
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Status InferShapes(ir::Graph& g) {
  ASSIGN_OR_RETURN(std::vector<int> order, TopologicalOrder(g));
  Inferrer inferrer(g);
  for (int id : order) RETURN_IF_ERROR(inferrer.InferNode(g.nodes[id]));
  // Folded nodes go; nodes that only reinterpret bytes become Reshape or Identity (aliases: no
  // copy at run time).
  std::vector<ir::Node> kept;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (inferrer.folded[i]) continue;
    ir::Node& n = g.nodes[i];
    const bool reshape = n.op == "Squeeze" || n.op == "Unsqueeze" || n.op == "Flatten";
    if (reshape || (n.op == "Dropout" && n.outputs.size() == 1)) {
      const std::vector<int64_t>& shape = g.values[n.outputs[0]].shape;
      n.op = reshape ? "Reshape" : "Identity";
      n.inputs.resize(1);
      n.attrs.clear();
      if (reshape) {
        n.attrs["shape"] = shape;
        if (std::find(shape.begin(), shape.end(), 0) != shape.end()) n.attrs["allowzero"] = int64_t{1};
      }
    }
    kept.push_back(std::move(n));
  }
  g.nodes = std::move(kept);
  return OkStatus();
}

}  // namespace ts::passes
