// Data movement and shape ops. Their kernels move bytes, so they dispatch on element size, not
// type, and work for every dtype. The shape-only ops (Reshape, Flatten, Squeeze, Unsqueeze,
// Identity, Dropout) still copy: the compiler turns them into zero-copy aliases, but constant
// folding runs them.
//
// Index values are runtime data that `infer` cannot see, so kernels check each one: an
// out-of-range Gather or GatherElements index writes zeros for the elements it would have read
// (ONNX calls it an error; a kernel cannot fail), and an out-of-range OneHot index gives an
// all-off row, as ONNX specifies.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "runtime/ops/families.h"

namespace ts::ops {
namespace {

using Shape = std::vector<int64_t>;
using Types = StatusOr<std::vector<TensorType>>;

constexpr int kUnbounded = std::numeric_limits<int>::max();
constexpr int64_t kMaxCount = int64_t{1} << 48;  // SafeCount's cap

std::string Dims(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out + "]";
}

// Product of s[begin, end). Shapes that reached a kernel or infer passed SafeCount.
int64_t Prod(const Shape& s, size_t begin, size_t end) {
  int64_t n = 1;
  for (size_t i = begin; i < end; ++i) n *= s[i];
  return n;
}

uint8_t* Bytes(const Tensor& t) { return static_cast<uint8_t*>(t.data); }

// Calls fn(std::integral_constant<int, N>{}) with N the element size in bytes (1, 2, 4 or 8).
template <typename Fn>
void BySize(int64_t size, Fn&& fn) {
  switch (size) {
    case 1: fn(std::integral_constant<int, 1>{}); break;
    case 2: fn(std::integral_constant<int, 2>{}); break;
    case 4: fn(std::integral_constant<int, 4>{}); break;
    default: fn(std::integral_constant<int, 8>{}); break;
  }
}

// Whole-tensor copy for the ops whose output is the input; a no-op when the compiler aliased
// the two.
void CopyAll(const Tensor& in, const Tensor& out) {
  const int64_t n = in.Count() * DTypeSize(in.dtype);
  if (n > 0 && in.data != out.data) std::memmove(out.data, in.data, n);
}

// One element of some dtype, as bytes.
struct Element {
  std::array<uint8_t, 8> bytes{};
  int64_t size = 1;
};

// A number from an attribute: integers stay exact, floats are doubles.
struct Number {
  bool is_int = true;
  int64_t i = 0;
  double f = 0;
  double AsDouble() const { return is_int ? static_cast<double>(i) : f; }
};

// A float made an integer for integer storage; NaN and values past int64 give 0.
int64_t ToInt(double f) {
  return f > -9.2e18 && f < 9.2e18 ? static_cast<int64_t>(f) : 0;
}

Element Encode(DType t, Number v) {
  Element e;
  e.size = DTypeSize(t);
  VisitDType(t, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T x;
    if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) {
      Store(&x, 0, static_cast<float>(v.AsDouble()));
    } else if constexpr (std::is_floating_point_v<T>) {
      x = static_cast<T>(v.AsDouble());
    } else if (t == DType::kBool) {
      x = v.is_int ? v.i != 0 : v.f != 0;
    } else {
      x = static_cast<T>(v.is_int ? v.i : ToInt(v.f));
    }
    std::memcpy(e.bytes.data(), &x, sizeof(T));
  });
  return e;
}

void Fill(uint8_t* dst, int64_t count, const Element& e) {
  if (std::all_of(e.bytes.begin(), e.bytes.end(), [](uint8_t b) { return b == 0; })) {
    if (count > 0) std::memset(dst, 0, count * e.size);
    return;
  }
  BySize(e.size, [&](auto size) {
    constexpr int kSize = decltype(size)::value;
    for (int64_t i = 0; i < count; ++i) std::memcpy(dst + i * kSize, e.bytes.data(), kSize);
  });
}

// The single-number attribute `name`: an int or float, or a one-element ints or floats list
// (as a parameter input arrives). nullopt when absent.
StatusOr<std::optional<Number>> ReadNumber(const AttrView& a, const std::string& name) {
  auto it = a.map().find(name);
  if (it == a.map().end()) return std::optional<Number>();
  const ir::AttrValue& v = it->second;
  if (const auto* p = std::get_if<int64_t>(&v)) return std::optional<Number>(Number{true, *p, 0});
  if (const auto* p = std::get_if<double>(&v)) return std::optional<Number>(Number{false, 0, *p});
  if (const auto* p = std::get_if<std::vector<int64_t>>(&v); p && p->size() == 1) {
    return std::optional<Number>(Number{true, (*p)[0], 0});
  }
  if (const auto* p = std::get_if<std::vector<double>>(&v); p && p->size() == 1) {
    return std::optional<Number>(Number{false, 0, (*p)[0]});
  }
  return BadInputError("'" + name + "' must be a single number");
}

// The DType recorded for parameter `name` ("<name>.dtype"), or nullopt.
StatusOr<std::optional<DType>> ReadDType(const AttrView& a, const std::string& name) {
  if (!a.Has(name + ".dtype")) return std::optional<DType>();
  ASSIGN_OR_RETURN(int64_t raw, a.Int(name + ".dtype"));
  if (raw < 0 || raw > 255 || !IsValidDType(static_cast<uint8_t>(raw))) {
    return BadInputError("'" + name + ".dtype' is not a known dtype (" + std::to_string(raw) + ")");
  }
  return std::optional<DType>(static_cast<DType>(raw));
}

// `r`, with an error given the op's name as ctx.Fail does.
template <typename T>
StatusOr<T> In(const InferContext& ctx, StatusOr<T> r) {
  if (r.ok()) return r;
  return ctx.Fail(r.status().message());
}

// ---- Strided copy: the engine of Transpose, Slice, Expand, Tile, DepthToSpace, SpaceToDepth.

template <int kSize>
void CopyViewT(const uint8_t* src, const Shape& shape, const Shape& strides, uint8_t* dst) {
  const size_t last = shape.size() - 1;
  const int64_t inner = shape[last], step = strides[last] * kSize;
  const int64_t rows = Prod(shape, 0, last);
  std::vector<int64_t> idx(last, 0);
  int64_t off = 0;  // bytes from src
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* s = src + off;
    if (step == kSize) {
      std::memcpy(dst, s, inner * kSize);
    } else {
      for (int64_t j = 0; j < inner; ++j) std::memcpy(dst + j * kSize, s + j * step, kSize);
    }
    dst += inner * kSize;
    for (size_t k = last; k-- > 0;) {
      off += strides[k] * kSize;
      if (++idx[k] < shape[k]) break;
      off -= strides[k] * shape[k] * kSize;
      idx[k] = 0;
    }
  }
}

// Writes the view of `src` with `shape` and element `strides` (0 to broadcast, negative to
// reverse) to the contiguous `dst`.
void CopyView(const uint8_t* src, const Shape& shape, const Shape& strides, uint8_t* dst,
              int64_t esize) {
  // Drop unit dims and merge each dim into the one before when they are contiguous.
  Shape s, st;
  for (size_t k = 0; k < shape.size(); ++k) {
    if (shape[k] == 0) return;
    if (shape[k] == 1) continue;
    if (!s.empty() && st.back() == strides[k] * shape[k]) {
      s.back() *= shape[k];
      st.back() = strides[k];
    } else {
      s.push_back(shape[k]);
      st.push_back(strides[k]);
    }
  }
  if (s.empty()) {
    s = {1};
    st = {1};
  }
  BySize(esize, [&](auto size) { CopyViewT<decltype(size)::value>(src, s, st, dst); });
}

// ---- Reshape, Identity, Dropout, Flatten, Squeeze, Unsqueeze: the bytes stay as they are.

void RunCopy(const KernelContext& ctx) { CopyAll(ctx.inputs[0], ctx.outputs[0]); }

Types InferIdentity(const InferContext& ctx) { return std::vector<TensorType>{ctx.inputs[0]}; }

Types InferReshape(const InferContext& ctx) {
  if (!ctx.attrs.Has("shape")) {
    return ctx.Fail("the target shape is required and must be known at compile time");
  }
  ASSIGN_OR_RETURN(const Shape spec, In(ctx, ctx.attrs.Ints("shape")));
  ASSIGN_OR_RETURN(const int64_t allowzero, In(ctx, ctx.attrs.Int("allowzero", 0)));
  const Shape& in = ctx.inputs[0].shape;
  Shape out(spec.size());
  int64_t known = 1;
  std::optional<size_t> infer_at;
  for (size_t i = 0; i < spec.size(); ++i) {
    int64_t d = spec[i];
    if (d == -1) {
      if (infer_at) return ctx.Fail("shape " + Dims(spec) + " has more than one -1");
      infer_at = i;
      continue;
    }
    if (d < -1) return ctx.Fail("shape " + Dims(spec) + " has a negative dimension");
    if (d == 0 && allowzero == 0) {
      if (i >= in.size()) {
        return ctx.Fail("shape[" + std::to_string(i) + "] is 0 (copy the input's dimension) but "
                        "the input " + Dims(in) + " has rank " + std::to_string(in.size()));
      }
      d = in[i];
    }
    out[i] = d;
    if (__builtin_mul_overflow(known, d, &known)) return ctx.Fail("shape is too large");
  }
  const int64_t count = Prod(in, 0, in.size());
  if (infer_at) {
    if (known == 0 || count % known != 0) {
      return ctx.Fail("cannot infer the -1 in " + Dims(spec) + " for an input " + Dims(in));
    }
    out[*infer_at] = count / known;
  } else if (known != count) {
    return ctx.Fail("cannot reshape " + Dims(in) + " (" + std::to_string(count) +
                    " elements) to " + Dims(out) + " (" + std::to_string(known) + ")");
  }
  return std::vector<TensorType>{{ctx.inputs[0].dtype, out}};
}

Types InferDropout(const InferContext& ctx) {
  ASSIGN_OR_RETURN(auto ratio, In(ctx, ReadNumber(ctx.attrs, "ratio")));
  ASSIGN_OR_RETURN(auto training, In(ctx, ReadNumber(ctx.attrs, "training_mode")));
  (void)ratio;  // inference ignores the ratio
  if (training && training->AsDouble() != 0) {
    return ctx.Fail("training_mode is true, but this runtime only does inference (export the "
                    "model in eval mode)");
  }
  std::vector<TensorType> out = {ctx.inputs[0]};
  // The mask is bool from opset 10, the input's type before.
  if (ctx.num_outputs > 1) {
    out.push_back({ctx.opset >= 10 ? DType::kBool : ctx.inputs[0].dtype, ctx.inputs[0].shape});
  }
  return out;
}

void RunDropout(const KernelContext& ctx) {
  CopyAll(ctx.inputs[0], ctx.outputs[0]);
  if (ctx.outputs.size() > 1) {
    const Tensor& mask = ctx.outputs[1];
    Fill(Bytes(mask), mask.Count(), Encode(mask.dtype, Number{true, 1, 0}));
  }
}

Types InferFlatten(const InferContext& ctx) {
  ASSIGN_OR_RETURN(int64_t axis, In(ctx, ctx.attrs.Int("axis", 1)));
  const Shape& in = ctx.inputs[0].shape;
  const auto rank = static_cast<int64_t>(in.size());
  const int64_t lo = ctx.opset >= 11 ? -rank : 0;  // negative axes from opset 11
  if (axis < lo || axis > rank) {
    return ctx.Fail("axis " + std::to_string(axis) + " is out of range [" + std::to_string(lo) +
                    ", " + std::to_string(rank) + "] for an input of rank " +
                    std::to_string(rank));
  }
  if (axis < 0) axis += rank;
  return std::vector<TensorType>{
      {ctx.inputs[0].dtype, {Prod(in, 0, axis), Prod(in, axis, in.size())}}};
}

// Normalises `axes` for a rank, refusing out-of-range and repeated ones.
StatusOr<Shape> NormalizeAxes(const Shape& axes, int64_t rank) {
  Shape out;
  for (int64_t a : axes) {
    auto n = NormalizeAxis(a, rank);
    if (!n) {
      return BadInputError("axis " + std::to_string(a) + " is out of range for rank " +
                           std::to_string(rank));
    }
    if (std::find(out.begin(), out.end(), *n) != out.end()) {
      return BadInputError("axis " + std::to_string(a) + " is repeated");
    }
    out.push_back(*n);
  }
  return out;
}

Types InferSqueeze(const InferContext& ctx) {
  const Shape& in = ctx.inputs[0].shape;
  Shape out;
  if (!ctx.attrs.Has("axes")) {
    for (int64_t d : in) {
      if (d != 1) out.push_back(d);
    }
    return std::vector<TensorType>{{ctx.inputs[0].dtype, out}};
  }
  ASSIGN_OR_RETURN(const Shape raw, In(ctx, ctx.attrs.Ints("axes")));
  ASSIGN_OR_RETURN(const Shape axes, In(ctx, NormalizeAxes(raw, in.size())));
  for (int64_t a : axes) {
    if (in[a] != 1) {
      return ctx.Fail("cannot squeeze axis " + std::to_string(a) + " of " + Dims(in) +
                      ": its size is not 1");
    }
  }
  for (size_t i = 0; i < in.size(); ++i) {
    if (std::find(axes.begin(), axes.end(), static_cast<int64_t>(i)) == axes.end()) {
      out.push_back(in[i]);
    }
  }
  return std::vector<TensorType>{{ctx.inputs[0].dtype, out}};
}

Types InferUnsqueeze(const InferContext& ctx) {
  ASSIGN_OR_RETURN(const Shape raw, In(ctx, ctx.attrs.Ints("axes")));
  const Shape& in = ctx.inputs[0].shape;
  const auto rank = static_cast<int64_t>(in.size() + raw.size());
  ASSIGN_OR_RETURN(const Shape axes, In(ctx, NormalizeAxes(raw, rank)));
  Shape out(rank, 0);
  for (int64_t a : axes) out[a] = 1;
  auto it = in.begin();
  for (int64_t i = 0; i < rank; ++i) {
    if (std::find(axes.begin(), axes.end(), i) == axes.end()) out[i] = *it++;
  }
  return std::vector<TensorType>{{ctx.inputs[0].dtype, out}};
}

// The attribute "axis", normalised for `rank`.
StatusOr<int64_t> ReadAxis(const AttrView& a, int64_t rank, std::optional<int64_t> dflt) {
  ASSIGN_OR_RETURN(const int64_t axis, a.Int("axis", dflt));
  auto n = NormalizeAxis(axis, rank);
  if (!n) {
    return BadInputError("axis " + std::to_string(axis) + " is out of range for rank " +
                         std::to_string(rank));
  }
  return *n;
}

// ---- Transpose

StatusOr<Shape> TransposePerm(const AttrView& a, size_t rank) {
  Shape rev(rank);
  for (size_t i = 0; i < rank; ++i) rev[i] = static_cast<int64_t>(rank - 1 - i);
  ASSIGN_OR_RETURN(Shape perm, a.Ints("perm", rev));
  std::vector<bool> seen(rank, false);
  bool ok = perm.size() == rank;
  for (int64_t p : perm) {
    ok = ok && p >= 0 && p < static_cast<int64_t>(rank) && !seen[p];
    if (ok) seen[p] = true;
  }
  if (!ok) {
    return BadInputError("perm " + Dims(perm) + " is not a permutation of the " +
                         std::to_string(rank) + " input axes");
  }
  return perm;
}

Types InferTranspose(const InferContext& ctx) {
  const Shape& in = ctx.inputs[0].shape;
  ASSIGN_OR_RETURN(const Shape perm, In(ctx, TransposePerm(ctx.attrs, in.size())));
  Shape out(in.size());
  for (size_t i = 0; i < in.size(); ++i) out[i] = in[perm[i]];
  return std::vector<TensorType>{{ctx.inputs[0].dtype, out}};
}

void RunTranspose(const KernelContext& ctx) {
  const Tensor& in = ctx.inputs[0];
  const Shape perm = *TransposePerm(ctx.attrs, in.shape.size());
  const Shape st = Strides(in.shape);
  Shape strides(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) strides[i] = st[perm[i]];
  CopyView(Bytes(in), ctx.outputs[0].shape, strides, Bytes(ctx.outputs[0]),
           DTypeSize(in.dtype));
}

// ---- Concat, Split

Types InferConcat(const InferContext& ctx) {
  const TensorType& first = ctx.inputs[0];
  const auto rank = static_cast<int64_t>(first.shape.size());
  ASSIGN_OR_RETURN(const int64_t axis, In(ctx, ReadAxis(ctx.attrs, rank, std::nullopt)));
  Shape out = first.shape;
  out[axis] = 0;
  for (const TensorType& t : ctx.inputs) {
    if (t.dtype != first.dtype) {
      return ctx.Fail("inputs have different types (" + std::string(DTypeName(first.dtype)) +
                      " and " + std::string(DTypeName(t.dtype)) + ")");
    }
    bool match = t.shape.size() == first.shape.size();
    for (int64_t i = 0; match && i < rank; ++i) match = i == axis || t.shape[i] == first.shape[i];
    if (!match) {
      return ctx.Fail("input shapes " + Dims(first.shape) + " and " + Dims(t.shape) +
                      " differ outside axis " + std::to_string(axis));
    }
    if (__builtin_add_overflow(out[axis], t.shape[axis], &out[axis])) {
      return ctx.Fail("the output is too large");
    }
  }
  return std::vector<TensorType>{{first.dtype, out}};
}

void RunConcat(const KernelContext& ctx) {
  const Tensor& out = ctx.outputs[0];
  const int64_t axis = *ReadAxis(ctx.attrs, out.shape.size(), 0);
  const int64_t esize = DTypeSize(out.dtype);
  const int64_t outer = Prod(out.shape, 0, axis);
  const int64_t inner = Prod(out.shape, axis + 1, out.shape.size()) * esize;
  uint8_t* dst = Bytes(out);
  for (int64_t o = 0; o < outer; ++o) {
    for (const Tensor& in : ctx.inputs) {
      const int64_t chunk = in.shape[axis] * inner;
      if (chunk == 0) continue;
      // An input the planner placed inside the output (passes/liveness.h) is already there.
      const uint8_t* src = Bytes(in) + o * chunk;
      if (src != dst) std::memcpy(dst, src, chunk);
      dst += chunk;
    }
  }
}

Types InferSplit(const InferContext& ctx) {
  const TensorType& in = ctx.inputs[0];
  ASSIGN_OR_RETURN(const int64_t axis, In(ctx, ReadAxis(ctx.attrs, in.shape.size(), 0)));
  const int64_t dim = in.shape[axis];
  const auto n = static_cast<int64_t>(ctx.num_outputs);
  Shape sizes;
  if (ctx.attrs.Has("split")) {
    ASSIGN_OR_RETURN(sizes, In(ctx, ctx.attrs.Ints("split")));
    int64_t sum = 0;
    for (int64_t s : sizes) {
      if (s < 0 || __builtin_add_overflow(sum, s, &sum)) sum = -1;
      if (sum < 0) break;
    }
    if (static_cast<int64_t>(sizes.size()) != n || sum != dim) {
      return ctx.Fail("split " + Dims(sizes) + " must have one size >= 0 per output (" +
                      std::to_string(n) + ") summing to the axis' size " + std::to_string(dim));
    }
  } else if (ctx.attrs.Has("num_outputs")) {
    // Opset 18: equal chunks of ceil(dim / n), the last one smaller.
    ASSIGN_OR_RETURN(const int64_t num, In(ctx, ctx.attrs.Int("num_outputs")));
    if (num != n) {
      return ctx.Fail("num_outputs is " + std::to_string(num) + " but the node has " +
                      std::to_string(n) + " outputs");
    }
    const int64_t chunk = (dim + n - 1) / n;
    const int64_t rest = dim - chunk * (n - 1);
    if (rest < 0) {
      return ctx.Fail("cannot split a dimension of " + std::to_string(dim) + " into " +
                      std::to_string(n) + " chunks of " + std::to_string(chunk));
    }
    sizes.assign(n, chunk);
    sizes.back() = rest;
  } else {
    if (dim % n != 0) {
      return ctx.Fail("the axis' size " + std::to_string(dim) + " does not split evenly into " +
                      std::to_string(n) + " outputs; give 'split'");
    }
    sizes.assign(n, dim / n);
  }
  std::vector<TensorType> out(n, in);
  for (int64_t i = 0; i < n; ++i) out[i].shape[axis] = sizes[i];
  return out;
}

void RunSplit(const KernelContext& ctx) {
  const Tensor& in = ctx.inputs[0];
  const int64_t axis = *ReadAxis(ctx.attrs, in.shape.size(), 0);
  const int64_t esize = DTypeSize(in.dtype);
  const int64_t outer = Prod(in.shape, 0, axis);
  const int64_t inner = Prod(in.shape, axis + 1, in.shape.size()) * esize;
  const uint8_t* src = Bytes(in);
  for (int64_t o = 0; o < outer; ++o) {
    for (const Tensor& out : ctx.outputs) {
      const int64_t chunk = out.shape[axis] * inner;
      if (chunk == 0) continue;
      std::memcpy(Bytes(out) + o * chunk, src, chunk);
      src += chunk;
    }
  }
}

// ---- Slice

struct SliceDim {
  int64_t start = 0, step = 1, count = 0;
};

// Per input axis: first index, step and element count, clamped as ONNX says.
StatusOr<std::vector<SliceDim>> PlanSlice(const AttrView& a, const Shape& in) {
  const auto rank = static_cast<int64_t>(in.size());
  ASSIGN_OR_RETURN(const Shape starts, a.Ints("starts"));
  ASSIGN_OR_RETURN(const Shape ends, a.Ints("ends"));
  Shape all(starts.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
  ASSIGN_OR_RETURN(const Shape raw_axes, a.Ints("axes", all));
  ASSIGN_OR_RETURN(const Shape steps, a.Ints("steps", Shape(starts.size(), 1)));
  if (ends.size() != starts.size() || raw_axes.size() != starts.size() ||
      steps.size() != starts.size()) {
    return BadInputError("starts, ends, axes and steps must have the same length");
  }
  ASSIGN_OR_RETURN(const Shape axes, NormalizeAxes(raw_axes, rank));
  std::vector<SliceDim> plan(rank);
  for (int64_t k = 0; k < rank; ++k) plan[k].count = in[k];
  for (size_t i = 0; i < axes.size(); ++i) {
    const int64_t dim = in[axes[i]], step = steps[i];
    if (step == 0) return BadInputError("steps must not be 0");
    if (dim == 0) {
      plan[axes[i]] = {0, 1, 0};
      continue;
    }
    int64_t start = starts[i], end = ends[i];
    if (start < 0) start += dim;
    if (end < 0) end += dim;
    __int128 count;
    if (step > 0) {
      start = std::clamp<int64_t>(start, 0, dim);
      end = std::clamp<int64_t>(end, 0, dim);
      count = end > start ? (end - start - 1) / step + 1 : 0;
    } else {
      start = std::clamp<int64_t>(start, 0, dim - 1);
      end = std::clamp<int64_t>(end, -1, dim - 1);
      count = start > end ? (start - end - 1) / -static_cast<__int128>(step) + 1 : 0;
    }
    // A step past the extent never moves: keep it 1 so strides times steps cannot overflow.
    plan[axes[i]] = {start, count > 1 ? step : 1, static_cast<int64_t>(count)};
  }
  return plan;
}

Types InferSlice(const InferContext& ctx) {
  const Shape& in = ctx.inputs[0].shape;
  ASSIGN_OR_RETURN(const std::vector<SliceDim> plan, In(ctx, PlanSlice(ctx.attrs, in)));
  Shape out;
  for (const SliceDim& d : plan) out.push_back(d.count);
  return std::vector<TensorType>{{ctx.inputs[0].dtype, out}};
}

void RunSlice(const KernelContext& ctx) {
  const Tensor& in = ctx.inputs[0];
  const SliceView view = *PlanSliceView(ctx.attrs, in.shape);
  for (int64_t count : view.shape) {
    if (count == 0) return;  // empty output
  }
  const int64_t esize = DTypeSize(in.dtype);
  CopyView(Bytes(in) + view.offset * esize, view.shape, view.strides, Bytes(ctx.outputs[0]), esize);
}

// ---- Gather, GatherElements

bool IsIndexType(DType t) { return t == DType::kI64 || t == DType::kI32; }

template <typename Fn>
void ByIndexType(DType t, Fn&& fn) {
  if (t == DType::kI64) {
    fn(Tag<int64_t>{});
  } else {
    fn(Tag<int32_t>{});
  }
}

Types InferGather(const InferContext& ctx) {
  const TensorType& data = ctx.inputs[0];
  const TensorType& indices = ctx.inputs[1];
  if (!IsIndexType(indices.dtype)) {
    return ctx.Fail("indices must be i32 or i64, found " + std::string(DTypeName(indices.dtype)));
  }
  ASSIGN_OR_RETURN(const int64_t axis, In(ctx, ReadAxis(ctx.attrs, data.shape.size(), 0)));
  Shape out(data.shape.begin(), data.shape.begin() + axis);
  out.insert(out.end(), indices.shape.begin(), indices.shape.end());
  out.insert(out.end(), data.shape.begin() + axis + 1, data.shape.end());
  return std::vector<TensorType>{{data.dtype, out}};
}

void RunGather(const KernelContext& ctx) {
  const Tensor& data = ctx.inputs[0];
  const Tensor& indices = ctx.inputs[1];
  const int64_t axis = *ReadAxis(ctx.attrs, data.shape.size(), 0);
  const int64_t outer = Prod(data.shape, 0, axis), n = data.shape[axis];
  const int64_t block = Prod(data.shape, axis + 1, data.shape.size()) * DTypeSize(data.dtype);
  const int64_t m = indices.Count();
  if (block == 0) return;
  ByIndexType(indices.dtype, [&](auto tag) {
    using I = typename decltype(tag)::type;
    const I* idx = indices.As<I>();
    uint8_t* dst = Bytes(ctx.outputs[0]);
    for (int64_t o = 0; o < outer; ++o) {
      const uint8_t* src = Bytes(data) + o * n * block;
      for (int64_t j = 0; j < m; ++j, dst += block) {
        int64_t i = idx[j];
        if (i < 0) i += n;
        if (i < 0 || i >= n) {
          std::memset(dst, 0, block);  // out of range: zeros
        } else {
          std::memcpy(dst, src + i * block, block);
        }
      }
    }
  });
}

Types InferGatherElements(const InferContext& ctx) {
  const TensorType& data = ctx.inputs[0];
  const TensorType& indices = ctx.inputs[1];
  if (!IsIndexType(indices.dtype)) {
    return ctx.Fail("indices must be i32 or i64, found " + std::string(DTypeName(indices.dtype)));
  }
  ASSIGN_OR_RETURN(const int64_t axis, In(ctx, ReadAxis(ctx.attrs, data.shape.size(), 0)));
  bool fits = indices.shape.size() == data.shape.size();
  for (size_t k = 0; fits && k < data.shape.size(); ++k) {
    fits = static_cast<int64_t>(k) == axis || indices.shape[k] <= data.shape[k];
  }
  if (!fits) {
    return ctx.Fail("indices " + Dims(indices.shape) + " must have the rank of data " +
                    Dims(data.shape) + " and no larger size outside axis " +
                    std::to_string(axis));
  }
  return std::vector<TensorType>{{data.dtype, indices.shape}};
}

template <int kSize, typename I>
void GatherElementsT(const Tensor& data, const Tensor& indices, int64_t axis, uint8_t* dst) {
  const Shape& shape = indices.shape;
  const size_t last = shape.size() - 1;
  const Shape ds = Strides(data.shape);
  const int64_t n = data.shape[axis], axis_stride = ds[axis];
  const int64_t inner = shape[last];
  const int64_t inner_stride = static_cast<int64_t>(last) == axis ? 0 : ds[last];
  const int64_t rows = Prod(shape, 0, last);
  const I* idx = indices.As<I>();
  const uint8_t* src = Bytes(data);
  std::vector<int64_t> pos(last, 0);
  int64_t base = 0;  // data offset of the row, without the axis' coordinate
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < inner; ++j, ++idx, dst += kSize) {
      int64_t i = *idx;
      if (i < 0) i += n;
      if (i < 0 || i >= n) {
        std::memset(dst, 0, kSize);  // out of range: zero
      } else {
        std::memcpy(dst, src + (base + j * inner_stride + i * axis_stride) * kSize, kSize);
      }
    }
    for (size_t k = last; k-- > 0;) {
      const int64_t step = static_cast<int64_t>(k) == axis ? 0 : ds[k];
      base += step;
      if (++pos[k] < shape[k]) break;
      base -= step * shape[k];
      pos[k] = 0;
    }
  }
}

void RunGatherElements(const KernelContext& ctx) {
  const Tensor& data = ctx.inputs[0];
  const Tensor& indices = ctx.inputs[1];
  if (indices.Count() == 0) return;
  const int64_t axis = *ReadAxis(ctx.attrs, data.shape.size(), 0);
  BySize(DTypeSize(data.dtype), [&](auto size) {
    ByIndexType(indices.dtype, [&](auto tag) {
      GatherElementsT<decltype(size)::value, typename decltype(tag)::type>(
          data, indices, axis, Bytes(ctx.outputs[0]));
    });
  });
}

// ---- GatherND: each index tuple in the last axis of `indices` picks a slice of data; the first
// batch_dims axes of both are shared.

Types InferGatherND(const InferContext& ctx) {
  const TensorType& data = ctx.inputs[0];
  const TensorType& indices = ctx.inputs[1];
  if (indices.dtype != DType::kI64) {
    return ctx.Fail("indices must be i64, found " + std::string(DTypeName(indices.dtype)));
  }
  const int64_t b = ctx.attrs.IntOr("batch_dims", 0);
  const int64_t r = static_cast<int64_t>(data.shape.size());
  const int64_t q = static_cast<int64_t>(indices.shape.size());
  if (r < 1 || q < 1) return ctx.Fail("data and indices must have rank >= 1");
  if (b < 0 || b >= std::min(r, q)) {
    return ctx.Fail("batch_dims " + std::to_string(b) + " must lie in [0, " +
                    std::to_string(std::min(r, q)) + ")");
  }
  const int64_t k = indices.shape.back();
  if (k < 1 || k > r - b) {
    return ctx.Fail("the last axis of indices " + Dims(indices.shape) + " must be 1.." +
                    std::to_string(r - b) + " for data " + Dims(data.shape));
  }
  for (int64_t i = 0; i < b; ++i) {
    if (data.shape[i] != indices.shape[i]) {
      return ctx.Fail("batch axis " + std::to_string(i) + " differs: data " + Dims(data.shape) +
                      ", indices " + Dims(indices.shape));
    }
  }
  Shape out(indices.shape.begin(), indices.shape.end() - 1);
  out.insert(out.end(), data.shape.begin() + b + k, data.shape.end());
  return std::vector<TensorType>{{data.dtype, out}};
}

void RunGatherND(const KernelContext& ctx) {
  const Tensor& data = ctx.inputs[0];
  const Tensor& indices = ctx.inputs[1];
  const int64_t b = ctx.attrs.IntOr("batch_dims", 0);
  const int64_t k = indices.shape.back();
  const int64_t batches = Prod(data.shape, 0, b);
  const int64_t tuples = Prod(indices.shape, b, indices.shape.size() - 1);
  const int64_t block =
      Prod(data.shape, b + k, data.shape.size()) * DTypeSize(data.dtype);
  const int64_t batch_bytes = Prod(data.shape, b, data.shape.size()) * DTypeSize(data.dtype);
  const Shape ds = Strides(data.shape);  // element strides; the tuple's axes are b..b+k-1
  const int64_t* idx = indices.As<int64_t>();
  uint8_t* dst = Bytes(ctx.outputs[0]);
  for (int64_t n = 0; n < batches; ++n) {
    const uint8_t* src = Bytes(data) + n * batch_bytes;
    for (int64_t t = 0; t < tuples; ++t, idx += k, dst += block) {
      int64_t offset = 0;
      bool in_range = true;
      for (int64_t j = 0; j < k; ++j) {
        const int64_t dim = data.shape[b + j];
        int64_t i = idx[j];
        if (i < 0) i += dim;
        in_range &= i >= 0 && i < dim;
        offset += i * ds[b + j];
      }
      if (!in_range) {
        std::memset(dst, 0, block);  // out of range: zeros, as Gather
      } else {
        std::memcpy(dst, src + offset * DTypeSize(data.dtype), block);
      }
    }
  }
}

// ---- Expand, Tile

Types InferExpand(const InferContext& ctx) {
  if (!ctx.attrs.Has("shape")) {
    return ctx.Fail("the target shape is required and must be known at compile time");
  }
  ASSIGN_OR_RETURN(const Shape shape, In(ctx, ctx.attrs.Ints("shape")));
  const Shape& in = ctx.inputs[0].shape;
  auto out = std::any_of(shape.begin(), shape.end(), [](int64_t d) { return d < 0; })
                 ? std::nullopt
                 : Broadcast(in, shape);
  if (!out) return ctx.Fail("cannot broadcast " + Dims(in) + " with shape " + Dims(shape));
  return std::vector<TensorType>{{ctx.inputs[0].dtype, *out}};
}

void RunExpand(const KernelContext& ctx) {
  const Tensor& in = ctx.inputs[0];
  const Tensor& out = ctx.outputs[0];
  CopyView(Bytes(in), out.shape, BroadcastStrides(in.shape, out.shape), Bytes(out),
           DTypeSize(in.dtype));
}

Types InferTile(const InferContext& ctx) {
  ASSIGN_OR_RETURN(const Shape repeats, In(ctx, ctx.attrs.Ints("repeats")));
  const Shape& in = ctx.inputs[0].shape;
  if (repeats.size() != in.size()) {
    return ctx.Fail("repeats " + Dims(repeats) + " must have one entry per input axis (" +
                    std::to_string(in.size()) + ")");
  }
  Shape out(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (repeats[i] < 0) return ctx.Fail("repeats " + Dims(repeats) + " has a negative entry");
    if (__builtin_mul_overflow(in[i], repeats[i], &out[i])) {
      return ctx.Fail("the output is too large");
    }
  }
  return std::vector<TensorType>{{ctx.inputs[0].dtype, out}};
}

void RunTile(const KernelContext& ctx) {
  const Tensor& in = ctx.inputs[0];
  const Tensor& out = ctx.outputs[0];
  // The output viewed as [r0, d0, r1, d1, ...]: repeats read with stride 0.
  const Shape st = Strides(in.shape);
  Shape shape, strides;
  for (size_t k = 0; k < in.shape.size(); ++k) {
    const int64_t d = in.shape[k];
    shape.insert(shape.end(), {d == 0 ? 0 : out.shape[k] / d, d});
    strides.insert(strides.end(), {0, st[k]});
  }
  CopyView(Bytes(in), shape, strides, Bytes(out), DTypeSize(in.dtype));
}

// ---- Pad

enum class PadMode { kConstant, kReflect, kEdge, kWrap };

struct PadPlan {
  PadMode mode = PadMode::kConstant;
  Shape begin, out;  // per axis: elements added before (negative: removed), output size
  Number value;
};

StatusOr<PadPlan> PlanPad(const AttrView& a, int64_t opset, const Shape& in) {
  const auto rank = static_cast<int64_t>(in.size());
  PadPlan p;
  ASSIGN_OR_RETURN(const std::string mode, a.Str("mode", "constant"));
  if (mode == "constant") {
    p.mode = PadMode::kConstant;
  } else if (mode == "reflect") {
    p.mode = PadMode::kReflect;
  } else if (mode == "edge") {
    p.mode = PadMode::kEdge;
  } else if (mode == "wrap" && opset >= 19) {
    p.mode = PadMode::kWrap;
  } else {
    return BadInputError("mode '" + mode + "' is not one of constant, reflect, edge" +
                         (opset >= 19 ? ", wrap" : " (wrap needs opset 19)"));
  }
  if (!a.Has("pads")) return BadInputError("pads are required and must be known at compile time");
  ASSIGN_OR_RETURN(const Shape pads, a.Ints("pads"));
  Shape axes(rank);
  for (int64_t k = 0; k < rank; ++k) axes[k] = k;
  if (opset >= 18 && a.Has("axes")) {
    ASSIGN_OR_RETURN(const Shape raw, a.Ints("axes"));
    ASSIGN_OR_RETURN(axes, NormalizeAxes(raw, rank));
  }
  const auto n = static_cast<int64_t>(axes.size());
  if (static_cast<int64_t>(pads.size()) != 2 * n) {
    return BadInputError("pads " + Dims(pads) + " must have 2 entries per padded axis (" +
                         std::to_string(2 * n) + ")");
  }
  p.begin.assign(rank, 0);
  p.out = in;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t k = axes[i];
    int64_t size;
    if (__builtin_add_overflow(in[k], pads[i], &size) ||
        __builtin_add_overflow(size, pads[i + n], &size) || size < 0) {
      return BadInputError("pads " + Dims(pads) + " give axis " + std::to_string(k) +
                           " of size " + std::to_string(in[k]) + " an invalid size");
    }
    if (p.mode != PadMode::kConstant && in[k] == 0 && size > 0) {
      return BadInputError("mode '" + mode + "' cannot pad the empty axis " + std::to_string(k));
    }
    p.begin[k] = pads[i];
    p.out[k] = size;
  }
  ASSIGN_OR_RETURN(auto value, ReadNumber(a, opset >= 11 ? "constant_value" : "value"));
  if (value) p.value = *value;
  return p;
}

Types InferPad(const InferContext& ctx) {
  ASSIGN_OR_RETURN(const PadPlan p, In(ctx, PlanPad(ctx.attrs, ctx.opset, ctx.inputs[0].shape)));
  return std::vector<TensorType>{{ctx.inputs[0].dtype, p.out}};
}

// The input index that output index o of a padded axis reads, or -1 for the constant.
int64_t PadSource(PadMode mode, int64_t o, int64_t begin, int64_t dim) {
  const int64_t i = o - begin;
  if (i >= 0 && i < dim) return i;
  switch (mode) {
    case PadMode::kConstant: return -1;
    case PadMode::kEdge: return i < 0 ? 0 : dim - 1;
    case PadMode::kWrap: return ((i % dim) + dim) % dim;
    case PadMode::kReflect: {
      if (dim == 1) return 0;
      const int64_t period = 2 * (dim - 1);
      const int64_t m = ((i % period) + period) % period;
      return m < dim ? m : period - m;
    }
  }
  return -1;
}

template <int kSize>
void PadT(const uint8_t* src, const Shape& in, const PadPlan& p, const Element& value,
          uint8_t* dst) {
  const size_t rank = in.size(), last = rank - 1;
  // Per axis, the input index each output index reads (-1: the constant).
  std::vector<Shape> map(rank);
  for (size_t k = 0; k < rank; ++k) {
    map[k].resize(p.out[k]);
    for (int64_t o = 0; o < p.out[k]; ++o) map[k][o] = PadSource(p.mode, o, p.begin[k], in[k]);
  }
  const Shape st = Strides(in);
  const int64_t inner = p.out[last], rows = Prod(p.out, 0, last);
  std::vector<int64_t> pos(last, 0);
  for (int64_t r = 0; r < rows; ++r, dst += inner * kSize) {
    int64_t base = 0;
    bool constant = false;
    for (size_t k = 0; k < last; ++k) {
      const int64_t m = map[k][pos[k]];
      constant = constant || m < 0;
      base += m * st[k];
    }
    if (constant) {
      for (int64_t j = 0; j < inner; ++j) std::memcpy(dst + j * kSize, value.bytes.data(), kSize);
    } else {
      const uint8_t* row = src + base * kSize;
      for (int64_t j = 0; j < inner; ++j) {
        const int64_t m = map[last][j];
        std::memcpy(dst + j * kSize, m < 0 ? value.bytes.data() : row + m * kSize, kSize);
      }
    }
    for (size_t k = last; k-- > 0;) {
      if (++pos[k] < p.out[k]) break;
      pos[k] = 0;
    }
  }
}

void RunPad(const KernelContext& ctx) {
  const Tensor& in = ctx.inputs[0];
  const Tensor& out = ctx.outputs[0];
  if (in.shape.empty()) return CopyAll(in, out);
  if (out.Count() == 0) return;
  const PadPlan p = *PlanPad(ctx.attrs, ctx.opset, in.shape);
  const Element value = Encode(in.dtype, p.value);
  BySize(value.size, [&](auto size) {
    PadT<decltype(size)::value>(Bytes(in), in.shape, p, value, Bytes(out));
  });
}

// ---- Shape, Size: outputs from the input's type only

std::pair<int64_t, int64_t> ShapeRange(const AttrView& a, int64_t rank) {
  auto clamp = [rank](int64_t v) { return std::clamp<int64_t>(v < 0 ? v + rank : v, 0, rank); };
  const int64_t start = clamp(a.IntOr("start", 0)), end = clamp(a.IntOr("end", rank));
  return {start, std::max(start, end)};
}

Types InferShape(const InferContext& ctx) {
  ASSIGN_OR_RETURN(const int64_t start, In(ctx, ctx.attrs.Int("start", 0)));
  ASSIGN_OR_RETURN(const int64_t end, In(ctx, ctx.attrs.Int("end", 0)));
  (void)start, (void)end;  // types checked; any value clamps to the rank
  const auto [b, e] = ShapeRange(ctx.attrs, ctx.inputs[0].shape.size());
  return std::vector<TensorType>{{DType::kI64, {e - b}}};
}

void RunShape(const KernelContext& ctx) {
  const Shape& in = ctx.inputs[0].shape;
  const auto [b, e] = ShapeRange(ctx.attrs, in.size());
  if (e > b) std::memcpy(ctx.outputs[0].data, in.data() + b, (e - b) * sizeof(int64_t));
}

Types InferSize(const InferContext&) { return std::vector<TensorType>{{DType::kI64, {}}}; }

void RunSize(const KernelContext& ctx) {
  const int64_t n = ctx.inputs[0].Count();
  std::memcpy(ctx.outputs[0].data, &n, sizeof(n));
}

// ---- ConstantOfShape, Range: no data inputs

Types InferConstantOfShape(const InferContext& ctx) {
  if (!ctx.attrs.Has("shape")) {
    return ctx.Fail("the shape input is required and must be known at compile time");
  }
  ASSIGN_OR_RETURN(const Shape shape, In(ctx, ctx.attrs.Ints("shape")));
  for (int64_t d : shape) {
    if (d < 0) return ctx.Fail("shape " + Dims(shape) + " has a negative dimension");
  }
  ASSIGN_OR_RETURN(const auto dtype, In(ctx, ReadDType(ctx.attrs, "value")));
  ASSIGN_OR_RETURN(const auto value, In(ctx, ReadNumber(ctx.attrs, "value")));
  const DType t = dtype.value_or(DType::kF32);
  if (value && !value->is_int && !IsFloat(t)) {
    return ctx.Fail("value must be an integer for dtype " + std::string(DTypeName(t)));
  }
  return std::vector<TensorType>{{t, shape}};
}

void RunConstantOfShape(const KernelContext& ctx) {
  const Tensor& out = ctx.outputs[0];
  auto value = ReadNumber(ctx.attrs, "value");
  Fill(Bytes(out), out.Count(), Encode(out.dtype, value->value_or(Number{true, 0, 0})));
}

struct RangeArgs {
  DType dtype;
  Number start, delta;
  int64_t count;
};

template <typename T>
int64_t FloatRangeCount(T start, T limit, T delta) {
  const T n = std::ceil((limit - start) / delta);
  if (!(n <= static_cast<T>(kMaxCount))) return -1;  // NaN, infinite or too large
  return n > 0 ? static_cast<int64_t>(n) : 0;
}

StatusOr<RangeArgs> PlanRange(const AttrView& a) {
  ASSIGN_OR_RETURN(const auto dtype, ReadDType(a, "start"));
  if (!dtype) {
    return BadInputError("'start.dtype' is required (start must be known at compile time)");
  }
  const DType t = *dtype;
  const bool int_type = IsInteger(t) && IsSigned(t) && DTypeSize(t) >= 2;  // i16, i32, i64
  if (t != DType::kF32 && t != DType::kF64 && !int_type) {
    return BadInputError("type " + std::string(DTypeName(t)) + " is not f32, f64, i16, i32 or i64");
  }
  Number v[3];
  const char* names[3] = {"start", "limit", "delta"};
  for (int i = 0; i < 3; ++i) {
    ASSIGN_OR_RETURN(const auto other, ReadDType(a, names[i]));
    if (other && *other != t) return BadInputError("start, limit and delta have different types");
    ASSIGN_OR_RETURN(const auto n, ReadNumber(a, names[i]));
    if (!n) {
      return BadInputError(std::string(names[i]) + " is required (known at compile time)");
    }
    if (IsInteger(t) && !n->is_int) {
      return BadInputError(std::string(names[i]) + " must be an integer for type " +
                           std::string(DTypeName(t)));
    }
    const bool fits = VisitDType(t, [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (std::is_integral_v<T>) return std::in_range<T>(n->i);
      return true;
    });
    if (!fits) {
      return BadInputError(std::string(names[i]) + " does not fit " + std::string(DTypeName(t)));
    }
    v[i] = *n;
  }
  int64_t count;
  if (IsInteger(t)) {
    const __int128 span = static_cast<__int128>(v[1].i) - v[0].i, delta = v[2].i;
    if (delta == 0) return BadInputError("delta must not be 0");
    // ceil(span / delta), for either sign.
    __int128 q = span / delta;
    if (q * delta != span && (span > 0) == (delta > 0)) ++q;
    if (q > kMaxCount) return BadInputError("the output would have too many elements");
    count = q > 0 ? static_cast<int64_t>(q) : 0;
  } else {
    if (v[2].AsDouble() == 0) return BadInputError("delta must not be 0");
    // The count is computed in the output type, as ONNX's definition of Range does.
    count = t == DType::kF32
                ? FloatRangeCount<float>(v[0].AsDouble(), v[1].AsDouble(), v[2].AsDouble())
                : FloatRangeCount<double>(v[0].AsDouble(), v[1].AsDouble(), v[2].AsDouble());
    if (count < 0) {
      return BadInputError("the output would have too many elements (or a NaN bound)");
    }
  }
  return RangeArgs{t, v[0], v[2], count};
}

Types InferRange(const InferContext& ctx) {
  ASSIGN_OR_RETURN(const RangeArgs r, In(ctx, PlanRange(ctx.attrs)));
  return std::vector<TensorType>{{r.dtype, {r.count}}};
}

void RunRange(const KernelContext& ctx) {
  const RangeArgs r = *PlanRange(ctx.attrs);
  // Each element adds delta to the one before, in the output type (ONNX's definition).
  VisitDType(r.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = ctx.outputs[0].As<T>();
    if constexpr (std::is_floating_point_v<T>) {
      T v = static_cast<T>(r.start.AsDouble());
      const T delta = static_cast<T>(r.delta.AsDouble());
      for (int64_t i = 0; i < r.count; ++i, v += delta) p[i] = v;
    } else if constexpr (std::is_integral_v<T>) {
      // Unsigned, wrapping: only the step past the last element can leave T's range.
      using U = std::make_unsigned_t<T>;
      U v = static_cast<U>(r.start.i);
      const U delta = static_cast<U>(r.delta.i);
      for (int64_t i = 0; i < r.count; ++i, v += delta) p[i] = static_cast<T>(v);
    }
  });
}

// ---- Trilu

Types InferTrilu(const InferContext& ctx) {
  if (ctx.inputs[0].shape.size() < 2) return ctx.Fail("the input must have rank >= 2");
  ASSIGN_OR_RETURN(const auto k, In(ctx, ReadNumber(ctx.attrs, "k")));
  if (k && !k->is_int) return ctx.Fail("k must be an integer");
  ASSIGN_OR_RETURN(const int64_t upper, In(ctx, ctx.attrs.Int("upper", 1)));
  (void)upper;
  return std::vector<TensorType>{ctx.inputs[0]};
}

void RunTrilu(const KernelContext& ctx) {
  const Tensor& in = ctx.inputs[0];
  if (in.Count() == 0) return;
  const size_t rank = in.shape.size();
  const int64_t rows = in.shape[rank - 2], cols = in.shape[rank - 1];
  const int64_t esize = DTypeSize(in.dtype);
  const bool upper = ctx.attrs.IntOr("upper", 1) != 0;
  auto k_attr = ReadNumber(ctx.attrs, "k");
  // Clamped so that row + k cannot overflow; the kept ranges are the same.
  const int64_t k = std::clamp<int64_t>(k_attr->value_or(Number{}).i, -rows - 1, cols + 1);
  const int64_t total_rows = Prod(in.shape, 0, rank - 1);
  const uint8_t* src = Bytes(in);
  uint8_t* dst = Bytes(ctx.outputs[0]);
  for (int64_t r = 0; r < total_rows; ++r, src += cols * esize, dst += cols * esize) {
    const int64_t i = r % rows;
    // Columns [lo, hi) are kept: j >= i + k for upper, j <= i + k for lower.
    const int64_t lo = upper ? std::clamp<int64_t>(i + k, 0, cols) : 0;
    const int64_t hi = upper ? cols : std::clamp<int64_t>(i + k + 1, 0, cols);
    if (hi <= lo) {
      std::memset(dst, 0, cols * esize);
      continue;
    }
    std::memset(dst, 0, lo * esize);
    if (src != dst) std::memmove(dst + lo * esize, src + lo * esize, (hi - lo) * esize);
    std::memset(dst + hi * esize, 0, (cols - hi) * esize);
  }
}

// ---- OneHot

struct OneHotArgs {
  int64_t depth, axis;
  DType dtype;
  Number off, on;
};

StatusOr<OneHotArgs> PlanOneHot(const AttrView& a, const TensorType& indices) {
  if (indices.dtype == DType::kBool) return BadInputError("indices must be numeric, found bool");
  ASSIGN_OR_RETURN(const auto depth, ReadNumber(a, "depth"));
  if (!depth) return BadInputError("depth is required and must be known at compile time");
  // A float depth is truncated, as ONNX Runtime does.
  const double d = depth->AsDouble();
  if (!(d >= 1 && d < static_cast<double>(kMaxCount))) {
    return BadInputError("depth must be a number in [1, 2^48), found " + std::to_string(d));
  }
  OneHotArgs r;
  r.depth = depth->is_int ? depth->i : static_cast<int64_t>(d);
  const auto rank = static_cast<int64_t>(indices.shape.size());
  ASSIGN_OR_RETURN(r.axis, ReadAxis(a, rank + 1, -1));  // an axis of the output
  ASSIGN_OR_RETURN(const auto dtype, ReadDType(a, "values"));
  if (!dtype) {
    return BadInputError("'values.dtype' is required (values must be known at compile time)");
  }
  r.dtype = *dtype;
  const ir::AttrValue* values = a.Has("values") ? &a.map().at("values") : nullptr;
  const auto* ints = values ? std::get_if<Shape>(values) : nullptr;
  const auto* floats = values ? std::get_if<std::vector<double>>(values) : nullptr;
  if (ints && ints->size() == 2) {
    r.off = {true, (*ints)[0], 0};
    r.on = {true, (*ints)[1], 0};
  } else if (floats && floats->size() == 2 && IsFloat(r.dtype)) {
    r.off = {false, 0, (*floats)[0]};
    r.on = {false, 0, (*floats)[1]};
  } else {
    return BadInputError("values must be [off_value, on_value] of type " +
                         std::string(DTypeName(r.dtype)));
  }
  return r;
}

Types InferOneHot(const InferContext& ctx) {
  ASSIGN_OR_RETURN(const OneHotArgs r, In(ctx, PlanOneHot(ctx.attrs, ctx.inputs[0])));
  Shape out = ctx.inputs[0].shape;
  out.insert(out.begin() + r.axis, r.depth);
  return std::vector<TensorType>{{r.dtype, out}};
}

void RunOneHot(const KernelContext& ctx) {
  const Tensor& indices = ctx.inputs[0];
  const Tensor& out = ctx.outputs[0];
  const OneHotArgs r = *PlanOneHot(ctx.attrs, {indices.dtype, indices.shape});
  const Element off = Encode(out.dtype, r.off), on = Encode(out.dtype, r.on);
  Fill(Bytes(out), out.Count(), off);
  const int64_t outer = Prod(indices.shape, 0, r.axis);
  const int64_t inner = Prod(indices.shape, r.axis, indices.shape.size());
  uint8_t* dst = Bytes(out);
  VisitDType(indices.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = indices.As<T>();
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        int64_t idx;
        if constexpr (std::is_integral_v<T>) {
          if (!std::in_range<int64_t>(p[o * inner + i])) continue;  // a u64 past int64
          idx = static_cast<int64_t>(p[o * inner + i]);
        } else {
          const double v = Load(p, o * inner + i);  // a float index is truncated
          if (!(v > -static_cast<double>(kMaxCount) && v < static_cast<double>(kMaxCount))) {
            continue;
          }
          idx = static_cast<int64_t>(v);
        }
        if (idx < 0) idx += r.depth;
        if (idx < 0 || idx >= r.depth) continue;  // out of range: all off
        std::memcpy(dst + ((o * r.depth + idx) * inner + i) * on.size, on.bytes.data(), on.size);
      }
    }
  });
}

// ---- DepthToSpace, SpaceToDepth: a 6-D transpose of an NCHW tensor

StatusOr<int64_t> BlockSize(const AttrView& a, const Shape& in) {
  ASSIGN_OR_RETURN(const int64_t b, a.Int("blocksize"));
  if (in.size() != 4) return BadInputError("the input must be 4-D [N,C,H,W], found " + Dims(in));
  if (b < 1 || b > (int64_t{1} << 24)) {
    return BadInputError("blocksize " + std::to_string(b) + " must be in [1, 2^24]");
  }
  return b;
}

Types InferDepthToSpace(const InferContext& ctx) {
  const Shape& in = ctx.inputs[0].shape;
  ASSIGN_OR_RETURN(const int64_t b, In(ctx, BlockSize(ctx.attrs, in)));
  ASSIGN_OR_RETURN(const std::string mode, In(ctx, ctx.attrs.Str("mode", "DCR")));
  if (mode != "DCR" && mode != "CRD") return ctx.Fail("mode '" + mode + "' is not DCR or CRD");
  if (in[1] % (b * b) != 0) {
    return ctx.Fail("channels " + std::to_string(in[1]) + " are not a multiple of blocksize^2 " +
                    std::to_string(b * b));
  }
  Shape out = {in[0], in[1] / (b * b), 0, 0};
  if (__builtin_mul_overflow(in[2], b, &out[2]) || __builtin_mul_overflow(in[3], b, &out[3])) {
    return ctx.Fail("the output is too large");
  }
  return std::vector<TensorType>{{ctx.inputs[0].dtype, out}};
}

void RunDepthToSpace(const KernelContext& ctx) {
  const Tensor& in = ctx.inputs[0];
  const int64_t b = ctx.attrs.IntOr("blocksize", 1);
  const int64_t n = in.shape[0], c = in.shape[1] / (b * b), h = in.shape[2], w = in.shape[3];
  const int64_t hw = h * w;
  // The output is [N, C', H, b1, W, b2]; the input [N, b1, b2, C', H, W] (DCR) or
  // [N, C', b1, b2, H, W] (CRD).
  const bool dcr = ctx.attrs.StrOr("mode", "DCR") == "DCR";
  const int64_t sc = dcr ? hw : b * b * hw;
  const int64_t sb1 = dcr ? b * c * hw : b * hw;
  const int64_t sb2 = dcr ? c * hw : hw;
  CopyView(Bytes(in), {n, c, h, b, w, b}, {in.shape[1] * hw, sc, w, sb1, 1, sb2},
           Bytes(ctx.outputs[0]), DTypeSize(in.dtype));
}

Types InferSpaceToDepth(const InferContext& ctx) {
  const Shape& in = ctx.inputs[0].shape;
  ASSIGN_OR_RETURN(const int64_t b, In(ctx, BlockSize(ctx.attrs, in)));
  if (in[2] % b != 0 || in[3] % b != 0) {
    return ctx.Fail("height and width of " + Dims(in) + " must be multiples of blocksize " +
                    std::to_string(b));
  }
  Shape out = {in[0], 0, in[2] / b, in[3] / b};
  if (__builtin_mul_overflow(in[1], b * b, &out[1])) return ctx.Fail("the output is too large");
  return std::vector<TensorType>{{ctx.inputs[0].dtype, out}};
}

void RunSpaceToDepth(const KernelContext& ctx) {
  const Tensor& in = ctx.inputs[0];
  const int64_t b = ctx.attrs.IntOr("blocksize", 1);
  const int64_t n = in.shape[0], c = in.shape[1], h = in.shape[2], w = in.shape[3];
  // The output is [N, b1, b2, C, H/b, W/b]; the input [N, C, H/b, b1, W/b, b2].
  CopyView(Bytes(in), {n, b, b, c, h / b, w / b}, {c * h * w, w, 1, h * w, b * w, b},
           Bytes(ctx.outputs[0]), DTypeSize(in.dtype));
}

// Parameter inputs by ONNX input position ("": a data input), in the opsets that have them.
using Names = std::vector<std::string>;
Names ShapeParam(int64_t) { return {"", "shape"}; }
Names DropoutParams(int64_t opset) {
  return opset >= 12 ? Names{"", "ratio", "training_mode"} : Names{};
}
Names AxesParam(int64_t opset) { return opset >= 13 ? Names{"", "axes"} : Names{}; }
Names SplitParam(int64_t opset) { return opset >= 13 ? Names{"", "split"} : Names{}; }
Names SliceParams(int64_t opset) {
  return opset >= 10 ? Names{"", "starts", "ends", "axes", "steps"} : Names{};
}
Names TileParam(int64_t) { return {"", "repeats"}; }
Names PadParams(int64_t opset) {
  if (opset < 11) return {};
  if (opset < 18) return {"", "pads", "constant_value"};
  return {"", "pads", "constant_value", "axes"};
}
Names ConstantOfShapeParam(int64_t) { return {"shape"}; }
Names RangeParams(int64_t) { return {"start", "limit", "delta"}; }
Names TriluParam(int64_t) { return {"", "k"}; }
Names OneHotParams(int64_t) { return {"", "depth", "values"}; }

// ---- TsKvWrite (TensorShunt's own: a key/value cache update) ----
// TsKvWrite(cache [B, H, L, D], rows [B, H, T, D], position i64 [1]) -> cache with rows written
// at positions position .. position + T - 1 along axis 2. The planner places the output in the
// cache's own bytes (ir::WritesInPlace), so only the T rows move; rows that would fall past L
// are not written.
Types InferKvWrite(const InferContext& ctx) {
  const TensorType& cache = ctx.inputs[0];
  const TensorType& rows = ctx.inputs[1];
  const TensorType& pos = ctx.inputs[2];
  if (cache.shape.size() != 4 || rows.shape.size() != 4 || rows.dtype != cache.dtype ||
      rows.shape[0] != cache.shape[0] || rows.shape[1] != cache.shape[1] || rows.shape[3] != cache.shape[3]) {
    return ctx.Fail("cache " + Dims(cache.shape) + " and rows " + Dims(rows.shape) +
                    " must be [B,H,L,D] and [B,H,T,D] of one type");
  }
  if (pos.dtype != DType::kI64 || Prod(pos.shape, 0, pos.shape.size()) != 1) {
    return ctx.Fail("position must be one i64");
  }
  return std::vector<TensorType>{cache};
}

void RunKvWrite(const KernelContext& ctx) {
  const Tensor& cache = ctx.inputs[0];
  const Tensor& rows = ctx.inputs[1];
  const Tensor& out = ctx.outputs[0];
  const int64_t esize = DTypeSize(cache.dtype);
  if (out.data != cache.data) std::memcpy(out.data, cache.data, static_cast<size_t>(cache.Count() * esize));
  const int64_t pos = *ctx.inputs[2].As<int64_t>();
  const int64_t planes = cache.shape[0] * cache.shape[1], len = cache.shape[2], t = rows.shape[2];
  const int64_t row = cache.shape[3] * esize;
  for (int64_t p = 0; p < planes; ++p) {
    for (int64_t i = 0; i < t; ++i) {
      if (pos + i < 0 || pos + i >= len) continue;
      std::memcpy(Bytes(out) + (p * len + pos + i) * row, Bytes(rows) + (p * t + i) * row, static_cast<size_t>(row));
    }
  }
}

}  // namespace

StatusOr<SliceView> PlanSliceView(const AttrView& attrs, const std::vector<int64_t>& in) {
  ASSIGN_OR_RETURN(const std::vector<SliceDim> plan, PlanSlice(attrs, in));
  const Shape st = Strides(in);
  SliceView view;
  for (size_t k = 0; k < plan.size(); ++k) {
    view.offset += plan[k].start * st[k];
    view.shape.push_back(plan[k].count);
    view.strides.push_back(plan[k].step * st[k]);
  }
  return view;
}

void AddShapeOps(std::vector<OpDef>* ops) {
  const std::vector<OpDef> defs = {
      {.name = "Reshape", .params = ShapeParam, .infer = InferReshape, .run = RunCopy},
      {.name = "Identity", .infer = InferIdentity, .run = RunCopy},
      {.name = "TsKvWrite", .min_inputs = 3, .max_inputs = 3, .infer = InferKvWrite, .run = RunKvWrite},
      {.name = "Dropout",
       .max_outputs = 2,
       .params = DropoutParams,
       .infer = InferDropout,
       .run = RunDropout},
      {.name = "Flatten", .infer = InferFlatten, .run = RunCopy},
      {.name = "Squeeze", .params = AxesParam, .infer = InferSqueeze, .run = RunCopy},
      {.name = "Unsqueeze", .params = AxesParam, .infer = InferUnsqueeze, .run = RunCopy},
      {.name = "Transpose", .infer = InferTranspose, .run = RunTranspose},
      {.name = "Concat", .max_inputs = kUnbounded, .infer = InferConcat, .run = RunConcat},
      {.name = "Split",
       .max_outputs = kUnbounded,
       .params = SplitParam,
       .infer = InferSplit,
       .run = RunSplit},
      {.name = "Slice", .params = SliceParams, .infer = InferSlice, .run = RunSlice},
      {.name = "Gather", .min_inputs = 2, .max_inputs = 2, .infer = InferGather, .run = RunGather},
      {.name = "GatherElements",
       .min_inputs = 2,
       .max_inputs = 2,
       .infer = InferGatherElements,
       .run = RunGatherElements},
      {.name = "GatherND", .min_inputs = 2, .max_inputs = 2, .infer = InferGatherND, .run = RunGatherND},
      {.name = "Expand", .params = ShapeParam, .infer = InferExpand, .run = RunExpand},
      {.name = "Tile", .params = TileParam, .infer = InferTile, .run = RunTile},
      {.name = "Pad", .params = PadParams, .infer = InferPad, .run = RunPad},
      {.name = "Shape", .infer = InferShape, .run = RunShape, .types_only = true},
      {.name = "Size", .infer = InferSize, .run = RunSize, .types_only = true},
      {.name = "ConstantOfShape",
       .min_inputs = 0,
       .max_inputs = 0,
       .params = ConstantOfShapeParam,
       .infer = InferConstantOfShape,
       .run = RunConstantOfShape},
      {.name = "Range",
       .min_inputs = 0,
       .max_inputs = 0,
       .params = RangeParams,
       .infer = InferRange,
       .run = RunRange},
      {.name = "Trilu", .params = TriluParam, .infer = InferTrilu, .run = RunTrilu},
      {.name = "OneHot", .params = OneHotParams, .infer = InferOneHot, .run = RunOneHot},
      {.name = "DepthToSpace", .infer = InferDepthToSpace, .run = RunDepthToSpace},
      {.name = "SpaceToDepth", .infer = InferSpaceToDepth, .run = RunSpaceToDepth},
  };
  ops->insert(ops->end(), defs.begin(), defs.end());
}

}  // namespace ts::ops
