// Elementwise ops: unary math and activations, numpy-broadcast arithmetic, comparisons and
// logic, the variadic Max/Min/Sum/Mean, Where, PRelu, Clip, Cast and CastLike.
//
// Each op is a small functor over compute values (float for f16/bf16, see op.h) plugged into a
// few shared drivers: a flat loop for unary ops; for two or more inputs, a flat loop when no
// input broadcasts, otherwise a walk over the output that merges dims and runs each innermost
// row with every operand's stride 0 or 1.
//
// Allowed types are the union over opsets 7..21 of what ONNX allows, within ir/dtype.h.
// Results this file defines where C++ or ONNX leave a gap:
//   - integer Add/Sub/Mul/Neg/Abs/Pow wrap around (two's complement);
//   - integer Div truncates toward zero; x / 0 = 0; INT_MIN / -1 = INT_MIN;
//   - integer Mod by 0 = 0 (both fmod modes);
//   - integer Pow with a negative exponent: 1 for base 1, +-1 for base -1, else 0 (base 0 too);
//   - float -> integer (Cast, integer Pow with a float exponent) truncates toward zero,
//     saturates at the type's limits and maps NaN to 0.
#include <cpuid.h>
#include <immintrin.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "runtime/ops/families.h"
#include "runtime/ops/parallel.h"

namespace ts::ops {
namespace {

// ---- Type sets ----

using TypeSet = uint32_t;

constexpr TypeSet Bit(DType t) { return TypeSet{1} << static_cast<int>(t); }
constexpr TypeSet kFloats =
    Bit(DType::kF32) | Bit(DType::kF16) | Bit(DType::kBF16) | Bit(DType::kF64);
constexpr TypeSet kSignedInts =
    Bit(DType::kI64) | Bit(DType::kI32) | Bit(DType::kI16) | Bit(DType::kI8);
constexpr TypeSet kInts =
    kSignedInts | Bit(DType::kU64) | Bit(DType::kU32) | Bit(DType::kU16) | Bit(DType::kU8);
constexpr TypeSet kNumeric = kFloats | kInts;
constexpr TypeSet kBool = Bit(DType::kBool);
constexpr TypeSet kAll = kNumeric | kBool;

bool Allows(TypeSet s, DType t) {
  const auto raw = static_cast<unsigned>(t);
  return raw < 32 && ((s >> raw) & 1) != 0;
}

// The DTypes stored as T (VisitDType's storage types): templates skip the types an op lacks.
template <typename T>
constexpr TypeSet kStoredAs =
    std::is_same_v<T, float>      ? Bit(DType::kF32)
    : std::is_same_v<T, double>   ? Bit(DType::kF64)
    : std::is_same_v<T, Half>     ? Bit(DType::kF16)
    : std::is_same_v<T, BFloat16> ? Bit(DType::kBF16)
    : std::is_same_v<T, int64_t>  ? Bit(DType::kI64)
    : std::is_same_v<T, int32_t>  ? Bit(DType::kI32)
    : std::is_same_v<T, int16_t>  ? Bit(DType::kI16)
    : std::is_same_v<T, int8_t>   ? Bit(DType::kI8)
    : std::is_same_v<T, uint64_t> ? Bit(DType::kU64)
    : std::is_same_v<T, uint32_t> ? Bit(DType::kU32)
    : std::is_same_v<T, uint16_t> ? Bit(DType::kU16)
    : std::is_same_v<T, uint8_t>  ? Bit(DType::kU8) | kBool
                                  : 0;

std::string TypeList(TypeSet s) {
  std::string out;
  for (int raw = 1; raw <= kMaxDType; ++raw) {
    if (!Allows(s, static_cast<DType>(raw))) continue;
    out += (out.empty() ? "" : ", ") + std::string(DTypeName(static_cast<DType>(raw)));
  }
  return out;
}

Status CheckType(const InferContext& ctx, size_t i, TypeSet s) {
  const DType t = ctx.inputs[i].dtype;
  if (Allows(s, t)) return OkStatus();
  return ctx.Fail("input " + std::to_string(i) + " is " + std::string(DTypeName(t)) +
                  ", which this op does not take; supported: " + TypeList(s));
}

// Checks that each named attribute, if present, is a number.
Status CheckFloatAttrs(const InferContext& ctx, std::initializer_list<const char*> names) {
  for (const char* name : names) {
    if (auto v = ctx.attrs.Float(name, 0.0); !v.ok()) return ctx.Fail(v.status().message());
  }
  return OkStatus();
}

// ---- Defined integer arithmetic and conversions ----

// a op b, computed in the unsigned type of C's width for integers so that overflow wraps
// instead of being undefined.
template <typename C, typename Op>
C Wrap(C a, C b, Op op) {
  if constexpr (std::is_integral_v<C>) {
    using U = std::make_unsigned_t<C>;
    return static_cast<C>(static_cast<U>(op(static_cast<U>(a), static_cast<U>(b))));
  } else {
    return op(a, b);
  }
}
template <typename C>
C WrapNeg(C a) {
  return Wrap(C{0}, a, std::minus<>());
}

// Truncates toward zero, saturating; NaN becomes 0.
template <typename I, typename F>
I FloatToInt(F x) {
  using L = std::numeric_limits<I>;
  if (x != x) return 0;
  if (x <= static_cast<F>(L::min())) return L::min();
  if (x >= static_cast<F>(L::max())) return L::max();  // max rounds up to a power of two
  return static_cast<I>(x);
}

template <typename To, typename From>
To Convert(From x) {
  if constexpr (std::is_integral_v<To> && std::is_floating_point_v<From>) {
    return FloatToInt<To>(x);
  } else {
    return static_cast<To>(x);
  }
}

// base^e with wrap-around; negative exponents as the file comment says.
template <typename C>
C IntPow(C base, int64_t e) {
  if (e < 0) {
    if (base == 1) return 1;
    if constexpr (std::is_signed_v<C>) {
      if (base == -1) return (e & 1) ? -1 : 1;
    }
    return 0;
  }
  using U = std::make_unsigned_t<C>;
  U r = 1, b = static_cast<U>(base);
  for (; e != 0; e >>= 1) {
    if (e & 1) r = static_cast<U>(r * b);
    b = static_cast<U>(b * b);
  }
  return static_cast<C>(r);
}

// ---- Drivers ----

// Defaults for op functors; an op overrides what differs. A functor has kTypes, a call
// operator on compute values and, if it has attributes, a constructor from AttrView.
struct OpTraits {
  static constexpr bool kBoolOut = false;  // the output is bool (comparisons, IsNaN, ...)
  static constexpr bool kAverage = false;  // divide the result by the input count (Mean)
  static Status Check(const InferContext&) { return OkStatus(); }  // attribute checks
};

template <typename F>
F Make(const AttrView& attrs) {
  if constexpr (std::is_constructible_v<F, const AttrView&>) {
    return F(attrs);
  } else {
    return F{};
  }
}

template <typename F>
constexpr DType OutType(DType in) {
  return F::kBoolOut ? DType::kBool : in;
}

// Output dims with size-1 dims dropped and neighbours merged where every operand allows,
// and each operand's stride per dim (0 where it broadcasts). The last dim is a row, in which
// every operand's stride is 0 or 1.
struct Walk {
  std::vector<int64_t> dims;
  std::vector<std::vector<int64_t>> strides;  // [operand][dim]
};

Walk MakeWalk(const std::vector<int64_t>& out,
              const std::vector<const std::vector<int64_t>*>& ins) {
  Walk w;
  w.strides.resize(ins.size());
  std::vector<std::vector<int64_t>> full;
  for (const auto* in : ins) full.push_back(BroadcastStrides(*in, out));
  for (size_t d = 0; d < out.size(); ++d) {
    if (out[d] == 1) continue;
    bool merge = !w.dims.empty();
    for (size_t j = 0; j < ins.size() && merge; ++j) {
      merge = w.strides[j].back() == full[j][d] * out[d];
    }
    if (merge) {
      w.dims.back() *= out[d];
      for (size_t j = 0; j < ins.size(); ++j) w.strides[j].back() = full[j][d];
    } else {
      w.dims.push_back(out[d]);
      for (size_t j = 0; j < ins.size(); ++j) w.strides[j].push_back(full[j][d]);
    }
  }
  if (w.dims.empty()) {
    w.dims.push_back(1);
    for (auto& s : w.strides) s.push_back(0);
  }
  return w;
}

// Calls row(out_offset, n, offsets) for rows [r0, r1) of the walk; offsets[j] is where operand
// j's row starts.
template <typename Row>
void ForEachRow(const Walk& w, int64_t r0, int64_t r1, Row&& row) {
  const size_t rank = w.dims.size(), k = w.strides.size();
  const int64_t n = w.dims.back();
  std::vector<int64_t> index(rank, 0), off(k, 0);
  for (int64_t rem = r0, d = static_cast<int64_t>(rank) - 1; d-- > 0;) {
    index[d] = rem % w.dims[d];
    rem /= w.dims[d];
    for (size_t j = 0; j < k; ++j) off[j] += index[d] * w.strides[j][d];
  }
  for (int64_t r = r0; r < r1; ++r) {
    row(r * n, n, off.data());
    for (size_t d = rank - 1; d-- > 0;) {  // odometer over the outer dims
      for (size_t j = 0; j < k; ++j) off[j] += w.strides[j][d];
      if (++index[d] < w.dims[d]) break;
      for (size_t j = 0; j < k; ++j) off[j] -= w.strides[j][d] * w.dims[d];
      index[d] = 0;
    }
  }
}

// Rows in one walk: the product of its outer dims.
int64_t RowCount(const Walk& w) {
  int64_t rows = 1;
  for (size_t d = 0; d + 1 < w.dims.size(); ++d) rows *= w.dims[d];
  return rows;
}

// Elements per thread below which a loop is not split.
constexpr int64_t kGrain = 16384;

// One row of out = f(a, b), where a stride of 0 repeats the operand's first element.
template <typename A, typename B, typename O, typename F>
void BinaryRow(const A* a, bool step_a, const B* b, bool step_b, O* o, int64_t n, const F& f) {
  if (step_a && step_b) {
    for (int64_t i = 0; i < n; ++i) Store(o, i, f(Load(a, i), Load(b, i)));
  } else if (step_b) {
    const auto x = Load(a, 0);
    for (int64_t i = 0; i < n; ++i) Store(o, i, f(x, Load(b, i)));
  } else if (step_a) {
    const auto y = Load(b, 0);
    for (int64_t i = 0; i < n; ++i) Store(o, i, f(Load(a, i), y));
  } else {
    const auto v = f(Load(a, 0), Load(b, 0));
    for (int64_t i = 0; i < n; ++i) Store(o, i, v);
  }
}

// out = f(a, b) with numpy broadcasting; A, B, O are storage types. `a` may be `out` itself.
template <typename A, typename B, typename O, typename F>
void BinaryLoop(const Tensor& a, const Tensor& b, const Tensor& out, const F& f) {
  const A* pa = a.As<const A>();
  const B* pb = b.As<const B>();
  O* po = out.As<O>();
  if (a.shape == out.shape && b.shape == out.shape) {
    ParallelFor(out.Count(), kGrain, [&](int64_t begin, int64_t end) {
      BinaryRow(pa + begin, true, pb + begin, true, po + begin, end - begin, f);
    });
    return;
  }
  if (out.Count() == 0) return;
  const Walk w = MakeWalk(out.shape, {&a.shape, &b.shape});
  const bool step_a = w.strides[0].back() != 0, step_b = w.strides[1].back() != 0;
  ParallelFor(RowCount(w), std::max<int64_t>(1, kGrain / w.dims.back()), [&](int64_t r0, int64_t r1) {
    ForEachRow(w, r0, r1, [&](int64_t o, int64_t n, const int64_t* off) {
      BinaryRow(pa + off[0], step_a, pb + off[1], step_b, po + o, n, f);
    });
  });
}

template <typename F>
StatusOr<std::vector<TensorType>> InferUnary(const InferContext& ctx) {
  RETURN_IF_ERROR(CheckType(ctx, 0, F::kTypes));
  RETURN_IF_ERROR(F::Check(ctx));
  return std::vector<TensorType>{{OutType<F>(ctx.inputs[0].dtype), ctx.inputs[0].shape}};
}

template <typename F>
void RunUnary(const KernelContext& ctx) {
  const Tensor& in = ctx.inputs[0];
  const Tensor& out = ctx.outputs[0];
  const F f = Make<F>(ctx.attrs);
  VisitDType(in.dtype, [&]<typename T>(Tag<T>) {
    if constexpr ((F::kTypes & kStoredAs<T>) != 0) {
      using O = std::conditional_t<F::kBoolOut, uint8_t, T>;
      const T* x = in.As<const T>();
      O* y = out.As<O>();
      ParallelFor(in.Count(), kGrain, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) Store(y, i, f(Load(x, i)));
      });
    }
  });
}

// The shape of inputs `first`.. broadcast together, or an error naming the input that does not
// broadcast or whose type differs.
StatusOr<std::vector<int64_t>> BroadcastAll(const InferContext& ctx, size_t first = 0) {
  std::vector<int64_t> shape = ctx.inputs[first].shape;
  for (size_t i = first + 1; i < ctx.inputs.size(); ++i) {
    const TensorType& t = ctx.inputs[i];
    if (t.dtype != ctx.inputs[first].dtype) {
      return ctx.Fail("input " + std::to_string(i) + " is " + std::string(DTypeName(t.dtype)) +
                      " but input " + std::to_string(first) + " is " +
                      std::string(DTypeName(ctx.inputs[first].dtype)) +
                      "; the inputs must have the same type");
    }
    auto b = Broadcast(shape, t.shape);
    if (!b) {
      return ctx.Fail("input " + std::to_string(i) + " " + TypeString(t.dtype, t.shape) +
                      " does not broadcast with shape " + TypeString(t.dtype, shape));
    }
    shape = std::move(*b);
  }
  return shape;
}

// Binary and variadic ops of one input type with numpy broadcasting.
template <typename F>
StatusOr<std::vector<TensorType>> InferBroadcast(const InferContext& ctx) {
  if (ctx.opset < 7 && ctx.attrs.Has("axis")) {
    return ctx.Fail("legacy broadcasting with 'axis' (opset < 7) is not supported; "
                    "convert the model to opset 7 or later");
  }
  RETURN_IF_ERROR(CheckType(ctx, 0, F::kTypes));
  ASSIGN_OR_RETURN(std::vector<int64_t> shape, BroadcastAll(ctx));
  RETURN_IF_ERROR(F::Check(ctx));
  return std::vector<TensorType>{{OutType<F>(ctx.inputs[0].dtype), std::move(shape)}};
}

// out = f(...f(f(in0, in1), in2)..., inN); one input is copied. With three or more inputs the
// output is written before inputs 2.. are read, so it must not share their memory.
template <typename F>
void RunVariadic(const KernelContext& ctx) {
  const Tensor& out = ctx.outputs[0];
  const F f = Make<F>(ctx.attrs);
  VisitDType(ctx.inputs[0].dtype, [&]<typename T>(Tag<T>) {
    if constexpr ((F::kTypes & kStoredAs<T>) != 0) {
      using O = std::conditional_t<F::kBoolOut, uint8_t, T>;
      const auto& in = ctx.inputs;
      if (in.size() == 1) {
        if (out.Count() > 0) std::memcpy(out.data, in[0].data, out.Count() * sizeof(O));
      } else {
        BinaryLoop<T, T, O>(in[0], in[1], out, f);
        if constexpr (std::is_same_v<O, T>) {  // ops with a bool output are binary
          for (size_t k = 2; k < in.size(); ++k) BinaryLoop<T, T, T>(out, in[k], out, f);
        }
      }
      if constexpr (F::kAverage) {
        O* y = out.As<O>();
        const auto scale = static_cast<Compute<O>>(in.size());
        for (int64_t i = 0, n = out.Count(); i < n; ++i) Store(y, i, Load(y, i) / scale);
      }
    }
  });
}

template <typename F>
OpDef UnaryOp(std::string_view name) {
  return OpDef{.name = name, .infer = &InferUnary<F>, .run = &RunUnary<F>};
}

template <typename F>
OpDef BinaryOp(std::string_view name) {
  return OpDef{.name = name, .min_inputs = 2, .max_inputs = 2, .infer = &InferBroadcast<F>,
               .run = &RunVariadic<F>};
}

template <typename F>
OpDef VariadicOp(std::string_view name) {
  return OpDef{.name = name, .min_inputs = 1, .max_inputs = std::numeric_limits<int>::max(),
               .infer = &InferBroadcast<F>, .run = &RunVariadic<F>};
}

// ---- Unary functors ----

// A unary op given by a generic lambda on compute values.
template <auto kFn, TypeSet kT = kFloats>
struct Math : OpTraits {
  static constexpr TypeSet kTypes = kT;
  template <typename C>
  C operator()(C x) const {
    return static_cast<C>(kFn(x));
  }
};

struct AbsF : OpTraits {
  static constexpr TypeSet kTypes = kNumeric;
  template <typename C>
  C operator()(C x) const {
    if constexpr (std::is_unsigned_v<C>) return x;
    else return x < 0 ? WrapNeg(x) : x;
  }
};

struct LeakyReluF : OpTraits {
  static constexpr TypeSet kTypes = kFloats;
  double alpha;
  explicit LeakyReluF(const AttrView& a) : alpha(a.FloatOr("alpha", 0.01)) {}
  static Status Check(const InferContext& ctx) { return CheckFloatAttrs(ctx, {"alpha"}); }
  template <typename C>
  C operator()(C x) const {
    return x < 0 ? static_cast<C>(alpha) * x : x;
  }
};

struct ThresholdedReluF : OpTraits {
  static constexpr TypeSet kTypes = kFloats;
  double alpha;
  explicit ThresholdedReluF(const AttrView& a) : alpha(a.FloatOr("alpha", 1.0)) {}
  static Status Check(const InferContext& ctx) { return CheckFloatAttrs(ctx, {"alpha"}); }
  template <typename C>
  C operator()(C x) const {
    return x > static_cast<C>(alpha) ? x : C{0};
  }
};

struct HardSigmoidF : OpTraits {
  static constexpr TypeSet kTypes = kFloats;
  double alpha, beta;
  explicit HardSigmoidF(const AttrView& a)
      : alpha(a.FloatOr("alpha", 0.2)), beta(a.FloatOr("beta", 0.5)) {}
  static Status Check(const InferContext& ctx) { return CheckFloatAttrs(ctx, {"alpha", "beta"}); }
  template <typename C>
  C operator()(C x) const {
    const C v = static_cast<C>(alpha) * x + static_cast<C>(beta);
    return v < 0 ? C{0} : v > 1 ? C{1} : v;
  }
};

// Gelu (opset 20): x * Phi(x), exactly through erf, or through tanh with approximate="tanh".
struct GeluF : OpTraits {
  static constexpr TypeSet kTypes = kFloats;
  bool tanh_form;
  explicit GeluF(const AttrView& a) : tanh_form(a.StrOr("approximate", "none") == "tanh") {}
  static Status Check(const InferContext& ctx) {
    const std::string mode = ctx.attrs.StrOr("approximate", "none");
    if (mode != "none" && mode != "tanh") {
      return ctx.Fail("approximate is '" + mode + "'; it must be 'none' or 'tanh'");
    }
    return OkStatus();
  }
  template <typename C>
  C operator()(C x) const {
    if (tanh_form) {
      const C k = static_cast<C>(0.7978845608028654);  // sqrt(2 / pi)
      return static_cast<C>(0.5) * x *
             (C{1} + std::tanh(k * (x + static_cast<C>(0.044715) * x * x * x)));
    }
    return static_cast<C>(0.5) * x * (C{1} + std::erf(x * static_cast<C>(0.7071067811865476)));
  }
};

struct EluF : OpTraits {
  static constexpr TypeSet kTypes = kFloats;
  double alpha;
  explicit EluF(const AttrView& a) : alpha(a.FloatOr("alpha", 1.0)) {}
  static Status Check(const InferContext& ctx) { return CheckFloatAttrs(ctx, {"alpha"}); }
  template <typename C>
  C operator()(C x) const {
    return x < 0 ? static_cast<C>(alpha) * std::expm1(x) : x;
  }
};

struct SeluF : OpTraits {
  static constexpr TypeSet kTypes = kFloats;
  double alpha, gamma;
  explicit SeluF(const AttrView& a)
      : alpha(a.FloatOr("alpha", 1.67326319217681884765625)),
        gamma(a.FloatOr("gamma", 1.05070102214813232421875)) {}
  static Status Check(const InferContext& ctx) { return CheckFloatAttrs(ctx, {"alpha", "gamma"}); }
  template <typename C>
  C operator()(C x) const {
    return static_cast<C>(gamma) * (x > 0 ? x : static_cast<C>(alpha) * std::expm1(x));
  }
};

struct CeluF : OpTraits {
  static constexpr TypeSet kTypes = kFloats;
  double alpha;
  explicit CeluF(const AttrView& a) : alpha(a.FloatOr("alpha", 1.0)) {}
  static Status Check(const InferContext& ctx) { return CheckFloatAttrs(ctx, {"alpha"}); }
  template <typename C>
  C operator()(C x) const {
    const C a = static_cast<C>(alpha);
    return x > 0 ? x : a * std::expm1(x / a);
  }
};

struct NotF : OpTraits {
  static constexpr TypeSet kTypes = kBool;
  static constexpr bool kBoolOut = true;
  template <typename C>
  bool operator()(C x) const {
    return x == 0;
  }
};

struct IsNaNF : OpTraits {
  static constexpr TypeSet kTypes = kFloats;
  static constexpr bool kBoolOut = true;
  template <typename C>
  bool operator()(C x) const {
    return x != x;
  }
};

struct IsInfF : OpTraits {
  static constexpr TypeSet kTypes = kFloats;
  static constexpr bool kBoolOut = true;
  bool positive, negative;
  explicit IsInfF(const AttrView& a)
      : positive(a.IntOr("detect_positive", 1) != 0),
        negative(a.IntOr("detect_negative", 1) != 0) {}
  static Status Check(const InferContext& ctx) {
    for (const char* name : {"detect_positive", "detect_negative"}) {
      if (auto v = ctx.attrs.Int(name, 1); !v.ok()) return ctx.Fail(v.status().message());
    }
    return OkStatus();
  }
  template <typename C>
  bool operator()(C x) const {
    return std::isinf(x) && (x > 0 ? positive : negative);
  }
};

// ---- Binary functors ----

// A binary op given by a generic lambda on compute values.
template <auto kFn, TypeSet kT = kNumeric>
struct Arith : OpTraits {
  static constexpr TypeSet kTypes = kT;
  template <typename C>
  C operator()(C a, C b) const {
    return static_cast<C>(kFn(a, b));
  }
};

constexpr auto kAdd = [](auto a, auto b) { return Wrap(a, b, std::plus<>()); };
struct SumF : Arith<kAdd, kFloats> {};
struct MeanF : SumF {
  static constexpr bool kAverage = true;
};

struct DivF : OpTraits {
  static constexpr TypeSet kTypes = kNumeric;
  template <typename C>
  C operator()(C a, C b) const {
    if constexpr (std::is_integral_v<C>) {
      if (b == 0) return 0;
      if constexpr (std::is_signed_v<C>) {
        if (b == -1) return WrapNeg(a);  // INT_MIN / -1 would trap
      }
      return static_cast<C>(a / b);
    } else {
      return a / b;
    }
  }
};

struct ModF : OpTraits {
  static constexpr TypeSet kTypes = kNumeric;
  bool c_fmod;  // the sign of the dividend (C fmod) instead of the divisor's (Python)
  explicit ModF(const AttrView& a) : c_fmod(a.IntOr("fmod", 0) != 0) {}
  static Status Check(const InferContext& ctx) {
    auto fmod = ctx.attrs.Int("fmod", 0);
    if (!fmod.ok()) return ctx.Fail(fmod.status().message());
    if (*fmod != 0 && *fmod != 1) return ctx.Fail("'fmod' must be 0 or 1");
    if (*fmod == 0 && IsFloat(ctx.inputs[0].dtype)) {
      return ctx.Fail("floating-point inputs need fmod=1 (ONNX spec)");
    }
    return OkStatus();
  }
  template <typename C>
  C operator()(C a, C b) const {
    if constexpr (std::is_integral_v<C>) {
      if (b == 0) return 0;
      if constexpr (std::is_signed_v<C>) {
        if (b == -1) return 0;  // INT_MIN % -1 would trap
        C r = static_cast<C>(a % b);
        if (!c_fmod && r != 0 && (r < 0) != (b < 0)) r = static_cast<C>(r + b);
        return r;
      } else {
        return static_cast<C>(a % b);
      }
    } else {
      return std::fmod(a, b);
    }
  }
};

// A comparison or logic op given by a lambda on compute values; the output is bool.
template <auto kFn, TypeSet kT>
struct Predicate : OpTraits {
  static constexpr TypeSet kTypes = kT;
  static constexpr bool kBoolOut = true;
  template <typename C>
  bool operator()(C a, C b) const {
    return kFn(a, b);
  }
};

using EqualF = Predicate<[](auto a, auto b) { return a == b; }, kAll>;
using EqualBoolF = Predicate<[](auto a, auto b) { return (a != 0) == (b != 0); }, kBool>;

// Equal on bool compares truth values, so that any nonzero byte is true.
void RunEqual(const KernelContext& ctx) {
  if (ctx.inputs[0].dtype == DType::kBool) RunVariadic<EqualBoolF>(ctx);
  else RunVariadic<EqualF>(ctx);
}

// ---- Pow: the exponent may have another type ----

using PReluF =
    Arith<[](auto x, auto slope) { return x < 0 ? Wrap(slope, x, std::multiplies<>()) : x; },
          kFloats | Bit(DType::kI32) | Bit(DType::kI64)>;

constexpr TypeSet kPowBase = kFloats | Bit(DType::kI32) | Bit(DType::kI64);

struct PowF {
  template <typename C, typename E>
  C operator()(C x, E e) const {
    if constexpr (std::is_integral_v<C> && std::is_integral_v<E>) {
      return IntPow(x, static_cast<int64_t>(e));
    } else if constexpr (std::is_integral_v<C>) {
      return FloatToInt<C>(std::pow(static_cast<double>(x), static_cast<double>(e)));
    } else {
      using W = std::conditional_t<std::is_same_v<C, E>, C, double>;
      return static_cast<C>(std::pow(static_cast<W>(x), static_cast<W>(e)));
    }
  }
};

StatusOr<std::vector<TensorType>> InferPow(const InferContext& ctx) {
  RETURN_IF_ERROR(CheckType(ctx, 0, kPowBase));
  RETURN_IF_ERROR(CheckType(ctx, 1, kNumeric));
  auto shape = Broadcast(ctx.inputs[0].shape, ctx.inputs[1].shape);
  if (!shape) {
    return ctx.Fail("exponent " + TypeString(ctx.inputs[1].dtype, ctx.inputs[1].shape) +
                    " does not broadcast with base " +
                    TypeString(ctx.inputs[0].dtype, ctx.inputs[0].shape));
  }
  return std::vector<TensorType>{{ctx.inputs[0].dtype, std::move(*shape)}};
}

void CastTensor(const Tensor& in, const Tensor& out);

void RunPow(const KernelContext& ctx) {
  const Tensor& x = ctx.inputs[0];
  const Tensor& out = ctx.outputs[0];
  // An exponent of another type is first widened to i64 (integer base and exponent) or f64,
  // so that the loop exists for few type pairs.
  Tensor e = ctx.inputs[1];
  std::vector<int64_t> scratch;  // 8-byte elements
  const bool same = e.dtype == x.dtype;
  const DType wide = IsInteger(x.dtype) && IsInteger(e.dtype) ? DType::kI64 : DType::kF64;
  if (!same && e.dtype != wide) {
    scratch.resize(e.Count());
    Tensor widened{wide, e.shape, scratch.data()};
    CastTensor(e, widened);
    e = widened;
  }
  VisitDType(x.dtype, [&]<typename T>(Tag<T>) {
    if constexpr ((kStoredAs<T> & kPowBase) != 0) {
      if (same) BinaryLoop<T, T, T>(x, e, out, PowF{});
      else if (wide == DType::kI64) BinaryLoop<T, int64_t, T>(x, e, out, PowF{});
      else BinaryLoop<T, double, T>(x, e, out, PowF{});
    }
  });
}

// ---- PRelu: the slope broadcasts to X ----

StatusOr<std::vector<TensorType>> InferPRelu(const InferContext& ctx) {
  RETURN_IF_ERROR(CheckType(ctx, 0, PReluF::kTypes));
  ASSIGN_OR_RETURN(std::vector<int64_t> shape, BroadcastAll(ctx));
  if (shape != ctx.inputs[0].shape) {
    return ctx.Fail("slope " + TypeString(ctx.inputs[1].dtype, ctx.inputs[1].shape) +
                    " must broadcast to X " +
                    TypeString(ctx.inputs[0].dtype, ctx.inputs[0].shape) +
                    " without changing X's shape");
  }
  return std::vector<TensorType>{ctx.inputs[0]};
}

// ---- Where ----

StatusOr<std::vector<TensorType>> InferWhere(const InferContext& ctx) {
  RETURN_IF_ERROR(CheckType(ctx, 0, kBool));
  RETURN_IF_ERROR(CheckType(ctx, 1, kAll));
  ASSIGN_OR_RETURN(std::vector<int64_t> xy, BroadcastAll(ctx, 1));
  auto shape = Broadcast(ctx.inputs[0].shape, xy);
  if (!shape) {
    return ctx.Fail("condition " + TypeString(DType::kBool, ctx.inputs[0].shape) +
                    " does not broadcast with X and Y's shape " +
                    TypeString(ctx.inputs[1].dtype, xy));
  }
  return std::vector<TensorType>{{ctx.inputs[1].dtype, std::move(*shape)}};
}

void RunWhere(const KernelContext& ctx) {
  const Tensor& c = ctx.inputs[0];
  const Tensor& x = ctx.inputs[1];
  const Tensor& y = ctx.inputs[2];
  const Tensor& out = ctx.outputs[0];
  VisitDType(x.dtype, [&]<typename T>(Tag<T>) {
    const uint8_t* pc = c.As<const uint8_t>();
    const T* px = x.As<const T>();
    const T* py = y.As<const T>();
    T* po = out.As<T>();
    if (c.shape == out.shape && x.shape == out.shape && y.shape == out.shape) {
      for (int64_t i = 0, n = out.Count(); i < n; ++i) po[i] = pc[i] ? px[i] : py[i];
      return;
    }
    if (out.Count() == 0) return;
    const Walk w = MakeWalk(out.shape, {&c.shape, &x.shape, &y.shape});
    const int64_t sc = w.strides[0].back(), sx = w.strides[1].back(), sy = w.strides[2].back();
    ForEachRow(w, 0, RowCount(w), [&](int64_t o, int64_t n, const int64_t* off) {
      const uint8_t* rc = pc + off[0];
      const T* rx = px + off[1];
      const T* ry = py + off[2];
      for (int64_t i = 0; i < n; ++i) po[o + i] = rc[i * sc] ? rx[i * sx] : ry[i * sy];
    });
  });
}

// ---- Clip ----

// Opset >= 11 takes min and max as parameter inputs (one-element lists here); older opsets as
// float attributes of the same names.
std::vector<std::string> ClipParams(int64_t opset) {
  if (opset < 11) return {};
  return {"", "min", "max"};
}

// A Clip bound: an int or float attribute, or a one-element list of either.
struct Bound {
  bool present = false;
  bool is_int = false;
  int64_t i = 0;
  double f = 0;
};

StatusOr<Bound> ReadBound(const AttrView& attrs, const std::string& name) {
  if (!attrs.Has(name)) return Bound{};
  const ir::AttrValue& v = attrs.map().at(name);
  if (const auto* p = std::get_if<int64_t>(&v)) return Bound{true, true, *p, double(*p)};
  if (const auto* p = std::get_if<double>(&v)) return Bound{true, false, 0, *p};
  if (const auto* p = std::get_if<std::vector<int64_t>>(&v); p && p->size() == 1) {
    return Bound{true, true, (*p)[0], double((*p)[0])};
  }
  if (const auto* p = std::get_if<std::vector<double>>(&v); p && p->size() == 1) {
    return Bound{true, false, 0, (*p)[0]};
  }
  return BadInputError("'" + name + "' must be a single number (a scalar or one-element tensor)");
}

StatusOr<std::vector<TensorType>> InferClip(const InferContext& ctx) {
  RETURN_IF_ERROR(CheckType(ctx, 0, kNumeric));
  const DType t = ctx.inputs[0].dtype;
  for (const std::string name : {"min", "max"}) {
    auto b = ReadBound(ctx.attrs, name);
    if (!b.ok()) return ctx.Fail(b.status().message());
    if (b->present && IsInteger(t) && !b->is_int) {
      return ctx.Fail("'" + name + "' is a float but the input is " +
                      std::string(DTypeName(t)) + "; they must have the same type");
    }
    const std::string dtype_attr = name + ".dtype";
    if (ctx.attrs.Has(dtype_attr) && ctx.attrs.IntOr(dtype_attr, 0) != static_cast<int64_t>(t)) {
      return ctx.Fail("'" + name + "' must have the input's type " + std::string(DTypeName(t)));
    }
  }
  return std::vector<TensorType>{ctx.inputs[0]};
}

// The bound in compute type C; integers beyond C's range are clamped to it.
template <typename C>
C BoundValue(const Bound& b, C absent) {
  if (!b.present) return absent;
  if constexpr (std::is_integral_v<C>) {
    using L = std::numeric_limits<C>;
    if (b.i < static_cast<int64_t>(L::min())) return L::min();
    if (b.i > static_cast<int64_t>(L::max())) return L::max();
    return static_cast<C>(b.i);
  } else {
    return static_cast<C>(b.f);
  }
}

void RunClip(const KernelContext& ctx) {
  const Tensor& in = ctx.inputs[0];
  const Tensor& out = ctx.outputs[0];
  const Bound min = ReadBound(ctx.attrs, "min").value();
  const Bound max = ReadBound(ctx.attrs, "max").value();
  VisitDType(in.dtype, [&]<typename T>(Tag<T>) {
    using C = Compute<T>;
    using L = std::numeric_limits<C>;
    const C lo = BoundValue<C>(min, L::has_infinity ? -L::infinity() : L::lowest());
    const C hi = BoundValue<C>(max, L::has_infinity ? L::infinity() : L::max());
    const T* x = in.As<const T>();
    T* y = out.As<T>();
    for (int64_t i = 0, n = in.Count(); i < n; ++i) {
      C v = Load(x, i);
      if (v < lo) v = lo;
      if (v > hi) v = hi;  // min > max gives max, as ONNX says; NaN stays
      Store(y, i, v);
    }
  });
}

// ---- Cast and CastLike ----

template <typename S, typename D>
void CastLoop(const S* s, D* d, int64_t n, bool from_bool, bool to_bool) {
  if (to_bool) {
    for (int64_t i = 0; i < n; ++i) Store(d, i, static_cast<Compute<D>>(Load(s, i) != 0));
  } else if (from_bool) {
    for (int64_t i = 0; i < n; ++i) Store(d, i, static_cast<Compute<D>>(Load(s, i) != 0));
  } else {
    for (int64_t i = 0; i < n; ++i) Store(d, i, Convert<Compute<D>>(Load(s, i)));
  }
}

// F16C and AVX present and the AVX registers enabled by the OS (CPUID leaf 1 ECX bits 29, 28
// and 27 (OSXSAVE), XCR0 bits 1 and 2).
bool HasF16c() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  if (!(c & (1u << 29)) || !(c & (1u << 28)) || !(c & (1u << 27))) return false;
  uint32_t lo = 0, hi = 0;
  __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (lo & 6u) == 6u;
}

// f16 to f32 with the F16C instructions, 8 at a time (exact: every half is a float).
__attribute__((target("avx,f16c"))) void HalfToFloatF16c(const uint16_t* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i));
    _mm256_storeu_ps(y + i, _mm256_cvtph_ps(h));
  }
  for (; i < n; ++i) y[i] = HalfToFloat(x[i]);
}

// Widening a narrow tensor to f32 (the f16, bf16 and int8 weights of `tsc compile
// --weight-quant`, widened before each matrix product): a tight loop split over the threads.
// False for other pairs of types.
bool WidenToF32(const Tensor& in, const Tensor& out) {
  if (out.dtype != DType::kF32 || (in.dtype != DType::kF16 && in.dtype != DType::kBF16 && in.dtype != DType::kI8)) {
    return false;
  }
  static const bool f16c = HasF16c();
  const DType from = in.dtype;
  const void* src = in.data;
  float* y = out.As<float>();
  ParallelFor(in.Count(), int64_t{1} << 15, [&](int64_t begin, int64_t end) {
    if (from == DType::kI8) {
      const int8_t* x = static_cast<const int8_t*>(src);
      for (int64_t i = begin; i < end; ++i) y[i] = static_cast<float>(x[i]);
    } else if (from == DType::kBF16) {
      const uint16_t* x = static_cast<const uint16_t*>(src);
      for (int64_t i = begin; i < end; ++i) y[i] = std::bit_cast<float>(static_cast<uint32_t>(x[i]) << 16);
    } else if (f16c) {
      HalfToFloatF16c(static_cast<const uint16_t*>(src) + begin, y + begin, end - begin);
    } else {
      const uint16_t* x = static_cast<const uint16_t*>(src);
      for (int64_t i = begin; i < end; ++i) y[i] = HalfToFloat(x[i]);
    }
  });
  return true;
}

void CastTensor(const Tensor& in, const Tensor& out) {
  const int64_t n = in.Count();
  if (WidenToF32(in, out)) return;
  if (in.dtype == out.dtype) {
    if (n > 0) std::memcpy(out.data, in.data, n * DTypeSize(in.dtype));
    return;
  }
  VisitDType(in.dtype, [&]<typename S>(Tag<S>) {
    VisitDType(out.dtype, [&]<typename D>(Tag<D>) {
      CastLoop(in.As<const S>(), out.As<D>(), n, in.dtype == DType::kBool,
               out.dtype == DType::kBool);
    });
  });
}

StatusOr<std::vector<TensorType>> InferCast(const InferContext& ctx) {
  RETURN_IF_ERROR(CheckType(ctx, 0, kAll));
  auto to = ctx.attrs.Int("to");
  if (!to.ok()) return ctx.Fail(to.status().message());
  if (*to < 0 || *to > 255 || !IsValidDType(static_cast<uint8_t>(*to))) {
    return ctx.Fail("'to' names an element type that is not supported (DType " +
                    std::to_string(*to) + "); supported: " + TypeList(kAll));
  }
  return std::vector<TensorType>{{static_cast<DType>(*to), ctx.inputs[0].shape}};
}

StatusOr<std::vector<TensorType>> InferCastLike(const InferContext& ctx) {
  RETURN_IF_ERROR(CheckType(ctx, 0, kAll));
  RETURN_IF_ERROR(CheckType(ctx, 1, kAll));
  return std::vector<TensorType>{{ctx.inputs[1].dtype, ctx.inputs[0].shape}};
}

void RunCast(const KernelContext& ctx) { CastTensor(ctx.inputs[0], ctx.outputs[0]); }

}  // namespace

void AddElementwiseOps(std::vector<OpDef>* ops) {
  std::vector<OpDef> defs = {
      // Unary, same type out.
      UnaryOp<AbsF>("Abs"),
      UnaryOp<Math<[](auto x) { return WrapNeg(x); }, kFloats | kSignedInts>>("Neg"),
      // Sign and Relu keep NaN. The lambdas compare with < only: GCC 12 misparses '>' in a
      // lambda inside a template argument list.
      UnaryOp<Math<[](auto x) { return 0 < x ? 1 : x < 0 ? -1 : x; }, kNumeric>>("Sign"),
      UnaryOp<Math<[](auto x) { return x < 0 ? 0 : x; }, kFloats | kSignedInts>>("Relu"),
      UnaryOp<Math<[](auto x) { return std::exp(x); }>>("Exp"),
      UnaryOp<Math<[](auto x) { return std::log(x); }>>("Log"),
      UnaryOp<Math<[](auto x) { return std::sqrt(x); }>>("Sqrt"),
      UnaryOp<Math<[](auto x) { return 1 / x; }>>("Reciprocal"),
      UnaryOp<Math<[](auto x) { return std::tanh(x); }>>("Tanh"),
      UnaryOp<Math<[](auto x) { return std::erf(x); }, kNumeric>>("Erf"),
      UnaryOp<Math<[](auto x) { return std::sin(x); }>>("Sin"),
      UnaryOp<Math<[](auto x) { return std::cos(x); }>>("Cos"),
      UnaryOp<Math<[](auto x) { return std::tan(x); }>>("Tan"),
      UnaryOp<Math<[](auto x) { return std::asin(x); }>>("Asin"),
      UnaryOp<Math<[](auto x) { return std::acos(x); }>>("Acos"),
      UnaryOp<Math<[](auto x) { return std::atan(x); }>>("Atan"),
      UnaryOp<Math<[](auto x) { return std::sinh(x); }>>("Sinh"),
      UnaryOp<Math<[](auto x) { return std::cosh(x); }>>("Cosh"),
      UnaryOp<Math<[](auto x) { return std::asinh(x); }>>("Asinh"),
      UnaryOp<Math<[](auto x) { return std::acosh(x); }>>("Acosh"),
      UnaryOp<Math<[](auto x) { return std::atanh(x); }>>("Atanh"),
      UnaryOp<Math<[](auto x) { return std::floor(x); }>>("Floor"),
      UnaryOp<Math<[](auto x) { return std::ceil(x); }>>("Ceil"),
      UnaryOp<Math<[](auto x) { return std::nearbyint(x); }>>("Round"),  // ties to even
      UnaryOp<Math<[](auto x) { return x / (1 + std::fabs(x)); }>>("Softsign"),
      UnaryOp<Math<[](auto x) { return 1 / (1 + std::exp(-x)); }>>("Sigmoid"),  // exp overflow -> 0
      UnaryOp<Math<[](auto x) {
        return 0 < x ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
      }>>("Softplus"),
      UnaryOp<LeakyReluF>("LeakyRelu"),
      UnaryOp<ThresholdedReluF>("ThresholdedRelu"),
      UnaryOp<HardSigmoidF>("HardSigmoid"),
      UnaryOp<Math<[](auto x) {
        using C = decltype(x);
        return x * std::clamp(x / 6 + C(0.5), C(0), C(1));
      }>>("HardSwish"),
      UnaryOp<EluF>("Elu"),
      UnaryOp<GeluF>("Gelu"),
      UnaryOp<SeluF>("Selu"),
      UnaryOp<CeluF>("Celu"),
      // Unary, bool out.
      UnaryOp<NotF>("Not"),
      UnaryOp<IsNaNF>("IsNaN"),
      UnaryOp<IsInfF>("IsInf"),
      // Binary with broadcasting.
      BinaryOp<Arith<kAdd>>("Add"),
      BinaryOp<Arith<[](auto a, auto b) { return Wrap(a, b, std::minus<>()); }>>("Sub"),
      BinaryOp<Arith<[](auto a, auto b) { return Wrap(a, b, std::multiplies<>()); }>>("Mul"),
      BinaryOp<DivF>("Div"),
      BinaryOp<ModF>("Mod"),
      BinaryOp<Predicate<[](auto a, auto b) { return a < b; }, kNumeric>>("Less"),
      BinaryOp<Predicate<[](auto a, auto b) { return b < a; }, kNumeric>>("Greater"),
      BinaryOp<Predicate<[](auto a, auto b) { return a <= b; }, kNumeric>>("LessOrEqual"),
      BinaryOp<Predicate<[](auto a, auto b) { return b <= a; }, kNumeric>>("GreaterOrEqual"),
      BinaryOp<Predicate<[](auto a, auto b) { return (a != 0) && (b != 0); }, kBool>>("And"),
      BinaryOp<Predicate<[](auto a, auto b) { return (a != 0) || (b != 0); }, kBool>>("Or"),
      BinaryOp<Predicate<[](auto a, auto b) { return (a != 0) != (b != 0); }, kBool>>("Xor"),
      OpDef{.name = "Equal", .min_inputs = 2, .max_inputs = 2,
            .infer = &InferBroadcast<EqualF>,
            .run = &RunEqual},
      OpDef{.name = "Pow", .min_inputs = 2, .max_inputs = 2, .infer = &InferPow, .run = &RunPow},
      OpDef{.name = "PRelu", .min_inputs = 2, .max_inputs = 2, .infer = &InferPRelu,
            .run = &RunVariadic<PReluF>},
      // Variadic with broadcasting.
      VariadicOp<Arith<[](auto a, auto b) { return b <= a || a != a ? a : b; }>>("Max"),
      VariadicOp<Arith<[](auto a, auto b) { return a <= b || a != a ? a : b; }>>("Min"),
      VariadicOp<SumF>("Sum"),
      VariadicOp<MeanF>("Mean"),
      // The rest.
      OpDef{.name = "Where", .min_inputs = 3, .max_inputs = 3, .infer = &InferWhere,
            .run = &RunWhere},
      OpDef{.name = "Clip", .params = &ClipParams, .infer = &InferClip, .run = &RunClip},
      OpDef{.name = "Cast", .infer = &InferCast, .run = &RunCast},
      OpDef{.name = "CastLike", .min_inputs = 2, .max_inputs = 2, .infer = &InferCastLike,
            .run = &RunCast},
  };
  ops->insert(ops->end(), defs.begin(), defs.end());
}

}  // namespace ts::ops
