// Ops that work along axes: Reduce*, ArgMax/ArgMin, Softmax/LogSoftmax, CumSum, TopK, Einsum.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "runtime/ops/families.h"

namespace ts::ops {
namespace {

// ---- Shared helpers ----

template <typename T>
constexpr bool kIsInt = std::is_integral_v<T>;  // Half and BFloat16 are not

template <typename A>
inline bool IsNan(A v) {
  if constexpr (std::is_floating_point_v<A>) return std::isnan(v);
  else return false;
}

// Integer sums and products wrap (two's complement) instead of overflowing.
template <typename A>
inline A Add(A a, A b) {
  if constexpr (std::is_integral_v<A>) {
    return static_cast<A>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
  } else {
    return a + b;
  }
}
template <typename A>
inline A Mul(A a, A b) {
  if constexpr (std::is_integral_v<A>) {
    return static_cast<A>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
  } else {
    return a * b;
  }
}
template <typename A>
inline A Abs(A v) {
  if constexpr (std::is_integral_v<A>) return v < 0 ? Mul(v, A{-1}) : v;
  else return std::fabs(v);
}

// double -> integer, saturating; NaN becomes 0.
template <typename T>
T SaturateCast(double v) {
  if (std::isnan(v)) return 0;
  if (v <= static_cast<double>(std::numeric_limits<T>::lowest())) {
    return std::numeric_limits<T>::lowest();
  }
  if (v >= static_cast<double>(std::numeric_limits<T>::max())) {
    return std::numeric_limits<T>::max();
  }
  return static_cast<T>(v);
}

// Writes an accumulated value as storage type T.
template <typename T, typename A>
inline void Put(T* y, int64_t i, A v) {
  if constexpr (!kIsInt<T>) Store(y, i, static_cast<Compute<T>>(v));
  else if constexpr (std::is_floating_point_v<A>) y[i] = SaturateCast<T>(v);
  else y[i] = static_cast<T>(v);
}

// An integer list attribute that may also arrive as one int (a scalar parameter input).
// Absent: empty.
StatusOr<std::vector<int64_t>> IntList(const AttrView& a, const std::string& name) {
  if (!a.Has(name)) return std::vector<int64_t>{};
  auto one = a.Int(name);
  if (one.ok()) return std::vector<int64_t>{*one};
  return a.Ints(name);
}

// An int attribute that must be 0 or 1.
StatusOr<bool> Flag(const AttrView& a, const std::string& name, int64_t dflt) {
  ASSIGN_OR_RETURN(int64_t v, a.Int(name, dflt));
  if (v != 0 && v != 1) {
    return BadInputError("attribute '" + name + "' must be 0 or 1, found " + std::to_string(v));
  }
  return v == 1;
}

StatusOr<int64_t> Axis(int64_t axis, int64_t rank, const std::string& what) {
  auto a = NormalizeAxis(axis, rank);
  if (!a) {
    return BadInputError(what + " " + std::to_string(axis) + " is out of range for rank " +
                         std::to_string(rank) + " (allowed: " + std::to_string(-rank) + ".." +
                         std::to_string(rank - 1) + ")");
  }
  return *a;
}

std::string Name(DType t) { return std::string(DTypeName(t)); }

int64_t Product(const std::vector<int64_t>& shape, size_t begin, size_t end) {
  int64_t n = 1;
  for (size_t i = begin; i < end; ++i) n *= shape[i];
  return n;
}

// Re-reads in `run` what `infer` accepted.
template <typename T>
T Checked(StatusOr<T> v) {
  return std::move(v).value();
}

// ---- Reduce* ----

enum class Kind { kSum, kMean, kProd, kSumSquare, kL1, kL2, kLogSum, kLogSumExp, kMax, kMin };

constexpr bool IsMinMax(Kind k) { return k == Kind::kMax || k == Kind::kMin; }

// Accumulator: the compute type for Max/Min; else double for floats (long sums stay
// accurate), and for integers double where a logarithm or root follows, else a wrapping int64.
template <typename T, Kind K>
using Acc = std::conditional_t<
    IsMinMax(K), Compute<T>,
    std::conditional_t<!kIsInt<T> || K == Kind::kL2 || K == Kind::kLogSum ||
                           K == Kind::kLogSumExp,
                       double, int64_t>>;

// The value of a reduction over no elements (ONNX: -inf for max, the type's lowest for ints).
template <typename T, Kind K>
Acc<T, K> Identity(bool is_bool) {
  using A = Acc<T, K>;
  constexpr bool kInf = std::numeric_limits<A>::has_infinity;
  if constexpr (K == Kind::kProd) return A{1};
  if constexpr (K == Kind::kMax) {
    if constexpr (kInf) return -std::numeric_limits<A>::infinity();
    else return std::numeric_limits<A>::lowest();
  }
  if constexpr (K == Kind::kMin) {
    if (is_bool) return A{1};
    if constexpr (kInf) return std::numeric_limits<A>::infinity();
    else return std::numeric_limits<A>::max();
  }
  return A{0};
}

template <Kind K, typename A>
inline A Step(A acc, A v) {
  if constexpr (K == Kind::kMax) return v > acc || IsNan(v) ? v : acc;  // NaN propagates
  else if constexpr (K == Kind::kMin) return v < acc || IsNan(v) ? v : acc;
  else if constexpr (K == Kind::kProd) return Mul(acc, v);
  else if constexpr (K == Kind::kSumSquare || K == Kind::kL2) return Add(acc, Mul(v, v));
  else if constexpr (K == Kind::kL1) return Add(acc, Abs(v));
  else return Add(acc, v);  // Sum, Mean, LogSum, LogSumExp (of exponentials)
}

template <Kind K, typename A>
inline A Finish(A acc, int64_t reduced_count) {
  if constexpr (K == Kind::kMean) {
    if constexpr (std::is_integral_v<A>) return reduced_count ? acc / reduced_count : 0;
    else return acc / static_cast<A>(reduced_count);  // NaN over an empty set
  } else if constexpr (K == Kind::kL2) {
    return std::sqrt(acc);
  } else if constexpr (K == Kind::kLogSum) {
    return std::log(acc);
  } else {
    return acc;
  }
}

// Which axes a Reduce* op reduces.
struct ReduceSpec {
  std::vector<bool> mask;  // per input axis
  bool keepdims = true;
  bool noop = false;  // the output is the input (empty axes with noop_with_empty_axes=1)
};

// axes_is_input: the opset passes axes as input 1 (ReduceSum >= 13, the others >= 18), which
// also brings noop_with_empty_axes.
StatusOr<ReduceSpec> ParseReduce(const AttrView& a, bool axes_is_input, int64_t rank) {
  ReduceSpec spec;
  ASSIGN_OR_RETURN(spec.keepdims, Flag(a, "keepdims", 1));
  bool noop_if_empty = false;
  if (axes_is_input) {
    ASSIGN_OR_RETURN(noop_if_empty, Flag(a, "noop_with_empty_axes", 0));
  }
  ASSIGN_OR_RETURN(std::vector<int64_t> axes, IntList(a, "axes"));
  if (axes.empty()) {
    spec.noop = noop_if_empty;
    spec.mask.assign(rank, !noop_if_empty);
    return spec;
  }
  spec.mask.assign(rank, false);
  for (int64_t axis : axes) {
    ASSIGN_OR_RETURN(int64_t ax, Axis(axis, rank, "axis"));
    if (spec.mask[ax]) {
      return BadInputError("axis " + std::to_string(axis) + " appears twice in 'axes'");
    }
    spec.mask[ax] = true;
  }
  return spec;
}

bool ReduceTakes(Kind k, DType t, int64_t opset) {
  if (IsFloat(t) || t == DType::kI32 || t == DType::kI64) return true;
  if (IsMinMax(k)) return t == DType::kI8 || t == DType::kU8 || (t == DType::kBool && opset >= 20);
  return false;
}

template <Kind K>
bool AxesIsInput(int64_t opset) {
  return opset >= (K == Kind::kSum ? 13 : 18);
}

template <Kind K>
StatusOr<std::vector<TensorType>> InferReduce(const InferContext& ctx) {
  const TensorType& x = ctx.inputs[0];
  if (!ReduceTakes(K, x.dtype, ctx.opset)) {
    return ctx.Fail("does not take " + Name(x.dtype) + " input (takes f32 f16 bf16 f64 i32 i64" +
                    (IsMinMax(K) ? std::string(" i8 u8") : std::string()) + ")");
  }
  const auto rank = static_cast<int64_t>(x.shape.size());
  auto spec = ParseReduce(ctx.attrs, AxesIsInput<K>(ctx.opset), rank);
  if (!spec.ok()) return spec.status().Annotate(ctx.op);
  TensorType y{x.dtype, {}};
  for (int64_t i = 0; i < rank; ++i) {
    if (!spec->mask[i]) y.shape.push_back(x.shape[i]);
    else if (spec->keepdims) y.shape.push_back(1);
  }
  if (spec->noop) y.shape = x.shape;
  return std::vector<TensorType>{y};
}

// The input seen as merged runs of kept and reduced dims (size-1 dims dropped), with the
// output stride of each run (0 for a reduced run).
struct ReduceLayout {
  std::vector<int64_t> dims;
  std::vector<int64_t> out_strides;
  bool last_reduced = false;
  int64_t in_count = 0;
};

ReduceLayout MakeLayout(const std::vector<int64_t>& shape, const std::vector<bool>& mask) {
  ReduceLayout l;
  std::vector<bool> reduced;
  l.in_count = Product(shape, 0, shape.size());
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 1) continue;
    if (!reduced.empty() && reduced.back() == mask[i]) {
      l.dims.back() *= shape[i];
    } else {
      l.dims.push_back(shape[i]);
      reduced.push_back(mask[i]);
    }
  }
  if (l.dims.empty()) {
    l.dims.push_back(1);
    reduced.push_back(false);
  }
  l.out_strides.assign(l.dims.size(), 0);
  int64_t s = 1;
  for (size_t i = l.dims.size(); i-- > 0;) {
    if (reduced[i]) continue;
    l.out_strides[i] = s;
    s *= l.dims[i];
  }
  l.last_reduced = reduced.back();
  return l;
}

// Calls fn(in_offset, out_offset, len) for each innermost run of the input, in order. The run
// feeds out[out_offset] when the last dim is reduced, else out[out_offset + j] elementwise.
template <typename Fn>
void ForEachRun(const ReduceLayout& l, Fn&& fn) {
  if (l.in_count == 0) return;
  const size_t outer_rank = l.dims.size() - 1;
  const int64_t len = l.dims.back();
  const int64_t runs = l.in_count / len;
  std::vector<int64_t> idx(outer_rank, 0);
  int64_t o = 0;
  for (int64_t r = 0; r < runs; ++r) {
    fn(r * len, o, len);
    for (size_t d = outer_rank; d-- > 0;) {
      o += l.out_strides[d];
      if (++idx[d] < l.dims[d]) break;
      o -= l.out_strides[d] * l.dims[d];
      idx[d] = 0;
    }
  }
}

// Folds the input into acc with Step<K> (with `shift` for the exponentials of LogSumExp).
template <Kind K, typename T, typename A>
void Accumulate(const ReduceLayout& l, const T* x, std::vector<A>& acc,
                std::type_identity_t<const A*> shift) {
  ForEachRun(l, [&](int64_t in, int64_t o, int64_t len) {
    auto value = [&](int64_t j, int64_t oj) {
      if constexpr (K == Kind::kLogSumExp) {
        // exp in the input's precision (float for f32), summed as A.
        using E = std::conditional_t<kIsInt<T>, double, Compute<T>>;
        const E d = static_cast<E>(Load(x, in + j)) - static_cast<E>(shift[oj]);
        return static_cast<A>(std::exp(d));
      } else {
        return static_cast<A>(Load(x, in + j));
      }
    };
    if (l.last_reduced) {
      A a = acc[o];
      for (int64_t j = 0; j < len; ++j) a = Step<K>(a, value(j, o));
      acc[o] = a;
    } else {
      A* out = acc.data() + o;
      for (int64_t j = 0; j < len; ++j) out[j] = Step<K>(out[j], value(j, o + j));
    }
  });
}

template <typename T, Kind K>
void ReduceKernel(const Tensor& in, const Tensor& out, const std::vector<bool>& mask) {
  using A = Acc<T, K>;
  const bool is_bool = in.dtype == DType::kBool;
  const T* x = in.As<T>();
  T* y = out.As<T>();
  const int64_t n_out = out.Count();
  int64_t reduced_count = 1;
  for (size_t i = 0; i < mask.size(); ++i) {
    if (mask[i]) reduced_count *= in.shape[i];
  }
  const ReduceLayout l = MakeLayout(in.shape, mask);
  std::vector<A> acc(n_out, Identity<T, K>(is_bool));
  if constexpr (K == Kind::kLogSumExp) {
    // log(sum(exp(x - m))) + m with m the max, finite or 0.
    std::vector<A> shift(n_out, Identity<T, Kind::kMax>(false));
    Accumulate<Kind::kMax>(l, x, shift, nullptr);
    for (A& s : shift) {
      if (std::isinf(s)) s = 0;
    }
    Accumulate<K>(l, x, acc, shift.data());
    for (int64_t i = 0; i < n_out; ++i) Put(y, i, std::log(acc[i]) + shift[i]);
  } else {
    Accumulate<K>(l, x, acc, nullptr);
    for (int64_t i = 0; i < n_out; ++i) Put(y, i, Finish<K>(acc[i], reduced_count));
  }
  if constexpr (std::is_same_v<T, uint8_t>) {
    if (is_bool) {
      for (int64_t i = 0; i < n_out; ++i) y[i] = y[i] != 0;
    }
  }
}

template <Kind K>
void RunReduce(const KernelContext& ctx) {
  const Tensor& x = ctx.inputs[0];
  const Tensor& y = ctx.outputs[0];
  const ReduceSpec spec = Checked(
      ParseReduce(ctx.attrs, AxesIsInput<K>(ctx.opset), static_cast<int64_t>(x.shape.size())));
  if (spec.noop) {
    const int64_t bytes = x.Count() * DTypeSize(x.dtype);
    if (bytes > 0) std::memmove(y.data, x.data, bytes);
    return;
  }
  VisitDType(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    ReduceKernel<T, K>(x, y, spec.mask);
  });
}

std::vector<std::string> ReduceSumParams(int64_t opset) {
  if (opset >= 13) return {"", "axes"};
  return {};
}
std::vector<std::string> ReduceParams(int64_t opset) {
  if (opset >= 18) return {"", "axes"};
  return {};
}

// ---- ArgMax, ArgMin ----

struct ArgSpec {
  int64_t axis = 0;
  bool keepdims = true;
  bool last = false;
};

StatusOr<ArgSpec> ParseArg(const AttrView& a, int64_t rank) {
  ArgSpec s;
  ASSIGN_OR_RETURN(int64_t axis, a.Int("axis", 0));
  ASSIGN_OR_RETURN(s.axis, Axis(axis, rank, "axis"));
  ASSIGN_OR_RETURN(s.keepdims, Flag(a, "keepdims", 1));
  ASSIGN_OR_RETURN(s.last, Flag(a, "select_last_index", 0));
  return s;
}

StatusOr<std::vector<TensorType>> InferArg(const InferContext& ctx) {
  const TensorType& x = ctx.inputs[0];
  if (x.dtype == DType::kBool) return ctx.Fail("does not take bool input");
  auto spec = ParseArg(ctx.attrs, static_cast<int64_t>(x.shape.size()));
  if (!spec.ok()) return spec.status().Annotate(ctx.op);
  if (x.shape[spec->axis] == 0) {
    return ctx.Fail("axis " + std::to_string(spec->axis) + " of " + TypeString(x.dtype, x.shape) +
                    " is empty: there is no index to return");
  }
  TensorType y{DType::kI64, x.shape};
  if (spec->keepdims) y.shape[spec->axis] = 1;
  else y.shape.erase(y.shape.begin() + spec->axis);
  return std::vector<TensorType>{y};
}

// v replaces the best so far: first (or last) extreme, NaN counting as the extreme.
template <bool kMax, typename C>
inline bool Better(C v, C best, bool last) {
  if (IsNan(best)) return last && IsNan(v);
  if (IsNan(v)) return true;
  if constexpr (kMax) return last ? v >= best : v > best;
  else return last ? v <= best : v < best;
}

template <bool kMax>
void RunArg(const KernelContext& ctx) {
  const Tensor& x = ctx.inputs[0];
  const ArgSpec s = Checked(ParseArg(ctx.attrs, static_cast<int64_t>(x.shape.size())));
  const int64_t outer = Product(x.shape, 0, s.axis);
  const int64_t n = x.shape[s.axis];
  const int64_t inner = Product(x.shape, s.axis + 1, x.shape.size());
  int64_t* y = ctx.outputs[0].As<int64_t>();
  VisitDType(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* base = x.As<T>();
    std::vector<Compute<T>> best(inner);
    for (int64_t o = 0; o < outer; ++o, base += n * inner, y += inner) {
      for (int64_t j = 0; j < inner; ++j) {
        best[j] = Load(base, j);
        y[j] = 0;
      }
      for (int64_t k = 1; k < n; ++k) {
        const T* row = base + k * inner;
        for (int64_t j = 0; j < inner; ++j) {
          const Compute<T> v = Load(row, j);
          if (Better<kMax>(v, best[j], s.last)) {
            best[j] = v;
            y[j] = k;
          }
        }
      }
    }
  });
}

// ---- Softmax, LogSoftmax ----

// The input as [outer, n, inner], softmax over n. Before opset 13 the input is coerced to 2-D
// at `axis` (default 1); from 13 it is over the single axis (default -1).
struct SoftmaxShape {
  int64_t outer = 1, n = 1, inner = 1;
};

StatusOr<SoftmaxShape> ParseSoftmax(const AttrView& a, int64_t opset,
                                    const std::vector<int64_t>& shape) {
  const bool coerce = opset < 13;
  const auto rank = static_cast<int64_t>(shape.size());
  ASSIGN_OR_RETURN(int64_t axis, a.Int("axis", coerce ? 1 : -1));
  ASSIGN_OR_RETURN(axis, Axis(axis, rank, "axis"));
  SoftmaxShape s;
  s.outer = Product(shape, 0, axis);
  if (coerce) {
    s.n = Product(shape, axis, shape.size());
  } else {
    s.n = shape[axis];
    s.inner = Product(shape, axis + 1, shape.size());
  }
  return s;
}

template <bool kLog>
StatusOr<std::vector<TensorType>> InferSoftmax(const InferContext& ctx) {
  const TensorType& x = ctx.inputs[0];
  if (!IsFloat(x.dtype)) return ctx.Fail("takes float input, found " + Name(x.dtype));
  auto s = ParseSoftmax(ctx.attrs, ctx.opset, x.shape);
  if (!s.ok()) return s.status().Annotate(ctx.op);
  return std::vector<TensorType>{x};
}

template <bool kLog, typename T>
void SoftmaxKernel(const T* x, T* y, const SoftmaxShape& s) {
  using C = Compute<T>;
  const int64_t stride = s.n * s.inner;
  if (s.inner == 1) {
    std::vector<C> e(s.n);
    for (int64_t o = 0; o < s.outer; ++o, x += stride, y += stride) {
      C mx = -std::numeric_limits<C>::infinity();
      for (int64_t k = 0; k < s.n; ++k) mx = std::max(mx, static_cast<C>(Load(x, k)));
      C sum = 0;
      if constexpr (kLog) {
        for (int64_t k = 0; k < s.n; ++k) {
          e[k] = Load(x, k) - mx;
          sum += std::exp(e[k]);
        }
        const C log_sum = std::log(sum);
        for (int64_t k = 0; k < s.n; ++k) Store(y, k, e[k] - log_sum);
      } else {
        for (int64_t k = 0; k < s.n; ++k) {
          e[k] = std::exp(Load(x, k) - mx);
          sum += e[k];
        }
        const C inv = 1 / sum;
        for (int64_t k = 0; k < s.n; ++k) Store(y, k, e[k] * inv);
      }
    }
    return;
  }
  std::vector<C> mx(s.inner), sum(s.inner);
  for (int64_t o = 0; o < s.outer; ++o, x += stride, y += stride) {
    std::fill(mx.begin(), mx.end(), -std::numeric_limits<C>::infinity());
    std::fill(sum.begin(), sum.end(), C{0});
    for (int64_t k = 0; k < s.n; ++k) {
      for (int64_t j = 0; j < s.inner; ++j) mx[j] = std::max(mx[j], Load(x, k * s.inner + j));
    }
    for (int64_t k = 0; k < s.n; ++k) {
      for (int64_t j = 0; j < s.inner; ++j) sum[j] += std::exp(Load(x, k * s.inner + j) - mx[j]);
    }
    if constexpr (kLog) {
      for (C& v : sum) v = std::log(v);
    }
    for (int64_t k = 0; k < s.n; ++k) {
      for (int64_t j = 0; j < s.inner; ++j) {
        const int64_t i = k * s.inner + j;
        const C d = Load(x, i) - mx[j];
        if constexpr (kLog) Store(y, i, d - sum[j]);
        else Store(y, i, std::exp(d) / sum[j]);
      }
    }
  }
}

template <bool kLog>
void RunSoftmax(const KernelContext& ctx) {
  const Tensor& x = ctx.inputs[0];
  const SoftmaxShape s = Checked(ParseSoftmax(ctx.attrs, ctx.opset, x.shape));
  VisitDType(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!kIsInt<T>) SoftmaxKernel<kLog>(x.As<T>(), ctx.outputs[0].As<T>(), s);
  });
}

// ---- CumSum ----

struct CumSumSpec {
  int64_t axis = 0;
  bool exclusive = false;
  bool reverse = false;
};

StatusOr<CumSumSpec> ParseCumSum(const AttrView& a, int64_t rank) {
  CumSumSpec s;
  ASSIGN_OR_RETURN(std::vector<int64_t> axis, IntList(a, "axis"));
  if (axis.size() != 1) {
    return BadInputError("needs 'axis' (input 1) as one constant integer, found " +
                         std::to_string(axis.size()) + " values");
  }
  ASSIGN_OR_RETURN(s.axis, Axis(axis[0], rank, "axis"));
  ASSIGN_OR_RETURN(s.exclusive, Flag(a, "exclusive", 0));
  ASSIGN_OR_RETURN(s.reverse, Flag(a, "reverse", 0));
  return s;
}

StatusOr<std::vector<TensorType>> InferCumSum(const InferContext& ctx) {
  const TensorType& x = ctx.inputs[0];
  if (!IsFloat(x.dtype) && x.dtype != DType::kI32 && x.dtype != DType::kI64) {
    return ctx.Fail("does not take " + Name(x.dtype) + " input (takes f32 f16 bf16 f64 i32 i64)");
  }
  auto s = ParseCumSum(ctx.attrs, static_cast<int64_t>(x.shape.size()));
  if (!s.ok()) return s.status().Annotate(ctx.op);
  return std::vector<TensorType>{x};
}

void RunCumSum(const KernelContext& ctx) {
  const Tensor& x = ctx.inputs[0];
  const CumSumSpec s = Checked(ParseCumSum(ctx.attrs, static_cast<int64_t>(x.shape.size())));
  const int64_t outer = Product(x.shape, 0, s.axis);
  const int64_t n = x.shape[s.axis];
  const int64_t inner = Product(x.shape, s.axis + 1, x.shape.size());
  VisitDType(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = std::conditional_t<kIsInt<T>, int64_t, double>;
    const T* in = x.As<T>();
    T* out = ctx.outputs[0].As<T>();
    if (inner == 1) {  // along contiguous rows
      const int64_t step = s.reverse ? -1 : 1;
      for (int64_t o = 0; o < outer; ++o) {
        A acc = 0;
        const int64_t first = o * n + (s.reverse ? n - 1 : 0);
        for (int64_t k = 0, i = first; k < n; ++k, i += step) {
          const A v = static_cast<A>(Load(in, i));
          if (s.exclusive) Put(out, i, acc);
          acc = Add(acc, v);
          if (!s.exclusive) Put(out, i, acc);
        }
      }
      return;
    }
    std::vector<A> acc(inner);
    for (int64_t o = 0; o < outer; ++o) {
      std::fill(acc.begin(), acc.end(), A{0});
      for (int64_t step = 0; step < n; ++step) {
        const int64_t k = s.reverse ? n - 1 - step : step;
        const int64_t base = (o * n + k) * inner;
        for (int64_t j = 0; j < inner; ++j) {
          const A v = static_cast<A>(Load(in, base + j));
          if (s.exclusive) Put(out, base + j, acc[j]);
          acc[j] = Add(acc[j], v);
          if (!s.exclusive) Put(out, base + j, acc[j]);
        }
      }
    }
  });
}

std::vector<std::string> CumSumParams(int64_t) { return {"", "axis"}; }

// ---- TopK ----

struct TopKSpec {
  int64_t axis = 0;
  int64_t k = 0;
  bool largest = true;
};

StatusOr<TopKSpec> ParseTopK(const AttrView& a, const std::vector<int64_t>& shape) {
  TopKSpec s;
  const auto rank = static_cast<int64_t>(shape.size());
  ASSIGN_OR_RETURN(int64_t axis, a.Int("axis", -1));
  ASSIGN_OR_RETURN(s.axis, Axis(axis, rank, "axis"));
  ASSIGN_OR_RETURN(std::vector<int64_t> k, IntList(a, "k"));
  if (k.size() != 1) {
    return BadInputError("needs 'k' as one constant integer, found " + std::to_string(k.size()) +
                         " values");
  }
  if (k[0] < 0 || k[0] > shape[s.axis]) {
    return BadInputError("k " + std::to_string(k[0]) + " is out of range for axis " +
                         std::to_string(s.axis) + " of size " + std::to_string(shape[s.axis]));
  }
  s.k = k[0];
  ASSIGN_OR_RETURN(s.largest, Flag(a, "largest", 1));
  ASSIGN_OR_RETURN(bool sorted, Flag(a, "sorted", 1));
  (void)sorted;  // outputs are always sorted, which sorted=0 allows
  return s;
}

StatusOr<std::vector<TensorType>> InferTopK(const InferContext& ctx) {
  const TensorType& x = ctx.inputs[0];
  if (x.dtype == DType::kBool) return ctx.Fail("does not take bool input");
  auto s = ParseTopK(ctx.attrs, x.shape);
  if (!s.ok()) return s.status().Annotate(ctx.op);
  std::vector<int64_t> shape = x.shape;
  shape[s->axis] = s->k;
  return std::vector<TensorType>{{x.dtype, shape}, {DType::kI64, shape}};
}

// Strict order for TopK: NaN above every number; equal values by index.
template <typename C>
inline bool Above(C a, C b) {
  return (IsNan(a) && !IsNan(b)) || a > b;
}

void RunTopK(const KernelContext& ctx) {
  const Tensor& x = ctx.inputs[0];
  const TopKSpec s = Checked(ParseTopK(ctx.attrs, x.shape));
  const int64_t outer = Product(x.shape, 0, s.axis);
  const int64_t n = x.shape[s.axis];
  const int64_t inner = Product(x.shape, s.axis + 1, x.shape.size());
  int64_t* indices = ctx.outputs[1].As<int64_t>();
  VisitDType(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = Compute<T>;
    struct Item {
      C v;
      int64_t i;
    };
    const T* in = x.As<T>();
    T* values = ctx.outputs[0].As<T>();
    std::vector<Item> items(n);
    auto first = [&](const Item& a, const Item& b) {
      if (s.largest) return Above(a.v, b.v) || (!Above(b.v, a.v) && a.i < b.i);
      return Above(b.v, a.v) || (!Above(a.v, b.v) && a.i < b.i);
    };
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t j = 0; j < inner; ++j) {
        const int64_t in_base = o * n * inner + j;
        for (int64_t k = 0; k < n; ++k) items[k] = {Load(in, in_base + k * inner), k};
        std::partial_sort(items.begin(), items.begin() + s.k, items.end(), first);
        const int64_t out_base = o * s.k * inner + j;
        for (int64_t k = 0; k < s.k; ++k) {
          Store(values, out_base + k * inner, items[k].v);
          indices[out_base + k * inner] = items[k].i;
        }
      }
    }
  });
}

std::vector<std::string> TopKParams(int64_t opset) {
  if (opset >= 10) return {"", "k"};
  return {};
}

// ---- Einsum ----

// An einsum as nested loops: the output's labels first (in output order), then the summed
// ones. Operand strides per loop label add up the strides of every dim with that label (which
// walks a diagonal for a repeated label) and are 0 where a dim of size 1 broadcasts.
struct EinsumPlan {
  std::vector<int64_t> sizes;
  size_t n_out = 0;
  std::vector<std::vector<int64_t>> strides;  // [operand][loop label]
  std::vector<int64_t> out_shape;
};

constexpr int kLetters = 52;  // A-Z then a-z, so ids sort like ASCII (numpy's implicit order)
constexpr int kEllipsis = -1;

int LetterId(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return 26 + (c - 'a');
  return -2;
}

char LabelChar(int id) { return static_cast<char>(id < 26 ? 'A' + id : 'a' + (id - 26)); }

// One term of the equation: letter ids, kEllipsis for "...".
StatusOr<std::vector<int>> ParseTerm(const std::string& term) {
  std::vector<int> ids;
  bool ellipsis = false;
  for (size_t i = 0; i < term.size(); ++i) {
    if (term[i] == '.') {
      if (ellipsis || term.compare(i, 3, "...") != 0) {
        return BadInputError("equation term '" + term + "' has a stray '.' or two ellipses");
      }
      ellipsis = true;
      ids.push_back(kEllipsis);
      i += 2;
      continue;
    }
    const int id = LetterId(term[i]);
    if (id < 0) {
      return BadInputError(std::string("equation has the character '") + term[i] +
                           "'; labels are letters");
    }
    ids.push_back(id);
  }
  return ids;
}

StatusOr<EinsumPlan> PlanEinsum(std::string eq, const std::vector<std::vector<int64_t>>& shapes) {
  std::erase_if(eq, [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
  const size_t arrow = eq.find("->");
  const bool explicit_out = arrow != std::string::npos;
  const std::string lhs = eq.substr(0, arrow);
  if (explicit_out && eq.find_first_of("->", arrow + 2) != std::string::npos) {
    return BadInputError("equation '" + eq + "' has more than one '->'");
  }
  std::vector<std::vector<int>> terms;
  for (size_t start = 0;;) {
    const size_t comma = lhs.find(',', start);
    ASSIGN_OR_RETURN(std::vector<int> t, ParseTerm(lhs.substr(start, comma - start)));
    terms.push_back(std::move(t));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (terms.size() != shapes.size()) {
    return BadInputError("equation '" + eq + "' names " + std::to_string(terms.size()) +
                         " operands, found " + std::to_string(shapes.size()) + " inputs");
  }

  // Sizes of letters and of the broadcast ellipsis dims.
  std::vector<int64_t> letter_size(kLetters, -1);
  std::vector<int> letter_count(kLetters, 0);
  std::vector<int64_t> ell_shape;
  std::vector<size_t> ell_rank(terms.size(), 0);
  auto merge = [](int64_t& have, int64_t dim) {
    if (have == -1 || have == 1) have = dim;
    return dim == have || dim == 1;
  };
  for (size_t op = 0; op < terms.size(); ++op) {
    const std::vector<int>& t = terms[op];
    const std::vector<int64_t>& shape = shapes[op];
    const bool has_ell = std::count(t.begin(), t.end(), kEllipsis) > 0;
    const size_t letters = t.size() - (has_ell ? 1 : 0);
    if (shape.size() < letters || (!has_ell && shape.size() != letters)) {
      return BadInputError("operand " + std::to_string(op) + " has rank " +
                           std::to_string(shape.size()) + " but its term has " +
                           std::to_string(letters) + " labels");
    }
    ell_rank[op] = shape.size() - letters;
    if (ell_rank[op] > ell_shape.size()) {
      ell_shape.insert(ell_shape.begin(), ell_rank[op] - ell_shape.size(), -1);
    }
    std::vector<int64_t> own(kLetters, -1);  // a repeated label takes a diagonal: equal dims
    size_t d = 0;
    for (int id : t) {
      if (id == kEllipsis) {
        for (size_t e = 0; e < ell_rank[op]; ++e, ++d) {
          if (!merge(ell_shape[ell_shape.size() - ell_rank[op] + e], shape[d])) {
            return BadInputError("operand " + std::to_string(op) +
                                 "'s ellipsis dims do not broadcast with the others");
          }
        }
        continue;
      }
      if (own[id] != -1 && own[id] != shape[d]) {
        return BadInputError("operand " + std::to_string(op) +
                             " repeats a label over dims of different sizes");
      }
      own[id] = shape[d];
      ++letter_count[id];
      if (!merge(letter_size[id], shape[d])) {
        return BadInputError("label '" + std::string(1, LabelChar(id)) + "' has sizes " +
                             std::to_string(letter_size[id]) + " and " + std::to_string(shape[d]) +
                             " in different operands");
      }
      ++d;
    }
  }
  for (int64_t& e : ell_shape) {
    if (e == -1) e = 1;
  }

  // Loop labels: letters are ids 0..51, ellipsis dim e is kLetters + e.
  std::vector<int> out_labels;
  if (explicit_out) {
    ASSIGN_OR_RETURN(std::vector<int> rhs, ParseTerm(eq.substr(arrow + 2)));
    std::vector<bool> seen(kLetters, false);
    bool ell_out = false;
    for (int id : rhs) {
      if (id == kEllipsis) {
        ell_out = true;
        for (size_t e = 0; e < ell_shape.size(); ++e) out_labels.push_back(kLetters + e);
        continue;
      }
      if (letter_count[id] == 0 || seen[id]) {
        return BadInputError("output label '" + std::string(1, LabelChar(id)) +
                             "' is repeated or missing from the inputs (equation '" + eq + "')");
      }
      seen[id] = true;
      out_labels.push_back(id);
    }
    if (!ell_out && !ell_shape.empty()) {
      return BadInputError("equation '" + eq + "' needs '...' in its output for the inputs' '...'");
    }
  } else {
    for (size_t e = 0; e < ell_shape.size(); ++e) out_labels.push_back(kLetters + e);
    for (int id = 0; id < kLetters; ++id) {
      if (letter_count[id] == 1) out_labels.push_back(id);
    }
  }
  std::vector<int> loop = out_labels;
  for (int id = 0; id < kLetters; ++id) {
    if (letter_count[id] > 0 && std::find(loop.begin(), loop.end(), id) == loop.end()) {
      loop.push_back(id);
    }
  }

  EinsumPlan p;
  p.n_out = out_labels.size();
  std::vector<int> position(kLetters + ell_shape.size(), -1);
  for (size_t i = 0; i < loop.size(); ++i) {
    position[loop[i]] = static_cast<int>(i);
    p.sizes.push_back(loop[i] < kLetters ? letter_size[loop[i]] : ell_shape[loop[i] - kLetters]);
  }
  p.out_shape.assign(p.sizes.begin(), p.sizes.begin() + p.n_out);
  for (size_t op = 0; op < terms.size(); ++op) {
    const std::vector<int64_t> own = Strides(shapes[op]);
    std::vector<int64_t> s(loop.size(), 0);
    size_t d = 0;
    auto add = [&](int label) {
      const int at = position[label];
      if (!(shapes[op][d] == 1 && p.sizes[at] != 1)) s[at] += own[d];
      ++d;
    };
    for (int id : terms[op]) {
      if (id != kEllipsis) {
        add(id);
        continue;
      }
      for (size_t e = 0; e < ell_rank[op]; ++e) {
        add(kLetters + static_cast<int>(ell_shape.size() - ell_rank[op] + e));
      }
    }
    p.strides.push_back(std::move(s));
  }
  return p;
}

std::vector<std::vector<int64_t>> ShapesOf(const std::vector<TensorType>& ts) {
  std::vector<std::vector<int64_t>> s;
  for (const TensorType& t : ts) s.push_back(t.shape);
  return s;
}

StatusOr<std::vector<TensorType>> InferEinsum(const InferContext& ctx) {
  const DType dt = ctx.inputs[0].dtype;
  if (dt == DType::kBool) return ctx.Fail("does not take bool inputs");
  for (const TensorType& t : ctx.inputs) {
    if (t.dtype != dt) {
      return ctx.Fail("inputs must share one type, found " + Name(dt) + " and " + Name(t.dtype));
    }
  }
  auto eq = ctx.attrs.Str("equation");
  if (!eq.ok()) return eq.status().Annotate(ctx.op);
  auto plan = PlanEinsum(*eq, ShapesOf(ctx.inputs));
  if (!plan.ok()) return plan.status().Annotate(ctx.op);
  return std::vector<TensorType>{{dt, plan->out_shape}};
}

template <typename T>
void EinsumKernel(const KernelContext& ctx, const EinsumPlan& p) {
  using A = std::conditional_t<kIsInt<T>, int64_t, double>;
  const size_t n_ops = ctx.inputs.size();
  const size_t n_loop = p.sizes.size();
  std::vector<const T*> x(n_ops);
  for (size_t i = 0; i < n_ops; ++i) x[i] = ctx.inputs[i].As<T>();
  T* y = ctx.outputs[0].As<T>();
  const int64_t n_y = ctx.outputs[0].Count();
  for (int64_t d : p.sizes) {
    if (d == 0) {  // an empty output, or sums over nothing
      for (int64_t i = 0; i < n_y; ++i) Put(y, i, A{0});
      return;
    }
  }
  // The last summed label runs innermost; odometers over the other labels keep the operand
  // offsets: `base` for the output element, `cur` within its sum.
  const bool sums = n_loop > p.n_out;
  const size_t last = sums ? n_loop - 1 : 0;
  const int64_t len = sums ? p.sizes[last] : 1;
  std::vector<int64_t> last_stride(n_ops, 0);
  for (size_t i = 0; sums && i < n_ops; ++i) last_stride[i] = p.strides[i][last];
  std::vector<int64_t> idx(n_loop, 0), base(n_ops, 0), cur(n_ops);
  auto advance = [&](size_t d, std::vector<int64_t>& off) {
    for (size_t i = 0; i < n_ops; ++i) off[i] += p.strides[i][d];
    if (++idx[d] < p.sizes[d]) return true;
    for (size_t i = 0; i < n_ops; ++i) off[i] -= p.strides[i][d] * p.sizes[d];
    idx[d] = 0;
    return false;
  };
  for (int64_t o = 0; o < n_y; ++o) {
    A acc = 0;
    cur = base;
    for (bool more = true; more;) {
      if (n_ops == 2) {
        for (int64_t j = 0; j < len; ++j) {
          acc = Add(acc, Mul(static_cast<A>(Load(x[0], cur[0] + j * last_stride[0])),
                             static_cast<A>(Load(x[1], cur[1] + j * last_stride[1]))));
        }
      } else {
        for (int64_t j = 0; j < len; ++j) {
          A prod = 1;
          for (size_t i = 0; i < n_ops; ++i) {
            prod = Mul(prod, static_cast<A>(Load(x[i], cur[i] + j * last_stride[i])));
          }
          acc = Add(acc, prod);
        }
      }
      more = false;
      for (size_t d = last; d-- > p.n_out && !more;) more = advance(d, cur);
    }
    Put(y, o, acc);
    for (size_t d = p.n_out; d-- > 0;) {
      if (advance(d, base)) break;
    }
  }
}

void RunEinsum(const KernelContext& ctx) {
  std::vector<std::vector<int64_t>> shapes;
  for (const Tensor& t : ctx.inputs) shapes.push_back(t.shape);
  const EinsumPlan p = Checked(PlanEinsum(ctx.attrs.StrOr("equation", ""), shapes));
  VisitDType(ctx.inputs[0].dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    EinsumKernel<T>(ctx, p);
  });
}

}  // namespace

void AddReduceOps(std::vector<OpDef>* ops) {
  auto reduce = [&](std::string_view name, ParamsFn params, InferFn infer, RunFn run) {
    ops->push_back({.name = name, .params = params, .infer = infer, .run = run});
  };
  reduce("ReduceSum", ReduceSumParams, InferReduce<Kind::kSum>, RunReduce<Kind::kSum>);
  reduce("ReduceMean", ReduceParams, InferReduce<Kind::kMean>, RunReduce<Kind::kMean>);
  reduce("ReduceProd", ReduceParams, InferReduce<Kind::kProd>, RunReduce<Kind::kProd>);
  reduce("ReduceSumSquare", ReduceParams, InferReduce<Kind::kSumSquare>,
         RunReduce<Kind::kSumSquare>);
  reduce("ReduceL1", ReduceParams, InferReduce<Kind::kL1>, RunReduce<Kind::kL1>);
  reduce("ReduceL2", ReduceParams, InferReduce<Kind::kL2>, RunReduce<Kind::kL2>);
  reduce("ReduceLogSum", ReduceParams, InferReduce<Kind::kLogSum>, RunReduce<Kind::kLogSum>);
  reduce("ReduceLogSumExp", ReduceParams, InferReduce<Kind::kLogSumExp>,
         RunReduce<Kind::kLogSumExp>);
  reduce("ReduceMax", ReduceParams, InferReduce<Kind::kMax>, RunReduce<Kind::kMax>);
  reduce("ReduceMin", ReduceParams, InferReduce<Kind::kMin>, RunReduce<Kind::kMin>);
  ops->push_back({.name = "ArgMax", .infer = InferArg, .run = RunArg<true>});
  ops->push_back({.name = "ArgMin", .infer = InferArg, .run = RunArg<false>});
  ops->push_back({.name = "Softmax", .infer = InferSoftmax<false>, .run = RunSoftmax<false>});
  ops->push_back({.name = "LogSoftmax", .infer = InferSoftmax<true>, .run = RunSoftmax<true>});
  ops->push_back({.name = "CumSum", .params = CumSumParams, .infer = InferCumSum,
                  .run = RunCumSum});
  ops->push_back({.name = "TopK", .min_outputs = 2, .max_outputs = 2, .params = TopKParams,
                  .infer = InferTopK, .run = RunTopK});
  ops->push_back({.name = "Einsum", .min_inputs = 1, .max_inputs = 1 << 16, .infer = InferEinsum,
                  .run = RunEinsum});
}

std::optional<std::pair<int64_t, int64_t>> ReducedAxesRun(const AttrView& a, const std::vector<int64_t>& shape) {
  const auto rank = static_cast<int64_t>(shape.size());
  std::vector<int64_t> axes;
  if (a.Has("axes")) {
    auto given = a.Ints("axes");
    if (!given.ok()) return std::nullopt;
    axes = *given;
  }
  if (axes.empty()) {
    if (a.IntOr("noop_with_empty_axes", 0) != 0) return std::nullopt;
    for (int64_t d = 0; d < rank; ++d) axes.push_back(d);
    if (axes.empty()) return std::nullopt;  // a scalar
  }
  for (int64_t& d : axes) {
    if (d < -rank || d >= rank) return std::nullopt;
    if (d < 0) d += rank;
  }
  std::sort(axes.begin(), axes.end());
  if (std::adjacent_find(axes.begin(), axes.end()) != axes.end()) return std::nullopt;
  if (axes.back() - axes.front() + 1 != static_cast<int64_t>(axes.size())) return std::nullopt;
  return std::make_pair(axes.front(), axes.back() + 1);
}

}  // namespace ts::ops
