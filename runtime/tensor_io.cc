#include "runtime/tensor_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <climits>
#include <cstring>

#include <onnx/onnx_pb.h>

namespace ts::runtime {

static_assert(std::endian::native == std::endian::little,
              "tensor bytes are copied without swapping; a big-endian host needs byte swaps");

namespace {

constexpr char kNpyMagic[] = "\x93NUMPY";
constexpr size_t kNpyMagicLen = 6;

std::string Where(std::string_view where) { return std::string(where) + ": "; }

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

// Element count and byte size of a shape from untrusted input; refuses negative dims and any
// overflow so later allocations and copies can trust the product.
StatusOr<int64_t> ValidatedByteSize(DType dtype, const std::vector<int64_t>& shape,
                                    std::string_view where) {
  for (int64_t d : shape) {
    if (d < 0) {
      return BadInputError(Where(where) + "negative dimension in shape " + ShapeString(shape) +
                           "; dimensions must be >= 0");
    }
  }
  auto bytes = CheckedByteSize(dtype, shape);
  if (!bytes) {
    return BadInputError(Where(where) + "shape " + ShapeString(shape) + " of " +
                         std::string(DTypeName(dtype)) +
                         " overflows a 64-bit byte count; the file is corrupt");
  }
  return *bytes;
}

// ---- .npy header dict: a strict parser for the Python literal numpy writes ----------------

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  std::vector<int64_t> shape;
};

class NpyHeaderParser {
 public:
  NpyHeaderParser(std::string_view text, std::string_view where) : s_(text), where_(where) {}

  StatusOr<NpyHeader> Parse() {
    NpyHeader h;
    bool seen_descr = false, seen_order = false, seen_shape = false;
    SkipSpace();
    if (!Consume('{')) return Error("expected '{' at the start of the header dict");
    SkipSpace();
    while (!Consume('}')) {
      ASSIGN_OR_RETURN(std::string key, ParseString("a quoted key"));
      SkipSpace();
      if (!Consume(':')) return Error("expected ':' after key '" + key + "'");
      SkipSpace();
      if (key == "descr") {
        if (seen_descr) return Error("duplicate key 'descr'");
        seen_descr = true;
        ASSIGN_OR_RETURN(h.descr, ParseString("a string for 'descr' (structured dtypes are "
                                              "not supported)"));
      } else if (key == "fortran_order") {
        if (seen_order) return Error("duplicate key 'fortran_order'");
        seen_order = true;
        ASSIGN_OR_RETURN(h.fortran_order, ParseBool());
      } else if (key == "shape") {
        if (seen_shape) return Error("duplicate key 'shape'");
        seen_shape = true;
        ASSIGN_OR_RETURN(h.shape, ParseShape());
      } else {
        return Error("unexpected key '" + key + "'");
      }
      SkipSpace();
      if (Consume(',')) {
        SkipSpace();
      } else if (Peek() != '}') {
        return Error("expected ',' or '}'");
      }
    }
    // numpy pads the header with spaces and ends it with '\n'.
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' ||
                                s_[pos_] == '\r')) {
      ++pos_;
    }
    if (pos_ != s_.size()) return Error("unexpected text after the header dict");
    if (!seen_descr || !seen_order || !seen_shape) {
      return Error("the header dict must have 'descr', 'fortran_order' and 'shape'");
    }
    return h;
  }

 private:
  char Peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  bool Consume(char c) {
    if (pos_ >= s_.size() || s_[pos_] != c) return false;
    ++pos_;
    return true;
  }
  void SkipSpace() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t')) ++pos_;
  }
  Status Error(const std::string& what) const {
    return BadInputError(Where(where_) + "bad npy header at byte " + std::to_string(pos_) +
                         " of the header dict: " + what +
                         "; the file is not a valid .npy (re-save it with numpy.save)");
  }

  // Only plain printable ASCII without escapes: every key and descr numpy writes fits that.
  StatusOr<std::string> ParseString(const std::string& expected) {
    char q = Peek();
    if (q != '\'' && q != '"') return Error("expected " + expected);
    ++pos_;
    std::string out;
    while (pos_ < s_.size() && s_[pos_] != q) {
      char c = s_[pos_];
      if (c == '\\' || c < 0x20 || c > 0x7e) return Error("unsupported character in a string");
      out += c;
      ++pos_;
    }
    if (!Consume(q)) return Error("unterminated string");
    return out;
  }

  StatusOr<bool> ParseBool() {
    if (s_.substr(pos_, 4) == "True") return pos_ += 4, true;
    if (s_.substr(pos_, 5) == "False") return pos_ += 5, false;
    return Error("expected True or False for 'fortran_order'");
  }

  StatusOr<std::vector<int64_t>> ParseShape() {
    std::vector<int64_t> shape;
    if (!Consume('(')) return Error("expected a tuple for 'shape'");
    SkipSpace();
    bool trailing_comma = false;
    while (!Consume(')')) {
      size_t start = pos_;
      int64_t v = 0;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, s_[pos_] - '0', &v)) {
          return Error("shape dimension does not fit in 64 bits");
        }
        ++pos_;
      }
      if (pos_ == start) return Error("expected a non-negative integer in 'shape'");
      Consume('L');  // Python 2 numpy wrote longs as "3L".
      shape.push_back(v);
      SkipSpace();
      trailing_comma = Consume(',');
      SkipSpace();
      if (!trailing_comma && Peek() != ')') return Error("expected ',' or ')' in 'shape'");
    }
    // "(3)" is the integer 3 in Python, not a tuple; numpy always writes "(3,)".
    if (shape.size() == 1 && !trailing_comma) return Error("one-element shape needs a ','");
    return shape;
  }

  std::string_view s_;
  std::string_view where_;
  size_t pos_ = 0;
};

StatusOr<DType> DTypeFromDescr(const std::string& descr, std::string_view where) {
  if (!descr.empty() && descr[0] == '>' && descr != ">i1" && descr != ">u1" && descr != ">b1") {
    return BadInputError(Where(where) + "big-endian npy descr '" + descr +
                         "' is not supported; save with arr.astype(arr.dtype.newbyteorder('<'))");
  }
  struct Entry {
    const char* descr;
    DType dtype;
  };
  static constexpr Entry kTable[] = {
      {"<f4", DType::kF32}, {"<f2", DType::kF16}, {"<f8", DType::kF64}, {"<i8", DType::kI64},
      {"<i4", DType::kI32}, {"|i1", DType::kI8},  {"<i1", DType::kI8},  {">i1", DType::kI8},
      {"|u1", DType::kU8},  {"<u1", DType::kU8},  {">u1", DType::kU8},  {"|b1", DType::kBool},
      {"<b1", DType::kBool}, {">b1", DType::kBool}, {"<i2", DType::kI16}, {"<u2", DType::kU16},
      {"<u4", DType::kU32},  {"<u8", DType::kU64},
  };
  for (const Entry& e : kTable) {
    if (descr == e.descr) return e.dtype;
  }
  return BadInputError(Where(where) + "unsupported npy dtype descr '" + descr +
                       "'; supported: <f4 <f2 <f8 <i8 <i4 <i2 |i1 <u8 <u4 <u2 |u1 |b1 (convert with "
                       "arr.astype(np.float32) or similar)");
}

const char* DescrFor(DType t) {
  switch (t) {
    case DType::kF32: return "<f4";
    case DType::kBF16: return "<f4";  // widened on write
    case DType::kF16: return "<f2";
    case DType::kF64: return "<f8";
    case DType::kI64: return "<i8";
    case DType::kI32: return "<i4";
    case DType::kI8: return "|i1";
    case DType::kU8: return "|u1";
    case DType::kBool: return "|b1";
    case DType::kI16: return "<i2";
    case DType::kU16: return "<u2";
    case DType::kU32: return "<u4";
    case DType::kU64: return "<u8";
  }
  return "?";
}

uint32_t LoadLE32(const uint8_t* p) { return p[0] | p[1] << 8 | p[2] << 16 | uint32_t{p[3]} << 24; }

// ---- files ------------------------------------------------------------------------------

StatusOr<std::vector<uint8_t>> ReadWholeFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError(errno, "open " + path);
  std::vector<uint8_t> bytes;
  struct stat st;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
    bytes.reserve(static_cast<size_t>(st.st_size));
  }
  // Read to EOF rather than trusting st_size: the file may change, or be a pipe.
  uint8_t buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return ErrnoError(err, "read " + path);
    }
    if (n == 0) break;
    bytes.insert(bytes.end(), buf, buf + n);
  }
  ::close(fd);
  return bytes;
}

Status WriteWholeFile(const std::string& path, const std::string& header,
                      const std::vector<uint8_t>& body) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError(errno, "open " + path + " for writing");
  auto write_all = [&](const uint8_t* p, size_t n) -> Status {
    while (n > 0) {
      ssize_t w = ::write(fd, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return ErrnoError(errno, "write " + path);
      p += w;
      n -= static_cast<size_t>(w);
    }
    return OkStatus();
  };
  Status s = write_all(reinterpret_cast<const uint8_t*>(header.data()), header.size());
  if (s.ok()) s = write_all(body.data(), body.size());
  if (::close(fd) != 0 && s.ok()) s = ErrnoError(errno, "close " + path);
  return s;
}

template <typename T>
void StoreAs(HostTensor& t, int64_t i, T v) {
  std::memcpy(t.data.data() + i * sizeof(T), &v, sizeof(T));
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

// ---- npy --------------------------------------------------------------------------------

// np.save writes a transposed (Fortran-contiguous) array column-major; reorder it to the
// row-major layout everything else uses.
static std::vector<uint8_t> ColumnMajorToRowMajor(const HostTensor& t) {
  const size_t esize = static_cast<size_t>(DTypeSize(t.dtype));
  const size_t rank = t.shape.size();
  std::vector<uint8_t> out(t.data.size());
  std::vector<int64_t> idx(rank, 0);
  const size_t count = esize ? t.data.size() / esize : 0;
  for (size_t row_major = 0; row_major < count; ++row_major) {
    size_t col_major = 0, stride = 1;
    for (size_t d = 0; d < rank; ++d) {
      col_major += static_cast<size_t>(idx[d]) * stride;
      stride *= static_cast<size_t>(t.shape[d]);
    }
    std::memcpy(&out[row_major * esize], &t.data[col_major * esize], esize);
    for (size_t d = rank; d-- > 0;) {
      if (++idx[d] < t.shape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

StatusOr<HostTensor> ParseNpy(const uint8_t* data, size_t size, std::string_view where) {
  const std::string fix = "; re-save it with numpy.save";
  if (size < 10) {
    return BadInputError(Where(where) + "truncated npy: " + std::to_string(size) +
                         " bytes, need at least 10 for magic, version and header length" + fix);
  }
  if (std::memcmp(data, kNpyMagic, kNpyMagicLen) != 0) {
    return BadInputError(Where(where) + "not an npy file (bad magic, expected \\x93NUMPY)" + fix);
  }
  uint8_t major = data[6], minor = data[7];
  if ((major != 1 && major != 2 && major != 3) || minor != 0) {
    return BadInputError(Where(where) + "unsupported npy version " + std::to_string(major) + "." +
                         std::to_string(minor) + " (this reader knows 1.0, 2.0, 3.0)" + fix);
  }
  size_t header_start = major == 1 ? 10 : 12;
  if (size < header_start) {
    return BadInputError(Where(where) + "truncated npy: " + std::to_string(size) +
                         " bytes, the version " + std::to_string(major) +
                         ".0 preamble needs 12" + fix);
  }
  size_t header_len = major == 1 ? size_t{data[8]} | size_t{data[9]} << 8 : LoadLE32(data + 8);
  if (header_len > size - header_start) {
    return BadInputError(Where(where) + "npy header length " + std::to_string(header_len) +
                         " runs past the end of the file (" + std::to_string(size) +
                         " bytes); the file is truncated" + fix);
  }
  std::string_view header_text(reinterpret_cast<const char*>(data) + header_start, header_len);
  ASSIGN_OR_RETURN(NpyHeader header, NpyHeaderParser(header_text, where).Parse());
  HostTensor t;
  ASSIGN_OR_RETURN(t.dtype, DTypeFromDescr(header.descr, where));
  t.shape = std::move(header.shape);
  ASSIGN_OR_RETURN(int64_t bytes, ValidatedByteSize(t.dtype, t.shape, where));
  size_t data_start = header_start + header_len;
  size_t have = size - data_start;
  if (have != static_cast<uint64_t>(bytes)) {
    return BadInputError(Where(where) + "npy data is " + std::to_string(have) +
                         " bytes but shape " + ShapeString(t.shape) + " of " +
                         std::string(DTypeName(t.dtype)) + " needs exactly " +
                         std::to_string(bytes) + " bytes (" +
                         (have < static_cast<uint64_t>(bytes) ? "truncated" : "trailing bytes") +
                         ")" + fix);
  }
  t.data.assign(data + data_start, data + size);
  if (header.fortran_order && t.shape.size() > 1) t.data = ColumnMajorToRowMajor(t);
  return t;
}

StatusOr<HostTensor> ReadNpy(const std::string& path) {
  ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, ReadWholeFile(path));
  return ParseNpy(bytes.data(), bytes.size(), path);
}

Status WriteNpy(const std::string& path, const HostTensor& t) {
  auto bytes = CheckedByteSize(t.dtype, t.shape);
  if (!bytes || static_cast<uint64_t>(*bytes) != t.data.size()) {
    return InternalError("WriteNpy " + path + ": tensor holds " + std::to_string(t.data.size()) +
                         " bytes, which does not match shape " + ShapeString(t.shape) + " of " +
                         std::string(DTypeName(t.dtype)));
  }
  // Same text numpy 1.24 writes, including the spare spaces it leaves so that the first
  // dimension can grow in place (GROWTH_AXIS_MAX_DIGITS = 21).
  std::string dict = std::string("{'descr': '") + DescrFor(t.dtype) +
                     "', 'fortran_order': False, 'shape': " + ShapeString(t.shape) + ", }";
  if (!t.shape.empty()) {
    size_t digits = std::to_string(t.shape[0]).size();
    if (digits < 21) dict.append(21 - digits, ' ');
  }
  // numpy's padding is 1..64 spaces (never 0) before the final '\n'.
  auto padding = [&](size_t preamble) { return 64 - (preamble + dict.size() + 1) % 64; };
  size_t preamble = 10;
  if (dict.size() + 1 + padding(10) > 65535) preamble = 12;  // 2.0 has a 4-byte length
  dict.append(padding(preamble), ' ');
  dict += '\n';
  uint32_t hlen = static_cast<uint32_t>(dict.size());
  std::string header(kNpyMagic, kNpyMagicLen);
  header += static_cast<char>(preamble == 10 ? 1 : 2);
  header += '\0';
  for (size_t i = 0; i < preamble - 8; ++i) header += static_cast<char>((hlen >> (8 * i)) & 0xff);
  header += dict;
  if (t.dtype != DType::kBF16) return WriteWholeFile(path, header, t.data);
  std::vector<uint8_t> widened(t.data.size() * 2);
  for (size_t i = 0; i < t.data.size() / 2; ++i) {
    float f = BF16ToFloat(static_cast<uint16_t>(t.data[2 * i] | t.data[2 * i + 1] << 8));
    std::memcpy(widened.data() + 4 * i, &f, 4);
  }
  return WriteWholeFile(path, header, widened);
}

// ---- ONNX TensorProto ---------------------------------------------------------------------

StatusOr<HostTensor> ParseTensorProto(const uint8_t* data, size_t size, std::string_view where) {
  // protobuf's own limit is 2 GiB per message; beyond it ParseFromArray cannot even be called.
  if (size > static_cast<size_t>(INT_MAX)) {
    return BadInputError(Where(where) + "TensorProto of " + std::to_string(size) +
                         " bytes exceeds the 2 GiB protobuf limit; save it as .npy instead");
  }
  onnx::TensorProto proto;
  if (!proto.ParseFromArray(data, static_cast<int>(size))) {
    return BadInputError(Where(where) + "not a valid ONNX TensorProto (protobuf parse failed); "
                         "write it with onnx.numpy_helper.from_array(...).SerializeToString()");
  }
  if (proto.data_location() == onnx::TensorProto_DataLocation_EXTERNAL ||
      proto.external_data_size() > 0) {
    return BadInputError(Where(where) + "TensorProto uses external data, which is not supported "
                         "for inputs; save the tensor as .npy or with its data inline");
  }
  if (proto.has_segment()) {
    return BadInputError(Where(where) + "segmented TensorProto is not supported; save the whole "
                         "tensor as one message or as .npy");
  }
  HostTensor t;
  using P = onnx::TensorProto;
  switch (proto.data_type()) {
    case P::FLOAT: t.dtype = DType::kF32; break;
    case P::FLOAT16: t.dtype = DType::kF16; break;
    case P::BFLOAT16: t.dtype = DType::kBF16; break;
    case P::DOUBLE: t.dtype = DType::kF64; break;
    case P::INT64: t.dtype = DType::kI64; break;
    case P::INT32: t.dtype = DType::kI32; break;
    case P::INT8: t.dtype = DType::kI8; break;
    case P::UINT8: t.dtype = DType::kU8; break;
    case P::BOOL: t.dtype = DType::kBool; break;
    case P::INT16: t.dtype = DType::kI16; break;
    case P::UINT16: t.dtype = DType::kU16; break;
    case P::UINT32: t.dtype = DType::kU32; break;
    case P::UINT64: t.dtype = DType::kU64; break;
    default:
      return BadInputError(Where(where) + "TensorProto data_type " +
                           std::to_string(proto.data_type()) +
                           " is not supported; use float, float16, bfloat16, double, int64, "
                           "int32, int16, int8, uint64, uint32, uint16, uint8 or bool");
  }
  t.shape.assign(proto.dims().begin(), proto.dims().end());
  ASSIGN_OR_RETURN(int64_t bytes, ValidatedByteSize(t.dtype, t.shape, where));
  const int64_t count = bytes / DTypeSize(t.dtype);
  const int typed = proto.float_data_size() + proto.int32_data_size() +
                    proto.int64_data_size() + proto.double_data_size() +
                    proto.uint64_data_size() + proto.string_data_size();
  std::string desc = Where(where) + "TensorProto '" + proto.name() + "' ";
  if (proto.has_raw_data()) {
    if (typed > 0) {
      return BadInputError(desc + "sets both raw_data and a typed data field; keep only one");
    }
    if (proto.raw_data().size() != static_cast<uint64_t>(bytes)) {
      return BadInputError(desc + "raw_data is " + std::to_string(proto.raw_data().size()) +
                           " bytes but dims " + ShapeString(t.shape) + " of " +
                           std::string(DTypeName(t.dtype)) + " need " + std::to_string(bytes) +
                           "; the file is corrupt");
    }
    t.data.assign(proto.raw_data().begin(), proto.raw_data().end());
    return t;
  }
  auto count_error = [&](const char* field, int have) {
    return BadInputError(desc + "has " + std::to_string(have) + " " + field + " values but dims " +
                         ShapeString(t.shape) + " need " + std::to_string(count) +
                         "; the file is corrupt");
  };
  // Check the element count against the typed field before allocating: the dims are the
  // file's claim, the field's length is what is really there.
  int have = proto.int32_data_size();
  const char* field = "int32_data";
  switch (t.dtype) {
    case DType::kF32: have = proto.float_data_size(), field = "float_data"; break;
    case DType::kF64: have = proto.double_data_size(), field = "double_data"; break;
    case DType::kI64: have = proto.int64_data_size(), field = "int64_data"; break;
    case DType::kU32:
    case DType::kU64: have = proto.uint64_data_size(), field = "uint64_data"; break;
    default: break;  // every remaining type travels in int32_data, one value per element
  }
  if (have != count) return count_error(field, have);
  t.data.resize(static_cast<size_t>(bytes));
  switch (t.dtype) {
    case DType::kF32:
      if (count) std::memcpy(t.data.data(), proto.float_data().data(), bytes);
      return t;
    case DType::kF64:
      if (count) std::memcpy(t.data.data(), proto.double_data().data(), bytes);
      return t;
    case DType::kI64:
      if (count) std::memcpy(t.data.data(), proto.int64_data().data(), bytes);
      return t;
    case DType::kU64:
      if (count) std::memcpy(t.data.data(), proto.uint64_data().data(), bytes);
      return t;
    case DType::kU32:
      for (int64_t i = 0; i < count; ++i) {
        const uint64_t v = proto.uint64_data(static_cast<int>(i));
        if (v > UINT32_MAX) {
          return BadInputError(desc + "uint64_data[" + std::to_string(i) + "] = " +
                               std::to_string(v) + " is out of range for u32; the file is corrupt");
        }
        StoreAs(t, i, static_cast<uint32_t>(v));
      }
      return t;
    default: break;
  }
  int64_t lo = 0, hi = 0;
  switch (t.dtype) {
    case DType::kI32: lo = INT32_MIN, hi = INT32_MAX; break;
    case DType::kI8: lo = -128, hi = 127; break;
    case DType::kU8: lo = 0, hi = 255; break;
    case DType::kBool: lo = 0, hi = 1; break;
    case DType::kI16: lo = INT16_MIN, hi = INT16_MAX; break;
    default: lo = 0, hi = 0xffff; break;  // u16, and fp16/bf16 bit patterns
  }
  for (int64_t i = 0; i < count; ++i) {
    int32_t v = proto.int32_data(static_cast<int>(i));
    if (v < lo || v > hi) {
      return BadInputError(desc + "int32_data[" + std::to_string(i) + "] = " + std::to_string(v) +
                           " is out of range for " + std::string(DTypeName(t.dtype)) +
                           "; the file is corrupt");
    }
    switch (DTypeSize(t.dtype)) {
      case 4: StoreAs(t, i, v); break;
      case 2: StoreAs(t, i, static_cast<uint16_t>(v)); break;
      default: StoreAs(t, i, static_cast<uint8_t>(v)); break;
    }
  }
  return t;
}

StatusOr<HostTensor> ReadTensorProto(const std::string& path) {
  ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, ReadWholeFile(path));
  return ParseTensorProto(bytes.data(), bytes.size(), path);
}

// ---- --input -----------------------------------------------------------------------------

StatusOr<std::pair<std::string, HostTensor>> ParseInputArg(std::string_view arg) {
  size_t eq = arg.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return UsageError("--input \"" + std::string(arg) +
                      "\": expected NAME=@FILE.npy, NAME=@FILE.pb or NAME=DIMSxDTYPE=VALUES");
  }
  std::string name(arg.substr(0, eq));
  std::string_view value = arg.substr(eq + 1);
  const std::string ctx = "--input " + name;
  if (value.empty() || value[0] != '@') {
    auto t = ParseInlineTensor(value);
    if (!t.ok()) return t.status().Annotate(ctx);
    return std::make_pair(std::move(name), std::move(t).value());
  }
  std::string path(value.substr(1));
  if (path.empty()) return UsageError(ctx + ": empty file name after '@'");
  auto read = [&]() -> StatusOr<HostTensor> {
    if (EndsWith(path, ".npy")) return ReadNpy(path);
    if (EndsWith(path, ".pb")) return ReadTensorProto(path);
    ASSIGN_OR_RETURN(std::vector<uint8_t> b, ReadWholeFile(path));
    bool npy = b.size() >= kNpyMagicLen && std::memcmp(b.data(), kNpyMagic, kNpyMagicLen) == 0;
    return npy ? ParseNpy(b.data(), b.size(), path) : ParseTensorProto(b.data(), b.size(), path);
  };
  StatusOr<HostTensor> t = read();
  if (!t.ok()) return t.status().Annotate(ctx);
  return std::make_pair(std::move(name), std::move(t).value());
}

}  // namespace ts::runtime
