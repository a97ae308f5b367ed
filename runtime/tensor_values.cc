// Element-level helpers of tensor_io.h: fp16/bf16 conversion, inline specs, random fill and
// the tolerance comparison. File formats live in tensor_io.cc.
#include <bit>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

#include "runtime/tensor_io.h"

namespace ts::runtime {

namespace {

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

// ---- values -----------------------------------------------------------------------------

template <typename T>
T LoadAs(const HostTensor& t, int64_t i) {
  T v;
  std::memcpy(&v, t.data.data() + i * sizeof(T), sizeof(T));
  return v;
}

bool IsFloat(DType t) {
  return t == DType::kF32 || t == DType::kF16 || t == DType::kBF16 || t == DType::kF64;
}

double FloatAt(const HostTensor& t, int64_t i) {
  switch (t.dtype) {
    case DType::kF32: return LoadAs<float>(t, i);
    case DType::kF16: return HalfToFloat(LoadAs<uint16_t>(t, i));
    case DType::kBF16: return BF16ToFloat(LoadAs<uint16_t>(t, i));
    case DType::kF64: return LoadAs<double>(t, i);
    default: return 0;
  }
}

int64_t IntAt(const HostTensor& t, int64_t i) {
  switch (t.dtype) {
    case DType::kI64: return LoadAs<int64_t>(t, i);
    case DType::kI32: return LoadAs<int32_t>(t, i);
    case DType::kI8: return LoadAs<int8_t>(t, i);
    case DType::kU8:
    case DType::kBool: return t.data[i];
    case DType::kI16: return LoadAs<int16_t>(t, i);
    case DType::kU16: return LoadAs<uint16_t>(t, i);
    case DType::kU32: return LoadAs<uint32_t>(t, i);
    case DType::kU64: return static_cast<int64_t>(LoadAs<uint64_t>(t, i));
    default: return 0;
  }
}

template <typename T>
void StoreAs(HostTensor& t, int64_t i, T v) {
  std::memcpy(t.data.data() + i * sizeof(T), &v, sizeof(T));
}

std::string Num(double v) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.9g", v);
  return buf;
}

std::string IndexString(const std::vector<int64_t>& shape, int64_t flat) {
  std::vector<int64_t> idx(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    idx[d] = shape[d] ? flat % shape[d] : 0;
    flat = shape[d] ? flat / shape[d] : 0;
  }
  std::string s = "[";
  for (size_t d = 0; d < idx.size(); ++d) s += (d ? "," : "") + std::to_string(idx[d]);
  return s + "]";
}

// Parses one inline value into element i of t (already sized).
Status StoreInlineValue(HostTensor& t, int64_t i, std::string_view tok, std::string_view spec) {
  auto bad = [&](const std::string& why) {
    return UsageError("inline tensor \"" + std::string(spec) + "\": value '" + std::string(tok) +
                      "' " + why);
  };
  const char* b = tok.data();
  const char* e = tok.data() + tok.size();
  if (IsFloat(t.dtype)) {
    double v;
    auto [p, ec] = std::from_chars(b, e, v);
    if (ec != std::errc() || p != e) return bad("is not a number");
    if (t.dtype == DType::kF64) return StoreAs(t, i, v), OkStatus();
    if (std::isfinite(v) && std::fabs(v) > std::numeric_limits<float>::max()) {
      return bad("is out of range for " + std::string(DTypeName(t.dtype)));
    }
    float f = static_cast<float>(v);
    if (t.dtype == DType::kF32) return StoreAs(t, i, f), OkStatus();
    uint16_t h = t.dtype == DType::kF16 ? FloatToHalf(f) : FloatToBF16(f);
    float back = t.dtype == DType::kF16 ? HalfToFloat(h) : BF16ToFloat(h);
    if (std::isinf(back) && !std::isinf(v)) {
      return bad("is out of range for " + std::string(DTypeName(t.dtype)));
    }
    return StoreAs(t, i, h), OkStatus();
  }
  if (t.dtype == DType::kBool) {
    if (tok == "0" || tok == "false") return StoreAs<uint8_t>(t, i, 0), OkStatus();
    if (tok == "1" || tok == "true") return StoreAs<uint8_t>(t, i, 1), OkStatus();
    return bad("is not a bool (use 0, 1, true or false)");
  }
  int64_t v;
  auto [p, ec] = std::from_chars(b, e, v);
  if (ec != std::errc() || p != e) return bad("is not an integer");
  switch (t.dtype) {
    case DType::kI64: StoreAs(t, i, v); return OkStatus();
    case DType::kI32:
      if (v < INT32_MIN || v > INT32_MAX) return bad("is out of range for i32");
      StoreAs(t, i, static_cast<int32_t>(v));
      return OkStatus();
    case DType::kI8:
      if (v < -128 || v > 127) return bad("is out of range for i8");
      StoreAs(t, i, static_cast<int8_t>(v));
      return OkStatus();
    case DType::kU8:
      if (v < 0 || v > 255) return bad("is out of range for u8");
      StoreAs(t, i, static_cast<uint8_t>(v));
      return OkStatus();
    case DType::kI16:
      if (v < INT16_MIN || v > INT16_MAX) return bad("is out of range for i16");
      StoreAs(t, i, static_cast<int16_t>(v));
      return OkStatus();
    case DType::kU16:
      if (v < 0 || v > UINT16_MAX) return bad("is out of range for u16");
      StoreAs(t, i, static_cast<uint16_t>(v));
      return OkStatus();
    case DType::kU32:
      if (v < 0 || v > UINT32_MAX) return bad("is out of range for u32");
      StoreAs(t, i, static_cast<uint32_t>(v));
      return OkStatus();
    case DType::kU64:
      if (v < 0) return bad("is out of range for u64");
      StoreAs(t, i, static_cast<uint64_t>(v));
      return OkStatus();
    default: return bad("has an unsupported dtype");
  }
}

}  // namespace

// ---- fp16 / bf16 ------------------------------------------------------------------------

float HalfToFloat(uint16_t h) {
  uint32_t sign = uint32_t{h & 0x8000u} << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t man = h & 0x3ff;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (man << 13);
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (man << 13);
  } else if (man == 0) {
    bits = sign;
  } else {
    // Subnormal: value is man * 2^-24, exactly representable in float.
    float v = static_cast<float>(man) * 0x1p-24f;
    return sign ? -v : v;
  }
  return std::bit_cast<float>(bits);
}

uint16_t FloatToHalf(float f) {
  uint32_t x = std::bit_cast<uint32_t>(f);
  uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  x &= 0x7fffffffu;
  if (x > 0x7f800000u) return sign | 0x7e00 | ((x >> 13) & 0x3ff);  // NaN stays quiet NaN
  if (x >= 0x477ff000u) return sign | 0x7c00;  // >= 65520 rounds to infinity (or is infinity)
  if (x < 0x33000000u) return sign;            // <= 2^-25 rounds to zero (2^-25 ties to even)
  uint32_t r, rem, halfway;
  if (x < 0x38800000u) {
    // Half subnormal: count units of 2^-24; the float's significand m is worth m * 2^(e-150).
    uint32_t e = x >> 23;
    uint32_t m = (x & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126 - e;  // in [14, 24]
    r = m >> shift;
    rem = m & ((1u << shift) - 1);
    halfway = 1u << (shift - 1);
  } else {
    uint32_t t = x - (112u << 23);  // rebias the exponent from 127 to 15
    r = t >> 13;
    rem = t & 0x1fff;
    halfway = 0x1000;
  }
  if (rem > halfway || (rem == halfway && (r & 1))) ++r;  // a carry into the exponent is right
  return sign | static_cast<uint16_t>(r);
}

float BF16ToFloat(uint16_t b) { return std::bit_cast<float>(uint32_t{b} << 16); }

uint16_t FloatToBF16(float f) {
  uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40);
  x += 0x7fffu + ((x >> 16) & 1);
  return static_cast<uint16_t>(x >> 16);
}

// ---- inline, random ----------------------------------------------------------------

StatusOr<HostTensor> ParseInlineTensor(std::string_view spec) {
  const std::string quoted = "inline tensor \"" + std::string(spec) + "\": ";
  size_t eq = spec.find('=');
  if (eq == std::string_view::npos) {
    return UsageError(quoted + "missing '='; write DIMSxDTYPE=VALUES, e.g. 2x3xf32=1 2 3 4 5 6");
  }
  std::string_view type_part = spec.substr(0, eq);
  std::string_view values = spec.substr(eq + 1);
  HostTensor t;
  size_t x;
  while ((x = type_part.find('x')) != std::string_view::npos) {
    std::string_view dim = type_part.substr(0, x);
    int64_t d;
    auto [p, ec] = std::from_chars(dim.data(), dim.data() + dim.size(), d);
    if (dim.empty() || ec != std::errc() || p != dim.data() + dim.size() || d < 0) {
      return UsageError(quoted + "bad dimension '" + std::string(dim) +
                        "'; dimensions are non-negative integers joined by 'x'");
    }
    t.shape.push_back(d);
    type_part.remove_prefix(x + 1);
  }
  auto dtype = DTypeFromName(type_part);
  if (!dtype) {
    return UsageError(quoted + "unknown dtype '" + std::string(type_part) +
                      "'; use f32, f16, bf16, f64, i64, i32, i8, u8 or bool");
  }
  t.dtype = *dtype;
  auto bytes = CheckedByteSize(t.dtype, t.shape);
  if (!bytes) return UsageError(quoted + "shape overflows a 64-bit byte count");
  const int64_t count = *bytes / DTypeSize(t.dtype);
  // Tokenize before allocating, so a huge shape with few values fails without a huge buffer.
  std::vector<std::string_view> tokens;
  size_t i = 0;
  auto skip_ws = [&] {
    while (i < values.size() && (values[i] == ' ' || values[i] == '\t')) ++i;
  };
  skip_ws();
  while (i < values.size()) {
    size_t start = i;
    while (i < values.size() && values[i] != ' ' && values[i] != '\t' && values[i] != ',') ++i;
    if (i == start) return UsageError(quoted + "empty value between commas");
    tokens.push_back(values.substr(start, i - start));
    if (static_cast<int64_t>(tokens.size()) > count) break;
    skip_ws();
    if (i < values.size() && values[i] == ',') {
      ++i;
      skip_ws();
      if (i == values.size()) return UsageError(quoted + "trailing comma after the last value");
    }
  }
  if (static_cast<int64_t>(tokens.size()) != count) {
    bool too_many = static_cast<int64_t>(tokens.size()) > count;
    return UsageError(quoted + (too_many ? "more than " + std::to_string(count)
                                         : std::to_string(tokens.size())) +
                      " values given but shape " +
                      ShapeString(t.shape) + " has " + std::to_string(count) + " elements");
  }
  t.data.resize(static_cast<size_t>(*bytes));
  for (int64_t k = 0; k < count; ++k) RETURN_IF_ERROR(StoreInlineValue(t, k, tokens[k], spec));
  return t;
}

HostTensor RandomTensor(DType dtype, const std::vector<int64_t>& shape, uint64_t seed) {
  HostTensor t;
  t.dtype = dtype;
  t.shape = shape;
  auto bytes = CheckedByteSize(dtype, shape);
  if (!bytes) return t;
  t.data.resize(static_cast<size_t>(*bytes));
  const int64_t count = *bytes / DTypeSize(dtype);
  uint64_t state = seed;
  auto next = [&state] {  // splitmix64
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  };
  // Floats take as many random bits as the type's significand holds, so every value is
  // exact in the dtype and none rounds up to 1.0.
  auto uniform = [&](int bits) {
    return std::ldexp(static_cast<double>(next() >> (64 - bits)), 1 - bits) - 1.0;
  };
  for (int64_t i = 0; i < count; ++i) {
    switch (dtype) {
      case DType::kF32: StoreAs(t, i, static_cast<float>(uniform(24))); break;
      case DType::kF16: StoreAs(t, i, FloatToHalf(static_cast<float>(uniform(11)))); break;
      case DType::kBF16: StoreAs(t, i, FloatToBF16(static_cast<float>(uniform(8)))); break;
      case DType::kF64: StoreAs(t, i, uniform(53)); break;
      case DType::kI64: StoreAs(t, i, static_cast<int64_t>(next() % 10)); break;
      case DType::kI32: StoreAs(t, i, static_cast<int32_t>(next() % 10)); break;
      case DType::kI8: StoreAs(t, i, static_cast<int8_t>(next() % 10)); break;
      case DType::kU8: StoreAs(t, i, static_cast<uint8_t>(next() % 10)); break;
      case DType::kBool: StoreAs(t, i, static_cast<uint8_t>(next() >> 63)); break;
      case DType::kI16: StoreAs(t, i, static_cast<int16_t>(next() % 10)); break;
      case DType::kU16: StoreAs(t, i, static_cast<uint16_t>(next() % 10)); break;
      case DType::kU32: StoreAs(t, i, static_cast<uint32_t>(next() % 10)); break;
      case DType::kU64: StoreAs(t, i, static_cast<uint64_t>(next() % 10)); break;
    }
  }
  return t;
}

// ---- comparison -------------------------------------------------------------------------

CompareResult CompareTensors(const HostTensor& actual, const HostTensor& expected, double rtol,
                             double atol) {
  CompareResult r;
  if (actual.dtype != expected.dtype) {
    r.summary = "dtype mismatch: got " + std::string(DTypeName(actual.dtype)) + ", want " +
                std::string(DTypeName(expected.dtype));
    return r;
  }
  if (actual.shape != expected.shape) {
    r.summary = "shape mismatch: got " + ShapeString(actual.shape) + ", want " +
                ShapeString(expected.shape);
    return r;
  }
  auto bytes = CheckedByteSize(expected.dtype, expected.shape);
  if (!bytes || actual.data.size() != static_cast<uint64_t>(*bytes) ||
      expected.data.size() != static_cast<uint64_t>(*bytes)) {
    r.summary = "malformed tensor: data size does not match shape " + ShapeString(expected.shape);
    return r;
  }
  const int64_t count = *bytes / DTypeSize(expected.dtype);
  if (count == 0) {
    r.ok = true;
    r.summary = "0 elements compared";
    return r;
  }
  const bool is_float = IsFloat(expected.dtype);
  const double inf = std::numeric_limits<double>::infinity();
  int64_t bad = 0, worst = 0;
  double worst_excess = -inf, max_abs = 0;
  for (int64_t i = 0; i < count; ++i) {
    double err, excess;
    if (is_float) {
      double a = FloatAt(actual, i), e = FloatAt(expected, i);
      if (a == e || (std::isnan(a) && std::isnan(e))) {
        err = 0;
        excess = -(atol + rtol * (std::isfinite(e) ? std::fabs(e) : 0));
      } else if (!std::isfinite(a) || !std::isfinite(e)) {
        err = inf;  // NaN against a number, or an infinity against anything else
        excess = inf;
      } else {
        err = std::fabs(a - e);
        excess = err - (atol + rtol * std::fabs(e));
      }
    } else {
      int64_t a = IntAt(actual, i), e = IntAt(expected, i);
      err = std::fabs(static_cast<double>(a) - static_cast<double>(e));
      excess = a == e ? 0 : err;
    }
    if (is_float ? excess > 0 : err != 0) ++bad;
    if (err > max_abs) max_abs = err;
    if (excess > worst_excess) worst_excess = excess, worst = i;
  }
  r.ok = bad == 0;
  std::string got, want;
  if (is_float) {
    got = Num(FloatAt(actual, worst)), want = Num(FloatAt(expected, worst));
  } else {
    got = std::to_string(IntAt(actual, worst)), want = std::to_string(IntAt(expected, worst));
  }
  char err_buf[32];
  std::snprintf(err_buf, sizeof(err_buf), "%.3g", max_abs);
  r.summary = std::string("max abs err ") + err_buf + "; worst at " +
              IndexString(expected.shape, worst) + " (got " + got + ", want " + want + "); " +
              std::to_string(bad) + " of " + std::to_string(count) + " elements out of tolerance";
  if (is_float) r.summary += " (rtol " + Num(rtol) + ", atol " + Num(atol) + ")";
  return r;
}

}  // namespace ts::runtime
