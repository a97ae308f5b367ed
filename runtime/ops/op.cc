#include "runtime/ops/op.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include "runtime/ops/families.h"

namespace ts::ops {
namespace {

constexpr int64_t kMaxElements = int64_t{1} << 48;

const char* TypeName(size_t index) {
  static const char* kNames[] = {"int", "float", "string", "ints", "floats"};
  return index < 5 ? kNames[index] : "?";
}

Status WrongType(const std::string& name, size_t want, size_t have) {
  return BadInputError("attribute '" + name + "' must be " + TypeName(want) + ", found " +
                       TypeName(have));
}

const std::vector<OpDef>& Library() {
  static const std::vector<OpDef> ops = [] {
    std::vector<OpDef> v;
    AddElementwiseOps(&v);
    AddReduceOps(&v);
    AddNnOps(&v);
    AddNormOps(&v);
    AddShapeOps(&v);
    std::sort(v.begin(), v.end(), [](const OpDef& a, const OpDef& b) { return a.name < b.name; });
    return v;
  }();
  return ops;
}

}  // namespace

StatusOr<int64_t> AttrView::Int(const std::string& name, std::optional<int64_t> dflt) const {
  auto it = attrs_.find(name);
  if (it == attrs_.end()) {
    if (dflt) return *dflt;
    return BadInputError("attribute '" + name + "' is required");
  }
  if (const auto* v = std::get_if<int64_t>(&it->second)) return *v;
  return WrongType(name, 0, it->second.index());
}

StatusOr<double> AttrView::Float(const std::string& name, std::optional<double> dflt) const {
  auto it = attrs_.find(name);
  if (it == attrs_.end()) {
    if (dflt) return *dflt;
    return BadInputError("attribute '" + name + "' is required");
  }
  if (const auto* v = std::get_if<double>(&it->second)) return *v;
  if (const auto* v = std::get_if<int64_t>(&it->second)) return static_cast<double>(*v);
  return WrongType(name, 1, it->second.index());
}

StatusOr<std::string> AttrView::Str(const std::string& name,
                                    std::optional<std::string> dflt) const {
  auto it = attrs_.find(name);
  if (it == attrs_.end()) {
    if (dflt) return *dflt;
    return BadInputError("attribute '" + name + "' is required");
  }
  if (const auto* v = std::get_if<std::string>(&it->second)) return *v;
  return WrongType(name, 2, it->second.index());
}

StatusOr<std::vector<int64_t>> AttrView::Ints(const std::string& name,
                                              std::optional<std::vector<int64_t>> dflt) const {
  auto it = attrs_.find(name);
  if (it == attrs_.end()) {
    if (dflt) return *dflt;
    return BadInputError("attribute '" + name + "' is required");
  }
  if (const auto* v = std::get_if<std::vector<int64_t>>(&it->second)) return *v;
  return WrongType(name, 3, it->second.index());
}

StatusOr<std::vector<double>> AttrView::Floats(const std::string& name,
                                               std::optional<std::vector<double>> dflt) const {
  auto it = attrs_.find(name);
  if (it == attrs_.end()) {
    if (dflt) return *dflt;
    return BadInputError("attribute '" + name + "' is required");
  }
  if (const auto* v = std::get_if<std::vector<double>>(&it->second)) return *v;
  if (const auto* v = std::get_if<std::vector<int64_t>>(&it->second)) {
    return std::vector<double>(v->begin(), v->end());
  }
  return WrongType(name, 4, it->second.index());
}

int64_t AttrView::IntOr(const std::string& name, int64_t dflt) const {
  auto v = Int(name, dflt);
  return v.ok() ? *v : dflt;
}
double AttrView::FloatOr(const std::string& name, double dflt) const {
  auto v = Float(name, dflt);
  return v.ok() ? *v : dflt;
}
std::string AttrView::StrOr(const std::string& name, const std::string& dflt) const {
  auto v = Str(name, dflt);
  return v.ok() ? *v : dflt;
}
std::vector<int64_t> AttrView::IntsOr(const std::string& name,
                                      const std::vector<int64_t>& dflt) const {
  auto v = Ints(name, dflt);
  return v.ok() ? *v : dflt;
}
std::vector<double> AttrView::FloatsOr(const std::string& name,
                                       const std::vector<double>& dflt) const {
  auto v = Floats(name, dflt);
  return v.ok() ? *v : dflt;
}

Status InferContext::Fail(const std::string& what) const {
  return BadInputError(std::string(op) + ": " + what);
}

int64_t Tensor::Count() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

const OpDef* FindOp(std::string_view name) {
  const auto& lib = Library();
  auto it = std::lower_bound(lib.begin(), lib.end(), name,
                             [](const OpDef& d, std::string_view n) { return d.name < n; });
  return it != lib.end() && it->name == name ? &*it : nullptr;
}

std::vector<std::string_view> OpNames() {
  std::vector<std::string_view> names;
  for (const OpDef& d : Library()) names.push_back(d.name);
  return names;
}

StatusOr<std::vector<TensorType>> InferOp(const OpDef& def, int64_t opset,
                                          const ir::AttrMap& attrs,
                                          const std::vector<TensorType>& inputs,
                                          size_t num_outputs) {
  const std::string op(def.name);
  const auto n_in = static_cast<int64_t>(inputs.size());
  if (n_in < def.min_inputs || n_in > def.max_inputs) {
    return BadInputError(op + ": takes " + std::to_string(def.min_inputs) +
                         (def.min_inputs == def.max_inputs ? "" : "-" + std::to_string(def.max_inputs)) +
                         " data inputs, found " + std::to_string(n_in));
  }
  const auto n_out = static_cast<int64_t>(num_outputs);
  if (n_out < def.min_outputs || n_out > def.max_outputs) {
    return BadInputError(op + ": has " + std::to_string(def.min_outputs) +
                         (def.min_outputs == def.max_outputs ? "" : "-" + std::to_string(def.max_outputs)) +
                         " outputs, found " + std::to_string(n_out));
  }
  for (const TensorType& t : inputs) {
    if (!SafeCount(t.shape)) return BadInputError(op + ": an input's shape is invalid or too large");
  }
  InferContext ctx{def.name, opset, AttrView(attrs), inputs, num_outputs};
  ASSIGN_OR_RETURN(std::vector<TensorType> out, def.infer(ctx));
  if (out.size() != num_outputs) {
    return InternalError(op + ": inferred " + std::to_string(out.size()) + " outputs, expected " +
                         std::to_string(num_outputs));
  }
  for (const TensorType& t : out) {
    if (!SafeCount(t.shape)) return BadInputError(op + ": an output would be too large");
  }
  return out;
}

void RunOp(const OpDef& def, int64_t opset, const ir::AttrMap& attrs, std::vector<Tensor> inputs,
           std::vector<Tensor> outputs) {
  KernelContext ctx{opset, AttrView(attrs), std::move(inputs), std::move(outputs)};
  def.run(ctx);
}

StatusOr<std::vector<HostTensor>> EvaluateOp(std::string_view op, int64_t opset,
                                             const ir::AttrMap& attrs,
                                             const std::vector<HostTensor>& inputs,
                                             size_t num_outputs, int64_t max_output_bytes) {
  const OpDef* def = FindOp(op);
  if (!def) return BadInputError(std::string(op) + ": not in the op library");
  std::vector<TensorType> types;
  for (const HostTensor& t : inputs) {
    auto bytes = CheckedByteSize(t.dtype, t.shape);
    if (!bytes || static_cast<uint64_t>(*bytes) != t.bytes.size()) {
      return BadInputError(std::string(op) + ": an input's bytes do not match its shape");
    }
    types.push_back({t.dtype, t.shape});
  }
  ASSIGN_OR_RETURN(std::vector<TensorType> out_types,
                   InferOp(*def, opset, attrs, types, num_outputs));
  int64_t total = 0;
  for (const TensorType& t : out_types) {
    auto bytes = CheckedByteSize(t.dtype, t.shape);
    if (!bytes || *bytes > max_output_bytes - total) {
      return Status(Code::kDoesNotFit, std::string(op) + ": outputs over " +
                                           std::to_string(max_output_bytes) + " bytes");
    }
    total += *bytes;
  }
  std::vector<HostTensor> outs;
  for (const TensorType& t : out_types) {
    outs.push_back({t.dtype, t.shape, std::vector<uint8_t>(*CheckedByteSize(t.dtype, t.shape))});
  }
  std::vector<Tensor> in_views, out_views;
  for (const HostTensor& t : inputs) {
    in_views.push_back({t.dtype, t.shape, const_cast<uint8_t*>(t.bytes.data())});
  }
  for (HostTensor& t : outs) out_views.push_back({t.dtype, t.shape, t.bytes.data()});
  RunOp(*def, opset, attrs, std::move(in_views), std::move(out_views));
  return outs;
}

std::optional<std::vector<int64_t>> Broadcast(const std::vector<int64_t>& a,
                                              const std::vector<int64_t>& b) {
  const size_t rank = std::max(a.size(), b.size());
  std::vector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1) return std::nullopt;
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::vector<int64_t> Strides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) s[i - 1] = s[i] * shape[i];
  return s;
}

std::vector<int64_t> BroadcastStrides(const std::vector<int64_t>& in,
                                      const std::vector<int64_t>& out) {
  std::vector<int64_t> s(out.size(), 0);
  const std::vector<int64_t> own = Strides(in);
  const size_t lead = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i) s[lead + i] = in[i] == 1 ? 0 : own[i];
  return s;
}

std::optional<int64_t> NormalizeAxis(int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank) return std::nullopt;
  return axis < 0 ? axis + rank : axis;
}

std::optional<int64_t> SafeCount(const std::vector<int64_t>& shape) {
  auto n = CheckedElementCount(shape);
  if (!n || *n > kMaxElements) return std::nullopt;
  return n;
}

bool IsFloat(DType t) {
  return t == DType::kF32 || t == DType::kF16 || t == DType::kBF16 || t == DType::kF64;
}
bool IsInteger(DType t) {
  switch (t) {
    case DType::kI64: case DType::kI32: case DType::kI16: case DType::kI8:
    case DType::kU64: case DType::kU32: case DType::kU16: case DType::kU8: return true;
    default: return false;
  }
}
bool IsSigned(DType t) {
  return IsFloat(t) || t == DType::kI64 || t == DType::kI32 || t == DType::kI16 || t == DType::kI8;
}

float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1F;
  const uint32_t mant = h & 0x3FF;
  if (exp == 0) {
    // Zero or subnormal: mant * 2^-24.
    const float v = std::ldexp(static_cast<float>(mant), -24);
    return sign ? -v : v;
  }
  if (exp == 31) return std::bit_cast<float>(sign | 0x7F800000u | (mant << 13));
  return std::bit_cast<float>(sign | ((exp + 112) << 23) | (mant << 13));
}

uint16_t FloatToHalf(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t abs = x & 0x7FFFFFFF;
  if (abs > 0x7F800000) return sign | 0x7E00;        // NaN
  if (abs >= 0x477FF000) return sign | 0x7C00;       // rounds to infinity (>= 65520)
  if (abs < 0x38800000) {                             // below the smallest normal half
    // Subnormal: value / 2^-24, rounded to nearest even.
    const float v = std::bit_cast<float>(abs);
    const float scaled = v * 16777216.0f;             // exact: power-of-two scaling
    return sign | static_cast<uint16_t>(std::nearbyint(scaled));
  }
  // Normal: rebias the exponent, round the 13 dropped mantissa bits to nearest even.
  uint32_t r = abs - (112u << 23);
  const uint32_t rem = r & 0x1FFF;
  r >>= 13;
  if (rem > 0x1000 || (rem == 0x1000 && (r & 1))) ++r;
  return sign | static_cast<uint16_t>(r);
}

float Bf16ToFloat(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

uint16_t FloatToBf16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7FFFFFFF) > 0x7F800000) return static_cast<uint16_t>((x >> 16) | 0x40);  // NaN
  const uint32_t rounded = x + 0x7FFF + ((x >> 16) & 1);
  return static_cast<uint16_t>(rounded >> 16);
}

}  // namespace ts::ops
