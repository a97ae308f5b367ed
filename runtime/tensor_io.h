// Host tensors and the file formats users hand to the CLI: .npy, ONNX TensorProto (.pb) and
// inline text ("2x3xf32=1 2 3 4 5 6"), plus seeded random inputs and the tolerance comparison
// behind --expected-output (DESIGN.md section 6).
//
// Every input file is treated as hostile: each count, length and product is checked against
// the bytes that remain before it is used, and errors are one line of the form
// "FILE: what; how to fix" with Code::kBadInput (Code::kIo for open/read/write failures).
// Inline specs and --input syntax are command-line text, so their errors are Code::kUsage.
//
// All functions are thread-compatible and keep no state. The host must be little-endian
// (enforced at compile time): tensor bytes are copied, never swapped.
#ifndef TENSORSHUNT_RUNTIME_TENSOR_IO_H_
#define TENSORSHUNT_RUNTIME_TENSOR_IO_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ir/dtype.h"
#include "ir/status.h"

namespace ts::runtime {

// A dense tensor in host memory: row-major, little-endian, data.size() ==
// CheckedByteSize(dtype, shape). An empty shape is a scalar (one element).
struct HostTensor {
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;
};

// .npy versions 1.0, 2.0 and 3.0. Accepted descr: '<f4' '<f2' '<f8' '<i8' '<i4', and for the
// one-byte types '|i1' '|u1' '|b1' (or with '<'). Big-endian and Fortran-order arrays are
// refused, as are trailing bytes after the data. `where` names the source in messages.
StatusOr<HostTensor> ParseNpy(const uint8_t* data, size_t size, std::string_view where);
StatusOr<HostTensor> ReadNpy(const std::string& path);
// Writes a version 1.0 file (2.0 if the header would not fit), header padded so the data
// starts on a 64-byte boundary, byte-for-byte what numpy 1.24 writes. npy has no bfloat16,
// so a bf16 tensor is widened (exactly) to '<f4'; reading it back gives an f32 tensor.
Status WriteNpy(const std::string& path, const HostTensor& t);

// ONNX TensorProto: FLOAT, FLOAT16, BFLOAT16, DOUBLE, INT64, INT32, INT8, UINT8, BOOL, from
// raw_data or the typed field the ONNX spec assigns (int32_data also carries int8, uint8, bool
// and the bit patterns of fp16/bf16). External data and segments are refused.
StatusOr<HostTensor> ParseTensorProto(const uint8_t* data, size_t size, std::string_view where);
StatusOr<HostTensor> ReadTensorProto(const std::string& path);

// "DIMSxDTYPE=VALUES", e.g. "2x3xf32=1 2 3 4 5 6"; a scalar is "f32=3.5". Dims are decimal
// (0 allowed); values are separated by whitespace or single commas and their count must equal
// the element count. Floats accept nan/inf; f16/bf16 values round to nearest even; bool takes
// 0/1/true/false; integers must fit the dtype. A leading '+' is refused (as in ParseSize).
StatusOr<HostTensor> ParseInlineTensor(std::string_view spec);

// Deterministic fill from `seed` (splitmix64, identical on every platform): floats uniform in
// [-1, 1), integers uniform in [0, 10), bool 0/1. `shape` must have a valid byte size
// (CheckedByteSize); otherwise the returned tensor has no data.
HostTensor RandomTensor(DType dtype, const std::vector<int64_t>& shape, uint64_t seed);

// One --input value: "NAME=@file.npy", "NAME=@file.pb", "NAME=@other" (format sniffed from the
// npy magic), or "NAME=SPEC" inline. The name is everything before the first '='.
StatusOr<std::pair<std::string, HostTensor>> ParseInputArg(std::string_view arg);

// Compares `actual` with `expected`. Dtypes and shapes must match. Floating types pass when
// |a - e| <= atol + rtol * |e| for every element (compared in double; NaN matches only NaN,
// an infinity only the same infinity); integers and bool must be equal. `summary` is one line
// naming the worst element (largest |a - e| - (atol + rtol * |e|)), its got/want values, the
// largest absolute error and how many elements are out of tolerance.
struct CompareResult {
  bool ok = false;
  std::string summary;
};
CompareResult CompareTensors(const HostTensor& actual, const HostTensor& expected, double rtol,
                             double atol);

// IEEE binary16 and bfloat16 conversions. Narrowing rounds to nearest even, overflows to
// infinity and keeps NaN a (quiet) NaN of the same sign; widening is exact.
float HalfToFloat(uint16_t h);
uint16_t FloatToHalf(float f);
float BF16ToFloat(uint16_t b);
uint16_t FloatToBF16(float f);

}  // namespace ts::runtime

#endif  // TENSORSHUNT_RUNTIME_TENSOR_IO_H_
