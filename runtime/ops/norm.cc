// Normalizations (LayerNormalization, BatchNormalization in inference mode,
// InstanceNormalization) and Resize.
#include <algorithm>
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

// ---- Shared helpers ----

// An attribute read in `infer`, its error prefixed with the op name.
template <typename T>
StatusOr<T> Named(std::string_view op, StatusOr<T> v) {
  if (!v.ok()) return v.status().Annotate(op);
  return v;
}

std::string Type(const TensorType& t) { return TypeString(t.dtype, t.shape); }

Status RequireFloat(const InferContext& ctx, const TensorType& t, const std::string& what) {
  if (IsFloat(t.dtype)) return OkStatus();
  return ctx.Fail(what + " must be a float tensor (f32, f16, bf16 or f64), found " + Type(t));
}

StatusOr<double> Epsilon(const InferContext& ctx) {
  ASSIGN_OR_RETURN(double eps, Named(ctx.op, ctx.attrs.Float("epsilon", 1e-5)));
  if (!std::isfinite(eps) || eps < 0) return ctx.Fail("epsilon must be finite and >= 0");
  return eps;
}

// The values of a tensor of any type as C (small parameter vectors).
template <typename C>
std::vector<C> ReadAs(const Tensor& t) {
  std::vector<C> v(t.Count());
  VisitDType(t.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = t.As<T>();
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<C>(Load(p, i));
  });
  return v;
}

// The values of `t` broadcast (numpy rules, t's rank <= shape's rank) to `shape`, as C.
template <typename C>
std::vector<C> BroadcastTo(const Tensor& t, const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  std::vector<C> out(n);
  const std::vector<int64_t> st = BroadcastStrides(t.shape, shape);
  VisitDType(t.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = t.As<T>();
    std::vector<int64_t> idx(shape.size(), 0);
    int64_t off = 0;
    for (int64_t i = 0; i < n; ++i) {
      out[i] = static_cast<C>(Load(p, off));
      for (size_t d = shape.size(); d-- > 0;) {
        off += st[d];
        if (++idx[d] < shape[d]) break;
        off -= st[d] * shape[d];
        idx[d] = 0;
      }
    }
  });
  return out;
}

// Row `x` (n values) as Compute<T>: x itself, or converted into buf (n values).
template <typename T>
const Compute<T>* AsCompute(const T* x, int64_t n, std::vector<Compute<T>>& buf) {
  if constexpr (std::is_same_v<T, Compute<T>>) {
    return x;
  } else {
    for (int64_t i = 0; i < n; ++i) buf[i] = Load(x, i);
    return buf.data();
  }
}

// Sum with eight independent accumulators: vectorisable and more accurate than one.
template <typename C>
C Sum(const C* p, int64_t n) {
  C acc[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; ++k) acc[k] += p[i + k];
  }
  C s = 0;
  for (; i < n; ++i) s += p[i];
  for (int k = 0; k < 8; ++k) s += acc[k];
  return s;
}

template <typename C>
C SumSquaredDiff(const C* p, int64_t n, C mean) {
  C acc[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; ++k) acc[k] += (p[i + k] - mean) * (p[i + k] - mean);
  }
  C s = 0;
  for (; i < n; ++i) s += (p[i] - mean) * (p[i] - mean);
  for (int k = 0; k < 8; ++k) s += acc[k];
  return s;
}

// Mean and 1 / sqrt(variance + eps) of n values: two passes over the row (mean, then squared
// deviations), as the ONNX references compute them.
template <typename C>
std::pair<C, C> RowStats(const C* p, int64_t n, double eps) {
  const C mean = Sum(p, n) / static_cast<C>(n);
  const C var = SumSquaredDiff(p, n, mean) / static_cast<C>(n);
  return {mean, C(1) / std::sqrt(var + static_cast<C>(eps))};
}

// ---- LayerNormalization (opset 17) ----

// Mean and InvStdDev take the type stash_type names (an ONNX TensorProto data type).
std::optional<DType> StashDType(int64_t onnx_type) {
  switch (onnx_type) {
    case 1:
      return DType::kF32;
    case 10:
      return DType::kF16;
    case 11:
      return DType::kF64;
    case 16:
      return DType::kBF16;
    default:
      return std::nullopt;
  }
}

// Scale and B broadcast onto X (as LayerNormalization's function body multiplies and adds); only
// the normalized dims X.shape[axis:] may vary, so each row shares one vector.
Status CheckRowParam(const InferContext& ctx, const TensorType& p, const std::string& what,
                     const std::vector<int64_t>& x, int64_t axis) {
  RETURN_IF_ERROR(RequireFloat(ctx, p, what));
  const size_t rx = x.size(), rp = p.shape.size();
  bool ok = rp <= rx;
  for (size_t i = 0; ok && i < rp; ++i) {
    const size_t pos = rx - rp + i;
    const int64_t d = p.shape[i];
    ok = static_cast<int64_t>(pos) < axis ? d == 1 : (d == 1 || d == x[pos]);
  }
  if (ok) return OkStatus();
  std::vector<int64_t> norm(x.begin() + axis, x.end());
  return ctx.Fail(what + " " + Type(p) + " does not broadcast to the normalized shape " +
                  TypeString(p.dtype, norm) + " (X.shape[axis:])");
}

StatusOr<std::vector<TensorType>> LayerNormInfer(const InferContext& ctx) {
  const TensorType& x = ctx.inputs[0];
  RETURN_IF_ERROR(RequireFloat(ctx, x, "X"));
  const auto rank = static_cast<int64_t>(x.shape.size());
  if (rank == 0) return ctx.Fail("X must have rank >= 1");
  ASSIGN_OR_RETURN(int64_t axis_attr, Named(ctx.op, ctx.attrs.Int("axis", -1)));
  auto axis = NormalizeAxis(axis_attr, rank);
  if (!axis) {
    return ctx.Fail("axis " + std::to_string(axis_attr) + " is out of range for rank " +
                    std::to_string(rank));
  }
  RETURN_IF_ERROR(Epsilon(ctx).status());
  ASSIGN_OR_RETURN(int64_t stash, Named(ctx.op, ctx.attrs.Int("stash_type", 1)));
  auto stash_dtype = StashDType(stash);
  if (!stash_dtype) {
    return ctx.Fail("stash_type " + std::to_string(stash) +
                    " is not a float type (1 float, 10 float16, 11 double, 16 bfloat16)");
  }
  RETURN_IF_ERROR(CheckRowParam(ctx, ctx.inputs[1], "Scale", x.shape, *axis));
  if (ctx.inputs.size() > 2)
    RETURN_IF_ERROR(CheckRowParam(ctx, ctx.inputs[2], "B", x.shape, *axis));
  std::vector<TensorType> out = {x};
  std::vector<int64_t> stat_shape = x.shape;
  for (int64_t i = *axis; i < rank; ++i) stat_shape[i] = 1;
  for (size_t i = 1; i < ctx.num_outputs; ++i) out.push_back({*stash_dtype, stat_shape});
  return out;
}

template <typename T>
void LayerNormKernel(const KernelContext& ctx) {
  using C = Compute<T>;
  const Tensor& x = ctx.inputs[0];
  const auto rank = static_cast<int64_t>(x.shape.size());
  const int64_t axis = *NormalizeAxis(ctx.attrs.IntOr("axis", -1), rank);
  const double eps = ctx.attrs.FloatOr("epsilon", 1e-5);
  const std::vector<int64_t> norm(x.shape.begin() + axis, x.shape.end());
  int64_t rows = 1, cols = 1;
  for (int64_t i = 0; i < rank; ++i) (i < axis ? rows : cols) *= x.shape[i];

  // Scale and B as one row each; their dims before the axis are all 1 (checked by infer).
  auto row_param = [&](const Tensor& t) {
    Tensor trimmed = t;
    const int64_t lead = std::max<int64_t>(0, static_cast<int64_t>(t.shape.size()) - (rank - axis));
    trimmed.shape.erase(trimmed.shape.begin(), trimmed.shape.begin() + lead);
    return BroadcastTo<C>(trimmed, norm);
  };
  const std::vector<C> scale = row_param(ctx.inputs[1]);
  const std::vector<C> bias =
      ctx.inputs.size() > 2 ? row_param(ctx.inputs[2]) : std::vector<C>(cols);
  std::vector<C> means(rows), inv_stds(rows), buf(cols);

  const T* xp = x.As<T>();
  T* yp = ctx.outputs[0].As<T>();
  for (int64_t r = 0; r < rows; ++r) {
    const C* row = AsCompute(xp + r * cols, cols, buf);
    const auto [mean, inv] = RowStats(row, cols, eps);
    T* y = yp + r * cols;
    for (int64_t j = 0; j < cols; ++j)
      Store(y, j, static_cast<C>((row[j] - mean) * inv * scale[j] + bias[j]));
    means[r] = mean;
    inv_stds[r] = inv;
  }
  for (size_t o = 1; o < ctx.outputs.size(); ++o) {
    const std::vector<C>& src = o == 1 ? means : inv_stds;
    VisitDType(ctx.outputs[o].dtype, [&](auto tag) {
      using U = typename decltype(tag)::type;
      U* p = ctx.outputs[o].As<U>();
      for (int64_t r = 0; r < rows; ++r) Store(p, r, static_cast<Compute<U>>(src[r]));
    });
  }
}

// ---- BatchNormalization (inference) and InstanceNormalization ----

StatusOr<std::vector<TensorType>> BatchNormInfer(const InferContext& ctx) {
  const TensorType& x = ctx.inputs[0];
  RETURN_IF_ERROR(RequireFloat(ctx, x, "X"));
  if (x.shape.size() < 2) return ctx.Fail("X must have rank >= 2 (N x C x ...), found " + Type(x));
  ASSIGN_OR_RETURN(int64_t training, Named(ctx.op, ctx.attrs.Int("training_mode", 0)));
  if (ctx.opset >= 14 && training != 0) {
    return ctx.Fail(
        "training_mode=1 is not supported (inference only); export the model in "
        "eval mode");
  }
  if (ctx.num_outputs > 1) {
    return ctx.Fail(
        "only output Y is supported: the mean and variance outputs exist only in "
        "training mode, which is not supported (export the model in eval mode)");
  }
  RETURN_IF_ERROR(Epsilon(ctx).status());
  bool spatial = true;
  if (ctx.opset < 9) {
    ASSIGN_OR_RETURN(int64_t s, Named(ctx.op, ctx.attrs.Int("spatial", 1)));
    spatial = s != 0;
  }
  // spatial=0 (opsets 7-8): statistics per element of X.shape[1:].
  const std::vector<int64_t> want = spatial
                                        ? std::vector<int64_t>{x.shape[1]}
                                        : std::vector<int64_t>(x.shape.begin() + 1, x.shape.end());
  const char* names[] = {"scale", "B", "input_mean", "input_var"};
  for (int i = 0; i < 4; ++i) {
    const TensorType& p = ctx.inputs[i + 1];
    RETURN_IF_ERROR(RequireFloat(ctx, p, names[i]));
    if (p.shape != want) {
      return ctx.Fail(std::string(names[i]) + " must have shape " + TypeString(p.dtype, want) +
                      (spatial ? " ([C])" : " (X.shape[1:], spatial=0)") + ", found " + Type(p));
    }
  }
  return std::vector<TensorType>{x};
}

template <typename T>
void BatchNormKernel(const KernelContext& ctx) {
  using C = Compute<T>;
  const Tensor& x = ctx.inputs[0];
  const double eps = ctx.attrs.FloatOr("epsilon", 1e-5);
  // X as [N, P, I]: P parameter entries, each applied to I contiguous values.
  const int64_t n = x.shape[0];
  const int64_t p = ctx.inputs[1].Count();
  const int64_t inner = n * p == 0 ? 0 : x.Count() / (n * p);
  const std::vector<double> scale = ReadAs<double>(ctx.inputs[1]),
                            bias = ReadAs<double>(ctx.inputs[2]),
                            mean = ReadAs<double>(ctx.inputs[3]),
                            var = ReadAs<double>(ctx.inputs[4]);
  const T* xp = x.As<T>();
  T* yp = ctx.outputs[0].As<T>();
  for (int64_t c = 0; c < p; ++c) {
    const C a = static_cast<C>(scale[c] / std::sqrt(var[c] + eps));
    const C m = static_cast<C>(mean[c]), b = static_cast<C>(bias[c]);
    for (int64_t b0 = 0; b0 < n; ++b0) {
      const int64_t off = (b0 * p + c) * inner;
      for (int64_t i = 0; i < inner; ++i)
        Store(yp, off + i, static_cast<C>((Load(xp, off + i) - m) * a + b));
    }
  }
}

StatusOr<std::vector<TensorType>> InstanceNormInfer(const InferContext& ctx) {
  const TensorType& x = ctx.inputs[0];
  RETURN_IF_ERROR(RequireFloat(ctx, x, "input"));
  if (x.shape.size() < 2)
    return ctx.Fail("input must have rank >= 2 (N x C x ...), found " + Type(x));
  RETURN_IF_ERROR(Epsilon(ctx).status());
  const std::vector<int64_t> want = {x.shape[1]};
  const char* names[] = {"scale", "B"};
  for (int i = 0; i < 2; ++i) {
    const TensorType& p = ctx.inputs[i + 1];
    RETURN_IF_ERROR(RequireFloat(ctx, p, names[i]));
    if (p.shape != want) {
      return ctx.Fail(std::string(names[i]) + " must have shape " + TypeString(p.dtype, want) +
                      " ([C]), found " + Type(p));
    }
  }
  return std::vector<TensorType>{x};
}

template <typename T>
void InstanceNormKernel(const KernelContext& ctx) {
  using C = Compute<T>;
  const Tensor& x = ctx.inputs[0];
  const double eps = ctx.attrs.FloatOr("epsilon", 1e-5);
  const int64_t channels = x.shape[1];
  const int64_t rows = x.shape[0] * channels;
  const int64_t cols = rows == 0 ? 0 : x.Count() / rows;
  const std::vector<C> scale = ReadAs<C>(ctx.inputs[1]), bias = ReadAs<C>(ctx.inputs[2]);
  std::vector<C> buf(cols);
  const T* xp = x.As<T>();
  T* yp = ctx.outputs[0].As<T>();
  for (int64_t r = 0; r < rows; ++r) {
    if (cols == 0) break;
    const C* row = AsCompute(xp + r * cols, cols, buf);
    const auto [mean, inv] = RowStats(row, cols, eps);
    const C s = scale[r % channels] * inv, b = bias[r % channels];
    T* y = yp + r * cols;
    for (int64_t j = 0; j < cols; ++j) Store(y, j, static_cast<C>((row[j] - mean) * s + b));
  }
}

// ---- Resize (opsets 10+) ----

enum class Mode { kNearest, kLinear, kCubic };
enum class Coord {
  kHalfPixel,
  kHalfPixelSymmetric,
  kPytorchHalfPixel,
  kAlignCorners,
  kAsymmetric,
  kTfHalfPixelForNn,
  kTfCropAndResize,
};
enum class Nearest { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil };

template <typename E>
using Names = std::pair<std::string_view, E>;
constexpr Names<Mode> kModes[] = {
    {"nearest", Mode::kNearest}, {"linear", Mode::kLinear}, {"cubic", Mode::kCubic}};
constexpr Names<Coord> kCoords[] = {{"half_pixel", Coord::kHalfPixel},
                                    {"half_pixel_symmetric", Coord::kHalfPixelSymmetric},
                                    {"pytorch_half_pixel", Coord::kPytorchHalfPixel},
                                    {"align_corners", Coord::kAlignCorners},
                                    {"asymmetric", Coord::kAsymmetric},
                                    {"tf_half_pixel_for_nn", Coord::kTfHalfPixelForNn},
                                    {"tf_crop_and_resize", Coord::kTfCropAndResize}};
constexpr Names<Nearest> kNearestModes[] = {{"round_prefer_floor", Nearest::kRoundPreferFloor},
                                            {"round_prefer_ceil", Nearest::kRoundPreferCeil},
                                            {"floor", Nearest::kFloor},
                                            {"ceil", Nearest::kCeil}};

template <typename E, size_t N>
std::optional<E> Lookup(std::string_view name, const Names<E> (&table)[N]) {
  for (const auto& [n, e] : table) {
    if (n == name) return e;
  }
  return std::nullopt;
}

// Resize's attributes resolved for one input shape: what both infer and the kernel use.
struct ResizeSpec {
  Mode mode = Mode::kNearest;
  Coord coord = Coord::kHalfPixel;
  Nearest nearest = Nearest::kRoundPreferFloor;
  double cubic_a = -0.75;
  double extrapolation = 0;
  bool exclude_outside = false;
  bool antialias = false;
  std::vector<bool> resized;       // the axis takes part (opset 18 "axes")
  std::vector<double> scale;       // per axis: the scale, or out/in when sizes were given
  std::vector<int64_t> out_shape;  // per axis
  std::vector<double> roi_start, roi_end;
};

constexpr double kMaxDim = static_cast<double>(int64_t{1} << 48);

StatusOr<ResizeSpec> ParseResize(int64_t opset, const AttrView& attrs,
                                 const std::vector<int64_t>& in) {
  auto fail = [](const std::string& what) { return BadInputError("Resize: " + what); };
  if (opset < 10) return fail("Resize exists from opset 10 (use Upsample before that)");
  ResizeSpec s;
  const auto rank = static_cast<int64_t>(in.size());
  if (rank == 0) return fail("X must have rank >= 1");

  ASSIGN_OR_RETURN(std::string mode, Named("Resize", attrs.Str("mode", "nearest")));
  auto m = Lookup(mode, kModes);
  if (!m || (*m == Mode::kCubic && opset < 11)) {
    return fail("mode '" + mode + "' is not one of nearest, linear" +
                (opset >= 11 ? ", cubic" : ""));
  }
  s.mode = *m;

  if (opset == 10) {
    // Resize-10 defines no coordinate mapping; ONNX's 10->11 converter maps it to these.
    s.coord = Coord::kAsymmetric;
    s.nearest = Nearest::kFloor;
  } else {
    ASSIGN_OR_RETURN(std::string c,
                     Named("Resize", attrs.Str("coordinate_transformation_mode", "half_pixel")));
    auto coord = Lookup(c, kCoords);
    if (!coord || (*coord == Coord::kTfHalfPixelForNn && opset > 12) ||
        (*coord == Coord::kHalfPixelSymmetric && opset < 19)) {
      return fail("coordinate_transformation_mode '" + c + "' is not one of half_pixel, " +
                  "pytorch_half_pixel, align_corners, asymmetric, tf_crop_and_resize" +
                  (opset <= 12 ? ", tf_half_pixel_for_nn" : "") +
                  (opset >= 19 ? ", half_pixel_symmetric" : "") + " at opset " +
                  std::to_string(opset));
    }
    s.coord = *coord;
    ASSIGN_OR_RETURN(std::string nm,
                     Named("Resize", attrs.Str("nearest_mode", "round_prefer_floor")));
    auto nearest = Lookup(nm, kNearestModes);
    if (!nearest) {
      return fail("nearest_mode '" + nm +
                  "' is not one of round_prefer_floor, round_prefer_ceil, floor, ceil");
    }
    s.nearest = *nearest;
    ASSIGN_OR_RETURN(s.cubic_a, Named("Resize", attrs.Float("cubic_coeff_a", -0.75)));
    ASSIGN_OR_RETURN(s.extrapolation, Named("Resize", attrs.Float("extrapolation_value", 0.0)));
    ASSIGN_OR_RETURN(int64_t excl, Named("Resize", attrs.Int("exclude_outside", 0)));
    if (excl != 0 && excl != 1) return fail("exclude_outside must be 0 or 1");
    s.exclude_outside = excl == 1;
    if (!std::isfinite(s.cubic_a)) return fail("cubic_coeff_a must be finite");
  }

  // Opset 18: antialias, axes, keep_aspect_ratio_policy.
  std::string policy = "stretch";
  std::vector<int64_t> axes;
  if (opset >= 18) {
    ASSIGN_OR_RETURN(int64_t aa, Named("Resize", attrs.Int("antialias", 0)));
    if (aa != 0 && aa != 1) return fail("antialias must be 0 or 1");
    s.antialias = aa == 1 && s.mode != Mode::kNearest;  // no effect on nearest
    ASSIGN_OR_RETURN(policy, Named("Resize", attrs.Str("keep_aspect_ratio_policy", "stretch")));
    if (policy != "stretch" && policy != "not_larger" && policy != "not_smaller") {
      return fail("keep_aspect_ratio_policy '" + policy +
                  "' is not one of stretch, not_larger, not_smaller");
    }
    ASSIGN_OR_RETURN(axes, Named("Resize", attrs.Ints("axes", std::vector<int64_t>{})));
  }
  s.resized.assign(rank, axes.empty());
  for (int64_t& a : axes) {
    auto n = NormalizeAxis(a, rank);
    if (!n)
      return fail("axes value " + std::to_string(a) + " is out of range for rank " +
                  std::to_string(rank));
    if (s.resized[*n]) return fail("axes names axis " + std::to_string(*n) + " twice");
    s.resized[*n] = true;
    a = *n;
  }
  if (axes.empty()) {
    for (int64_t i = 0; i < rank; ++i) axes.push_back(i);
  }
  const size_t k = axes.size();

  // An omitted or empty scales, sizes or roi is absent.
  ASSIGN_OR_RETURN(std::vector<double> scales,
                   Named("Resize", attrs.Floats("scales", std::vector<double>{})));
  ASSIGN_OR_RETURN(std::vector<int64_t> sizes,
                   Named("Resize", attrs.Ints("sizes", std::vector<int64_t>{})));
  ASSIGN_OR_RETURN(std::vector<double> roi,
                   Named("Resize", attrs.Floats("roi", std::vector<double>{})));
  if (!scales.empty() && !sizes.empty()) return fail("give scales or sizes, not both");
  if (scales.empty() && sizes.empty()) {
    return fail(opset == 10 ? "needs the scales input" : "needs a nonempty scales or sizes input");
  }
  s.scale.assign(rank, 1.0);
  s.out_shape = in;
  if (!scales.empty()) {
    if (scales.size() != k) {
      return fail("scales has " + std::to_string(scales.size()) + " values, expected " +
                  std::to_string(k) +
                  (k == in.size() ? " (the rank of X)" : " (one per axis in axes)"));
    }
    for (size_t i = 0; i < k; ++i) {
      if (!std::isfinite(scales[i]) || scales[i] <= 0) return fail("scales must be finite and > 0");
      const double out = std::floor(scales[i] * static_cast<double>(in[axes[i]]));
      if (out >= kMaxDim) return fail("the output would be too large");
      s.scale[axes[i]] = scales[i];
      s.out_shape[axes[i]] = static_cast<int64_t>(out);
    }
  } else {
    if (sizes.size() != k) {
      return fail("sizes has " + std::to_string(sizes.size()) + " values, expected " +
                  std::to_string(k) +
                  (k == in.size() ? " (the rank of X)" : " (one per axis in axes)"));
    }
    for (size_t i = 0; i < k; ++i) {
      if (sizes[i] <= 0 || sizes[i] >= int64_t{1} << 48)
        return fail("sizes must be positive and not too large");
      if (in[axes[i]] == 0) return fail("cannot resize an empty axis to a nonempty size");
      s.scale[axes[i]] = static_cast<double>(sizes[i]) / static_cast<double>(in[axes[i]]);
      s.out_shape[axes[i]] = sizes[i];
    }
    if (policy != "stretch") {
      // One scale for all the axes, the smallest (not_larger) or largest (not_smaller).
      double common = s.scale[axes[0]];
      for (int64_t a : axes)
        common =
            policy == "not_larger" ? std::min(common, s.scale[a]) : std::max(common, s.scale[a]);
      for (int64_t a : axes) {
        const double out = std::floor(common * static_cast<double>(in[a]) + 0.5);
        if (out >= kMaxDim) return fail("the output would be too large");
        s.scale[a] = common;
        s.out_shape[a] = static_cast<int64_t>(out);
      }
    }
  }
  s.roi_start.assign(rank, 0.0);
  s.roi_end.assign(rank, 1.0);
  if (s.coord == Coord::kTfCropAndResize) {
    if (roi.size() != 2 * k) {
      return fail("tf_crop_and_resize needs roi with " + std::to_string(2 * k) +
                  " values (starts, then ends), found " + std::to_string(roi.size()));
    }
    for (size_t i = 0; i < k; ++i) {
      if (!std::isfinite(roi[i]) || !std::isfinite(roi[k + i]))
        return fail("roi values must be finite");
      s.roi_start[axes[i]] = roi[i];
      s.roi_end[axes[i]] = roi[k + i];
    }
  }
  return s;
}

// Where output coordinate x of one axis samples the input: `lo` is the first input index of a
// window of n taps (clamped to the input when read), or the point lies outside the crop
// (tf_crop_and_resize: the output is the extrapolation value).
struct AxisMap {
  int64_t in = 0, out = 0;
  int64_t taps = 1;
  std::vector<int64_t> index;  // out * taps input indices, clamped to [0, in)
  std::vector<double> weight;  // out * taps
  std::vector<uint8_t> outside;
};

// The input coordinate output coordinate x maps to; false when it falls outside a crop.
bool Original(const ResizeSpec& s, int a, int64_t in, int64_t out, int64_t x, double* x_ori) {
  const double scale = s.scale[a], xd = static_cast<double>(x), ind = static_cast<double>(in);
  // The fractional output length when a scale was given (the ONNX reference uses it).
  const double width = scale * ind;
  double v = 0;
  switch (s.coord) {
    case Coord::kHalfPixel:
      v = (xd + 0.5) / scale - 0.5;
      break;
    case Coord::kHalfPixelSymmetric: {
      const double offset = ind / 2 * (1 - static_cast<double>(out) / width);
      v = offset + (xd + 0.5) / scale - 0.5;
      break;
    }
    // The spec's 0 for a length-1 output (the Python reference's -0.5 differs only for cubic).
    case Coord::kPytorchHalfPixel:
      v = out > 1 ? (xd + 0.5) / scale - 0.5 : 0.0;
      break;
    case Coord::kAlignCorners:
      v = (out == 1 || width == 1) ? 0.0 : xd * (ind - 1) / (width - 1);
      break;
    case Coord::kAsymmetric:
      v = xd / scale;
      break;
    case Coord::kTfHalfPixelForNn:
      v = (xd + 0.5) / scale;
      break;
    case Coord::kTfCropAndResize: {
      const double span = s.roi_end[a] - s.roi_start[a];
      v = out > 1 ? xd * span * (ind - 1) / static_cast<double>(out - 1) : span * (ind - 1) / 2;
      v += s.roi_start[a] * (ind - 1);
      if (!(v >= 0 && v <= ind - 1)) return false;
      break;
    }
  }
  // Far outside points read the edge anyway; the bound keeps integer conversions defined.
  *x_ori = std::isfinite(v) ? std::clamp(v, -kMaxDim, kMaxDim) : 0.0;
  return true;
}

// Where the filter window starts relative to base (see Taps); it has 2 - 2 * start taps: 2 for
// nearest and linear, 4 for cubic, about 2 / scale (linear) or 4 / scale (cubic) when
// antialias stretches the filter to downsample.
int64_t FilterStart(const ResizeSpec& s, double scale) {
  if (s.mode == Mode::kNearest) return 0;
  const double support = s.mode == Mode::kLinear ? 1.0 : 2.0;
  if (!s.antialias || scale >= 1) return static_cast<int64_t>(1 - support);
  return static_cast<int64_t>(std::floor(-support / scale) + 1);
}

// Filter weights w[0, n) for one output point at x_ori = base + ratio, ratio in (0, 1]; tap i
// reads input base + start + i. Matches the ONNX reference (cubic convolution; antialias
// stretches the filter by 1/scale when downsampling and normalises it).
void Taps(const ResizeSpec& s, double scale, double ratio, int64_t start, double* w) {
  const double a = s.cubic_a;
  if (s.mode == Mode::kNearest) {
    bool up = false;  // take base + 1
    switch (s.nearest) {
      case Nearest::kRoundPreferFloor:
        up = ratio > 0.5;
        break;
      case Nearest::kRoundPreferCeil:
        up = ratio >= 0.5;
        break;
      case Nearest::kFloor:
        up = false;
        break;
      case Nearest::kCeil:
        up = true;
        break;
    }
    if (ratio == 1) up = true;  // an exact input point
    w[0] = up ? 0 : 1;
    w[1] = up ? 1 : 0;
    return;
  }
  if (!s.antialias) {
    if (s.mode == Mode::kLinear) {
      w[0] = 1 - ratio;
      w[1] = ratio;
      return;
    }
    w[0] = ((a * (ratio + 1) - 5 * a) * (ratio + 1) + 8 * a) * (ratio + 1) - 4 * a;
    w[1] = ((a + 2) * ratio - (a + 3)) * ratio * ratio + 1;
    w[2] = ((a + 2) * (1 - ratio) - (a + 3)) * (1 - ratio) * (1 - ratio) + 1;
    w[3] =
        ((a * ((1 - ratio) + 1) - 5 * a) * ((1 - ratio) + 1) + 8 * a) * ((1 - ratio) + 1) - 4 * a;
    return;
  }
  auto cubic = [a](double d) {
    d = std::fabs(d);
    if (d <= 1) return ((a + 2) * d - (a + 3)) * d * d + 1;
    if (d < 2) return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a;
    return 0.0;
  };
  const double sc = std::min(scale, 1.0);
  const int64_t n = 2 - 2 * start;
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = sc * (static_cast<double>(start + i) - ratio);
    w[i] = s.mode == Mode::kLinear ? std::clamp(1 - std::fabs(d), 0.0, 1.0) : cubic(d);
    sum += w[i];
  }
  for (int64_t i = 0; i < n; ++i) w[i] /= sum;
}

AxisMap MapAxis(const ResizeSpec& s, int a, int64_t in, int64_t out) {
  AxisMap m;
  m.in = in;
  m.out = out;
  const int64_t start = FilterStart(s, s.scale[a]);
  m.taps = 2 - 2 * start;
  m.index.assign(out * m.taps, 0);
  m.weight.assign(out * m.taps, 0.0);
  m.outside.assign(out, 0);
  std::vector<double> w(m.taps);
  for (int64_t x = 0; x < out; ++x) {
    double x_ori;
    if (!Original(s, a, in, out, x, &x_ori)) {
      m.outside[x] = 1;
      continue;
    }
    const double fl = std::floor(x_ori);
    const bool exact = x_ori == fl;
    const auto base = static_cast<int64_t>(exact ? fl - 1 : fl);
    const double ratio = exact ? 1.0 : x_ori - fl;
    const int64_t n = m.taps;
    Taps(s, s.scale[a], ratio, start, w.data());
    // The n nearest points of the input padded by n/2 edge copies (the reference's window).
    const int64_t half = n / 2;
    const int64_t lo = std::clamp(base + start, -half, in - 1 + half - (n - 1));
    if (s.exclude_outside && s.mode != Mode::kNearest) {
      double sum = 0;
      for (int64_t i = 0; i < n; ++i) {
        if (lo + i < 0 || lo + i >= in) w[i] = 0;
        sum += w[i];
      }
      for (int64_t i = 0; i < n; ++i) w[i] /= sum;
    }
    for (int64_t i = 0; i < n; ++i) {
      m.index[x * m.taps + i] = std::clamp<int64_t>(lo + i, 0, in - 1);
      m.weight[x * m.taps + i] = w[i];
    }
  }
  return m;
}

// True when the map copies the input unchanged.
bool IsIdentity(const AxisMap& m) {
  if (m.in != m.out) return false;
  for (int64_t x = 0; x < m.out; ++x) {
    if (m.outside[x]) return false;
    double sum = 0;
    for (int64_t i = 0; i < m.taps; ++i) {
      const double w = m.weight[x * m.taps + i];
      if (w != 0 && m.index[x * m.taps + i] != x) return false;
      sum += w;
    }
    if (sum != 1) return false;
  }
  return true;
}

// Resamples one axis: src [outer, in, inner] -> dst [outer, out, inner].
template <typename S, typename D, typename C>
void ResampleAxis(const S* src, D* dst, int64_t outer, int64_t inner, const AxisMap& m, C extrap) {
  const int64_t taps = m.taps;
  std::vector<C> w(m.weight.begin(), m.weight.end());
  std::vector<C> acc(inner);
  for (int64_t o = 0; o < outer; ++o) {
    const S* s = src + o * m.in * inner;
    D* d = dst + o * m.out * inner;
    for (int64_t x = 0; x < m.out; ++x) {
      const int64_t* idx = &m.index[x * taps];
      const C* wx = &w[x * taps];
      if (inner == 1) {
        C v = extrap;
        if (!m.outside[x]) {
          v = 0;
          for (int64_t t = 0; t < taps; ++t) v += wx[t] * static_cast<C>(Load(s, idx[t]));
        }
        Store(d, x, v);
        continue;
      }
      std::fill(acc.begin(), acc.end(), m.outside[x] ? extrap : C(0));
      for (int64_t t = 0; !m.outside[x] && t < taps; ++t) {
        const S* row = s + idx[t] * inner;
        for (int64_t i = 0; i < inner; ++i) acc[i] += wx[t] * static_cast<C>(Load(row, i));
      }
      for (int64_t i = 0; i < inner; ++i) Store(d + x * inner, i, acc[i]);
    }
  }
}

// Linear and cubic: one resampling pass per changed axis through float scratch. Shrinking axes
// go first, so no intermediate is larger than both the input and the output; within each group
// the last axis goes first, as the reference recurses.
template <typename T>
void ResizeFilterKernel(const KernelContext& ctx, const ResizeSpec& s) {
  using C = Compute<T>;
  const Tensor& x = ctx.inputs[0];
  const Tensor& y = ctx.outputs[0];
  std::vector<int64_t> shape = x.shape;
  std::vector<std::pair<int, AxisMap>> passes;
  for (int a = static_cast<int>(shape.size()); a-- > 0;) {
    if (!s.resized[a]) continue;
    AxisMap m = MapAxis(s, a, x.shape[a], s.out_shape[a]);
    if (!IsIdentity(m)) passes.emplace_back(a, std::move(m));
  }
  std::stable_partition(passes.begin(), passes.end(),
                        [](const auto& p) { return p.second.out < p.second.in; });
  if (passes.empty()) {
    std::memcpy(y.data, x.data, x.Count() * sizeof(T));
    return;
  }
  const C extrap = static_cast<C>(s.extrapolation);
  std::vector<C> cur, next;
  for (size_t p = 0; p < passes.size(); ++p) {
    const auto& [a, m] = passes[p];
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < a; ++i) outer *= shape[i];
    for (size_t i = a + 1; i < shape.size(); ++i) inner *= shape[i];
    const bool first = p == 0, last = p + 1 == passes.size();
    if (!last) next.resize(outer * m.out * inner);
    if (first && last)
      ResampleAxis(x.As<T>(), y.As<T>(), outer, inner, m, extrap);
    else if (first)
      ResampleAxis(x.As<T>(), next.data(), outer, inner, m, extrap);
    else if (last)
      ResampleAxis(cur.data(), y.As<T>(), outer, inner, m, extrap);
    else
      ResampleAxis(cur.data(), next.data(), outer, inner, m, extrap);
    shape[a] = m.out;
    std::swap(cur, next);
  }
}

template <typename T>
T ExtrapolationAs(double v, DType dtype) {
  if constexpr (std::is_integral_v<T>) {
    if (dtype == DType::kBool) return v != 0;
    if (std::isnan(v)) return 0;
    return static_cast<T>(std::clamp(v, static_cast<double>(std::numeric_limits<T>::lowest()),
                                     static_cast<double>(std::numeric_limits<T>::max())));
  } else {
    T out;
    Store(&out, 0, static_cast<Compute<T>>(v));
    return out;
  }
}

// Nearest: a gather through per-axis offset tables, any element type.
template <typename T>
void ResizeNearestKernel(const KernelContext& ctx, const ResizeSpec& s) {
  const Tensor& x = ctx.inputs[0];
  const Tensor& y = ctx.outputs[0];
  const int rank = static_cast<int>(x.shape.size());
  const std::vector<int64_t> strides = Strides(x.shape);
  std::vector<std::vector<int64_t>> offsets(rank);  // -1: outside the crop
  for (int a = 0; a < rank; ++a) {
    const int64_t out = s.out_shape[a];
    offsets[a].resize(out);
    if (!s.resized[a]) {
      for (int64_t i = 0; i < out; ++i) offsets[a][i] = i * strides[a];
      continue;
    }
    const AxisMap m = MapAxis(s, a, x.shape[a], out);
    for (int64_t i = 0; i < out; ++i) {
      offsets[a][i] = m.outside[i]
                          ? -1
                          : m.index[i * m.taps + (m.weight[i * m.taps] != 0 ? 0 : 1)] * strides[a];
    }
  }
  const T extrap = ExtrapolationAs<T>(s.extrapolation, x.dtype);
  const T* src = x.As<T>();
  T* dst = y.As<T>();
  const int64_t cols = s.out_shape[rank - 1];
  const int64_t rows = y.Count() / cols;
  const std::vector<int64_t>& last = offsets[rank - 1];
  std::vector<int64_t> idx(rank, 0);
  for (int64_t r = 0; r < rows; ++r) {
    int64_t base = 0;
    bool outside = false;
    for (int a = 0; a + 1 < rank; ++a) {
      const int64_t off = offsets[a][idx[a]];
      outside |= off < 0;
      base += off;
    }
    T* row = dst + r * cols;
    for (int64_t c = 0; c < cols; ++c)
      row[c] = outside || last[c] < 0 ? extrap : src[base + last[c]];
    for (int a = rank - 1; a-- > 0;) {
      if (++idx[a] < s.out_shape[a]) break;
      idx[a] = 0;
    }
  }
}

std::vector<std::string> ResizeParams(int64_t opset) {
  if (opset <= 10) return {"", "scales"};
  return {"", "roi", "scales", "sizes"};
}

StatusOr<std::vector<TensorType>> ResizeInfer(const InferContext& ctx) {
  const TensorType& x = ctx.inputs[0];
  ASSIGN_OR_RETURN(ResizeSpec s, ParseResize(ctx.opset, ctx.attrs, x.shape));
  if (s.mode != Mode::kNearest && !IsFloat(x.dtype)) {
    return ctx.Fail("linear and cubic modes need a float input (f32, f16, bf16, f64), found " +
                    Type(x) + "; cast it first or use mode nearest");
  }
  // Filter tables hold out * taps entries per axis.
  for (size_t a = 0; a < x.shape.size(); ++a) {
    if (s.resized[a] && s.mode != Mode::kNearest && s.out_shape[a] > 0 &&
        2 - 2 * FilterStart(s, s.scale[a]) > (int64_t{1} << 32) / s.out_shape[a]) {
      return ctx.Fail("the antialias filter for axis " + std::to_string(a) + " is too large");
    }
  }
  return std::vector<TensorType>{{x.dtype, s.out_shape}};
}

void ResizeRun(const KernelContext& ctx) {
  auto s = ParseResize(ctx.opset, ctx.attrs, ctx.inputs[0].shape);
  if (!s.ok() || ctx.outputs[0].Count() == 0) return;
  VisitDType(ctx.inputs[0].dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (s->mode == Mode::kNearest) {
      ResizeNearestKernel<T>(ctx, *s);
    } else if constexpr (std::is_floating_point_v<T> || std::is_same_v<T, Half> ||
                         std::is_same_v<T, BFloat16>) {
      ResizeFilterKernel<T>(ctx, *s);
    }
  });
}

// Calls fn(Tag<T>{}) for the float element types; kernels run only on types infer accepted.
template <typename Fn>
void VisitFloat(DType t, Fn&& fn) {
  switch (t) {
    case DType::kF32:
      return fn(Tag<float>{});
    case DType::kF64:
      return fn(Tag<double>{});
    case DType::kF16:
      return fn(Tag<Half>{});
    case DType::kBF16:
      return fn(Tag<BFloat16>{});
    default:
      return;
  }
}

void LayerNormRun(const KernelContext& ctx) {
  VisitFloat(ctx.inputs[0].dtype,
             [&](auto tag) { LayerNormKernel<typename decltype(tag)::type>(ctx); });
}
void BatchNormRun(const KernelContext& ctx) {
  VisitFloat(ctx.inputs[0].dtype,
             [&](auto tag) { BatchNormKernel<typename decltype(tag)::type>(ctx); });
}
void InstanceNormRun(const KernelContext& ctx) {
  VisitFloat(ctx.inputs[0].dtype,
             [&](auto tag) { InstanceNormKernel<typename decltype(tag)::type>(ctx); });
}

}  // namespace

void AddNormOps(std::vector<OpDef>* ops) {
  ops->push_back({.name = "LayerNormalization",
                  .min_inputs = 2,
                  .max_inputs = 3,
                  .min_outputs = 1,
                  .max_outputs = 3,
                  .infer = LayerNormInfer,
                  .run = LayerNormRun});
  // Up to 5 outputs so training-mode nodes get a clear refusal rather than a count error.
  ops->push_back({.name = "BatchNormalization",
                  .min_inputs = 5,
                  .max_inputs = 5,
                  .min_outputs = 1,
                  .max_outputs = 5,
                  .infer = BatchNormInfer,
                  .run = BatchNormRun});
  ops->push_back({.name = "InstanceNormalization",
                  .min_inputs = 3,
                  .max_inputs = 3,
                  .infer = InstanceNormInfer,
                  .run = InstanceNormRun});
  ops->push_back({.name = "Resize",
                  .min_inputs = 1,
                  .max_inputs = 1,
                  .params = ResizeParams,
                  .infer = ResizeInfer,
                  .run = ResizeRun});
}

}  // namespace ts::ops
