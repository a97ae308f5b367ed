// Safetensors checkpoints (https://github.com/huggingface/safetensors): the headers only. The
// tensor data is never read here: callers get each tensor's file, offset and size and read it in
// place (the bundle writer streams it).
//
// File layout, byte by byte:
//   [0, 8)          N: little-endian u64, the header length; at most 100 MiB (kMaxHeaderBytes)
//                   and at most file_size - 8.
//   [8, 8 + N)      UTF-8 JSON object, optionally padded at the end with whitespace:
//                     { "NAME": {"dtype": "F32", "shape": [2, 3], "data_offsets": [BEGIN, END]},
//                       ...,
//                       "__metadata__": {"KEY": "VALUE", ...} }      (optional, strings only)
//                   Other fields of a tensor entry are ignored, as the reference reader does.
//   [8 + N, EOF)    the data area. BEGIN/END are relative to its start. Every tensor's
//                   END - BEGIN equals its element count times its dtype size, and the regions,
//                   sorted by BEGIN, tile the data area exactly: the first begins at 0, each
//                   begins where the previous ends, the last ends at the end of the file.
// Refused as kBadInput: every violation of the above, duplicate keys in any JSON object, shapes
// that are not arrays of at most 16 non-negative integers, nesting deeper than the format uses.
//
// A checkpoint folder holds either model.safetensors, or model.safetensors.index.json
//   { "weight_map": { "NAME": "SHARD FILE", ... }, "metadata": {...} (ignored) }
// with its shards. Shard names follow ExternalDataReader's confinement rules (relative, no "..",
// no symbolic links, inside the folder); each shard is opened once. The weight map and the
// shards' headers must agree exactly: every tensor of every shard is listed and points at that
// shard, every listed tensor is in its shard, no tensor is in two shards.
//
// Thread-safety: the functions are stateless; results are plain values.
#ifndef TENSORSHUNT_FRONTEND_SAFETENSORS_H_
#define TENSORSHUNT_FRONTEND_SAFETENSORS_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ir/dtype.h"
#include "ir/status.h"

namespace ts::frontend {

inline constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

// Every dtype of the format.
enum class SafetensorsDType {
  F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL, F8_E4M3, F8_E5M2
};

// "F32", "F8_E4M3", ...: the spelling used in the header.
std::string_view SafetensorsDTypeName(SafetensorsDType t);
// Bytes per element.
int64_t SafetensorsDTypeSize(SafetensorsDType t);
// The IR dtype when one exists (F64, F32, F16, BF16, I64, I32, I8, U8, BOOL).
std::optional<DType> ToIrDType(SafetensorsDType t);

struct SafetensorsTensor {
  std::string name;
  SafetensorsDType st_dtype;
  std::optional<DType> dtype;  // ToIrDType(st_dtype)
  std::vector<int64_t> shape;  // [] for a scalar
  std::string file;            // shard file name, relative to the checkpoint folder
  uint64_t offset = 0;         // absolute byte offset of the data in `file`: 8 + N + BEGIN
  uint64_t bytes = 0;          // END - BEGIN
};

struct SafetensorsCheckpoint {
  std::vector<SafetensorsTensor> tensors;       // sorted by name
  std::map<std::string, std::string> metadata;  // "__metadata__" of the first shard (by name)
  // The tensor called `name`, or nullptr.
  const SafetensorsTensor* Find(const std::string& name) const;
};

// Parses one safetensors header from the first `size` bytes of a file of `file_size` bytes.
// `data` must hold the 8-byte length and the header (the data area is not needed). Messages
// start with `where` (the file as the user knows it); tensors get `file = file_name` and come
// back sorted by name.
StatusOr<std::vector<SafetensorsTensor>> ParseSafetensorsHeader(const uint8_t* data, size_t size,
                                                                 uint64_t file_size,
                                                                 const std::string& where,
                                                                 const std::string& file_name);

// Opens the checkpoint folder `dir` (see the top of this file), reading the headers only.
StatusOr<SafetensorsCheckpoint> OpenSafetensorsCheckpoint(const std::string& dir);

// Reads one tensor's bytes, confined to `dir` like the shards. For tests and small tensors.
StatusOr<std::vector<uint8_t>> ReadSafetensorsTensor(const std::string& dir,
                                                     const SafetensorsTensor& t);

// Tensors in place: each shard file of `dir` mapped into memory once (read-only, confined like
// ReadSafetensorsTensor), and views of its bytes that keep the mapping alive. The checkpoint
// must not change while the views live (a file truncated under a mapping faults on access).
class SafetensorsMapper {
 public:
  struct View {
    std::shared_ptr<const void> keep;  // the mapping
    const uint8_t* data = nullptr;
    uint64_t bytes = 0;
  };
  explicit SafetensorsMapper(std::string dir);
  ~SafetensorsMapper();
  SafetensorsMapper(const SafetensorsMapper&) = delete;
  SafetensorsMapper& operator=(const SafetensorsMapper&) = delete;

  StatusOr<View> Map(const SafetensorsTensor& t);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ts::frontend

#endif  // TENSORSHUNT_FRONTEND_SAFETENSORS_H_
