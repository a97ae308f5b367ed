// Element types known to the IR, the bundle and the runtime. The numeric values are part of
// the .tsplan format (planfmt/format.h): never renumber, only append.
#ifndef TENSORSHUNT_IR_DTYPE_H_
#define TENSORSHUNT_IR_DTYPE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ts {

enum class DType : uint8_t {
  kF32 = 1,
  kF16 = 2,
  kBF16 = 3,
  kI64 = 4,
  kI32 = 5,
  kI8 = 6,
  kU8 = 7,
  kBool = 8,
  kF64 = 9,
  kI16 = 10,
  kU16 = 11,
  kU32 = 12,
  kU64 = 13,
};
inline constexpr uint8_t kMaxDType = 13;

// Size of one element in bytes.
int64_t DTypeSize(DType t);
// Short name used in the textual IR and in messages: f32, f16, bf16, i64, i32, i8, u8, bool, f64,
// i16, u16, u32, u64.
std::string_view DTypeName(DType t);
std::optional<DType> DTypeFromName(std::string_view name);
// True for a value the format defines; use when decoding untrusted bytes.
bool IsValidDType(uint8_t raw);

// "f32[2,3]"; a scalar is "f32[]". Used in messages everywhere.
std::string TypeString(DType t, const std::vector<int64_t>& shape);

// Overflow-checked product of dims (all >= 0). Returns nullopt on overflow or a negative dim.
std::optional<int64_t> CheckedElementCount(const std::vector<int64_t>& shape);
// Overflow-checked element count times element size.
std::optional<int64_t> CheckedByteSize(DType t, const std::vector<int64_t>& shape);

}  // namespace ts

#endif  // TENSORSHUNT_IR_DTYPE_H_
