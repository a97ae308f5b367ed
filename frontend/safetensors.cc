#include "frontend/safetensors.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <limits>
#include <set>
#include <tuple>
#include <utility>

#include <nlohmann/json.hpp>

#include "frontend/external_data.h"

namespace ts::frontend {
namespace {

using Json = nlohmann::json;

constexpr size_t kMaxRank = 16;
// The format nests three levels (header > tensor entry > shape); deeper input is refused before
// the DOM is built, so a 100 MiB "[[[[..." cannot cost gigabytes.
constexpr int kMaxNesting = 4;
constexpr uint64_t kMaxIndexBytes = 100ull << 20;
constexpr char kIndexFile[] = "model.safetensors.index.json";
constexpr char kSingleFile[] = "model.safetensors";
constexpr char kTilingHint[] =
    "the tensors' data must tile the data area in order, with no gaps or overlaps";

constexpr SafetensorsDType kAllDTypes[] = {
    SafetensorsDType::F64,  SafetensorsDType::F32,     SafetensorsDType::F16,
    SafetensorsDType::BF16, SafetensorsDType::I64,     SafetensorsDType::I32,
    SafetensorsDType::I16,  SafetensorsDType::I8,      SafetensorsDType::U64,
    SafetensorsDType::U32,  SafetensorsDType::U16,     SafetensorsDType::U8,
    SafetensorsDType::BOOL, SafetensorsDType::F8_E4M3, SafetensorsDType::F8_E5M2};

// Text from the file, made safe for a one-line message: control bytes as \xNN, cut at `max`
// bytes. `quoted` also escapes ' and \ (the text goes between quotes); `ascii` also escapes
// bytes >= 0x80 (the text may not be valid UTF-8).
std::string Printable(std::string_view s, size_t max, bool quoted, bool ascii) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < max; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f || (quoted && (c == '\'' || c == '\\')) || (ascii && c >= 0x80)) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > max) out += "...";
  return out;
}

// Names from the file are valid UTF-8 (the JSON parser checked).
std::string Quote(std::string_view s) {
  return "'" + Printable(s, 120, /*quoted=*/true, /*ascii=*/false) + "'";
}

Status Bad(const std::string& where, const std::string& what) {
  return BadInputError(where + ": " + what);
}

std::string Str(uint64_t v) { return std::to_string(v); }

std::optional<SafetensorsDType> DTypeFromHeader(std::string_view name) {
  for (SafetensorsDType t : kAllDTypes) {
    if (SafetensorsDTypeName(t) == name) return t;
  }
  return std::nullopt;
}

std::string AllDTypeNames() {
  std::string s;
  for (SafetensorsDType t : kAllDTypes) {
    s += (s.empty() ? "" : ", ") + std::string(SafetensorsDTypeName(t));
  }
  return s;
}

bool NestingWithin(std::string_view text, int limit) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > limit) return false;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return true;
}

// Runs only after a failed parse, to say where and why: the DOM parser without exceptions
// returns a bare "discarded" value.
class SyntaxErrorFinder : public nlohmann::json_sax<Json> {
 public:
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return true; }
  bool key(string_t&) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception& ex) override {
    std::string what = ex.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 5: syntax error ..."
    if (size_t p = what.find(": "); p != std::string::npos) what = what.substr(p + 2);
    message = "byte " + Str(position) + ": " +
              Printable(what, 200, /*quoted=*/false, /*ascii=*/true);
    return false;
  }
  std::string message;
};

// Strict JSON: the exact bytes of `text` (whitespace allowed around the value, nothing else),
// no comments, no duplicate keys in any object.
StatusOr<Json> ParseStrictJson(std::string_view text, const std::string& where) {
  const std::string fix = "; the file is corrupt or was not written by a safetensors writer";
  if (!NestingWithin(text, kMaxNesting)) {
    return Bad(where, "JSON nested deeper than " + std::to_string(kMaxNesting) + " levels" + fix);
  }
  std::vector<std::set<std::string>> open_objects;
  std::string duplicate;
  Json::parser_callback_t callback = [&](int, Json::parse_event_t event, Json& parsed) {
    if (event == Json::parse_event_t::object_start) {
      open_objects.emplace_back();
    } else if (event == Json::parse_event_t::object_end) {
      if (!open_objects.empty()) open_objects.pop_back();
    } else if (event == Json::parse_event_t::key && !open_objects.empty() && parsed.is_string()) {
      const std::string& k = parsed.get_ref<const std::string&>();
      if (!open_objects.back().insert(k).second && duplicate.empty()) duplicate = k;
    }
    return true;
  };
  Json root = Json::parse(text.data(), text.data() + text.size(), callback,
                          /*allow_exceptions=*/false, /*ignore_comments=*/false);
  if (root.is_discarded()) {
    SyntaxErrorFinder finder;
    Json::sax_parse(text.data(), text.data() + text.size(), &finder);
    return Bad(where, "not valid JSON at " + finder.message + fix);
  }
  if (!duplicate.empty()) {
    return Bad(where, "duplicate key " + Quote(duplicate) + " in a JSON object" + fix);
  }
  return root;
}

// A non-negative JSON integer that fits int64 (so it also fits every size and offset type).
std::optional<uint64_t> NonNegativeInt(const Json& j) {
  if (!j.is_number_unsigned()) return std::nullopt;
  uint64_t v = j.get<uint64_t>();
  if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
  return v;
}

std::string ShapeText(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

struct Region {
  uint64_t begin, end;
  const std::string* name;
};

StatusOr<SafetensorsTensor> ParseEntry(const std::string& name, const Json& entry,
                                       uint64_t data_start, uint64_t data_size,
                                       const std::string& where, const std::string& file_name,
                                       Region* region) {
  const std::string at = where + ": header, tensor " + Quote(name);
  const std::string fix = "; the file is corrupt or was not written by a safetensors writer";
  if (name.empty()) return Bad(where + ": header", "a tensor with an empty name" + fix);
  if (!entry.is_object()) {
    return Bad(at, std::string("a JSON ") + entry.type_name() +
                       ", not an object {\"dtype\", \"shape\", \"data_offsets\"}" + fix);
  }
  SafetensorsTensor t;
  t.name = name;
  t.file = file_name;

  auto dtype_it = entry.find("dtype");
  if (dtype_it == entry.end() || !dtype_it->is_string()) {
    return Bad(at, "\"dtype\" is missing or not a string" + fix);
  }
  const std::string& dtype_name = dtype_it->get_ref<const std::string&>();
  std::optional<SafetensorsDType> st = DTypeFromHeader(dtype_name);
  if (!st) {
    return Bad(at, "unknown dtype " + Quote(dtype_name) + "; supported: " + AllDTypeNames());
  }
  t.st_dtype = *st;
  t.dtype = ToIrDType(*st);

  auto shape_it = entry.find("shape");
  if (shape_it == entry.end() || !shape_it->is_array()) {
    return Bad(at, "\"shape\" is missing or not an array of non-negative integers" + fix);
  }
  if (shape_it->size() > kMaxRank) {
    return Bad(at, "shape has rank " + Str(shape_it->size()) + ", over the limit of " +
                       Str(kMaxRank) + fix);
  }
  for (size_t i = 0; i < shape_it->size(); ++i) {
    std::optional<uint64_t> d = NonNegativeInt((*shape_it)[i]);
    if (!d) return Bad(at, "shape[" + Str(i) + "] is not a non-negative integer" + fix);
    t.shape.push_back(static_cast<int64_t>(*d));
  }

  auto off_it = entry.find("data_offsets");
  std::optional<uint64_t> begin, end;
  if (off_it != entry.end() && off_it->is_array() && off_it->size() == 2) {
    begin = NonNegativeInt((*off_it)[0]);
    end = NonNegativeInt((*off_it)[1]);
  }
  if (!begin || !end) {
    return Bad(at, "\"data_offsets\" is not exactly two non-negative integers [BEGIN, END]" + fix);
  }
  const std::string offsets = "data_offsets [" + Str(*begin) + ", " + Str(*end) + "]";
  if (*begin > *end) return Bad(at, offsets + ": BEGIN is after END" + fix);
  if (*end > data_size) {
    return Bad(at, offsets + " run past the end of the data area (" + Str(data_size) +
                       " bytes); the file is truncated or corrupt");
  }
  std::optional<int64_t> count = CheckedElementCount(t.shape);
  int64_t needed;
  if (!count || __builtin_mul_overflow(*count, SafetensorsDTypeSize(*st), &needed)) {
    return Bad(at, "the byte size of " + dtype_name + ShapeText(t.shape) + " overflows" + fix);
  }
  if (static_cast<uint64_t>(needed) != *end - *begin) {
    return Bad(at, offsets + " hold " + Str(*end - *begin) + " bytes but " + dtype_name +
                       ShapeText(t.shape) + " needs " + Str(needed) + fix);
  }
  t.offset = data_start + *begin;
  t.bytes = *end - *begin;
  *region = {*begin, *end, nullptr};
  return t;
}

StatusOr<std::vector<SafetensorsTensor>> ParseHeader(const uint8_t* data, size_t size,
                                                     uint64_t file_size, const std::string& where,
                                                     const std::string& file_name,
                                                     std::map<std::string, std::string>* metadata) {
  const std::string not_st = "; not a safetensors file, or a truncated or corrupt one";
  if (file_size < 8) {
    return Bad(where, "the file is " + Str(file_size) +
                          " bytes, shorter than the 8-byte header length" + not_st);
  }
  if (size < 8) {
    return Bad(where, "only " + Str(size) + " bytes given, fewer than the 8-byte header length; "
                      "pass the first bytes of the file");
  }
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | data[i];
  if (n > kMaxHeaderBytes) {
    return Bad(where, "header length " + Str(n) + " bytes is over the limit of " +
                          Str(kMaxHeaderBytes) + " (100 MiB)" + not_st);
  }
  if (n > file_size - 8) {
    return Bad(where, "header length " + Str(n) + " bytes runs past the end of the file (" +
                          Str(file_size) + " bytes)" + not_st);
  }
  if (n > size - 8) {
    return Bad(where, "only " + Str(size - 8) + " of the header's " + Str(n) +
                          " bytes given; pass the whole header");
  }
  const std::string header_where = where + ": header";
  ASSIGN_OR_RETURN(Json root,
                   ParseStrictJson(std::string_view(reinterpret_cast<const char*>(data) + 8, n),
                                   header_where));
  if (!root.is_object()) {
    return Bad(header_where, std::string("a JSON ") + root.type_name() +
                                 ", not an object of tensor entries" + not_st);
  }
  const uint64_t data_start = 8 + n;
  const uint64_t data_size = file_size - data_start;
  std::vector<SafetensorsTensor> tensors;
  std::vector<Region> regions;
  for (const auto& [name, entry] : root.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) {
        return Bad(header_where, "__metadata__ is not an object of strings" + not_st);
      }
      for (const auto& [key, value] : entry.items()) {
        if (!value.is_string()) {
          return Bad(header_where, "__metadata__ value of " + Quote(key) + " is a JSON " +
                                       value.type_name() + ", not a string" + not_st);
        }
        if (metadata) (*metadata)[key] = value.get<std::string>();
      }
      continue;
    }
    Region region;
    ASSIGN_OR_RETURN(SafetensorsTensor t,
                     ParseEntry(name, entry, data_start, data_size, where, file_name, &region));
    tensors.push_back(std::move(t));
    regions.push_back(region);
  }
  for (size_t i = 0; i < regions.size(); ++i) regions[i].name = &tensors[i].name;
  std::sort(regions.begin(), regions.end(), [](const Region& a, const Region& b) {
    return std::tie(a.begin, a.end) < std::tie(b.begin, b.end);
  });
  uint64_t covered = 0;
  const Region* previous = nullptr;
  for (const Region& r : regions) {
    const std::string range = " [" + Str(r.begin) + ", " + Str(r.end) + ")";
    if (r.begin < covered) {
      return Bad(header_where, "the data of tensor " + Quote(*r.name) + range +
                                   " overlaps that of tensor " + Quote(*previous->name) +
                                   "; " + kTilingHint);
    }
    if (r.begin > covered) {
      return Bad(header_where, "a gap of " + Str(r.begin - covered) +
                                   " bytes in the data area before tensor " + Quote(*r.name) +
                                   range + "; " + kTilingHint);
    }
    covered = r.end;
    previous = &r;
  }
  if (covered != data_size) {
    return Bad(header_where, "the tensors cover " + Str(covered) + " of the data area's " +
                                 Str(data_size) + " bytes, leaving bytes after the last tensor; " +
                                 kTilingHint);
  }
  // root.items() walks the object in key order, so `tensors` is already sorted by name.
  return tensors;
}

// Reads and parses the header of `name` in `dir` through `reader` (confined, opened once).
// `context` names where the file was referred to, for refusals to open it.
StatusOr<std::vector<SafetensorsTensor>> ReadShardHeader(
    ExternalDataReader& reader, const std::string& dir, const std::string& name,
    const std::string& context, std::map<std::string, std::string>* metadata) {
  const std::string where = dir + "/" + name;
  StatusOr<int> opened = reader.OpenConfined(name);
  if (!opened.ok()) return opened.status().Annotate(context);
  const int fd = *opened;
  struct stat st;
  if (fstat(fd, &st) != 0) return ErrnoError(errno, "'" + where + "'");
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  ASSIGN_OR_RETURN(std::vector<uint8_t> bytes,
                   reader.Read(name, 0, static_cast<int64_t>(std::min<uint64_t>(file_size, 8))));
  if (bytes.size() == 8) {
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[i];
    // Out-of-range lengths are reported by the parser from the 8 bytes alone.
    if (n <= kMaxHeaderBytes && n <= file_size - 8) {
      ASSIGN_OR_RETURN(bytes, reader.Read(name, 0, static_cast<int64_t>(8 + n)));
    }
  }
  return ParseHeader(bytes.data(), bytes.size(), file_size, where, name, metadata);
}

StatusOr<SafetensorsCheckpoint> OpenIndexed(ExternalDataReader& reader, const std::string& dir) {
  const std::string where = dir + "/" + kIndexFile;
  StatusOr<int> opened = reader.OpenConfined(kIndexFile);
  if (!opened.ok()) return opened.status().Annotate(dir);
  const int fd = *opened;
  struct stat st;
  if (fstat(fd, &st) != 0) return ErrnoError(errno, "'" + where + "'");
  if (static_cast<uint64_t>(st.st_size) > kMaxIndexBytes) {
    return Bad(where, Str(st.st_size) + " bytes, over the limit of " + Str(kMaxIndexBytes) +
                          " for an index; the file is not a safetensors index");
  }
  ASSIGN_OR_RETURN(std::vector<uint8_t> text, reader.Read(kIndexFile, 0, st.st_size));
  ASSIGN_OR_RETURN(
      Json root,
      ParseStrictJson(std::string_view(reinterpret_cast<const char*>(text.data()), text.size()),
                      where));
  const std::string fix = "; write the index as {\"weight_map\": {TENSOR: SHARD FILE, ...}}";
  if (!root.is_object()) {
    return Bad(where, std::string("a JSON ") + root.type_name() + ", not an object" + fix);
  }
  auto map_it = root.find("weight_map");
  if (map_it == root.end() || !map_it->is_object()) {
    return Bad(where, "\"weight_map\" is missing or not an object" + fix);
  }
  if (map_it->empty()) return Bad(where, "weight_map: empty, a checkpoint with no tensors" + fix);
  std::map<std::string, std::string> weight_map;
  std::set<std::string> shards;
  for (const auto& [name, shard] : map_it->items()) {
    if (!shard.is_string()) {
      return Bad(where, "weight_map, tensor " + Quote(name) + ": a JSON " + shard.type_name() +
                            ", not a shard file name" + fix);
    }
    weight_map[name] = shard.get<std::string>();
    shards.insert(shard.get<std::string>());
  }

  SafetensorsCheckpoint ckpt;
  std::map<std::string, const std::string*> shard_of;  // tensor name -> shard it was found in
  bool first = true;
  for (const std::string& shard : shards) {
    auto header = ReadShardHeader(reader, dir, shard, where + ": weight_map, shard " + Quote(shard),
                                  first ? &ckpt.metadata : nullptr);
    if (!header.ok()) return header.status();
    first = false;
    for (SafetensorsTensor& t : *header) {
      auto [it, inserted] = shard_of.emplace(t.name, &shard);
      if (!inserted) {
        return Bad(dir + "/" + shard, "tensor " + Quote(t.name) + " is also in shard " +
                                          Quote(*it->second) +
                                          "; each tensor must be stored in exactly one shard");
      }
      ckpt.tensors.push_back(std::move(t));
    }
  }
  for (const auto& [name, shard] : shard_of) {
    auto it = weight_map.find(name);
    if (it == weight_map.end()) {
      return Bad(where, "weight_map: tensor " + Quote(name) + " of shard " + Quote(*shard) +
                            " is not listed; list every tensor of every shard");
    }
    if (it->second != *shard) {
      return Bad(where, "weight_map: tensor " + Quote(name) + " points at shard " +
                            Quote(it->second) + " but is stored in shard " + Quote(*shard) +
                            "; fix the weight_map entry");
    }
  }
  for (const auto& [name, shard] : weight_map) {
    if (!shard_of.count(name)) {
      return Bad(where, "weight_map: tensor " + Quote(name) + " is not in its shard " +
                            Quote(shard) + "; remove the entry or add the tensor to the shard");
    }
  }
  std::sort(ckpt.tensors.begin(), ckpt.tensors.end(),
            [](const SafetensorsTensor& a, const SafetensorsTensor& b) { return a.name < b.name; });
  return ckpt;
}

}  // namespace

std::string_view SafetensorsDTypeName(SafetensorsDType t) {
  switch (t) {
    case SafetensorsDType::F64: return "F64";
    case SafetensorsDType::F32: return "F32";
    case SafetensorsDType::F16: return "F16";
    case SafetensorsDType::BF16: return "BF16";
    case SafetensorsDType::I64: return "I64";
    case SafetensorsDType::I32: return "I32";
    case SafetensorsDType::I16: return "I16";
    case SafetensorsDType::I8: return "I8";
    case SafetensorsDType::U64: return "U64";
    case SafetensorsDType::U32: return "U32";
    case SafetensorsDType::U16: return "U16";
    case SafetensorsDType::U8: return "U8";
    case SafetensorsDType::BOOL: return "BOOL";
    case SafetensorsDType::F8_E4M3: return "F8_E4M3";
    case SafetensorsDType::F8_E5M2: return "F8_E5M2";
  }
  return "?";
}

int64_t SafetensorsDTypeSize(SafetensorsDType t) {
  switch (t) {
    case SafetensorsDType::F64:
    case SafetensorsDType::I64:
    case SafetensorsDType::U64: return 8;
    case SafetensorsDType::F32:
    case SafetensorsDType::I32:
    case SafetensorsDType::U32: return 4;
    case SafetensorsDType::F16:
    case SafetensorsDType::BF16:
    case SafetensorsDType::I16:
    case SafetensorsDType::U16: return 2;
    case SafetensorsDType::I8:
    case SafetensorsDType::U8:
    case SafetensorsDType::BOOL:
    case SafetensorsDType::F8_E4M3:
    case SafetensorsDType::F8_E5M2: return 1;
  }
  return 0;
}

std::optional<DType> ToIrDType(SafetensorsDType t) {
  switch (t) {
    case SafetensorsDType::F64: return DType::kF64;
    case SafetensorsDType::F32: return DType::kF32;
    case SafetensorsDType::F16: return DType::kF16;
    case SafetensorsDType::BF16: return DType::kBF16;
    case SafetensorsDType::I64: return DType::kI64;
    case SafetensorsDType::I32: return DType::kI32;
    case SafetensorsDType::I8: return DType::kI8;
    case SafetensorsDType::U8: return DType::kU8;
    case SafetensorsDType::BOOL: return DType::kBool;
    default: return std::nullopt;
  }
}

const SafetensorsTensor* SafetensorsCheckpoint::Find(const std::string& name) const {
  auto it = std::lower_bound(
      tensors.begin(), tensors.end(), name,
      [](const SafetensorsTensor& t, const std::string& n) { return t.name < n; });
  return it != tensors.end() && it->name == name ? &*it : nullptr;
}

StatusOr<std::vector<SafetensorsTensor>> ParseSafetensorsHeader(const uint8_t* data, size_t size,
                                                                 uint64_t file_size,
                                                                 const std::string& where,
                                                                 const std::string& file_name) {
  return ParseHeader(data, size, file_size, where, file_name, nullptr);
}

StatusOr<SafetensorsCheckpoint> OpenSafetensorsCheckpoint(const std::string& dir) {
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) return ErrnoError(errno, "checkpoint folder '" + dir + "'");
  if (!S_ISDIR(st.st_mode)) {
    return Bad(dir, "not a folder; give the folder that holds model.safetensors or "
                    "model.safetensors.index.json");
  }
  ExternalDataReader reader(dir);
  const std::string index = dir + "/" + kIndexFile;
  if (lstat(index.c_str(), &st) == 0) return OpenIndexed(reader, dir);
  if (errno != ENOENT) return ErrnoError(errno, "'" + index + "'");
  const std::string single = dir + "/" + kSingleFile;
  if (lstat(single.c_str(), &st) != 0) {
    if (errno != ENOENT) return ErrnoError(errno, "'" + single + "'");
    return Bad(dir, "neither model.safetensors.index.json nor model.safetensors is here; give "
                    "the folder of a safetensors checkpoint");
  }
  SafetensorsCheckpoint ckpt;
  ASSIGN_OR_RETURN(ckpt.tensors, ReadShardHeader(reader, dir, kSingleFile, dir, &ckpt.metadata));
  return ckpt;
}

StatusOr<std::vector<uint8_t>> ReadSafetensorsTensor(const std::string& dir,
                                                     const SafetensorsTensor& t) {
  const std::string where = dir + "/" + t.file + ": tensor " + Quote(t.name);
  constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (t.offset > kMax || t.bytes > kMax) {
    return Bad(where, "offset or size out of range; open the checkpoint again");
  }
  ExternalDataReader reader(dir);
  auto bytes = reader.Read(t.file, static_cast<int64_t>(t.offset), static_cast<int64_t>(t.bytes));
  if (!bytes.ok()) return bytes.status().Annotate(where);
  return bytes;
}

struct SafetensorsMapper::Impl {
  explicit Impl(std::string d) : dir(d), reader(std::move(d)) {}
  std::string dir;
  ExternalDataReader reader;
  std::map<std::string, std::pair<std::shared_ptr<const void>, uint64_t>> maps;  // file -> (mapping, size)
};

SafetensorsMapper::SafetensorsMapper(std::string dir) : impl_(std::make_unique<Impl>(std::move(dir))) {}
SafetensorsMapper::~SafetensorsMapper() = default;

StatusOr<SafetensorsMapper::View> SafetensorsMapper::Map(const SafetensorsTensor& t) {
  const std::string where = impl_->dir + "/" + t.file + ": tensor " + Quote(t.name);
  auto it = impl_->maps.find(t.file);
  if (it == impl_->maps.end()) {
    ASSIGN_OR_RETURN(const int fd, impl_->reader.OpenConfined(t.file));
    struct stat st;
    if (::fstat(fd, &st) != 0) return ErrnoError(errno, "stat of " + impl_->dir + "/" + t.file);
    const auto size = static_cast<uint64_t>(st.st_size);
    void* p = size == 0 ? nullptr : ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) return ErrnoError(errno, "mapping " + impl_->dir + "/" + t.file);
    std::shared_ptr<const void> mapping(p, [size](const void* q) {
      if (q != nullptr) ::munmap(const_cast<void*>(q), size);
    });
    it = impl_->maps.emplace(t.file, std::pair{std::move(mapping), size}).first;
  }
  const auto& [mapping, size] = it->second;
  if (t.offset > size || t.bytes > size - t.offset) {
    return Bad(where, "bytes [" + std::to_string(t.offset) + ", +" + std::to_string(t.bytes) +
                          ") run past the file's " + std::to_string(size) + " bytes; it changed since it was opened");
  }
  return View{mapping, static_cast<const uint8_t*>(mapping.get()) + t.offset, t.bytes};
}

}  // namespace ts::frontend
