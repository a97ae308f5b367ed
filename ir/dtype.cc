#include "ir/dtype.h"

namespace ts {

int64_t DTypeSize(DType t) {
  switch (t) {
    case DType::kF32: return 4;
    case DType::kF16: return 2;
    case DType::kBF16: return 2;
    case DType::kI64: return 8;
    case DType::kI32: return 4;
    case DType::kI8: return 1;
    case DType::kU8: return 1;
    case DType::kBool: return 1;
    case DType::kF64: return 8;
    case DType::kI16: return 2;
    case DType::kU16: return 2;
    case DType::kU32: return 4;
    case DType::kU64: return 8;
  }
  return 0;
}

std::string_view DTypeName(DType t) {
  switch (t) {
    case DType::kF32: return "f32";
    case DType::kF16: return "f16";
    case DType::kBF16: return "bf16";
    case DType::kI64: return "i64";
    case DType::kI32: return "i32";
    case DType::kI8: return "i8";
    case DType::kU8: return "u8";
    case DType::kBool: return "bool";
    case DType::kF64: return "f64";
    case DType::kI16: return "i16";
    case DType::kU16: return "u16";
    case DType::kU32: return "u32";
    case DType::kU64: return "u64";
  }
  return "?";
}

std::optional<DType> DTypeFromName(std::string_view name) {
  for (uint8_t raw = 1; raw <= kMaxDType; ++raw) {
    DType t = static_cast<DType>(raw);
    if (DTypeName(t) == name) return t;
  }
  return std::nullopt;
}

std::string TypeString(DType t, const std::vector<int64_t>& shape) {
  std::string s = std::string(DTypeName(t)) + "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

bool IsValidDType(uint8_t raw) { return raw >= 1 && raw <= kMaxDType; }

std::optional<int64_t> CheckedElementCount(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return std::nullopt;
    if (__builtin_mul_overflow(n, d, &n)) return std::nullopt;
  }
  return n;
}

std::optional<int64_t> CheckedByteSize(DType t, const std::vector<int64_t>& shape) {
  auto n = CheckedElementCount(shape);
  if (!n) return std::nullopt;
  int64_t bytes;
  if (__builtin_mul_overflow(*n, DTypeSize(t), &bytes)) return std::nullopt;
  return bytes;
}

}  // namespace ts
