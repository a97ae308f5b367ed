#include "frontend/onnx_importer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include <onnx/onnx_pb.h>

#include "frontend/external_data.h"
#include "ir/verifier.h"
#include "runtime/ops/op.h"

namespace ts::frontend {
namespace {

// Protobuf cannot parse messages of 2 GiB or more; larger models must use external data.
constexpr int64_t kMaxModelBytes = (int64_t{1} << 31) - 1;
constexpr int kMaxRank = 16;
constexpr int64_t kMaxNodes = 1 << 22;
// Longer than any name an exporter writes; a cap keeps hostile names out of messages and maps.
constexpr size_t kMaxNameBytes = 4096;
// Tensor-valued attributes are scalars in the ops this version runs (ConstantOfShape's value).
constexpr int64_t kMaxTensorAttrElements = 64;

template <typename T>
T LoadAs(const uint8_t* p, int64_t i) {
  T v;
  std::memcpy(&v, p + i * sizeof(T), sizeof(T));
  return v;
}

// A small tensor's elements as an attribute: ints for integer and bool types, floats otherwise.
ir::AttrValue TensorAttrValue(const ir::Value& t) {
  const int64_t count = *CheckedElementCount(t.shape);
  const uint8_t* p = t.data->data();
  std::vector<int64_t> ints;
  std::vector<double> floats;
  for (int64_t i = 0; i < count; ++i) {
    switch (t.dtype) {
      case DType::kF32: floats.push_back(LoadAs<float>(p, i)); break;
      case DType::kF64: floats.push_back(LoadAs<double>(p, i)); break;
      case DType::kF16: floats.push_back(ops::HalfToFloat(LoadAs<uint16_t>(p, i))); break;
      case DType::kBF16: floats.push_back(ops::Bf16ToFloat(LoadAs<uint16_t>(p, i))); break;
      case DType::kI64: ints.push_back(LoadAs<int64_t>(p, i)); break;
      case DType::kI32: ints.push_back(LoadAs<int32_t>(p, i)); break;
      case DType::kI8: ints.push_back(LoadAs<int8_t>(p, i)); break;
      case DType::kU8:
      case DType::kBool: ints.push_back(p[i]); break;
      case DType::kI16: ints.push_back(LoadAs<int16_t>(p, i)); break;
      case DType::kU16: ints.push_back(LoadAs<uint16_t>(p, i)); break;
      case DType::kU32: ints.push_back(LoadAs<uint32_t>(p, i)); break;
      case DType::kU64: ints.push_back(static_cast<int64_t>(LoadAs<uint64_t>(p, i))); break;
    }
  }
  if (ops::IsFloat(t.dtype)) return floats;
  return ints;
}

Status CheckName(const std::string& name, const std::string& what) {
  if (name.size() > kMaxNameBytes) {
    return BadInputError(what + " '" + name.substr(0, 40) + "...' is " + std::to_string(name.size()) +
                         " bytes long, over the " + std::to_string(kMaxNameBytes) +
                         "-byte limit on names; the model is corrupt or hostile");
  }
  return OkStatus();
}

std::string OnnxTypeName(int32_t t) {
  return onnx::TensorProto::DataType_IsValid(t)
             ? onnx::TensorProto::DataType_Name(static_cast<onnx::TensorProto::DataType>(t))
             : "unknown";
}

StatusOr<DType> FromOnnxType(int32_t t, const std::string& what) {
  switch (t) {
    case onnx::TensorProto::FLOAT: return DType::kF32;
    case onnx::TensorProto::FLOAT16: return DType::kF16;
    case onnx::TensorProto::BFLOAT16: return DType::kBF16;
    case onnx::TensorProto::DOUBLE: return DType::kF64;
    case onnx::TensorProto::INT64: return DType::kI64;
    case onnx::TensorProto::INT32: return DType::kI32;
    case onnx::TensorProto::INT8: return DType::kI8;
    case onnx::TensorProto::UINT8: return DType::kU8;
    case onnx::TensorProto::BOOL: return DType::kBool;
    case onnx::TensorProto::INT16: return DType::kI16;
    case onnx::TensorProto::UINT16: return DType::kU16;
    case onnx::TensorProto::UINT32: return DType::kU32;
    case onnx::TensorProto::UINT64: return DType::kU64;
    default: break;
  }
  return BadInputError(what + ": element type " + std::to_string(t) +
                       " (" + OnnxTypeName(t) + ") is not supported (supported: float, float16, "
                       "bfloat16, double, int64, int32, int16, int8, uint64, uint32, uint16, uint8, "
                       "bool)");
}

StatusOr<std::vector<int64_t>> CheckedDims(const google::protobuf::RepeatedField<int64_t>& dims,
                                           const std::string& what) {
  if (dims.size() > kMaxRank) {
    return BadInputError(what + ": rank " + std::to_string(dims.size()) + " exceeds " +
                         std::to_string(kMaxRank));
  }
  std::vector<int64_t> shape(dims.begin(), dims.end());
  if (!CheckedElementCount(shape)) {
    return BadInputError(what + ": dims are negative or their product overflows");
  }
  return shape;
}

class Importer {
 public:
  Importer(std::string where, std::string model_dir, const ImportOptions& options)
      : where_(std::move(where)), external_(std::move(model_dir)), options_(options) {}

  StatusOr<ir::Graph> Run(const onnx::ModelProto& model);

 private:
  StatusOr<ir::Value> TensorToValue(const onnx::TensorProto& t, ir::ValueKind kind,
                                    const std::string& name);
  Status AddGraphInput(const onnx::ValueInfoProto& vi);
  Status AddNode(const onnx::NodeProto& node, int index);
  StatusOr<int> ValueFor(const std::string& name, const std::string& node_desc);

  std::string where_;
  ExternalDataReader external_;
  const ImportOptions& options_;
  ir::Graph g_;
};

StatusOr<ir::Value> Importer::TensorToValue(const onnx::TensorProto& t, ir::ValueKind kind,
                                            const std::string& name) {
  RETURN_IF_ERROR(CheckName(name, where_ + ": tensor name"));
  const std::string what = "tensor '" + name + "'";
  ir::Value v;
  v.name = name;
  v.kind = kind;
  ASSIGN_OR_RETURN(v.dtype, FromOnnxType(t.data_type(), what));
  ASSIGN_OR_RETURN(v.shape, CheckedDims(t.dims(), what));
  auto bytes_opt = CheckedByteSize(v.dtype, v.shape);
  if (!bytes_opt || *bytes_opt > kMaxModelBytes * 64) {
    return BadInputError(what + ": declared size is too large");
  }
  const int64_t bytes = *bytes_opt;
  const int64_t count = *CheckedElementCount(v.shape);
  auto data = std::make_unique<std::vector<uint8_t>>();

  if (t.data_location() == onnx::TensorProto::EXTERNAL) {
    std::string location;
    int64_t offset = 0, length = -1;
    for (const auto& kv : t.external_data()) {
      auto parse = [&](int64_t* out) -> Status {
        errno = 0;
        char* end = nullptr;
        long long x = std::strtoll(kv.value().c_str(), &end, 10);
        if (errno || end == kv.value().c_str() || *end || x < 0) {
          return BadInputError(what + ": external data " + kv.key() + " '" + kv.value() +
                               "' is not a non-negative integer");
        }
        *out = x;
        return OkStatus();
      };
      if (kv.key() == "location") location = kv.value();
      else if (kv.key() == "offset") RETURN_IF_ERROR(parse(&offset));
      else if (kv.key() == "length") RETURN_IF_ERROR(parse(&length));
    }
    if (length >= 0 && length != bytes) {
      return BadInputError(what + ": external data length " + std::to_string(length) +
                           " != " + std::to_string(bytes) + " bytes its shape and type need");
    }
    ASSIGN_OR_RETURN(auto raw, external_.Read(location, offset, bytes));
    *data = std::move(raw);
  } else if (t.has_raw_data()) {
    if (static_cast<int64_t>(t.raw_data().size()) != bytes) {
      return BadInputError(what + ": raw_data has " + std::to_string(t.raw_data().size()) +
                           " bytes, its shape and type need " + std::to_string(bytes));
    }
    data->assign(t.raw_data().begin(), t.raw_data().end());
  } else {
    // The typed fields carry one element per entry; count them before allocating, since the
    // declared dims are untrusted and may ask for many GiB.
    int64_t have = 0;
    switch (v.dtype) {
      case DType::kF32: have = t.float_data_size(); break;
      case DType::kF64: have = t.double_data_size(); break;
      case DType::kI64: have = t.int64_data_size(); break;
      case DType::kU32:
      case DType::kU64: have = t.uint64_data_size(); break;
      default: have = t.int32_data_size(); break;  // int32, and the types carried per int32
    }
    if (have != count) {
      return BadInputError(what + ": has " + std::to_string(have) + " elements, its shape needs " +
                           std::to_string(count));
    }
    data->resize(static_cast<size_t>(bytes));
    uint8_t* out = data->data();
    // An empty tensor has no buffers at all (memcpy from a null pointer is undefined).
    if (count > 0) switch (v.dtype) {
      case DType::kF32: std::memcpy(out, t.float_data().data(), bytes); break;
      case DType::kF64: std::memcpy(out, t.double_data().data(), bytes); break;
      case DType::kI64: std::memcpy(out, t.int64_data().data(), bytes); break;
      case DType::kI32: std::memcpy(out, t.int32_data().data(), bytes); break;
      case DType::kU64: std::memcpy(out, t.uint64_data().data(), bytes); break;
      case DType::kU32:
        for (int64_t i = 0; i < count; ++i) {
          const uint32_t x = static_cast<uint32_t>(t.uint64_data(static_cast<int>(i)));
          std::memcpy(out + i * 4, &x, 4);
        }
        break;
      default: {
        // int8, uint8, bool, float16 and bfloat16 are carried one element per int32.
        const int64_t esize = DTypeSize(v.dtype);
        for (int64_t i = 0; i < count; ++i) {
          uint32_t x = static_cast<uint32_t>(t.int32_data(static_cast<int>(i)));
          std::memcpy(out + i * esize, &x, esize);  // little-endian low bytes
        }
      }
    }
  }
  v.data = ir::MakeBytes(std::move(*data));
  return v;
}

Status Importer::AddGraphInput(const onnx::ValueInfoProto& vi) {
  RETURN_IF_ERROR(CheckName(vi.name(), where_ + ": graph input name"));
  const std::string what = "graph input '" + vi.name() + "'";
  if (!vi.type().has_tensor_type()) return BadInputError(what + ": only tensor inputs are supported");
  const auto& tt = vi.type().tensor_type();
  ir::Value v;
  v.name = vi.name();
  v.kind = ir::ValueKind::kInput;
  ASSIGN_OR_RETURN(v.dtype, FromOnnxType(tt.elem_type(), what));
  if (auto bound = options_.bound_inputs.find(vi.name()); bound != options_.bound_inputs.end()) {
    // A bound input is a constant from here on; its value must match the declared type.
    const auto& b = bound->second;
    if (b.dtype != v.dtype) {
      return UsageError("--bind " + vi.name() + ": the file holds " + TypeString(b.dtype, b.shape) +
                        " but the model declares " + std::string(DTypeName(v.dtype)));
    }
    if (tt.has_shape()) {
      const auto& dims = tt.shape().dim();
      bool same_rank = dims.size() == static_cast<int>(b.shape.size());
      for (int i = 0; same_rank && i < dims.size(); ++i) {
        if (dims[i].has_dim_value() && dims[i].dim_value() != b.shape[i]) same_rank = false;
      }
      if (!same_rank) {
        return UsageError("--bind " + vi.name() + ": the file holds " + TypeString(b.dtype, b.shape) +
                          ", which does not match the shape the model declares");
      }
    }
    v.kind = ir::ValueKind::kConstant;
    v.shape = b.shape;
    v.data = ir::MakeBytes(b.bytes);
    return g_.AddValue(std::move(v)).status();
  }
  auto fixed = options_.input_shapes.find(vi.name());
  if (!tt.has_shape()) {
    if (fixed == options_.input_shapes.end()) {
      return BadInputError(what + ": has no shape; fix it with --shape " + vi.name() + "=DIMS");
    }
    v.shape = fixed->second;
  } else {
    const auto& dims = tt.shape().dim();
    if (dims.size() > kMaxRank) return BadInputError(what + ": rank exceeds 16");
    if (fixed != options_.input_shapes.end() &&
        static_cast<int>(fixed->second.size()) != dims.size()) {
      return UsageError("--shape " + vi.name() + ": gives rank " +
                        std::to_string(fixed->second.size()) + " but the model declares rank " +
                        std::to_string(dims.size()));
    }
    for (int i = 0; i < dims.size(); ++i) {
      const auto& d = dims[i];
      if (fixed != options_.input_shapes.end()) {
        int64_t want = fixed->second[i];
        if (d.has_dim_value() && d.dim_value() != want) {
          return UsageError("--shape " + vi.name() + ": dimension " + std::to_string(i) + " is " +
                            std::to_string(want) + " but the model fixes it at " +
                            std::to_string(d.dim_value()));
        }
        v.shape.push_back(want);
      } else if (d.has_dim_value() && d.dim_value() >= 0) {
        v.shape.push_back(d.dim_value());
      } else {
        std::string label = d.has_dim_param() ? " ('" + d.dim_param() + "')" : "";
        return BadInputError(what + ": dimension " + std::to_string(i) + label +
                             " is dynamic; fix it with --shape " + vi.name() + "=" +
                             "DIMS (e.g. 1x3x224x224)");
      }
    }
  }
  auto input_bytes = CheckedByteSize(v.dtype, v.shape);
  if (!input_bytes || *input_bytes > (int64_t{1} << 48)) {
    return BadInputError(what + ": " + TypeString(v.dtype, v.shape) +
                         " is over the 2^48-byte limit on one tensor");
  }
  ASSIGN_OR_RETURN(int id, g_.AddValue(std::move(v)));
  g_.inputs.push_back(id);
  return OkStatus();
}

StatusOr<int> Importer::ValueFor(const std::string& name, const std::string& node_desc) {
  auto id = g_.FindValue(name);
  if (!id) {
    return BadInputError(node_desc + ": input '" + name +
                         "' is not a graph input, initializer or earlier node output "
                         "(nodes must be in topological order)");
  }
  return *id;
}

Status Importer::AddNode(const onnx::NodeProto& node, int index) {
  RETURN_IF_ERROR(CheckName(node.name(), where_ + ": node " + std::to_string(index) + " name"));
  for (const std::string& out : node.output()) {
    RETURN_IF_ERROR(CheckName(out, where_ + ": node " + std::to_string(index) + " output name"));
  }
  for (const auto& a : node.attribute()) {
    RETURN_IF_ERROR(CheckName(a.name(), where_ + ": node " + std::to_string(index) + " attribute name"));
  }
  const std::string desc = where_ + ": node " + std::to_string(index) + " '" + node.name() +
                           "' (" + node.op_type() + ")";
  if (node.op_type() == "Constant") {
    if (node.output_size() != 1) return BadInputError(desc + ": Constant must have one output");
    const std::string& out = node.output(0);
    if (node.attribute_size() != 1) {
      return BadInputError(desc + ": Constant needs exactly one value attribute");
    }
    const auto& a = node.attribute(0);
    onnx::TensorProto t;
    if (a.name() == "value") {
      t = a.t();
    } else if (a.name() == "value_float") {
      t.set_data_type(onnx::TensorProto::FLOAT);
      t.add_float_data(a.f());
    } else if (a.name() == "value_floats") {
      t.set_data_type(onnx::TensorProto::FLOAT);
      t.add_dims(a.floats_size());
      for (float f : a.floats()) t.add_float_data(f);
    } else if (a.name() == "value_int") {
      t.set_data_type(onnx::TensorProto::INT64);
      t.add_int64_data(a.i());
    } else if (a.name() == "value_ints") {
      t.set_data_type(onnx::TensorProto::INT64);
      t.add_dims(a.ints_size());
      for (int64_t i : a.ints()) t.add_int64_data(i);
    } else {
      return BadInputError(desc + ": Constant attribute '" + a.name() + "' is not supported");
    }
    ASSIGN_OR_RETURN(ir::Value v, TensorToValue(t, ir::ValueKind::kConstant, out));
    RETURN_IF_ERROR(g_.AddValue(std::move(v)).status());
    return OkStatus();
  }

  ir::Node n;
  n.name = node.name().empty() ? g_.UniqueName(node.op_type() + "_" + std::to_string(index))
                               : node.name();
  n.op = node.op_type();
  for (const std::string& in : node.input()) {
    if (in.empty()) {
      n.inputs.push_back(-1);
      continue;
    }
    ASSIGN_OR_RETURN(int id, ValueFor(in, desc));
    n.inputs.push_back(id);
  }
  for (const auto& a : node.attribute()) {
    switch (a.type()) {
      case onnx::AttributeProto::INT: n.attrs[a.name()] = int64_t{a.i()}; break;
      case onnx::AttributeProto::FLOAT: n.attrs[a.name()] = double{a.f()}; break;
      case onnx::AttributeProto::STRING: n.attrs[a.name()] = a.s(); break;
      case onnx::AttributeProto::INTS:
        n.attrs[a.name()] = std::vector<int64_t>(a.ints().begin(), a.ints().end());
        break;
      case onnx::AttributeProto::FLOATS:
        n.attrs[a.name()] = std::vector<double>(a.floats().begin(), a.floats().end());
        break;
      case onnx::AttributeProto::TENSOR: {
        // A small tensor (ConstantOfShape's value): its elements and, as "<name>.dtype", its type.
        ASSIGN_OR_RETURN(ir::Value t, TensorToValue(a.t(), ir::ValueKind::kConstant, "attr"));
        const int64_t count = *CheckedElementCount(t.shape);
        if (count > kMaxTensorAttrElements) {
          return BadInputError(desc + ": tensor attribute '" + a.name() + "' has " +
                               std::to_string(count) + " elements; at most " +
                               std::to_string(kMaxTensorAttrElements) + " are supported");
        }
        n.attrs[a.name()] = TensorAttrValue(t);
        n.attrs[a.name() + ".dtype"] = static_cast<int64_t>(t.dtype);
        break;
      }
      default:
        return BadInputError(desc + ": attribute '" + a.name() + "' has a type (" +
                             std::to_string(a.type()) + ") that is not supported");
    }
  }
  if (auto it = n.attrs.find("to"); it != n.attrs.end() && n.op == "Cast") {
    // ONNX names element types by TensorProto codes; the IR by DType.
    const int64_t* code = std::get_if<int64_t>(&it->second);
    if (!code) return BadInputError(desc + ": attribute 'to' must be an int");
    ASSIGN_OR_RETURN(DType t, FromOnnxType(static_cast<int32_t>(*code), desc + ": 'to'"));
    it->second = static_cast<int64_t>(t);
  }
  for (const std::string& out : node.output()) {
    if (out.empty()) {
      n.outputs.push_back(-1);
      continue;
    }
    ir::Value v;
    v.name = out;
    v.kind = ir::ValueKind::kActivation;
    v.shape_known = false;
    auto id = g_.AddValue(std::move(v));
    if (!id.ok()) return id.status().Annotate(desc);
    n.outputs.push_back(*id);
  }
  // Trailing omitted outputs carry no value; drop them so outputs are all real values.
  while (!n.outputs.empty() && n.outputs.back() < 0) n.outputs.pop_back();
  if (std::find(n.outputs.begin(), n.outputs.end(), -1) != n.outputs.end()) {
    return BadInputError(desc + ": omitted outputs before a used one are not supported");
  }
  g_.AddNode(std::move(n));
  return OkStatus();
}

StatusOr<ir::Graph> Importer::Run(const onnx::ModelProto& model) {
  for (const auto& op : model.opset_import()) {
    if (op.domain().empty() || op.domain() == "ai.onnx") g_.opset = op.version();
  }
  if (g_.opset == 0) {
    return BadInputError(where_ + ": no opset for the default ONNX domain in opset_import");
  }
  const onnx::GraphProto& graph = model.graph();
  if (graph.node_size() > kMaxNodes) return BadInputError(where_ + ": too many nodes");

  // Every unsupported op, listed once, before anything else is done.
  const auto& supported = SupportedOps();
  std::map<std::string, std::pair<int, std::string>> unsupported;  // op -> (count, first node)
  for (const auto& node : graph.node()) {
    RETURN_IF_ERROR(CheckName(node.op_type(), where_ + ": op type"));
    RETURN_IF_ERROR(CheckName(node.domain(), where_ + ": op domain"));
    std::string op = node.op_type();
    bool default_domain = node.domain().empty() || node.domain() == "ai.onnx";
    if (!default_domain) op = node.domain() + "::" + op;
    if (!default_domain || !std::binary_search(supported.begin(), supported.end(), op)) {
      auto& e = unsupported[op];
      if (e.first++ == 0) e.second = node.name();
    }
  }
  if (!unsupported.empty()) {
    // All of them for a real model; a hostile one with thousands of made-up ops gets 32 and a count.
    constexpr size_t kMaxListed = 32;
    std::string list;
    size_t listed = 0;
    for (const auto& [op, e] : unsupported) {
      if (listed++ == kMaxListed) {
        list += ", and " + std::to_string(unsupported.size() - kMaxListed) + " more";
        break;
      }
      if (!list.empty()) list += ", ";
      list += op + " (" + std::to_string(e.first) + (e.first == 1 ? " node" : " nodes") +
              ", first '" + e.second + "')";
    }
    return BadInputError(where_ + ": " + std::to_string(unsupported.size()) +
                         " unsupported operator" + (unsupported.size() == 1 ? "" : "s") + ": " +
                         list + "; `tsc inspect` lists the supported ones");
  }

  std::set<std::string> initializer_names;
  for (const auto& init : graph.initializer()) {
    ASSIGN_OR_RETURN(ir::Value v, TensorToValue(init, ir::ValueKind::kWeight, init.name()));
    initializer_names.insert(init.name());
    auto id = g_.AddValue(std::move(v));
    if (!id.ok()) return id.status().Annotate(where_ + ": initializer");
  }
  for (const auto& [name, value] : options_.bound_inputs) {
    bool found = false;
    for (const auto& in : graph.input()) found |= in.name() == name && !initializer_names.count(name);
    if (!found) {
      return UsageError("--bind " + name + ": the model has no graph input named '" + name + "'");
    }
    if (options_.input_shapes.count(name)) {
      return UsageError("--bind " + name + ": also given to --shape; a bound input's shape is the file's");
    }
  }
  for (const auto& [name, dims] : options_.input_shapes) {
    bool found = false;
    for (const auto& in : graph.input()) found |= in.name() == name && !initializer_names.count(name);
    if (!found) {
      return UsageError("--shape " + name + ": the model has no graph input named '" + name + "'");
    }
  }
  for (const auto& in : graph.input()) {
    if (initializer_names.count(in.name())) continue;  // IR < 4 lists initializers as inputs
    RETURN_IF_ERROR_CTX(AddGraphInput(in), where_);
  }
  for (int i = 0; i < graph.node_size(); ++i) RETURN_IF_ERROR(AddNode(graph.node(i), i));
  for (const auto& out : graph.output()) {
    auto id = g_.FindValue(out.name());
    if (!id) return BadInputError(where_ + ": graph output '" + out.name() + "' is never produced");
    ir::Value& v = g_.values[*id];
    if (std::find(g_.outputs.begin(), g_.outputs.end(), *id) != g_.outputs.end()) {
      return BadInputError(where_ + ": graph output '" + out.name() + "' is listed twice");
    }
    // A graph input, weight or constant may be returned as is; it keeps its kind.
    if (v.kind == ir::ValueKind::kActivation) v.kind = ir::ValueKind::kOutput;
    g_.outputs.push_back(*id);
  }
  if (g_.outputs.empty()) return BadInputError(where_ + ": the graph has no outputs");
  RETURN_IF_ERROR_CTX(ir::Verify(g_, {.require_shapes = false}), where_);
  return std::move(g_);
}

}  // namespace

const std::vector<std::string>& SupportedOps() {
  static const std::vector<std::string> ops = [] {
    // The compiler's own (folded into values, or lowered to the runtime's builtins and the
    // generated elementwise kernels) and the op library's.
    std::vector<std::string> v = {"Abs",  "Add",     "Constant", "Div",     "Exp",
                                  "Gemm", "Identity", "Log",     "MatMul",  "Mul",
                                  "Neg",  "Relu",    "Reshape",  "Sigmoid", "Softmax",
                                  "Sqrt", "Sub",     "Tanh",     "Transpose"};
    for (std::string_view op : ops::OpNames()) v.emplace_back(op);
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    return v;
  }();
  return ops;
}

StatusOr<ir::Graph> ImportOnnxBytes(const void* data, size_t size, const std::string& where,
                                    const std::string& model_dir, const ImportOptions& options) {
  if (size > static_cast<size_t>(kMaxModelBytes)) {
    return BadInputError(where + ": " + std::to_string(size) +
                         " bytes is over protobuf's 2 GiB limit; save the weights as external data");
  }
  onnx::ModelProto model;
  if (!model.ParseFromArray(data, static_cast<int>(size))) {
    return BadInputError(where + ": not a valid ONNX model (protobuf parse failed); check the file "
                         "is an .onnx model and was not truncated");
  }
  if (!model.has_graph()) return BadInputError(where + ": the model has no graph");
  Importer importer(where, model_dir, options);
  return importer.Run(model);
}

StatusOr<ir::Graph> ImportOnnx(const std::string& path, const ImportOptions& options) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError(errno, "opening model '" + path + "'");
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return BadInputError(path + ": not a regular file");
  }
  if (st.st_size > kMaxModelBytes) {
    close(fd);
    return BadInputError(path + ": " + std::to_string(st.st_size) +
                         " bytes is over protobuf's 2 GiB limit; save the weights as external data");
  }
  std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = read(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : EIO;
      close(fd);
      return ErrnoError(err, "reading model '" + path + "'");
    }
    done += static_cast<size_t>(n);
  }
  close(fd);
  std::string dir = ".";
  if (auto slash = path.rfind('/'); slash != std::string::npos) dir = path.substr(0, slash);
  if (dir.empty()) dir = "/";
  return ImportOnnxBytes(bytes.data(), bytes.size(), path, dir, options);
}

}  // namespace ts::frontend
