// The op library: what each ONNX operator this version runs means, in one place, shared by the
// compiler and the runtime:
//   - the compiler infers output types with `infer`, and folds nodes whose inputs are all known
//     at compile time by running `run` (passes/shape_inference.cc);
//   - the runtime checks every op step of a bundle with `infer` at load (the bundle is untrusted:
//     the step's output types must be what `infer` says) and runs `run` on the arena.
//
// Canonical form. ONNX passes some parameters as inputs (Reshape's shape, Slice's starts, Clip's
// min, Resize's scales). The compiler requires those inputs to be known at compile time and
// turns them into attributes of the same name (`params` below says which inputs they are), so a
// kernel's inputs are only data tensors and every output shape follows from input types and
// attributes. A parameter input of an integer or bool type becomes an ints attribute, a float one
// a floats attribute, and "<name>.dtype" records its DType. Omitted inputs leave no attribute.
// Every op step also carries "opset": the ONNX opset the model was written against, since
// defaults and semantics changed across opsets.
//
// Kernels run on checked steps only: `run` may assume everything `infer` accepted. Element types
// are stored as ir/dtype.h says; bool is one byte, 0 or 1 (kernels treat nonzero as true and
// write 0 or 1); f16 and bf16 are computed in f32.
#ifndef TENSORSHUNT_RUNTIME_OPS_OP_H_
#define TENSORSHUNT_RUNTIME_OPS_OP_H_

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "ir/attr.h"
#include "ir/dtype.h"
#include "ir/status.h"

namespace ts::ops {

struct TensorType {
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;

  bool operator==(const TensorType&) const = default;
};

// Typed reads of attributes. The StatusOr forms are for `infer` (an attribute may be missing or
// of the wrong type in a hostile model or bundle); the *Or forms for kernels, after `infer`.
// An int attribute reads as a float, ints as floats; nothing else converts.
class AttrView {
 public:
  explicit AttrView(const ir::AttrMap& attrs) : attrs_(attrs) {}

  bool Has(const std::string& name) const { return attrs_.count(name) != 0; }
  StatusOr<int64_t> Int(const std::string& name, std::optional<int64_t> dflt = std::nullopt) const;
  StatusOr<double> Float(const std::string& name, std::optional<double> dflt = std::nullopt) const;
  StatusOr<std::string> Str(const std::string& name,
                            std::optional<std::string> dflt = std::nullopt) const;
  StatusOr<std::vector<int64_t>> Ints(
      const std::string& name, std::optional<std::vector<int64_t>> dflt = std::nullopt) const;
  StatusOr<std::vector<double>> Floats(
      const std::string& name, std::optional<std::vector<double>> dflt = std::nullopt) const;

  int64_t IntOr(const std::string& name, int64_t dflt) const;
  double FloatOr(const std::string& name, double dflt) const;
  std::string StrOr(const std::string& name, const std::string& dflt) const;
  std::vector<int64_t> IntsOr(const std::string& name, const std::vector<int64_t>& dflt) const;
  std::vector<double> FloatsOr(const std::string& name, const std::vector<double>& dflt) const;

  const ir::AttrMap& map() const { return attrs_; }

 private:
  const ir::AttrMap& attrs_;
};

struct InferContext {
  std::string_view op;
  int64_t opset = 0;
  AttrView attrs;
  std::vector<TensorType> inputs;  // the data inputs, after parameters became attributes
  size_t num_outputs = 1;          // outputs the node uses (some ops have optional outputs)

  // A kBadInput error "OP: what". Callers add the node or step name.
  Status Fail(const std::string& what) const;
};

// One argument of a running kernel: a typed view of arena bytes.
struct Tensor {
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  void* data = nullptr;

  int64_t Count() const;  // element count (1 for a scalar)
  template <typename T>
  T* As() const {
    return static_cast<T*>(data);
  }
};

struct KernelContext {
  int64_t opset = 0;
  AttrView attrs;
  std::vector<Tensor> inputs;
  std::vector<Tensor> outputs;
};

using InferFn = StatusOr<std::vector<TensorType>> (*)(const InferContext&);
using RunFn = void (*)(const KernelContext&);
// For ONNX input i, the attribute it becomes, or "" for a data input; inputs past the end of
// the list are data inputs. Depends on the opset (Resize's scales moved from input 1 to 2).
using ParamsFn = std::vector<std::string> (*)(int64_t opset);

struct OpDef {
  std::string_view name;
  int min_inputs = 1;  // data inputs, counted after parameters became attributes
  int max_inputs = 1;
  int min_outputs = 1;
  int max_outputs = 1;
  ParamsFn params = nullptr;  // nullptr: every input is a data input
  InferFn infer = nullptr;    // returns exactly num_outputs types
  RunFn run = nullptr;
  // Outputs depend only on input types (Shape, Size): the compiler folds the node even when
  // its inputs are not known.
  bool types_only = false;
};

// The op named `name`, or nullptr.
const OpDef* FindOp(std::string_view name);
// Every op in the library, sorted by name.
std::vector<std::string_view> OpNames();

// Checks the counts, runs def.infer and returns its types. `what` names the node or step.
StatusOr<std::vector<TensorType>> InferOp(const OpDef& def, int64_t opset,
                                          const ir::AttrMap& attrs,
                                          const std::vector<TensorType>& inputs,
                                          size_t num_outputs);

// Runs an op whose types InferOp accepted. Inputs and outputs hold their data pointers.
void RunOp(const OpDef& def, int64_t opset, const ir::AttrMap& attrs, std::vector<Tensor> inputs,
           std::vector<Tensor> outputs);

// A tensor that owns its bytes: constant folding in the compiler, and tests.
struct HostTensor {
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;

  template <typename T>
  static HostTensor Of(DType dtype, std::vector<int64_t> shape, const std::vector<T>& values) {
    HostTensor t{dtype, std::move(shape), std::vector<uint8_t>(values.size() * sizeof(T))};
    if (!values.empty()) std::memcpy(t.bytes.data(), values.data(), t.bytes.size());
    return t;
  }
  template <typename T>
  std::vector<T> Values() const {
    std::vector<T> v(bytes.size() / sizeof(T));
    if (!v.empty()) std::memcpy(v.data(), bytes.data(), v.size() * sizeof(T));
    return v;
  }
};

// Infers, allocates the outputs and runs the op `op` on host tensors. Errors: kBadInput for an
// unknown op or inputs `infer` refuses; outputs over `max_output_bytes` in total are refused
// with kDoesNotFit before anything is allocated.
StatusOr<std::vector<HostTensor>> EvaluateOp(std::string_view op, int64_t opset,
                                             const ir::AttrMap& attrs,
                                             const std::vector<HostTensor>& inputs,
                                             size_t num_outputs = 1,
                                             int64_t max_output_bytes = int64_t{1} << 30);

// ---- Helpers for op implementations ----

// Numpy-style broadcast of two shapes, or nullopt.
std::optional<std::vector<int64_t>> Broadcast(const std::vector<int64_t>& a,
                                              const std::vector<int64_t>& b);
// Row-major strides of a shape (in elements).
std::vector<int64_t> Strides(const std::vector<int64_t>& shape);
// Strides to read `in` broadcast to `out` (0 on broadcast dims); in's rank <= out's.
std::vector<int64_t> BroadcastStrides(const std::vector<int64_t>& in,
                                      const std::vector<int64_t>& out);
// The strided view of its input that a Slice with these attributes copies out: the element
// offset of its first element, and per axis the count and the input stride in elements
// (negative for negative steps). A count of 0 is an empty output.
struct SliceView {
  int64_t offset = 0;
  std::vector<int64_t> shape, strides;
};
StatusOr<SliceView> PlanSliceView(const AttrView& attrs, const std::vector<int64_t>& in);
// The reduced axes of a Reduce* op with these attributes over `shape` as one run of adjacent
// axes [first, last): what a kernel reading [outer, len, inner] handles. Nothing when they are
// not adjacent, invalid, or the op would copy its input (noop_with_empty_axes with no axes).
std::optional<std::pair<int64_t, int64_t>> ReducedAxesRun(const AttrView& attrs, const std::vector<int64_t>& shape);
// Whether a Conv with these attributes over x of this dtype and shape and weights w runs on the
// direct convolution kernel (conv_direct.h) on a CPU that has one: the cost model asks, so its
// answer and the runtime's choice are one rule.
bool ConvTakesDirectKernel(const AttrView& attrs, DType dtype, const std::vector<int64_t>& x,
                           const std::vector<int64_t>& w);
// Whether such a Conv runs faster with its weights blocked (conv_direct.h,
// BlockedConvPreferred): 2-D, one group, f32, a geometry the direct kernel takes. Does not ask
// whether this CPU has the kernel, so the compiler's choice is the same on every machine.
bool ConvPrefersBlockedWeights(const AttrView& attrs, DType dtype, const std::vector<int64_t>& x,
                               const std::vector<int64_t>& w);

// Normalises an axis in [-rank, rank) to [0, rank), or nullopt.
std::optional<int64_t> NormalizeAxis(int64_t axis, int64_t rank);
// Overflow-checked element count, capped at 2^48 so later index arithmetic cannot overflow.
std::optional<int64_t> SafeCount(const std::vector<int64_t>& shape);

bool IsFloat(DType t);    // f32 f16 bf16 f64
bool IsInteger(DType t);  // i64 i32 i16 i8 u64 u32 u16 u8
bool IsSigned(DType t);   // i64 i32 i16 i8 and the floats

// f16 and bf16 conversions (round to nearest even; NaN stays NaN).
float HalfToFloat(uint16_t h);
uint16_t FloatToHalf(float f);
float Bf16ToFloat(uint16_t b);
uint16_t FloatToBf16(float f);

// Storage types for the two 16-bit float formats, so templates can tell them apart.
struct Half {
  uint16_t bits;
};
struct BFloat16 {
  uint16_t bits;
};

// The type arithmetic is done in: float for the 16-bit floats, the type itself otherwise.
template <typename T>
struct ComputeOf {
  using type = T;
};
template <>
struct ComputeOf<Half> {
  using type = float;
};
template <>
struct ComputeOf<BFloat16> {
  using type = float;
};
template <typename T>
using Compute = typename ComputeOf<T>::type;

template <typename T>
inline Compute<T> Load(const T* p, int64_t i) {
  if constexpr (std::is_same_v<T, Half>) return HalfToFloat(p[i].bits);
  else if constexpr (std::is_same_v<T, BFloat16>) return Bf16ToFloat(p[i].bits);
  else return p[i];
}
template <typename T>
inline void Store(T* p, int64_t i, Compute<T> v) {
  if constexpr (std::is_same_v<T, Half>) p[i].bits = FloatToHalf(v);
  else if constexpr (std::is_same_v<T, BFloat16>) p[i].bits = FloatToBf16(v);
  else p[i] = v;
}

template <typename T>
struct Tag {
  using type = T;
};

// Calls fn(Tag<T>{}) with T the storage type of `t`: float, double, Half, BFloat16, int64_t,
// int32_t, int16_t, int8_t, uint64_t, uint32_t, uint16_t, uint8_t; bool is uint8_t (check the
// DType where it matters).
template <typename Fn>
decltype(auto) VisitDType(DType t, Fn&& fn) {
  switch (t) {
    case DType::kF32: return fn(Tag<float>{});
    case DType::kF64: return fn(Tag<double>{});
    case DType::kF16: return fn(Tag<Half>{});
    case DType::kBF16: return fn(Tag<BFloat16>{});
    case DType::kI64: return fn(Tag<int64_t>{});
    case DType::kI32: return fn(Tag<int32_t>{});
    case DType::kI8: return fn(Tag<int8_t>{});
    case DType::kU8:
    case DType::kBool: return fn(Tag<uint8_t>{});
    case DType::kI16: return fn(Tag<int16_t>{});
    case DType::kU16: return fn(Tag<uint16_t>{});
    case DType::kU32: return fn(Tag<uint32_t>{});
    case DType::kU64: return fn(Tag<uint64_t>{});
  }
  return fn(Tag<float>{});
}

}  // namespace ts::ops

#endif  // TENSORSHUNT_RUNTIME_OPS_OP_H_
