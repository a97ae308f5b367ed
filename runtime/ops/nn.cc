// Convolution and pooling over N-D spatial data laid out N, C, spatial...: Conv, ConvTranspose,
// MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool.
//
// Conv runs as im2col per group (in bounded chunks of output positions) and a GEMM through
// OpenBLAS; a 1x1, stride-1, unpadded Conv multiplies the input directly. ConvTranspose is the
// adjoint: a GEMM into columns, then col2im adds the columns into the output. f16/bf16 are
// computed in f32, f64 in f64. Pools walk each window, clipped to the image, directly.
#include <cblas.h>
#include <immintrin.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "runtime/ops/conv_direct.h"
#include "runtime/ops/families.h"
#include "runtime/ops/parallel.h"

namespace ts::ops {
namespace {

// Bound on kernel dims, strides, dilations, pads and output sizes, so window arithmetic on
// int64 cannot overflow (image sizes are below 2^48).
constexpr int64_t kMaxWindowValue = int64_t{1} << 31;
// Bound on a ConvTranspose output dim before pads (output_shape may crop it).
constexpr int64_t kMaxFullOutput = int64_t{1} << 50;
// Elements of the im2col / col2im buffer per chunk of output positions.
constexpr int64_t kColumnBudget = int64_t{1} << 22;

enum class AutoPad { kNotSet, kSameUpper, kSameLower, kValid };

int64_t FloorDiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }  // b > 0
int64_t CeilDiv(int64_t a, int64_t b) { return -FloorDiv(-a, b); }

int64_t Product(const std::vector<int64_t>& v) {
  int64_t p = 1;
  for (int64_t d : v) p *= d;
  return p;
}

template <typename C>
bool IsNan(C v) {
  if constexpr (std::is_floating_point_v<C>) {
    return std::isnan(v);
  } else {
    return false;
  }
}

std::string Join(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
}

// A sliding window over the spatial dims. Window position o and kernel offset k touch image
// position o * stride - pad_begin + k * dilation; positions outside [0, image) are padding.
// The image is the Conv/pool input and the ConvTranspose output; the window positions are the
// Conv/pool output and the ConvTranspose input.
struct Window {
  std::vector<int64_t> image, windows, kernel, stride, dilation, pad_begin, pad_end;

  size_t rank() const { return image.size(); }
  // Kernel offsets [lo, hi) of dim d that land inside the image for window position o.
  void Inside(size_t d, int64_t o, int64_t* lo, int64_t* hi) const {
    const int64_t start = o * stride[d] - pad_begin[d];
    *lo = std::max<int64_t>(0, CeilDiv(-start, dilation[d]));
    *hi = std::min(kernel[d], FloorDiv(image[d] - 1 - start, dilation[d]) + 1);
    if (*hi < *lo) *hi = *lo;
  }
  // 1x1 kernel, stride 1, no padding: the columns are the image itself.
  bool Pointwise() const {
    for (size_t d = 0; d < rank(); ++d) {
      if (kernel[d] != 1 || stride[d] != 1 || pad_begin[d] != 0 || image[d] != windows[d]) {
        return false;
      }
    }
    return true;
  }
};

// ---- Attributes ----

StatusOr<AutoPad> ReadAutoPad(const AttrView& a) {
  ASSIGN_OR_RETURN(std::string s, a.Str("auto_pad", "NOTSET"));
  if (s == "NOTSET") return AutoPad::kNotSet;
  if (s == "SAME_UPPER") return AutoPad::kSameUpper;
  if (s == "SAME_LOWER") return AutoPad::kSameLower;
  if (s == "VALID") return AutoPad::kValid;
  return BadInputError("auto_pad must be NOTSET, SAME_UPPER, SAME_LOWER or VALID, found '" + s +
                       "'");
}

// An ints attribute with `count` values in [lo, kMaxWindowValue]; absent or empty gives `dflt`.
StatusOr<std::vector<int64_t>> WindowInts(const AttrView& a, const std::string& name, size_t count,
                                          int64_t dflt, int64_t lo) {
  ASSIGN_OR_RETURN(std::vector<int64_t> v, a.Ints(name, std::vector<int64_t>{}));
  if (v.empty()) return std::vector<int64_t>(count, dflt);
  if (v.size() != count) {
    return BadInputError("'" + name + "' must have " + std::to_string(count) + " values, found " +
                         std::to_string(v.size()));
  }
  for (int64_t x : v) {
    if (x < lo || x > kMaxWindowValue) {
      return BadInputError("'" + name + "' values must be in [" + std::to_string(lo) +
                           ", 2^31], found " + std::to_string(x));
    }
  }
  return v;
}

StatusOr<bool> ReadFlag(const AttrView& a, const std::string& name) {
  ASSIGN_OR_RETURN(int64_t v, a.Int(name, 0));
  if (v != 0 && v != 1) {
    return BadInputError("'" + name + "' must be 0 or 1, found " + std::to_string(v));
  }
  return v == 1;
}

// Fills stride, dilation and pads of `w` (image and kernel set) and the window positions of a
// Conv or pool, per the ONNX output-size formulas. ceil_mode applies to explicit and VALID pads.
Status PlaceWindows(const AttrView& a, bool ceil_mode, Window* w) {
  const size_t n = w->rank();
  ASSIGN_OR_RETURN(AutoPad auto_pad, ReadAutoPad(a));
  ASSIGN_OR_RETURN(w->stride, WindowInts(a, "strides", n, 1, 1));
  ASSIGN_OR_RETURN(w->dilation, WindowInts(a, "dilations", n, 1, 1));
  ASSIGN_OR_RETURN(std::vector<int64_t> pads, WindowInts(a, "pads", 2 * n, 0, 0));
  w->pad_begin.assign(n, 0);
  w->pad_end.assign(n, 0);
  w->windows.assign(n, 0);
  for (size_t d = 0; d < n; ++d) {
    const int64_t extent = (w->kernel[d] - 1) * w->dilation[d] + 1;
    const int64_t in = w->image[d], s = w->stride[d];
    if (auto_pad == AutoPad::kSameUpper || auto_pad == AutoPad::kSameLower) {
      const int64_t out = CeilDiv(in, s);
      const int64_t total = std::max<int64_t>(0, (out - 1) * s + extent - in);
      w->pad_begin[d] = auto_pad == AutoPad::kSameUpper ? total / 2 : total - total / 2;
      w->pad_end[d] = total - w->pad_begin[d];
      w->windows[d] = out;
      continue;
    }
    if (auto_pad == AutoPad::kNotSet) {
      w->pad_begin[d] = pads[d];
      w->pad_end[d] = pads[n + d];
    }
    const int64_t span = in + w->pad_begin[d] + w->pad_end[d] - extent;
    if (span < 0) {
      return BadInputError("output spatial dim " + std::to_string(d) + " would be empty: input " +
                           std::to_string(in) + " plus pads " + std::to_string(w->pad_begin[d]) +
                           "+" + std::to_string(w->pad_end[d]) +
                           " is smaller than the kernel extent " + std::to_string(extent) +
                           " (kernel " + std::to_string(w->kernel[d]) + ", dilation " +
                           std::to_string(w->dilation[d]) + ")");
    }
    int64_t out = (ceil_mode ? CeilDiv(span, s) : span / s) + 1;
    // In ceil mode a last window starting in the end padding is dropped.
    if (ceil_mode && (out - 1) * s >= in + w->pad_begin[d]) --out;
    w->windows[d] = out;
  }
  return OkStatus();
}

Status CheckFloat(DType t) {
  if (IsFloat(t)) return OkStatus();
  return BadInputError(std::string("input must be f32, f16, bf16 or f64, found ") +
                       std::string(DTypeName(t)));
}

// ---- Conv and ConvTranspose geometry ----

struct ConvGeom {
  int64_t batch = 0, in_channels = 0, out_channels = 0, group = 1;
  Window win;
};

// Checks X [N, C, spatial...], W, B? and the attributes shared by Conv and ConvTranspose; fills
// everything but the window positions (Conv) or the image and pads (ConvTranspose).
Status ConvCommon(const AttrView& a, bool transpose, const std::vector<int64_t>& x,
                  const std::vector<int64_t>& w, const std::vector<int64_t>* b, ConvGeom* g) {
  if (x.size() < 3) {
    return BadInputError("X must have rank >= 3 (N, C, spatial...), found rank " +
                         std::to_string(x.size()));
  }
  if (w.size() != x.size()) {
    return BadInputError("W must have X's rank " + std::to_string(x.size()) + ", found " + Join(w));
  }
  ASSIGN_OR_RETURN(g->group, a.Int("group", 1));
  if (g->group < 1) return BadInputError("group must be >= 1, found " + std::to_string(g->group));
  g->batch = x[0];
  g->in_channels = x[1];
  if (g->in_channels % g->group != 0) {
    return BadInputError("X's " + std::to_string(g->in_channels) +
                         " channels are not divisible by group " + std::to_string(g->group));
  }
  if (transpose) {
    // W is [C, M / group, kernel...].
    if (w[0] != g->in_channels) {
      return BadInputError("W " + Join(w) + " must have X's channel count " +
                           std::to_string(g->in_channels) + " as dim 0");
    }
    if (__builtin_mul_overflow(w[1], g->group, &g->out_channels)) {
      return BadInputError("output channel count overflows");
    }
  } else {
    // W is [M, C / group, kernel...].
    g->out_channels = w[0];
    if (w[1] != g->in_channels / g->group) {
      return BadInputError("W " + Join(w) + " must have C / group = " +
                           std::to_string(g->in_channels / g->group) + " as dim 1");
    }
    if (g->out_channels % g->group != 0) {
      return BadInputError("W's " + std::to_string(g->out_channels) +
                           " output channels are not divisible by group " +
                           std::to_string(g->group));
    }
  }
  if (b && (b->size() != 1 || (*b)[0] != g->out_channels)) {
    return BadInputError("B must be [" + std::to_string(g->out_channels) + "], found " + Join(*b));
  }
  Window& win = g->win;
  win.kernel.assign(w.begin() + 2, w.end());
  for (int64_t k : win.kernel) {
    if (k < 1 || k > kMaxWindowValue) {
      return BadInputError("W's kernel dims " + Join(win.kernel) + " must be in [1, 2^31]");
    }
  }
  ASSIGN_OR_RETURN(std::vector<int64_t> ks, a.Ints("kernel_shape", win.kernel));
  if (ks != win.kernel) {
    return BadInputError("kernel_shape " + Join(ks) + " does not match W's kernel dims " +
                         Join(win.kernel));
  }
  win.image.assign(x.begin() + 2, x.end());
  return OkStatus();
}

StatusOr<ConvGeom> ConvGeometry(const AttrView& a, const std::vector<int64_t>& x,
                                const std::vector<int64_t>& w, const std::vector<int64_t>* b) {
  ConvGeom g;
  RETURN_IF_ERROR(ConvCommon(a, false, x, w, b, &g));
  RETURN_IF_ERROR(PlaceWindows(a, false, &g.win));
  return g;
}

// ConvTranspose: output size per the spec; with output_shape (or SAME auto_pad) the pads follow
// from it and may come out negative, which extends the output with bias-only positions.
StatusOr<ConvGeom> ConvTransposeGeometry(const AttrView& a, const std::vector<int64_t>& x,
                                         const std::vector<int64_t>& w,
                                         const std::vector<int64_t>* b) {
  ConvGeom g;
  RETURN_IF_ERROR(ConvCommon(a, true, x, w, b, &g));
  Window& win = g.win;
  win.windows = win.image;  // X's spatial dims
  const size_t n = win.rank();
  ASSIGN_OR_RETURN(AutoPad auto_pad, ReadAutoPad(a));
  ASSIGN_OR_RETURN(win.stride, WindowInts(a, "strides", n, 1, 1));
  ASSIGN_OR_RETURN(win.dilation, WindowInts(a, "dilations", n, 1, 1));
  ASSIGN_OR_RETURN(std::vector<int64_t> pads, WindowInts(a, "pads", 2 * n, 0, 0));
  ASSIGN_OR_RETURN(std::vector<int64_t> out_pad, WindowInts(a, "output_padding", n, 0, 0));
  ASSIGN_OR_RETURN(std::vector<int64_t> out_shape, a.Ints("output_shape", std::vector<int64_t>{}));
  if (!out_shape.empty()) {
    // Spatial dims, or the whole output shape: its last n dims.
    if (out_shape.size() != n && out_shape.size() != n + 2) {
      return BadInputError("output_shape must have " + std::to_string(n) + " values, found " +
                           Join(out_shape));
    }
    out_shape.erase(out_shape.begin(), out_shape.end() - n);
    for (int64_t v : out_shape) {
      if (v < 1 || v > kMaxWindowValue) {
        return BadInputError("output_shape values must be in [1, 2^31], found " + Join(out_shape));
      }
    }
  }
  win.pad_begin.assign(n, 0);
  win.pad_end.assign(n, 0);
  for (size_t d = 0; d < n; ++d) {
    const int64_t in = win.windows[d];
    int64_t full = 0;  // the output size without pads
    if (in == 0 || __builtin_mul_overflow(win.stride[d], in - 1, &full) ||
        __builtin_add_overflow(full, out_pad[d] + (win.kernel[d] - 1) * win.dilation[d] + 1,
                               &full) ||
        full > kMaxFullOutput) {
      return BadInputError("X's spatial dim " + std::to_string(d) + " (" + std::to_string(in) +
                           ") gives an empty or too large output");
    }
    int64_t target = -1;
    if (!out_shape.empty()) {
      target = out_shape[d];
    } else if (auto_pad == AutoPad::kSameUpper || auto_pad == AutoPad::kSameLower) {
      if (__builtin_mul_overflow(in, win.stride[d], &target)) {
        return BadInputError("output size overflows");
      }
    }
    if (target >= 0) {
      const int64_t total = full - target;
      const int64_t half = FloorDiv(total, 2);
      win.pad_begin[d] = auto_pad == AutoPad::kSameUpper ? half : total - half;
      win.pad_end[d] = total - win.pad_begin[d];
      win.image[d] = target;
      continue;
    }
    if (auto_pad == AutoPad::kNotSet) {
      win.pad_begin[d] = pads[d];
      win.pad_end[d] = pads[n + d];
    }
    win.image[d] = full - win.pad_begin[d] - win.pad_end[d];
    if (win.image[d] < 1) {
      return BadInputError("output spatial dim " + std::to_string(d) + " would be " +
                           std::to_string(win.image[d]) + ": pads " +
                           std::to_string(win.pad_begin[d]) + "+" + std::to_string(win.pad_end[d]) +
                           " exceed the full output " + std::to_string(full));
    }
  }
  return g;
}

StatusOr<std::vector<TensorType>> InferConvLike(const InferContext& ctx, bool transpose) {
  const auto& in = ctx.inputs;
  if (Status s = CheckFloat(in[0].dtype); !s.ok()) return ctx.Fail(s.message());
  for (size_t i = 1; i < in.size(); ++i) {
    if (in[i].dtype != in[0].dtype) {
      return ctx.Fail(std::string(i == 1 ? "W" : "B") + " must have X's dtype " +
                      std::string(DTypeName(in[0].dtype)) + ", found " +
                      std::string(DTypeName(in[i].dtype)));
    }
  }
  const std::vector<int64_t>* b = in.size() > 2 ? &in[2].shape : nullptr;
  auto g = transpose ? ConvTransposeGeometry(ctx.attrs, in[0].shape, in[1].shape, b)
                     : ConvGeometry(ctx.attrs, in[0].shape, in[1].shape, b);
  if (!g.ok()) return ctx.Fail(g.status().message());
  std::vector<int64_t> shape = {g->batch, g->out_channels};
  const std::vector<int64_t>& spatial = transpose ? g->win.image : g->win.windows;
  shape.insert(shape.end(), spatial.begin(), spatial.end());
  return std::vector<TensorType>{{in[0].dtype, shape}};
}

StatusOr<std::vector<TensorType>> InferConv(const InferContext& ctx) {
  return InferConvLike(ctx, false);
}
StatusOr<std::vector<TensorType>> InferConvTranspose(const InferContext& ctx) {
  return InferConvLike(ctx, true);
}

// TsFusedConv(X, W, B[, Z]) {Conv's attributes, activation = "" | "Relu"}: the compiler's
// Conv with its epilogue (passes::FuseConvEpilogues): activation(Conv(X, W, B) + Z), f32 only,
// Z of the output's shape.
StatusOr<std::vector<TensorType>> InferFusedConv(const InferContext& ctx) {
  for (const TensorType& t : ctx.inputs) {
    if (t.dtype != DType::kF32) {
      return ctx.Fail("every input must be f32, found " + std::string(DTypeName(t.dtype)));
    }
  }
  const std::string act = ctx.attrs.StrOr("activation", "");
  if (act != "" && act != "Relu") {
    return ctx.Fail("activation must be \"\" or \"Relu\", found \"" + act + "\"");
  }
  InferContext conv = ctx;
  conv.inputs.resize(3);
  ASSIGN_OR_RETURN(std::vector<TensorType> out, InferConvLike(conv, false));
  const std::string layout = ctx.attrs.StrOr("weight_layout", "");
  if (layout == kBlockedConvWeights) {
    const std::vector<int64_t>& w = ctx.inputs[1].shape;
    if (w.size() != 4 || ctx.attrs.IntOr("group", 1) != 1 || w[0] % kConvWeightBlock != 0) {
      return ctx.Fail("weight_layout \"blocked16\" needs a 2-D convolution with one group and output channels "
                      "a multiple of 16, found W " + TypeString(DType::kF32, w) + " and group " +
                      std::to_string(ctx.attrs.IntOr("group", 1)) + "; recompile the model");
    }
  } else if (!layout.empty()) {
    return ctx.Fail("weight_layout must be \"\" or \"blocked16\", found \"" + layout + "\"");
  }
  if (ctx.inputs.size() > 3 && ctx.inputs[3].shape != out[0].shape) {
    return ctx.Fail("the addend Z must have the output's type " + TypeString(DType::kF32, out[0].shape) + ", found " +
                    TypeString(DType::kF32, ctx.inputs[3].shape));
  }
  return out;
}

// ---- Conv and ConvTranspose kernels ----

bool FitsInt(int64_t v) { return v <= INT_MAX; }

// c[m x n] (+)= op(a) * b, op(a) = a [m x k] or, with trans_a, a stored [k x m]. Through BLAS
// when every size fits its int parameters; loops otherwise.
template <typename F>
void Gemm(bool trans_a, int64_t m, int64_t n, int64_t k, const F* a, int64_t lda, const F* b,
          int64_t ldb, F* c, int64_t ldc, bool accumulate) {
  if (m == 0 || n == 0) return;
  if (k > 0 && FitsInt(m) && FitsInt(n) && FitsInt(k) && FitsInt(lda) && FitsInt(ldb) &&
      FitsInt(ldc)) {
    const auto ta = trans_a ? CblasTrans : CblasNoTrans;
    const F beta = accumulate ? 1 : 0;
    if constexpr (std::is_same_v<F, float>) {
      cblas_sgemm(CblasRowMajor, ta, CblasNoTrans, int(m), int(n), int(k), 1.0f, a, int(lda), b,
                  int(ldb), beta, c, int(ldc));
    } else {
      cblas_dgemm(CblasRowMajor, ta, CblasNoTrans, int(m), int(n), int(k), 1.0, a, int(lda), b,
                  int(ldb), beta, c, int(ldc));
    }
    return;
  }
  for (int64_t i = 0; i < m; ++i) {
    F* ci = c + i * ldc;
    if (!accumulate) std::fill(ci, ci + n, F(0));
    for (int64_t p = 0; p < k; ++p) {
      const F av = trans_a ? a[p * lda + i] : a[i * lda + p];
      const F* bp = b + p * ldb;
      for (int64_t j = 0; j < n; ++j) ci[j] += av * bp[j];
    }
  }
}

// Moves data between an image [channels, image...] and its columns
// [channels * kernel size, len] for the window positions p0 .. p0 + len - 1 (row-major over
// w.windows). kGather (im2col) copies image values into the columns, 0 for padding; otherwise
// (col2im) the columns are added into the image and padding positions are dropped.
template <bool kGather, typename F>
void Columns(const Window& w, int64_t channels, int64_t p0, int64_t len,
             std::conditional_t<kGather, const F*, F*> image, F* col) {
  const size_t n = w.rank(), last = n - 1;
  const std::vector<int64_t> image_strides = Strides(w.image);
  const int64_t image_size = Product(w.image), kernel_size = Product(w.kernel);
  const int64_t s = w.stride[last], lim = w.image[last], width = w.windows[last];
  std::vector<int64_t> k(n), o(n);
  for (int64_t c = 0; c < channels; ++c) {
    auto img = image + c * image_size;
    std::fill(k.begin(), k.end(), 0);
    for (int64_t kf = 0; kf < kernel_size; ++kf) {
      F* row = col + (c * kernel_size + kf) * len;
      int64_t rem = p0;
      for (size_t d = n; d-- > 0;) {
        o[d] = rem % w.windows[d];
        rem /= w.windows[d];
      }
      const int64_t base = k[last] * w.dilation[last] - w.pad_begin[last];
      for (int64_t done = 0; done < len;) {
        const int64_t line = std::min(width - o[last], len - done);
        F* r = row + done;
        int64_t off = 0;
        bool inside = true;
        for (size_t d = 0; d < last && inside; ++d) {
          const int64_t i = o[d] * w.stride[d] - w.pad_begin[d] + k[d] * w.dilation[d];
          inside = i >= 0 && i < w.image[d];
          off += i * image_strides[d];
        }
        // Position o[last] + j reads image index (o[last] + j) * s + base, inside for lo <= j < hi.
        int64_t lo = 0, hi = 0;
        if (inside) {
          lo = std::clamp<int64_t>(CeilDiv(-base, s) - o[last], 0, line);
          hi = std::clamp<int64_t>(FloorDiv(lim - 1 - base, s) + 1 - o[last], lo, line);
        }
        const int64_t first = hi > lo ? off + (o[last] + lo) * s + base : 0;
        if constexpr (kGather) {
          std::fill(r, r + lo, F(0));
          if (s == 1) {
            std::copy(img + first, img + first + (hi - lo), r + lo);
          } else {
            for (int64_t j = lo; j < hi; ++j) r[j] = img[first + (j - lo) * s];
          }
          std::fill(r + hi, r + line, F(0));
        } else {
          for (int64_t j = lo; j < hi; ++j) img[first + (j - lo) * s] += r[j];
        }
        done += line;
        o[last] += line;
        for (size_t d = last; d > 0 && o[d] == w.windows[d]; --d) {
          o[d] = 0;
          ++o[d - 1];
        }
      }
      for (size_t d = n; d-- > 0;) {
        if (++k[d] < w.kernel[d]) break;
        k[d] = 0;
      }
    }
  }
}

// A column buffer of at least n elements for the calling thread, kept between calls: a fresh
// multi-megabyte vector per convolution cost page faults and zeroing on every run. Bounded by
// kColumnBudget elements per thread and element type.
template <typename F>
F* ColumnScratch(int64_t n) {
  thread_local std::vector<F> buffer;
  if (static_cast<int64_t>(buffer.size()) < n) buffer.resize(static_cast<size_t>(n));
  return buffer.data();
}

// Fills y [batch, channels, size] with the bias (or 0).
template <typename F>
void FillBias(const F* b, int64_t batch, int64_t channels, int64_t size, F* y) {
  for (int64_t i = 0; i < batch * channels; ++i) {
    std::fill(y + i * size, y + (i + 1) * size, b ? b[i % channels] : F(0));
  }
}

// The geometry of one image of a 2-D, one-group convolution for the direct kernel, or none
// where that kernel does not take it (see conv_direct.h). Whether this CPU has the kernel is
// the caller's question.
std::optional<DirectConv2d> DirectGeometry(const ConvGeom& g) {
  const Window& win = g.win;
  if (win.rank() != 2 || g.group != 1) return std::nullopt;
  DirectConv2d d;
  d.in_channels = g.in_channels;
  d.height = win.image[0];
  d.width = win.image[1];
  d.out_channels = g.out_channels;
  d.out_height = win.windows[0];
  d.out_width = win.windows[1];
  d.kernel_h = win.kernel[0];
  d.kernel_w = win.kernel[1];
  d.stride_h = win.stride[0];
  d.stride_w = win.stride[1];
  d.dilation_h = win.dilation[0];
  d.dilation_w = win.dilation[1];
  d.pad_top = win.pad_begin[0];
  d.pad_left = win.pad_begin[1];
  if (!DirectConvApplies(d)) return std::nullopt;
  return d;
}

// Convolutions the direct kernel takes run there (conv_direct.h); for the others, work items
// are (image, group, chunk of output positions, part of the output channels); each
// thread has its own column buffer, writes the bias into its item's block of the output, then
// runs im2col and a one-thread GEMM on it, so im2col runs on every core too. Channels are split
// only when positions alone leave a thread idle (late CNN layers with 7x7 outputs), at the cost
// of each part building the same columns.
//
// TsFusedConv's epilogue (f32 only): `addend` (y's shape, or null) is added to each output and
// ReLU applied after, as the direct kernel stores a tile, or over each item's block of y right
// after its GEMM while the block is in cache.
template <typename F>
void ConvForward(const ConvGeom& g, const F* x, const F* w, const F* b, F* y, const F* addend = nullptr,
                 bool relu = false) {
  const Window& win = g.win;
  const int64_t image_size = Product(win.image), out_size = Product(win.windows);
  const int64_t cg = g.in_channels / g.group, mg = g.out_channels / g.group;
  const int64_t kdim = cg * Product(win.kernel);
  // ReLU over y's `len` values at `at`, after the GEMM wrote them.
  auto finish = [&](int64_t at, int64_t len) {
    if (!relu) return;
    for (F* v = y + at; v < y + at + len; ++v) *v = std::max(*v, F(0));
  };
  if (out_size == 0 || mg == 0 || kdim == 0) {
    FillBias(b, g.batch, g.out_channels, out_size, y);
    const int64_t total = g.batch * g.out_channels * out_size;
    for (int64_t i = 0; addend && i < total; ++i) y[i] += addend[i];
    finish(0, total);
    return;
  }
  if constexpr (std::is_same_v<F, float>) {
    std::optional<DirectConv2d> d = DirectConvAvailable() ? DirectGeometry(g) : std::nullopt;
    if (d) {
      for (int64_t n = 0; n < g.batch; ++n) {
        const int64_t at = n * g.out_channels * out_size;
        DirectConvF32(*d, x + n * g.in_channels * image_size, w, b, y + at,
                      {.addend = addend ? addend + at : nullptr, .relu = relu});
      }
      return;
    }
  }
  const bool pointwise = win.Pointwise();
  const int64_t threads = NumThreads();
  int64_t chunk = pointwise ? out_size : std::clamp<int64_t>(kColumnBudget / kdim, 1, out_size);
  if (g.batch * g.group < threads) {
    // Too few images and groups to share out: split positions so every thread has some,
    // but keep GEMMs at least 64 columns wide.
    chunk = std::min(chunk, std::max<int64_t>(CeilDiv(out_size, threads), 64));
  }
  const int64_t chunks = CeilDiv(out_size, chunk);
  const int64_t others = g.batch * g.group * chunks;
  if (others == 0) return;  // an empty batch
  const int64_t parts =
      others < threads ? std::max<int64_t>(1, std::min<int64_t>(threads / others, mg / 32)) : 1;
  ParallelFor(others * parts, 1, [&](int64_t begin, int64_t end) {
    F* col = pointwise ? nullptr : ColumnScratch<F>(kdim * chunk);
    for (int64_t item = begin; item < end; ++item) {
      const int64_t part = item % parts, c = item / parts % chunks, ng = item / parts / chunks;
      const int64_t gi = ng % g.group, n = ng / g.group;
      const int64_t m0 = mg * part / parts, m1 = mg * (part + 1) / parts;
      const F* xg = x + (n * g.in_channels + gi * cg) * image_size;
      const F* wg = w + (gi * mg + m0) * kdim;
      const int64_t yo = (n * g.out_channels + gi * mg + m0) * out_size;  // y's and the addend's
      F* yg = y + yo;
      const int64_t p0 = c * chunk, len = std::min(chunk, out_size - p0);
      for (int64_t m = 0; m < m1 - m0; ++m) {
        F* row = yg + m * out_size + p0;
        const F bias = b ? b[gi * mg + m0 + m] : F(0);
        if (addend) {
          const F* add = addend + yo + m * out_size + p0;
          for (int64_t j = 0; j < len; ++j) row[j] = bias + add[j];
        } else {
          std::fill(row, row + len, bias);
        }
      }
      if (pointwise) {
        Gemm(false, m1 - m0, len, cg, wg, cg, xg + p0, out_size, yg + p0, out_size, true);
      } else {
        Columns<true, F>(win, cg, p0, len, xg, col);
        Gemm(false, m1 - m0, len, kdim, wg, kdim, col, len, yg + p0, out_size, true);
      }
      for (int64_t m = 0; m < m1 - m0; ++m) finish(yo + m * out_size + p0, len);
    }
  });
}

template <typename F>
void ConvTransposeForward(const ConvGeom& g, const F* x, const F* w, const F* b, F* y) {
  const Window& win = g.win;
  const int64_t in_size = Product(win.windows), out_size = Product(win.image);
  const int64_t cg = g.in_channels / g.group, mg = g.out_channels / g.group;
  const int64_t rows = mg * Product(win.kernel);  // column rows per group: (m, kernel offset)
  FillBias(b, g.batch, g.out_channels, out_size, y);
  if (in_size == 0 || rows == 0 || cg == 0) return;
  const bool pointwise = win.Pointwise();
  const int64_t chunk = std::clamp<int64_t>(kColumnBudget / rows, 1, in_size);
  const int64_t ksize = Product(win.kernel);
  // Work items are (image, group, part of the output channels): col2im adds into overlapping
  // image positions, so threads split channels, never positions.
  const int64_t others = g.batch * g.group;
  const int64_t parts = std::max<int64_t>(1, std::min<int64_t>(CeilDiv(NumThreads(), std::max<int64_t>(others, 1)), mg));
  ParallelFor(others * parts, 1, [&](int64_t begin, int64_t end) {
    F* col = pointwise ? nullptr : ColumnScratch<F>(rows * chunk);
    for (int64_t item = begin; item < end; ++item) {
      const int64_t part = item % parts, ng = item / parts;
      const int64_t gi = ng % g.group, n = ng / g.group;
      const int64_t m0 = mg * part / parts, m1 = mg * (part + 1) / parts;
      if (m0 == m1) continue;
      const F* xg = x + (n * g.in_channels + gi * cg) * in_size;
      const F* wg = w + gi * cg * rows + m0 * ksize;  // [cg, rows], from channel m0's rows
      F* yg = y + (n * g.out_channels + gi * mg + m0) * out_size;
      if (pointwise) {
        Gemm(true, m1 - m0, in_size, cg, wg, rows, xg, in_size, yg, out_size, true);
        continue;
      }
      for (int64_t p0 = 0; p0 < in_size; p0 += chunk) {
        const int64_t len = std::min(chunk, in_size - p0);
        Gemm(true, (m1 - m0) * ksize, len, cg, wg, rows, xg + p0, in_size, col, len, false);
        Columns<false, F>(win, m1 - m0, p0, len, yg, col);
      }
    }
  });
}

std::vector<float> ToFloat(const Tensor& t) {
  std::vector<float> v(t.Count());
  VisitDType(t.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(Load(t.As<T>(), i));
  });
  return v;
}

template <bool kTranspose>
void RunConvLike(const KernelContext& ctx) {
  const Tensor& x = ctx.inputs[0];
  const Tensor& w = ctx.inputs[1];
  const Tensor* b = ctx.inputs.size() > 2 ? &ctx.inputs[2] : nullptr;
  const Tensor& y = ctx.outputs[0];
  const std::vector<int64_t>* b_shape = b ? &b->shape : nullptr;
  const ConvGeom g = kTranspose ? *ConvTransposeGeometry(ctx.attrs, x.shape, w.shape, b_shape)
                                : *ConvGeometry(ctx.attrs, x.shape, w.shape, b_shape);
  auto run = [&](auto* xp, auto* wp, auto* bp, auto* yp) {
    if constexpr (kTranspose) {
      ConvTransposeForward(g, xp, wp, bp, yp);
    } else {
      ConvForward(g, xp, wp, bp, yp);
    }
  };
  if (x.dtype == DType::kF32) {
    run(x.As<const float>(), w.As<const float>(), b ? b->As<const float>() : nullptr,
        y.As<float>());
  } else if (x.dtype == DType::kF64) {
    run(x.As<const double>(), w.As<const double>(), b ? b->As<const double>() : nullptr,
        y.As<double>());
  } else {
    // f16 / bf16: computed in f32.
    const std::vector<float> xf = ToFloat(x), wf = ToFloat(w);
    const std::vector<float> bf = b ? ToFloat(*b) : std::vector<float>();
    std::vector<float> yf(y.Count());
    run(xf.data(), wf.data(), b ? bf.data() : nullptr, yf.data());
    VisitDType(y.dtype, [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (std::is_same_v<Compute<T>, float>) {
        for (size_t i = 0; i < yf.size(); ++i) Store(y.As<T>(), i, yf[i]);
      }
    });
  }
}

void RunFusedConv(const KernelContext& ctx) {
  const Tensor& x = ctx.inputs[0];
  const Tensor& w = ctx.inputs[1];
  const Tensor& b = ctx.inputs[2];
  const Tensor* z = ctx.inputs.size() > 3 ? &ctx.inputs[3] : nullptr;
  const ConvGeom g = *ConvGeometry(ctx.attrs, x.shape, w.shape, &b.shape);
  const float* addend = z ? z->As<const float>() : nullptr;
  const bool relu = ctx.attrs.StrOr("activation", "") == "Relu";
  float* y = ctx.outputs[0].As<float>();
  if (ctx.attrs.StrOr("weight_layout", "") != kBlockedConvWeights) {
    ConvForward(g, x.As<const float>(), w.As<const float>(), b.As<const float>(), y, addend, relu);
    return;
  }
  const int64_t k = static_cast<int64_t>(w.Count()) / g.out_channels;
  std::optional<DirectConv2d> d = DirectConvAvailable() ? DirectGeometry(g) : std::nullopt;
  if (d) {
    const int64_t image = g.in_channels * d->height * d->width, out = g.out_channels * d->out_height * d->out_width;
    for (int64_t n = 0; n < g.batch; ++n) {
      DirectConvBlockedF32(*d, x.As<const float>() + n * image, w.As<const float>(), b.As<const float>(), y + n * out,
                           {.addend = addend ? addend + n * out : nullptr, .relu = relu});
    }
    return;
  }
  // No direct kernel here (no AVX-512F, or TSR_CONV=im2col): back to ONNX's layout, per call.
  std::vector<float> plain(w.Count());
  UnblockConvWeights(g.out_channels, k, w.As<const float>(), plain.data());
  ConvForward(g, x.As<const float>(), plain.data(), b.As<const float>(), y, addend, relu);
}

// ---- Pools ----

struct PoolGeom {
  int64_t planes = 0;  // N * C
  Window win;
};

StatusOr<PoolGeom> PoolGeometry(const AttrView& a, const std::vector<int64_t>& x) {
  if (x.size() < 3) {
    return BadInputError("X must have rank >= 3 (N, C, spatial...), found rank " +
                         std::to_string(x.size()));
  }
  const size_t n = x.size() - 2;
  PoolGeom g;
  g.planes = x[0] * x[1];
  g.win.image.assign(x.begin() + 2, x.end());
  ASSIGN_OR_RETURN(std::vector<int64_t> ks, a.Ints("kernel_shape"));
  if (ks.size() != n) {
    return BadInputError("kernel_shape must have " + std::to_string(n) + " values, found " +
                         Join(ks));
  }
  ASSIGN_OR_RETURN(g.win.kernel, WindowInts(a, "kernel_shape", n, 1, 1));
  ASSIGN_OR_RETURN(bool ceil_mode, ReadFlag(a, "ceil_mode"));
  RETURN_IF_ERROR(PlaceWindows(a, ceil_mode, &g.win));
  return g;
}

StatusOr<std::vector<TensorType>> InferPool(const InferContext& ctx) {
  const TensorType& x = ctx.inputs[0];
  const bool max = ctx.op == "MaxPool";
  const bool int8 = max && ctx.opset >= 12 && (x.dtype == DType::kI8 || x.dtype == DType::kU8);
  if (!IsFloat(x.dtype) && !int8) {
    return ctx.Fail(std::string("X must be f32, f16, bf16 or f64") +
                    (max ? " (or i8/u8 from opset 12)" : "") + ", found " +
                    std::string(DTypeName(x.dtype)));
  }
  if (ctx.num_outputs == 2 && ctx.opset < 8) {
    return ctx.Fail("the Indices output needs opset >= 8, found opset " +
                    std::to_string(ctx.opset));
  }
  for (const char* flag : {"count_include_pad", "storage_order"}) {
    if (auto f = ReadFlag(ctx.attrs, flag); !f.ok()) return ctx.Fail(f.status().message());
  }
  auto g = PoolGeometry(ctx.attrs, x.shape);
  if (!g.ok()) return ctx.Fail(g.status().message());
  std::vector<int64_t> shape = {x.shape[0], x.shape[1]};
  shape.insert(shape.end(), g->win.windows.begin(), g->win.windows.end());
  std::vector<TensorType> out = {{x.dtype, shape}};
  if (ctx.num_outputs == 2) out.push_back({DType::kI64, shape});
  return out;
}

// Calls visit(offset) for each image offset inside the window at position o, the last spatial
// dim innermost; lo, hi and k are scratch of the window's rank.
template <typename Visit>
void ForEachInWindow(const Window& w, const std::vector<int64_t>& image_strides,
                     const std::vector<int64_t>& o, std::vector<int64_t>& lo,
                     std::vector<int64_t>& hi, std::vector<int64_t>& k, Visit&& visit) {
  const size_t n = w.rank(), last = n - 1;
  for (size_t d = 0; d < n; ++d) {
    w.Inside(d, o[d], &lo[d], &hi[d]);
    if (lo[d] == hi[d]) return;
  }
  for (size_t d = 0; d < n; ++d) k[d] = lo[d];
  const int64_t s_last = o[last] * w.stride[last] - w.pad_begin[last], dl = w.dilation[last];
  while (true) {
    int64_t off = s_last;
    for (size_t d = 0; d < last; ++d) {
      off += (o[d] * w.stride[d] - w.pad_begin[d] + k[d] * w.dilation[d]) * image_strides[d];
    }
    for (int64_t kl = lo[last]; kl < hi[last]; ++kl) visit(off + kl * dl);
    // Next kernel offset over the outer dims.
    size_t d = last;
    while (d > 0 && ++k[d - 1] == hi[d - 1]) {
      k[d - 1] = lo[d - 1];
      --d;
    }
    if (d == 0) return;
  }
}

// Runs pool(plane, o, flat output index) over every output position of every plane.
template <typename Pool>
void ForEachOutput(const PoolGeom& g, Pool&& pool) {
  const Window& w = g.win;
  const size_t n = w.rank();
  const int64_t out_size = Product(w.windows);
  if (out_size == 0) return;
  std::vector<int64_t> o(n);
  for (int64_t p = 0; p < g.planes; ++p) {
    std::fill(o.begin(), o.end(), 0);
    for (int64_t q = 0; q < out_size; ++q) {
      pool(p, o, p * out_size + q);
      for (size_t d = n; d-- > 0;) {
        if (++o[d] < w.windows[d]) break;
        o[d] = 0;
      }
    }
  }
}

template <typename T>
void MaxPoolKernel(const PoolGeom& g, bool column_major, const T* x, T* y, int64_t* indices) {
  using C = Compute<T>;
  const Window& w = g.win;
  const size_t n = w.rank();
  const std::vector<int64_t> strides = Strides(w.image);
  const int64_t image_size = Product(w.image);
  std::vector<int64_t> lo(n), hi(n), k(n);
  ForEachOutput(g, [&](int64_t p, const std::vector<int64_t>& o, int64_t q) {
    const T* xp = x + p * image_size;
    // An empty window (all padding) gives the lowest value and index -1. NaN loses to any
    // number, as in the reference's nanmax.
    C best = std::numeric_limits<C>::has_infinity ? -std::numeric_limits<C>::infinity()
                                                  : std::numeric_limits<C>::lowest();
    int64_t at = -1;
    ForEachInWindow(w, strides, o, lo, hi, k, [&](int64_t off) {
      const C v = Load(xp, off);
      if (at < 0 || v > best || (IsNan(best) && !IsNan(v))) {
        best = v;
        at = off;
      }
    });
    Store(y, q, best);
    if (!indices) return;
    if (at < 0) {
      indices[q] = -1;
      return;
    }
    int64_t index = at;
    if (column_major) {
      // The same spatial coordinates, flattened with the first spatial dim fastest.
      index = 0;
      for (size_t d = n; d-- > 0;) index = index * w.image[d] + at / strides[d] % w.image[d];
    }
    indices[q] = p * image_size + index;
  });
}

template <typename T>
void AveragePoolKernel(const PoolGeom& g, bool count_include_pad, const T* x, T* y) {
  using C = Compute<T>;
  const Window& w = g.win;
  const size_t n = w.rank();
  const std::vector<int64_t> strides = Strides(w.image);
  const int64_t image_size = Product(w.image);
  std::vector<int64_t> lo(n), hi(n), k(n);
  ForEachOutput(g, [&](int64_t p, const std::vector<int64_t>& o, int64_t q) {
    const T* xp = x + p * image_size;
    C sum = 0;
    int64_t count = 0;
    ForEachInWindow(w, strides, o, lo, hi, k, [&](int64_t off) {
      sum += Load(xp, off);
      ++count;
    });
    double divisor = static_cast<double>(count);
    if (count_include_pad) {
      // Kernel offsets inside the padded image [-pad_begin, image + pad_end); a ceil-mode window
      // may reach past it. A double: the product of huge kernel dims may pass int64.
      divisor = 1;
      for (size_t d = 0; d < n; ++d) {
        const int64_t start = o[d] * w.stride[d] - w.pad_begin[d];
        divisor *= static_cast<double>(std::min(
            w.kernel[d], FloorDiv(w.image[d] + w.pad_end[d] - 1 - start, w.dilation[d]) + 1));
      }
    }
    Store(y, q, static_cast<C>(sum / divisor));
  });
}

// The larger of best and v where NaN loses to any number (as std::fmax). Written so the
// unpredictable comparison is a select (maxss: best when v is NaN) and the only branch, best
// being NaN (every value so far NaN), is almost never taken.
inline float MaxIgnoringNan(float best, float v) {
  const float m = v > best ? v : best;
  return best != best ? v : m;
}

// out[i] = the max (MaxIgnoringNan, in order over kh then kw) of row[kh * pitch + 2 i + kw] over
// kh < rows, kw < kernel_w, for i < n: a pooling row at column stride 2 and dilation 1, 16
// outputs per vector. Each tap's values are the even or odd lanes of two loads; loads are
// masked to the elements a window reads.
__attribute__((target("avx512f"))) void MaxPoolRowStride2(const float* first_row, int64_t rows, int64_t pitch,
                                                          int64_t kernel_w, int64_t n, float* out) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  for (int64_t i0 = 0; i0 < n; i0 += 16) {
    const int64_t count = std::min<int64_t>(16, n - i0);
    __m512 best = _mm512_setzero_ps();
    bool first = true;
    for (int64_t kh = 0; kh < rows; ++kh) {
      const float* row = first_row + kh * pitch;
      for (int64_t kw = 0; kw < kernel_w; ++kw) {
        // Tap kw reads base[2 i + (kw & 1)] with base = row + kw - (kw & 1): base elements
        // [2 i0, 2 (i0 + count - 1) + (kw & 1)] of this vector.
        const float* base = row + kw - (kw & 1) + 2 * i0;
        const int64_t need = 2 * (count - 1) + (kw & 1) + 1;
        const __mmask16 lo_mask = static_cast<__mmask16>(need >= 16 ? 0xffffu : (1u << need) - 1u);
        const __mmask16 hi_mask = static_cast<__mmask16>(need <= 16 ? 0u : need >= 32 ? 0xffffu : (1u << (need - 16)) - 1u);
        const __m512 lo = _mm512_maskz_loadu_ps(lo_mask, base);
        const __m512 hi = _mm512_maskz_loadu_ps(hi_mask, base + 16);
        const __m512 v = _mm512_permutex2var_ps(lo, (kw & 1) ? odd : even, hi);
        if (first) {
          best = v;
          first = false;
          continue;
        }
        // MaxIgnoringNan: v where v > best or best is NaN.
        const __mmask16 take = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(best, best, _CMP_UNORD_Q);
        best = _mm512_mask_blend_ps(take, best, v);
      }
    }
    _mm512_mask_storeu_ps(out + i0, static_cast<__mmask16>((1u << count) - 1u), best);
  }
}

// The common case (2-D f32, no Indices output): the window's rows and columns inside the image
// are found once per output row and column instead of per element. Same results as
// MaxPoolKernel, NaN handling included.
void MaxPool2dF32(const PoolGeom& g, const float* x, float* y) {
  const Window& w = g.win;
  const int64_t in_h = w.image[0], in_w = w.image[1];
  const int64_t out_h = w.windows[0], out_w = w.windows[1];
  const int64_t sw = w.stride[1], dh = w.dilation[0], dw = w.dilation[1];
  std::vector<int64_t> col_lo(out_w), col_hi(out_w), col_start(out_w);
  // Columns whose whole window lies inside the image: [full_begin, full_end).
  int64_t full_begin = out_w, full_end = out_w;
  for (int64_t ow = 0; ow < out_w; ++ow) {
    w.Inside(1, ow, &col_lo[ow], &col_hi[ow]);
    col_start[ow] = ow * sw - w.pad_begin[1];
    if (col_lo[ow] == 0 && col_hi[ow] == w.kernel[1]) {
      if (full_begin == out_w) full_begin = ow;
      full_end = ow + 1;
    }
  }
  auto plane = [&](int64_t p) {
    const float* xp = x + p * in_h * in_w;
    float* yp = y + p * out_h * out_w;
    for (int64_t oh = 0; oh < out_h; ++oh) {
      int64_t r_lo, r_hi;
      w.Inside(0, oh, &r_lo, &r_hi);
      const int64_t r_start = oh * w.stride[0] - w.pad_begin[0];
      float* yrow = yp + oh * out_w;
      // Border columns (and an empty window): element by element.
      auto general = [&](int64_t ow) {
        float best = -std::numeric_limits<float>::infinity();
        bool any = false;
        for (int64_t kh = r_lo; kh < r_hi; ++kh) {
          const float* row = xp + (r_start + kh * dh) * in_w + col_start[ow];
          for (int64_t kw = col_lo[ow]; kw < col_hi[ow]; ++kw) {
            best = any ? MaxIgnoringNan(best, row[kw * dw]) : row[kw * dw];
            any = true;
          }
        }
        yrow[ow] = best;
      };
      for (int64_t ow = 0; ow < out_w; ++ow) {
        if (ow == full_begin && r_hi > r_lo) ow = full_end;
        if (ow < out_w) general(ow);
      }
      if (r_hi <= r_lo || full_begin >= full_end) continue;
      // Full columns: one kernel offset at a time across the row, so the inner loop is a
      // strided load and a select per output.
      float* out = yrow + full_begin;
      const int64_t n = full_end - full_begin;
      if (sw == 2 && dw == 1 && CpuHasAvx512F()) {
        MaxPoolRowStride2(xp + (r_start + r_lo * dh) * in_w + col_start[full_begin], r_hi - r_lo, dh * in_w,
                          w.kernel[1], n, out);
        continue;
      }
      for (int64_t kh = r_lo; kh < r_hi; ++kh) {
        const float* row = xp + (r_start + kh * dh) * in_w + col_start[full_begin];
        for (int64_t kw = 0; kw < w.kernel[1]; ++kw) {
          const float* in = row + kw * dw;
          if (kh == r_lo && kw == 0) {
            for (int64_t i = 0; i < n; ++i) out[i] = in[i * sw];
          } else {
            for (int64_t i = 0; i < n; ++i) out[i] = MaxIgnoringNan(out[i], in[i * sw]);
          }
        }
      }
    }
  };
  ParallelFor(g.planes, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, out_h * out_w)),
              [&](int64_t p0, int64_t p1) {
                for (int64_t p = p0; p < p1; ++p) plane(p);
              });
}

void RunMaxPool(const KernelContext& ctx) {
  const Tensor& x = ctx.inputs[0];
  const PoolGeom g = *PoolGeometry(ctx.attrs, x.shape);
  const bool column_major = ctx.attrs.IntOr("storage_order", 0) == 1;
  int64_t* indices = ctx.outputs.size() > 1 ? ctx.outputs[1].As<int64_t>() : nullptr;
  if (x.dtype == DType::kF32 && g.win.rank() == 2 && !indices) {
    MaxPool2dF32(g, x.As<const float>(), ctx.outputs[0].As<float>());
    return;
  }
  VisitDType(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    MaxPoolKernel(g, column_major, x.As<const T>(), ctx.outputs[0].As<T>(), indices);
  });
}

void RunAveragePool(const KernelContext& ctx) {
  const Tensor& x = ctx.inputs[0];
  const PoolGeom g = *PoolGeometry(ctx.attrs, x.shape);
  const bool include_pad = ctx.attrs.IntOr("count_include_pad", 0) == 1;
  VisitDType(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_floating_point_v<Compute<T>>) {
      AveragePoolKernel(g, include_pad, x.As<const T>(), ctx.outputs[0].As<T>());
    }
  });
}

StatusOr<std::vector<TensorType>> InferGlobalPool(const InferContext& ctx) {
  const TensorType& x = ctx.inputs[0];
  if (Status s = CheckFloat(x.dtype); !s.ok()) return ctx.Fail(s.message());
  if (x.shape.size() < 3) {
    return ctx.Fail("X must have rank >= 3 (N, C, spatial...), found " +
                    TypeString(x.dtype, x.shape));
  }
  std::vector<int64_t> shape(x.shape.size(), 1);
  shape[0] = x.shape[0];
  shape[1] = x.shape[1];
  return std::vector<TensorType>{{x.dtype, shape}};
}

template <bool kMax>
void RunGlobalPool(const KernelContext& ctx) {
  const Tensor& x = ctx.inputs[0];
  const int64_t planes = x.shape[0] * x.shape[1];
  const int64_t size = planes == 0 ? 0 : x.Count() / planes;
  VisitDType(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = Compute<T>;
    if constexpr (std::is_floating_point_v<C>) {
      const T* xp = x.As<const T>();
      T* y = ctx.outputs[0].As<T>();
      for (int64_t p = 0; p < planes; ++p) {
        const int64_t base = p * size;
        if constexpr (kMax) {
          C best = -std::numeric_limits<C>::infinity();
          for (int64_t i = 0; i < size; ++i) best = std::max(best, Load(xp, base + i));
          Store(y, p, best);
        } else {
          double sum = 0;
          for (int64_t i = 0; i < size; ++i) sum += Load(xp, base + i);
          Store(y, p, static_cast<C>(sum / static_cast<double>(size)));
        }
      }
    }
  });
}

}  // namespace

bool ConvTakesDirectKernel(const AttrView& attrs, DType dtype, const std::vector<int64_t>& x,
                           const std::vector<int64_t>& w) {
  if (dtype != DType::kF32) return false;
  StatusOr<ConvGeom> g = ConvGeometry(attrs, x, w, nullptr);
  return g.ok() && DirectGeometry(*g).has_value();
}

bool ConvPrefersBlockedWeights(const AttrView& attrs, DType dtype, const std::vector<int64_t>& x,
                               const std::vector<int64_t>& w) {
  if (dtype != DType::kF32) return false;
  StatusOr<ConvGeom> g = ConvGeometry(attrs, x, w, nullptr);
  if (!g.ok()) return false;
  std::optional<DirectConv2d> d = DirectGeometry(*g);
  return d && BlockedConvPreferred(*d);
}

void AddNnOps(std::vector<OpDef>* ops) {
  ops->push_back({.name = "Conv",
                  .min_inputs = 2,
                  .max_inputs = 3,
                  .infer = InferConv,
                  .run = RunConvLike<false>});
  ops->push_back({.name = "TsFusedConv",
                  .min_inputs = 3,
                  .max_inputs = 4,
                  .infer = InferFusedConv,
                  .run = RunFusedConv});
  ops->push_back({.name = "ConvTranspose",
                  .min_inputs = 2,
                  .max_inputs = 3,
                  .infer = InferConvTranspose,
                  .run = RunConvLike<true>});
  ops->push_back({.name = "MaxPool", .max_outputs = 2, .infer = InferPool, .run = RunMaxPool});
  ops->push_back({.name = "AveragePool", .infer = InferPool, .run = RunAveragePool});
  ops->push_back(
      {.name = "GlobalAveragePool", .infer = InferGlobalPool, .run = RunGlobalPool<false>});
  ops->push_back({.name = "GlobalMaxPool", .infer = InferGlobalPool, .run = RunGlobalPool<true>});
}

}  // namespace ts::ops
