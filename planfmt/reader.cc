#include "planfmt/reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <map>
#include <string_view>
#include <unordered_set>

#include "planfmt/format.h"

namespace ts::planfmt {
namespace {

constexpr std::string_view kCorrupt = "the bundle is corrupt, recompile it";
constexpr std::string_view kCutShort =
    "the file was cut short in transfer, copy it again or recompile";
constexpr std::string_view kInconsistent =
    "the plan is inconsistent, recompile the bundle (a tsc bug if it persists)";

uint16_t Ld16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }
uint32_t Ld32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}
uint64_t Ld64(const uint8_t* p) { return Ld32(p) | static_cast<uint64_t>(Ld32(p + 4)) << 32; }

std::string Hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string HexBytes(const uint8_t* p, size_t n) {
  std::string s;
  char buf[4];
  for (size_t i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof(buf), i ? " %02x" : "%02x", p[i]);
    s += buf;
  }
  return s;
}

std::string Where(const SectionInfo& s) {
  return "section '" + std::string(SectionName(s.kind)) + "' (offset " +
         std::to_string(s.offset) + ")";
}

struct Prefix {
  uint16_t major = 0, minor = 0;
  uint32_t header_size = 0, count = 0;
  uint64_t file_size = 0;
};

// `n` is how many of the 8 magic bytes the file has.
Status CheckMagic(const uint8_t* p, size_t n) {
  if (std::memcmp(p, kMagic, n) == 0) return OkStatus();
  const std::string found = HexBytes(p, n);
  const std::string expected = HexBytes(kMagic, sizeof(kMagic));
  // 'TSP' survived but the byte before or after it did not: 7-bit stripping turns 0x89 into
  // 0x09, and text-mode line-ending conversion rewrites "\r\n".
  if (n >= 4 && std::memcmp(p + 1, "TSP", 3) == 0) {
    return BadInputError("bytes 0-7: magic mangled by a text-mode transfer (found " + found +
                         ", expected " + expected +
                         "); copy the file again in binary mode (scp, rsync, FTP 'binary')");
  }
  return BadInputError("bytes 0-7: not a TensorShunt bundle (found " + found + ", expected " +
                       expected + "); check the path, or compile the model with tsc");
}

// `p` holds min(file_size, 64) bytes.
Status ParsePrefix(const uint8_t* p, uint64_t actual_size, Prefix* out) {
  RETURN_IF_ERROR(CheckMagic(p, actual_size < sizeof(kMagic) ? actual_size : sizeof(kMagic)));
  if (actual_size < kPrefixSize) {
    return BadInputError("truncated: file has " + std::to_string(actual_size) +
                         " bytes, less than the 64-byte bundle prefix; " + std::string(kCutShort));
  }
  out->major = Ld16(p + kOffMajor);
  out->minor = Ld16(p + kOffMinor);
  if (out->major > kMajorVersion) {
    return BadInputError("bundle version " + std::to_string(out->major) + "." +
                         std::to_string(out->minor) +
                         " is newer than this tsr reads (" + std::to_string(kMajorVersion) + ".x); use a newer tsr");
  }
  if (out->major < kMajorVersion) {
    return BadInputError("bundle version " + std::to_string(out->major) + "." +
                         std::to_string(out->minor) +
                         " is older than this tsr reads (" + std::to_string(kMajorVersion) + ".x); recompile it with a current tsc");
  }
  out->header_size = Ld32(p + kOffHeaderSize);
  out->count = Ld32(p + kOffSectionCount);
  if (out->count > kMaxSections) {
    return BadInputError("header: section_count " + std::to_string(out->count) +
                         " is over the limit of " + std::to_string(kMaxSections) + "; " +
                         std::string(kCorrupt));
  }
  const uint64_t min_header = kPrefixSize + uint64_t{kSectionEntrySize} * out->count;
  if (out->header_size < min_header || out->header_size > kHeaderRegionSize) {
    return BadInputError("header: header_size " + std::to_string(out->header_size) +
                         " is outside [" + std::to_string(min_header) + ", 4096] for " +
                         std::to_string(out->count) + " sections; " + std::string(kCorrupt));
  }
  out->file_size = Ld64(p + kOffFileSize);
  if (actual_size < out->file_size) {
    return BadInputError("truncated: header says " + std::to_string(out->file_size) +
                         " bytes, file has " + std::to_string(actual_size) + "; " +
                         std::string(kCutShort));
  }
  if (actual_size > out->file_size) {
    return BadInputError("header says " + std::to_string(out->file_size) + " bytes, file has " +
                         std::to_string(actual_size) +
                         "; bytes were appended in transfer, copy it again or recompile");
  }
  if (out->file_size < kHeaderRegionSize) {
    return BadInputError("header: file_size " + std::to_string(out->file_size) +
                         " is smaller than the 4096-byte header region; " + std::string(kCorrupt));
  }
  return OkStatus();
}

// `region` holds the 4096-byte header region.
Status ParseHeader(const uint8_t* region, const Prefix& pre, BundleLayout* layout) {
  uint8_t copy[kHeaderRegionSize];
  std::memcpy(copy, region, pre.header_size);
  std::memset(copy + kOffHeaderChecksum, 0, 8);
  const uint64_t stored = Ld64(region + kOffHeaderChecksum);
  const uint64_t computed = XXH3_64bits(copy, pre.header_size);
  if (stored != computed) {
    return BadInputError("header (bytes 0-" + std::to_string(pre.header_size) +
                         "): checksum mismatch (stored " + Hex(stored) + ", computed " +
                         Hex(computed) + "); " + std::string(kCorrupt));
  }
  for (uint64_t i = pre.header_size; i < kHeaderRegionSize; ++i) {
    if (region[i] != 0) {
      return BadInputError("header padding: byte " + std::to_string(i) + " is " +
                           Hex(region[i]) + ", expected zero; " + std::string(kCorrupt));
    }
  }
  const uint64_t flags = Ld64(region + kOffFlags);
  if (flags != 0) {
    return BadInputError("header: unknown flags " + Hex(flags) +
                         "; the bundle needs a newer tsr");
  }

  layout->major = pre.major;
  layout->minor = pre.minor;
  layout->file_size = pre.file_size;
  layout->sections.clear();
  bool seen[kNumRequiredSections + 1] = {};
  bool seen_tokenizer = false, seen_prefill = false;
  uint64_t expected = kHeaderRegionSize;
  for (uint32_t i = 0; i < pre.count; ++i) {
    const uint8_t* ent = region + kPrefixSize + uint64_t{i} * kSectionEntrySize;
    SectionInfo s;
    s.kind = Ld32(ent + kEntKind);
    s.length = uint64_t{Ld32(ent + kEntLengthPages)} * kAlignment;
    s.offset = Ld64(ent + kEntOffset);
    s.used = Ld64(ent + kEntUsed);
    s.checksum = Ld64(ent + kEntChecksum);
    const std::string where = "section table entry " + std::to_string(i) + " ('" +
                              std::string(SectionName(s.kind)) + "')";
    if (s.offset % kAlignment != 0) {
      return BadInputError(where + ": offset " + std::to_string(s.offset) +
                           " is not a multiple of 4096; " + std::string(kCorrupt));
    }
    if (s.offset != expected) {
      return BadInputError(where + ": starts at " + std::to_string(s.offset) + ", expected " +
                           std::to_string(expected) +
                           " (sections lie back to back, without gaps or overlaps); " +
                           std::string(kCorrupt));
    }
    if (s.used > s.length) {
      return BadInputError(where + ": used " + std::to_string(s.used) +
                           " bytes is more than its length " + std::to_string(s.length) + "; " +
                           std::string(kCorrupt));
    }
    uint64_t end;
    if (__builtin_add_overflow(s.offset, s.length, &end) || end > pre.file_size) {
      return BadInputError(where + ": " + std::to_string(s.length) + " bytes at offset " +
                           std::to_string(s.offset) + " run past the end of the file (" +
                           std::to_string(pre.file_size) + " bytes); " + std::string(kCorrupt));
    }
    if (s.kind >= 1 && s.kind <= kNumRequiredSections) {
      if (seen[s.kind]) {
        return BadInputError(where + ": a second '" + std::string(SectionName(s.kind)) +
                             "' section; " + std::string(kCorrupt));
      }
      seen[s.kind] = true;
    }
    if (s.kind == static_cast<uint32_t>(SectionKind::kTokenizer) ||
        s.kind == static_cast<uint32_t>(SectionKind::kPrefill)) {
      bool& seen_it = s.kind == static_cast<uint32_t>(SectionKind::kTokenizer) ? seen_tokenizer : seen_prefill;
      if (seen_it) {
        return BadInputError(where + ": a second '" + std::string(SectionName(s.kind)) + "' section; " +
                             std::string(kCorrupt));
      }
      seen_it = true;
    }
    if (s.kind == static_cast<uint32_t>(SectionKind::kWeights)) {
      if (i + 1 != pre.count) {
        return BadInputError(where + ": the weights section must be the last one; " +
                             std::string(kCorrupt));
      }
      layout->weights = s;
    }
    expected = end;
    layout->sections.push_back(s);
  }
  for (uint32_t kind = 1; kind <= kNumRequiredSections; ++kind) {
    if (!seen[kind]) {
      return BadInputError("section table: no '" + std::string(SectionName(kind)) +
                           "' section; " + std::string(kCorrupt));
    }
  }
  if (expected != pre.file_size) {
    return BadInputError("section table: sections end at " + std::to_string(expected) +
                         " but the file has " + std::to_string(pre.file_size) + " bytes; " +
                         std::string(kCorrupt));
  }
  return OkStatus();
}

// `p` holds file bytes [first, first + n), which lie in section s's padding.
Status CheckZero(const uint8_t* p, uint64_t first, uint64_t n, const SectionInfo& s) {
  for (uint64_t i = 0; i < n; ++i) {
    if (p[i] != 0) {
      return BadInputError(Where(s) + ": padding byte at offset " + std::to_string(first + i) +
                           " is " + Hex(p[i]) + ", expected zero; " + std::string(kCorrupt));
    }
  }
  return OkStatus();
}

// `p` holds the section's `length` bytes.
Status VerifySection(const uint8_t* p, const SectionInfo& s) {
  RETURN_IF_ERROR(CheckZero(p + s.used, s.offset + s.used, s.length - s.used, s));
  const uint64_t computed = XXH3_64bits(p, s.used);
  if (computed != s.checksum) {
    return BadInputError(Where(s) + ": checksum mismatch (stored " + Hex(s.checksum) +
                         ", computed " + Hex(computed) + "); " + std::string(kCorrupt));
  }
  return OkStatus();
}

// Bounds-checked reads from one section's payload. Every count is checked against the bytes
// that remain (times the smallest encoding of one element) before anything is allocated.
class Cursor {
 public:
  Cursor(const uint8_t* p, const SectionInfo& s) : p_(p), s_(s) {}

  Status U8(uint8_t* v, const char* what) {
    RETURN_IF_ERROR(Need(1, what));
    *v = p_[pos_++];
    return OkStatus();
  }
  Status U16(uint16_t* v, const char* what) {
    RETURN_IF_ERROR(Need(2, what));
    *v = Ld16(p_ + pos_);
    pos_ += 2;
    return OkStatus();
  }
  Status U32(uint32_t* v, const char* what) {
    RETURN_IF_ERROR(Need(4, what));
    *v = Ld32(p_ + pos_);
    pos_ += 4;
    return OkStatus();
  }
  Status U64(uint64_t* v, const char* what) {
    RETURN_IF_ERROR(Need(8, what));
    *v = Ld64(p_ + pos_);
    pos_ += 8;
    return OkStatus();
  }
  Status I64(int64_t* v, const char* what) {
    uint64_t u;
    RETURN_IF_ERROR(U64(&u, what));
    *v = static_cast<int64_t>(u);
    return OkStatus();
  }
  Status F64(double* v, const char* what) {
    uint64_t u;
    RETURN_IF_ERROR(U64(&u, what));
    *v = std::bit_cast<double>(u);
    return OkStatus();
  }
  Status Str(std::string* s, const char* what) {
    uint32_t n;
    RETURN_IF_ERROR(U32(&n, what));
    if (n > kMaxStringBytes) {
      return Fail(std::string(what) + ": string length " + std::to_string(n) +
                  " is over the limit of " + std::to_string(kMaxStringBytes));
    }
    RETURN_IF_ERROR(Need(n, what));
    s->assign(reinterpret_cast<const char*>(p_ + pos_), n);
    pos_ += n;
    return OkStatus();
  }
  // A u32 element count; each element takes at least `min_bytes` bytes.
  Status Count(uint32_t* n, uint64_t min_bytes, const char* what) {
    RETURN_IF_ERROR(U32(n, what));
    if (uint64_t{*n} * min_bytes > Remaining()) {
      return Fail(std::string(what) + ": " + std::to_string(*n) + " elements cannot fit in the " +
                  std::to_string(Remaining()) + " bytes left");
    }
    return OkStatus();
  }
  Status Blob(std::vector<uint8_t>* b, const char* what) {
    uint64_t n;
    RETURN_IF_ERROR(U64(&n, what));
    RETURN_IF_ERROR(Need(n, what));
    b->assign(p_ + pos_, p_ + pos_ + n);
    pos_ += n;
    return OkStatus();
  }
  Status Finish() {
    if (Remaining() != 0) {
      return Fail(std::to_string(Remaining()) + " trailing bytes after the last field");
    }
    return OkStatus();
  }
  Status Fail(const std::string& what) const {
    return BadInputError(Where(s_) + ": at byte " + std::to_string(s_.offset + pos_) + ": " +
                         what + "; the bundle is corrupt or from an incompatible tsc, recompile it");
  }

 private:
  uint64_t Remaining() const { return s_.used - pos_; }
  Status Need(uint64_t n, const char* what) const {
    if (n > Remaining()) {
      return Fail(std::string(what) + ": needs " + std::to_string(n) + " bytes, " +
                  std::to_string(Remaining()) + " left in the section");
    }
    return OkStatus();
  }

  const uint8_t* p_;
  const SectionInfo& s_;
  uint64_t pos_ = 0;
};

constexpr uint64_t kMinRefBytes = 4 + 1 + 4 + 8 + 8;
constexpr uint64_t kMinStepBytes = 1 + 2 + 4 + 4 + 4 + 4 + 4 + 4 + 4;

Status ParseRef(Cursor& c, TensorRef* r) {
  RETURN_IF_ERROR(c.Str(&r->name, "tensor name"));
  uint8_t dtype;
  RETURN_IF_ERROR(c.U8(&dtype, "tensor dtype"));
  r->dtype = static_cast<DType>(dtype);
  uint32_t rank;
  RETURN_IF_ERROR(c.Count(&rank, 8, "tensor rank"));
  if (rank > kMaxRank) {
    return c.Fail("tensor '" + r->name + "': rank " + std::to_string(rank) +
                  " is over the limit of " + std::to_string(kMaxRank));
  }
  r->shape.resize(rank);
  for (int64_t& d : r->shape) {
    RETURN_IF_ERROR(c.I64(&d, "tensor dim"));
    if (d < 0) return c.Fail("tensor '" + r->name + "': negative dim " + std::to_string(d));
  }
  RETURN_IF_ERROR(c.U64(&r->offset, "tensor offset"));
  return c.U64(&r->bytes, "tensor bytes");
}

Status ParseRefs(Cursor& c, std::vector<TensorRef>* refs, const char* what) {
  uint32_t n;
  RETURN_IF_ERROR(c.Count(&n, kMinRefBytes, what));
  refs->resize(n);
  for (TensorRef& r : *refs) RETURN_IF_ERROR(ParseRef(c, &r));
  return OkStatus();
}

Status ParseMetadata(Cursor& c, Metadata* m) {
  uint32_t n;
  RETURN_IF_ERROR(c.Count(&n, 8, "metadata count"));
  m->resize(n);
  for (auto& [k, v] : *m) {
    RETURN_IF_ERROR(c.Str(&k, "metadata key"));
    RETURN_IF_ERROR(c.Str(&v, "metadata value"));
  }
  return c.Finish();
}

Status ParseProgram(Cursor& c, Program* p, bool finish = true) {
  RETURN_IF_ERROR(ParseRefs(c, &p->inputs, "input count"));
  RETURN_IF_ERROR(ParseRefs(c, &p->outputs, "output count"));
  uint32_t n;
  RETURN_IF_ERROR(c.Count(&n, kMinStepBytes, "step count"));
  p->steps.resize(n);
  for (Step& s : p->steps) {
    uint8_t kind;
    RETURN_IF_ERROR(c.U8(&kind, "step kind"));
    s.kind = static_cast<StepKind>(kind);
    uint16_t builtin;
    RETURN_IF_ERROR(c.U16(&builtin, "step builtin"));
    s.builtin = static_cast<Builtin>(builtin);
    RETURN_IF_ERROR(c.U32(&s.num_inputs, "step num_inputs"));
    RETURN_IF_ERROR(c.Str(&s.node, "step node"));
    RETURN_IF_ERROR(c.Str(&s.symbol, "step symbol"));
    uint32_t k;
    RETURN_IF_ERROR(c.Count(&k, 8, "step iparams count"));
    s.iparams.resize(k);
    for (int64_t& v : s.iparams) RETURN_IF_ERROR(c.I64(&v, "step iparam"));
    RETURN_IF_ERROR(c.Count(&k, 8, "step fparams count"));
    s.fparams.resize(k);
    for (double& v : s.fparams) RETURN_IF_ERROR(c.F64(&v, "step fparam"));
    RETURN_IF_ERROR(c.Count(&k, 6, "step attribute count"));
    std::string prev;
    for (uint32_t a = 0; a < k; ++a) {
      std::string name;
      RETURN_IF_ERROR(c.Str(&name, "attribute name"));
      if (a > 0 && name <= prev) {
        return BadInputError("step '" + s.node + "': attribute names are not strictly ascending");
      }
      uint8_t type;
      RETURN_IF_ERROR(c.U8(&type, "attribute type"));
      ir::AttrValue value;
      switch (type) {
        case 0: {
          int64_t v;
          RETURN_IF_ERROR(c.I64(&v, "attribute value"));
          value = v;
          break;
        }
        case 1: {
          double v;
          RETURN_IF_ERROR(c.F64(&v, "attribute value"));
          value = v;
          break;
        }
        case 2: {
          std::string v;
          RETURN_IF_ERROR(c.Str(&v, "attribute value"));
          value = std::move(v);
          break;
        }
        case 3: {
          uint32_t m;
          RETURN_IF_ERROR(c.Count(&m, 8, "attribute element count"));
          std::vector<int64_t> v(m);
          for (int64_t& x : v) RETURN_IF_ERROR(c.I64(&x, "attribute element"));
          value = std::move(v);
          break;
        }
        case 4: {
          uint32_t m;
          RETURN_IF_ERROR(c.Count(&m, 8, "attribute element count"));
          std::vector<double> v(m);
          for (double& x : v) RETURN_IF_ERROR(c.F64(&x, "attribute element"));
          value = std::move(v);
          break;
        }
        default:
          return BadInputError("step '" + s.node + "': attribute '" + name + "' has unknown type " +
                               std::to_string(type));
      }
      s.attrs.emplace(name, std::move(value));
      prev = std::move(name);
    }
    RETURN_IF_ERROR(ParseRefs(c, &s.args, "step arg count"));
  }
  return finish ? c.Finish() : OkStatus();
}

Status ParseMemory(Cursor& c, MemoryPlan* m, std::vector<WeightEntry>* weights, bool finish = true) {
  RETURN_IF_ERROR(c.U64(&m->arena_bytes, "arena_bytes"));
  RETURN_IF_ERROR(c.U64(&m->lower_bound_bytes, "lower_bound_bytes"));
  RETURN_IF_ERROR(c.U32(&m->peak_step, "peak_step"));
  RETURN_IF_ERROR(c.Str(&m->peak_node, "peak_node"));
  RETURN_IF_ERROR(c.U64(&m->io_chunk_bytes, "io_chunk_bytes"));
  RETURN_IF_ERROR(c.U32(&m->io_queue_depth, "io_queue_depth"));
  uint32_t n;
  RETURN_IF_ERROR(c.Count(&n, 4 + 8 + 8 + 4 + 4, "buffer count"));
  m->buffers.resize(n);
  for (BufferInfo& b : m->buffers) {
    RETURN_IF_ERROR(c.Str(&b.name, "buffer name"));
    RETURN_IF_ERROR(c.U64(&b.offset, "buffer offset"));
    RETURN_IF_ERROR(c.U64(&b.bytes, "buffer bytes"));
    RETURN_IF_ERROR(c.U32(&b.first_step, "buffer first_step"));
    RETURN_IF_ERROR(c.U32(&b.last_step, "buffer last_step"));
  }
  RETURN_IF_ERROR(c.Count(&n, 4 + 8 + 8 + 8 + 1 + 8, "weight count"));
  weights->resize(n);
  for (WeightEntry& w : *weights) {
    RETURN_IF_ERROR(c.Str(&w.name, "weight name"));
    RETURN_IF_ERROR(c.U64(&w.file_offset, "weight file_offset"));
    RETURN_IF_ERROR(c.U64(&w.bytes, "weight bytes"));
    RETURN_IF_ERROR(c.U64(&w.arena_offset, "weight arena_offset"));
    uint8_t streamed;
    RETURN_IF_ERROR(c.U8(&streamed, "weight streamed flag"));
    if (streamed > 1) return c.Fail("weight streamed flag is " + std::to_string(streamed) + ", not 0 or 1");
    w.streamed = streamed != 0;
    RETURN_IF_ERROR(c.U64(&w.checksum, "weight checksum"));
  }
  return finish ? c.Finish() : OkStatus();
}

Status ParseKernels(Cursor& c, KernelModule* k, bool finish = true) {
  RETURN_IF_ERROR(c.Str(&k->format, "kernel format"));
  uint32_t n;
  RETURN_IF_ERROR(c.Count(&n, 4, "symbol count"));
  k->symbols.resize(n);
  for (std::string& s : k->symbols) RETURN_IF_ERROR(c.Str(&s, "symbol"));
  RETURN_IF_ERROR(c.Blob(&k->code, "kernel code"));
  return finish ? c.Finish() : OkStatus();
}

// Verifies and parses every section but the weights (verified only with verify_weights).
// `base` holds the file's bytes from file offset `base_offset` up to at least the weights
// section (through its end when verify_weights).
Status ParseSections(const uint8_t* base, uint64_t base_offset, const BundleLayout& layout,
                     bool verify_weights, PlanContents* out) {
  for (const SectionInfo& s : layout.sections) {
    if (s.kind == static_cast<uint32_t>(SectionKind::kWeights) && !verify_weights) continue;
    RETURN_IF_ERROR(VerifySection(base + (s.offset - base_offset), s));
  }
  for (const SectionInfo& s : layout.sections) {
    Cursor c(base + (s.offset - base_offset), s);
    switch (static_cast<SectionKind>(s.kind)) {
      case SectionKind::kMetadata: RETURN_IF_ERROR(ParseMetadata(c, &out->metadata)); break;
      case SectionKind::kProgram: RETURN_IF_ERROR(ParseProgram(c, &out->program)); break;
      case SectionKind::kMemoryPlan:
        RETURN_IF_ERROR(ParseMemory(c, &out->memory, &out->weights));
        break;
      case SectionKind::kKernels: RETURN_IF_ERROR(ParseKernels(c, &out->kernels)); break;
      case SectionKind::kTokenizer:
        out->tokenizer.assign(reinterpret_cast<const char*>(base + (s.offset - base_offset)), s.used);
        break;
      case SectionKind::kPrefill: {
        SubPlan sp;
        RETURN_IF_ERROR(ParseProgram(c, &sp.program, /*finish=*/false));
        RETURN_IF_ERROR(ParseMemory(c, &sp.memory, &sp.weights, /*finish=*/false));
        RETURN_IF_ERROR(ParseKernels(c, &sp.kernels));
        out->prefill = std::move(sp);
        break;
      }
      default: break;  // weights are streamed by the runtime; unknown kinds are skipped
    }
  }
  return ValidateContents(*out, layout);
}

// Reads all `n` bytes at `offset` or fails.
Status PreadAll(int fd, uint8_t* p, uint64_t n, uint64_t offset) {
  while (n > 0) {
    ssize_t r = ::pread(fd, p, n, static_cast<off_t>(offset));
    if (r < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "reading at offset " + std::to_string(offset));
    }
    if (r == 0) {
      return BadInputError("unexpected end of file at offset " + std::to_string(offset) +
                           "; the file changed while it was read, copy it again");
    }
    p += r;
    n -= static_cast<uint64_t>(r);
    offset += static_cast<uint64_t>(r);
  }
  return OkStatus();
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

StatusOr<OpenedBundle> ReadBundleImpl(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoError(errno, "opening bundle");
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoError(errno, "stat of bundle");
  if (!S_ISREG(st.st_mode)) return BadInputError("not a regular file; pass a .tsplan file");
  const uint64_t size = static_cast<uint64_t>(st.st_size);

  uint8_t prefix[kPrefixSize] = {};
  RETURN_IF_ERROR(PreadAll(fd.get(), prefix, size < kPrefixSize ? size : kPrefixSize, 0));
  Prefix pre;
  RETURN_IF_ERROR(ParsePrefix(prefix, size, &pre));

  std::vector<uint8_t> region(kHeaderRegionSize);
  RETURN_IF_ERROR(PreadAll(fd.get(), region.data(), kHeaderRegionSize, 0));
  OpenedBundle b;
  RETURN_IF_ERROR(ParseHeader(region.data(), pre, &b.layout));

  // Everything between the header and the weights, in one read.
  const SectionInfo& w = b.layout.weights;
  std::vector<uint8_t> body(w.offset - kHeaderRegionSize);
  RETURN_IF_ERROR(PreadAll(fd.get(), body.data(), body.size(), kHeaderRegionSize));
  // The weights' zero padding lies in their last page; checking it costs one small read.
  if (w.used < w.length) {
    const uint64_t first = w.offset + (w.used & ~(kAlignment - 1));
    std::vector<uint8_t> tail(w.offset + w.length - first);
    RETURN_IF_ERROR(PreadAll(fd.get(), tail.data(), tail.size(), first));
    const uint64_t skip = w.offset + w.used - first;
    RETURN_IF_ERROR(CheckZero(tail.data() + skip, first + skip, tail.size() - skip, w));
  }
  RETURN_IF_ERROR(ParseSections(body.data(), kHeaderRegionSize, b.layout,
                                /*verify_weights=*/false, &b.contents));
  return b;
}

Status CheckRef(const TensorRef& r, uint64_t arena, const std::string& where) {
  const std::string at = where + " '" + r.name + "'";
  if (!IsValidDType(static_cast<uint8_t>(r.dtype))) {
    return BadInputError(at + ": unknown dtype " + std::to_string(static_cast<int>(r.dtype)) +
                         "; " + std::string(kInconsistent));
  }
  if (r.shape.size() > kMaxRank) {
    return BadInputError(at + ": rank " + std::to_string(r.shape.size()) + " is over " +
                         std::to_string(kMaxRank) + "; " + std::string(kInconsistent));
  }
  std::optional<int64_t> bytes = CheckedByteSize(r.dtype, r.shape);
  if (!bytes || static_cast<uint64_t>(*bytes) != r.bytes) {
    return BadInputError(at + ": " + std::to_string(r.bytes) + " bytes, but its " +
                         std::string(DTypeName(r.dtype)) + " shape needs " +
                         (bytes ? std::to_string(*bytes) : std::string("an overflowing count")) +
                         "; " + std::string(kInconsistent));
  }
  uint64_t end;
  if (__builtin_add_overflow(r.offset, r.bytes, &end) || end > arena) {
    return BadInputError(at + ": bytes [" + std::to_string(r.offset) + ", +" +
                         std::to_string(r.bytes) + ") run past the arena end " +
                         std::to_string(arena) + "; " + std::string(kInconsistent));
  }
  return OkStatus();
}

}  // namespace

// Streamed weights: exactly one load each, waited for only after it, and no step between the
// load and its first wait touches the bytes being written. Otherwise a crafted bundle could make
// tsr wait forever for a load nobody issued, or race the I/O thread on live data.
Status ValidateStreaming(const PlanContents& c) {
  const auto& steps = c.program.steps;
  std::vector<int64_t> load_at(c.weights.size(), -1), first_wait(c.weights.size(), -1);
  for (size_t i = 0; i < steps.size(); ++i) {
    const Step& s = steps[i];
    if (s.kind != StepKind::kLoad && s.kind != StepKind::kWait) continue;
    const size_t w = static_cast<size_t>(s.iparams[0]);  // range-checked above
    const std::string at = "program step " + std::to_string(i) + " ('" + s.node + "')";
    if (s.kind == StepKind::kLoad) {
      if (load_at[w] >= 0) {
        return BadInputError(at + ": weight " + std::to_string(w) + " is loaded twice; " +
                             std::string(kInconsistent));
      }
      load_at[w] = static_cast<int64_t>(i);
    } else if (load_at[w] < 0) {
      return BadInputError(at + ": waits for weight " + std::to_string(w) +
                           " before any step loads it; " + std::string(kInconsistent));
    } else if (first_wait[w] < 0) {
      first_wait[w] = static_cast<int64_t>(i);
    }
  }
  for (size_t w = 0; w < c.weights.size(); ++w) {
    const WeightEntry& weight = c.weights[w];
    if (!weight.streamed) continue;
    if (load_at[w] < 0 || first_wait[w] < 0) {
      return BadInputError("weight " + std::to_string(w) + " '" + weight.name +
                           "' is streamed but never loaded and waited for; " +
                           std::string(kInconsistent));
    }
    const uint64_t lo = weight.arena_offset, hi = weight.arena_offset + weight.bytes;
    for (int64_t i = load_at[w] + 1; i < first_wait[w]; ++i) {
      for (const TensorRef& r : steps[static_cast<size_t>(i)].args) {
        if (r.offset < hi && lo < r.offset + r.bytes && r.bytes > 0 && weight.bytes > 0) {
          return BadInputError("program step " + std::to_string(i) + " uses arena bytes of weight '" +
                               weight.name + "' while it is being loaded; " + std::string(kInconsistent));
        }
      }
    }
  }
  return OkStatus();
}

namespace {

// Spills: each place in the spill file holds one tensor size (two spills never overlap unless
// they start at the same byte with the same size), and every fill reads a place an earlier
// spill wrote, as many bytes as it wrote. So a crafted bundle cannot read the spill file where
// nothing was written, or read one spill through another.
Status ValidateSpills(const PlanContents& c) {
  std::map<int64_t, uint64_t> written;  // spill-file offset -> bytes
  const auto& steps = c.program.steps;
  for (size_t i = 0; i < steps.size(); ++i) {
    const Step& s = steps[i];
    if (s.kind == StepKind::kSpill) {
      // Offsets and sizes are below 2^50 (checked above): no overflow.
      const int64_t begin = s.iparams[0];
      const int64_t end = begin + static_cast<int64_t>(s.args[0].bytes);
      auto next = written.lower_bound(begin);
      const bool same = next != written.end() && next->first == begin && next->second == s.args[0].bytes;
      bool overlaps = next != written.end() && next->first < end && !same;
      if (next != written.begin()) {
        auto prev = std::prev(next);
        overlaps |= prev->first + static_cast<int64_t>(prev->second) > begin;
      }
      if (overlaps || (next != written.end() && next->first == begin && !same)) {
        return BadInputError("program step " + std::to_string(i) + " ('" + s.node + "'): spills " +
                             std::to_string(s.args[0].bytes) + " bytes at spill-file offset " +
                             std::to_string(begin) + ", over another spill's place; " +
                             std::string(kInconsistent));
      }
      written[begin] = s.args[0].bytes;
    } else if (s.kind == StepKind::kFill) {
      auto it = written.find(s.iparams[0]);
      if (it == written.end() || it->second != s.args[0].bytes) {
        return BadInputError("program step " + std::to_string(i) + " ('" + s.node +
                             "'): fills " + std::to_string(s.args[0].bytes) + " bytes from spill-file offset " +
                             std::to_string(s.iparams[0]) + " where no earlier step spilled as many; " +
                             std::string(kInconsistent));
      }
    }
  }
  return OkStatus();
}

}  // namespace

namespace {

// One program's checks; `ascending`: its weights lie in file order (the main program's do; a
// prefill's share the main program's bytes and need not).
Status ValidateProgram(const PlanContents& c, const BundleLayout& layout, bool ascending) {
  const uint64_t arena = c.memory.arena_bytes;
  // Far above any real plan, far below 64-bit overflow when the runtime rounds and adds.
  if (arena > kMaxArenaBytes) {
    return BadInputError("memory plan: arena_bytes " + std::to_string(arena) +
                         " is over the 2^50-byte limit; " + std::string(kInconsistent));
  }
  if (c.memory.io_chunk_bytes > kMaxIoChunkBytes || c.memory.io_queue_depth > kMaxIoQueueDepth) {
    return BadInputError("memory plan: I/O staging of " + std::to_string(c.memory.io_queue_depth) +
                         " x " + std::to_string(c.memory.io_chunk_bytes) +
                         " bytes is over the limits (64 x 64 MiB); " + std::string(kInconsistent));
  }
  const Program& p = c.program;
  for (size_t i = 0; i < p.inputs.size(); ++i) {
    RETURN_IF_ERROR(CheckRef(p.inputs[i], arena, "program input " + std::to_string(i)));
  }
  for (size_t i = 0; i < p.outputs.size(); ++i) {
    RETURN_IF_ERROR(CheckRef(p.outputs[i], arena, "program output " + std::to_string(i)));
  }
  const std::unordered_set<std::string_view> symbols(c.kernels.symbols.begin(),
                                                     c.kernels.symbols.end());
  for (size_t i = 0; i < p.steps.size(); ++i) {
    const Step& s = p.steps[i];
    const std::string at = "program step " + std::to_string(i) + " ('" + s.node + "')";
    if (s.kind == StepKind::kBuiltin) {
      const auto b = static_cast<uint16_t>(s.builtin);
      if (b == 0 || b > kMaxBuiltin) {
        return BadInputError(at + ": builtin " + std::to_string(b) + " is not in 1.." +
                             std::to_string(kMaxBuiltin) +
                             "; the bundle needs a newer tsr, or recompile it");
      }
    } else if (s.kind == StepKind::kJitKernel) {
      if (!symbols.contains(s.symbol)) {
        return BadInputError(at + ": kernel symbol '" + s.symbol +
                             "' is not in the kernels section; " + std::string(kInconsistent));
      }
    } else if (s.kind == StepKind::kOp) {
      // Which ops exist and what their attributes mean is the runtime's op library's to check
      // (runtime/ops): the format only needs a name.
      if (s.symbol.empty()) {
        return BadInputError(at + ": an op step names no op; " + std::string(kInconsistent));
      }
    } else if (s.kind == StepKind::kSpill || s.kind == StepKind::kFill) {
      if (s.iparams.size() != 1 || s.iparams[0] < 0 || s.iparams[0] % 4096 != 0 ||
          static_cast<uint64_t>(s.iparams[0]) > kMaxArenaBytes || s.args.size() != 1 ||
          s.num_inputs != (s.kind == StepKind::kSpill ? 1u : 0u)) {
        return BadInputError(at + ": a spill or fill step must name one tensor and a 4096-aligned "
                             "spill-file offset below 2^50; " + std::string(kInconsistent));
      }
    } else if (s.kind == StepKind::kLoad || s.kind == StepKind::kWait) {
      if (s.iparams.size() != 1 || s.iparams[0] < 0 ||
          static_cast<uint64_t>(s.iparams[0]) >= c.weights.size() ||
          !c.weights[static_cast<size_t>(s.iparams[0])].streamed) {
        return BadInputError(at + ": a load or wait step must name one streamed weight; " +
                             std::string(kInconsistent));
      }
    } else {
      return BadInputError(at + ": unknown step kind " +
                           std::to_string(static_cast<int>(s.kind)) +
                           "; the bundle needs a newer tsr, or recompile it");
    }
    if (s.num_inputs > s.args.size()) {
      return BadInputError(at + ": num_inputs " + std::to_string(s.num_inputs) + " exceeds its " +
                           std::to_string(s.args.size()) + " args; " + std::string(kInconsistent));
    }
    for (size_t a = 0; a < s.args.size(); ++a) {
      RETURN_IF_ERROR(CheckRef(s.args[a], arena, at + ": arg " + std::to_string(a)));
    }
  }

  const MemoryPlan& m = c.memory;
  if (!p.steps.empty() && m.peak_step >= p.steps.size()) {
    return BadInputError("memory plan: peak_step " + std::to_string(m.peak_step) +
                         " is past the last of " + std::to_string(p.steps.size()) + " steps; " +
                         std::string(kInconsistent));
  }
  for (const BufferInfo& b : m.buffers) {
    uint64_t end;
    if (__builtin_add_overflow(b.offset, b.bytes, &end) || end > arena) {
      return BadInputError("memory plan: buffer '" + b.name + "' bytes [" +
                           std::to_string(b.offset) + ", +" + std::to_string(b.bytes) +
                           ") run past the arena end " + std::to_string(arena) + "; " +
                           std::string(kInconsistent));
    }
  }

  RETURN_IF_ERROR(ValidateSpills(c));
  // Staging is needed only when there are weight bytes to read (a plan may hold only empty
  // constants).
  bool any_bytes = false;
  for (const WeightEntry& w : c.weights) any_bytes |= w.bytes > 0;
  if (!any_bytes) return ValidateStreaming(c);
  if (m.io_chunk_bytes == 0 || m.io_chunk_bytes % kAlignment != 0 ||
      m.io_chunk_bytes > kMaxIoChunkBytes) {
    return BadInputError("memory plan: io_chunk_bytes " + std::to_string(m.io_chunk_bytes) +
                         " must be a nonzero multiple of 4096 of at most 64 MiB; " +
                         std::string(kInconsistent));
  }
  if (m.io_queue_depth < 1 || m.io_queue_depth > kMaxIoQueueDepth) {
    return BadInputError("memory plan: io_queue_depth " + std::to_string(m.io_queue_depth) +
                         " is outside 1..64; " + std::string(kInconsistent));
  }
  uint64_t prev_end = 0;
  for (size_t i = 0; i < c.weights.size(); ++i) {
    const WeightEntry& w = c.weights[i];
    const std::string at = "weight " + std::to_string(i) + " '" + w.name + "'";
    if (w.file_offset % kAlignment != 0) {
      return BadInputError(at + ": file_offset " + std::to_string(w.file_offset) +
                           " is not a multiple of 4096; " + std::string(kInconsistent));
    }
    if (ascending && w.file_offset < prev_end) {
      return BadInputError(at + ": file_offset " + std::to_string(w.file_offset) +
                           " overlaps the previous weight, which ends at " +
                           std::to_string(prev_end) + " (weights must ascend); " +
                           std::string(kInconsistent));
    }
    uint64_t end;
    if (__builtin_add_overflow(w.file_offset, w.bytes, &end) || end > layout.weights.used) {
      return BadInputError(at + ": bytes [" + std::to_string(w.file_offset) + ", +" +
                           std::to_string(w.bytes) + ") run past the weights section's " +
                           std::to_string(layout.weights.used) + " bytes; " +
                           std::string(kInconsistent));
    }
    prev_end = end;
    if (__builtin_add_overflow(w.arena_offset, w.bytes, &end) || end > arena) {
      return BadInputError(at + ": arena bytes [" + std::to_string(w.arena_offset) + ", +" +
                           std::to_string(w.bytes) + ") run past the arena end " +
                           std::to_string(arena) + "; " + std::string(kInconsistent));
    }
  }
  return ValidateStreaming(c);
}

}  // namespace

Status ValidateContents(const PlanContents& c, const BundleLayout& layout) {
  RETURN_IF_ERROR(ValidateProgram(c, layout, /*ascending=*/true));
  if (!c.prefill) return OkStatus();
  // The prefill program, checked as a program of its own over the same weights section.
  PlanContents p;
  p.program = c.prefill->program;
  p.memory = c.prefill->memory;
  p.kernels = c.prefill->kernels;
  p.weights = c.prefill->weights;
  Status st = ValidateProgram(p, layout, /*ascending=*/false);
  if (!st.ok()) return BadInputError("prefill program: " + st.message());
  return OkStatus();
}

StatusOr<OpenedBundle> ParseBundle(const uint8_t* data, size_t size, bool verify_weights) {
  uint8_t prefix[kPrefixSize] = {};
  if (size > 0) std::memcpy(prefix, data, size < kPrefixSize ? size : kPrefixSize);
  Prefix pre;
  RETURN_IF_ERROR(ParsePrefix(prefix, size, &pre));
  OpenedBundle b;
  RETURN_IF_ERROR(ParseHeader(data, pre, &b.layout));
  RETURN_IF_ERROR(ParseSections(data, 0, b.layout, verify_weights, &b.contents));
  return b;
}

StatusOr<OpenedBundle> ReadBundle(const std::string& path) {
  StatusOr<OpenedBundle> b = ReadBundleImpl(path);
  if (!b.ok()) return b.status().Annotate(path);
  return b;
}

WeightsHasher::WeightsHasher() : state_(XXH3_createState()) {
  if (state_ != nullptr) XXH3_64bits_reset(static_cast<XXH3_state_t*>(state_));
}

WeightsHasher::~WeightsHasher() { XXH3_freeState(static_cast<XXH3_state_t*>(state_)); }

void WeightsHasher::Update(const void* p, size_t n) {
  if (state_ != nullptr) XXH3_64bits_update(static_cast<XXH3_state_t*>(state_), p, n);
}

// Without a state (allocation failed) the digest is 0, which no real data is expected to hash
// to, so the caller reports a mismatch rather than silently accepting the weights.
uint64_t WeightsHasher::Digest() const {
  return state_ ? XXH3_64bits_digest(static_cast<const XXH3_state_t*>(state_)) : 0;
}

}  // namespace ts::planfmt
