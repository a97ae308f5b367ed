#include "planfmt/writer.h"

#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <string_view>

#include "planfmt/format.h"
#include "planfmt/reader.h"

namespace ts::planfmt {
namespace {

// Appends little-endian fields. The first error sticks, so encoders read as straight-line code
// and the caller checks status() once.
class Encoder {
 public:
  void U8(uint8_t v) { out_.push_back(v); }
  void U16(uint16_t v) { Le(v, 2); }
  void U32(uint32_t v) { Le(v, 4); }
  void U64(uint64_t v) { Le(v, 8); }
  void I64(int64_t v) { U64(static_cast<uint64_t>(v)); }
  void F64(double v) { U64(std::bit_cast<uint64_t>(v)); }
  void Str(std::string_view s) {
    if (s.size() > kMaxStringBytes) {
      Fail("string of " + std::to_string(s.size()) + " bytes is over the format's limit of " +
           std::to_string(kMaxStringBytes));
      return;
    }
    U32(static_cast<uint32_t>(s.size()));
    out_.insert(out_.end(), s.begin(), s.end());
  }
  void Count(size_t n) {
    if (n > std::numeric_limits<uint32_t>::max()) {
      Fail("list of " + std::to_string(n) + " elements is over the format's u32 limit");
      return;
    }
    U32(static_cast<uint32_t>(n));
  }
  void Blob(const std::vector<uint8_t>& b) {
    U64(b.size());
    out_.insert(out_.end(), b.begin(), b.end());
  }
  void Fail(std::string what) {
    if (status_.ok()) status_ = InternalError(std::move(what));
  }

  const Status& status() const { return status_; }
  std::vector<uint8_t>& bytes() { return out_; }

 private:
  void Le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  std::vector<uint8_t> out_;
  Status status_;
};

void PutLe(uint8_t* p, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

void EncodeRef(Encoder& e, const TensorRef& r) {
  e.Str(r.name);
  e.U8(static_cast<uint8_t>(r.dtype));
  e.Count(r.shape.size());
  for (int64_t d : r.shape) e.I64(d);
  e.U64(r.offset);
  e.U64(r.bytes);
}

void EncodeRefs(Encoder& e, const std::vector<TensorRef>& refs) {
  e.Count(refs.size());
  for (const TensorRef& r : refs) EncodeRef(e, r);
}

void EncodeMetadata(Encoder& e, const Metadata& m) {
  e.Count(m.size());
  for (const auto& [k, v] : m) {
    e.Str(k);
    e.Str(v);
  }
}

void EncodeProgram(Encoder& e, const Program& p) {
  EncodeRefs(e, p.inputs);
  EncodeRefs(e, p.outputs);
  e.Count(p.steps.size());
  for (const Step& s : p.steps) {
    e.U8(static_cast<uint8_t>(s.kind));
    e.U16(static_cast<uint16_t>(s.builtin));
    e.U32(s.num_inputs);
    e.Str(s.node);
    e.Str(s.symbol);
    e.Count(s.iparams.size());
    for (int64_t v : s.iparams) e.I64(v);
    e.Count(s.fparams.size());
    for (double v : s.fparams) e.F64(v);
    e.Count(s.attrs.size());
    for (const auto& [name, value] : s.attrs) {
      e.Str(name);
      e.U8(static_cast<uint8_t>(value.index()));
      if (const auto* i = std::get_if<int64_t>(&value)) {
        e.I64(*i);
      } else if (const auto* f = std::get_if<double>(&value)) {
        e.F64(*f);
      } else if (const auto* str = std::get_if<std::string>(&value)) {
        e.Str(*str);
      } else if (const auto* is = std::get_if<std::vector<int64_t>>(&value)) {
        e.Count(is->size());
        for (int64_t v : *is) e.I64(v);
      } else {
        const auto& fs = std::get<std::vector<double>>(value);
        e.Count(fs.size());
        for (double v : fs) e.F64(v);
      }
    }
    EncodeRefs(e, s.args);
  }
}

void EncodeMemory(Encoder& e, const MemoryPlan& m, const std::vector<WeightEntry>& weights) {
  e.U64(m.arena_bytes);
  e.U64(m.lower_bound_bytes);
  e.U32(m.peak_step);
  e.Str(m.peak_node);
  e.U64(m.io_chunk_bytes);
  e.U32(m.io_queue_depth);
  e.Count(m.buffers.size());
  for (const BufferInfo& b : m.buffers) {
    e.Str(b.name);
    e.U64(b.offset);
    e.U64(b.bytes);
    e.U32(b.first_step);
    e.U32(b.last_step);
  }
  e.Count(weights.size());
  for (const WeightEntry& w : weights) {
    e.Str(w.name);
    e.U64(w.file_offset);
    e.U64(w.bytes);
    e.U64(w.arena_offset);
    e.U8(w.streamed ? 1 : 0);
    e.U64(w.checksum);
  }
}

void EncodeKernels(Encoder& e, const KernelModule& k) {
  e.Str(k.format);
  e.Count(k.symbols.size());
  for (const std::string& s : k.symbols) e.Str(s);
  e.Blob(k.code);
}

using Sink = std::function<Status(const uint8_t*, size_t)>;

Status EmitZeros(const Sink& sink, uint64_t n) {
  static const uint8_t kZeros[kAlignment] = {};
  while (n > 0) {
    size_t k = n < kAlignment ? static_cast<size_t>(n) : kAlignment;
    RETURN_IF_ERROR(sink(kZeros, k));
    n -= k;
  }
  return OkStatus();
}

// One blob of the weights section at its offset; pieces ascend and do not overlap.
struct Piece {
  uint64_t file_offset = 0;
  WeightBlob blob;
};

// The weights section's bytes, in order: the used bytes, then (with_tail) the zero padding up
// to the next 4096 boundary. Shared by hashing, SerializeBundle and WriteBundle so that the
// three cannot disagree.
Status EmitWeights(const std::vector<Piece>& pieces, bool with_tail, const Sink& sink) {
  uint64_t pos = 0;
  for (const Piece& p : pieces) {
    RETURN_IF_ERROR(EmitZeros(sink, p.file_offset - pos));
    RETURN_IF_ERROR(sink(p.blob.data, p.blob.bytes));
    pos = p.file_offset + p.blob.bytes;
  }
  return with_tail ? EmitZeros(sink, AlignUp(pos) - pos) : OkStatus();
}

// Everything before the weight bytes: the header region and sections 1-4, with every
// checksum (the weights' included) filled in.
struct Head {
  std::vector<uint8_t> bytes;
  uint64_t file_size = 0;
  std::vector<Piece> pieces;  // the weights section's blobs
};

StatusOr<Head> BuildHead(PlanContents& c, const std::vector<WeightBlob>& blobs,
                         const std::vector<WeightBlob>& prefill_blobs) {
  if (blobs.size() != c.weights.size() ||
      prefill_blobs.size() != (c.prefill ? c.prefill->weights.size() : 0)) {
    return InternalError("SerializeBundle: " + std::to_string(blobs.size()) + " + " +
                         std::to_string(prefill_blobs.size()) + " weight blobs for " +
                         std::to_string(c.weights.size()) + " + " +
                         std::to_string(c.prefill ? c.prefill->weights.size() : 0) +
                         " weight entries; pass one blob per entry");
  }
  Head head;
  uint64_t weights_used = 0;
  // Lays `blob` after what is there; returns its offset.
  auto append = [&](const WeightBlob& blob, const std::string& name) -> StatusOr<uint64_t> {
    if (blob.data == nullptr && blob.bytes > 0) {
      return InternalError("SerializeBundle: weight '" + name + "' has no data pointer");
    }
    uint64_t start = AlignUp(weights_used);
    if (start < weights_used || __builtin_add_overflow(start, blob.bytes, &weights_used)) {
      return InternalError("SerializeBundle: weights section size overflows 64 bits");
    }
    head.pieces.push_back({start, blob});
    return start;
  };
  std::multimap<std::pair<uint64_t, uint64_t>, size_t> by_content;  // (bytes, checksum) -> piece
  for (size_t i = 0; i < blobs.size(); ++i) {
    ASSIGN_OR_RETURN(c.weights[i].file_offset, append(blobs[i], c.weights[i].name));
    c.weights[i].checksum = XXH3_64bits(blobs[i].data, blobs[i].bytes);
    c.weights[i].bytes = blobs[i].bytes;
    by_content.emplace(std::pair{blobs[i].bytes, c.weights[i].checksum}, head.pieces.size() - 1);
  }
  // The prefill's weights share the bytes of any weight with the same content, else follow.
  for (size_t i = 0; i < prefill_blobs.size(); ++i) {
    WeightEntry& w = c.prefill->weights[i];
    const WeightBlob& blob = prefill_blobs[i];
    w.bytes = blob.bytes;
    w.checksum = XXH3_64bits(blob.data, blob.bytes);
    bool shared = false;
    auto [lo, hi] = by_content.equal_range({w.bytes, w.checksum});
    for (auto it = lo; it != hi && !shared; ++it) {
      const Piece& p = head.pieces[it->second];
      if (blob.bytes == 0 || std::memcmp(p.blob.data, blob.data, blob.bytes) == 0) {
        w.file_offset = p.file_offset;
        shared = true;
      }
    }
    if (!shared) {
      ASSIGN_OR_RETURN(w.file_offset, append(blob, w.name));
      by_content.emplace(std::pair{w.bytes, w.checksum}, head.pieces.size() - 1);
    }
  }

  Encoder encoded[4];
  EncodeMetadata(encoded[0], c.metadata);
  EncodeProgram(encoded[1], c.program);
  EncodeMemory(encoded[2], c.memory, c.weights);
  EncodeKernels(encoded[3], c.kernels);
  for (Encoder& e : encoded) RETURN_IF_ERROR_CTX(e.status(), "SerializeBundle");
  // The sections before the weights, in file order: 1-4, then the tokenizer when there is one.
  std::vector<std::pair<uint32_t, std::vector<uint8_t>>> sec;
  for (uint32_t kind = 1; kind <= 4; ++kind) sec.emplace_back(kind, encoded[kind - 1].bytes());
  if (!c.tokenizer.empty()) {
    sec.emplace_back(static_cast<uint32_t>(SectionKind::kTokenizer),
                     std::vector<uint8_t>(c.tokenizer.begin(), c.tokenizer.end()));
  }
  if (c.prefill) {
    Encoder e;
    EncodeProgram(e, c.prefill->program);
    EncodeMemory(e, c.prefill->memory, c.prefill->weights);
    EncodeKernels(e, c.prefill->kernels);
    RETURN_IF_ERROR_CTX(e.status(), "SerializeBundle");
    sec.emplace_back(static_cast<uint32_t>(SectionKind::kPrefill), e.bytes());
  }

  WeightsHasher hasher;
  Status st = EmitWeights(head.pieces, /*with_tail=*/false, [&](const uint8_t* p, size_t n) {
    hasher.Update(p, n);
    return OkStatus();
  });
  RETURN_IF_ERROR(st);

  BundleLayout layout;
  layout.major = kMajorVersion;
  layout.minor = kMinorVersion;
  uint64_t offset = kHeaderRegionSize;
  for (size_t i = 0; i <= sec.size(); ++i) {
    SectionInfo s;
    s.kind = i < sec.size() ? sec[i].first : static_cast<uint32_t>(SectionKind::kWeights);
    const uint32_t kind = s.kind;
    s.offset = offset;
    if (kind == static_cast<uint32_t>(SectionKind::kWeights)) {
      s.used = weights_used;
      s.checksum = hasher.Digest();
    } else {
      const std::vector<uint8_t>& b = sec[i].second;
      s.used = b.size();
      s.checksum = XXH3_64bits(b.data(), b.size());
    }
    s.length = AlignUp(s.used);
    if (s.length < s.used || s.length / kAlignment > std::numeric_limits<uint32_t>::max() ||
        __builtin_add_overflow(offset, s.length, &offset)) {
      return InternalError(std::string("SerializeBundle: section '") +
                           std::string(SectionName(kind)) + "' is too large for the format");
    }
    layout.sections.push_back(s);
  }
  layout.weights = layout.sections.back();
  layout.file_size = offset;
  if (Status v = ValidateContents(c, layout); !v.ok()) {
    return InternalError("refusing to write an invalid bundle: " + v.message());
  }

  head.file_size = layout.file_size;
  std::vector<uint8_t>& out = head.bytes;
  out.reserve(layout.weights.offset);
  out.resize(kHeaderRegionSize, 0);
  const auto section_count = static_cast<uint32_t>(layout.sections.size());
  const uint32_t header_size = kPrefixSize + kSectionEntrySize * section_count;
  std::memcpy(out.data(), kMagic, sizeof(kMagic));
  PutLe(&out[kOffMajor], kMajorVersion, 2);
  PutLe(&out[kOffMinor], kMinorVersion, 2);
  PutLe(&out[kOffHeaderSize], header_size, 4);
  PutLe(&out[kOffFlags], 0, 8);
  PutLe(&out[kOffFileSize], layout.file_size, 8);
  PutLe(&out[kOffSectionCount], section_count, 4);
  for (size_t i = 0; i < layout.sections.size(); ++i) {
    const SectionInfo& s = layout.sections[i];
    uint8_t* ent = &out[kPrefixSize + i * kSectionEntrySize];
    PutLe(ent + kEntKind, s.kind, 4);
    PutLe(ent + kEntLengthPages, s.length / kAlignment, 4);
    PutLe(ent + kEntOffset, s.offset, 8);
    PutLe(ent + kEntUsed, s.used, 8);
    PutLe(ent + kEntChecksum, s.checksum, 8);
  }
  PutLe(&out[kOffHeaderChecksum], XXH3_64bits(out.data(), header_size), 8);
  for (const auto& [kind, b] : sec) {
    out.insert(out.end(), b.begin(), b.end());
    out.resize(AlignUp(out.size()), 0);
  }
  return head;
}

Status WriteAll(int fd, const uint8_t* p, size_t n, const std::string& path) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "writing " + path);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return OkStatus();
}

Status WriteAndSync(int fd, const std::string& tmp, const Head& head) {
  RETURN_IF_ERROR(WriteAll(fd, head.bytes.data(), head.bytes.size(), tmp));
  RETURN_IF_ERROR(EmitWeights(head.pieces, /*with_tail=*/true, [&](const uint8_t* p, size_t n) {
    return WriteAll(fd, p, n, tmp);
  }));
  if (::fsync(fd) != 0) return ErrnoError(errno, "syncing " + tmp);
  return OkStatus();
}

}  // namespace

StatusOr<std::vector<uint8_t>> SerializeBundle(PlanContents& contents,
                                               const std::vector<WeightBlob>& blobs,
                                               const std::vector<WeightBlob>& prefill_blobs) {
  ASSIGN_OR_RETURN(Head head, BuildHead(contents, blobs, prefill_blobs));
  std::vector<uint8_t> out = std::move(head.bytes);
  out.reserve(head.file_size);
  RETURN_IF_ERROR(EmitWeights(head.pieces, /*with_tail=*/true,
                              [&](const uint8_t* p, size_t n) {
                                out.insert(out.end(), p, p + n);
                                return OkStatus();
                              }));
  if (out.size() != head.file_size) {
    return InternalError("SerializeBundle: wrote " + std::to_string(out.size()) +
                         " bytes, header says " + std::to_string(head.file_size));
  }
  return out;
}

Status WriteBundle(const std::string& path, PlanContents& contents,
                   const std::vector<WeightBlob>& blobs, const std::vector<WeightBlob>& prefill_blobs) {
  ASSIGN_OR_RETURN(Head head, BuildHead(contents, blobs, prefill_blobs));
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError(errno, "creating " + tmp);
  Status st = WriteAndSync(fd, tmp, head);
  if (::close(fd) != 0 && st.ok()) st = ErrnoError(errno, "closing " + tmp);
  if (st.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    st = ErrnoError(errno, "renaming " + tmp + " to " + path);
  }
  if (!st.ok()) {
    ::unlink(tmp.c_str());
    return st;
  }
  // Make the rename itself durable; a failure here leaves a complete file, so it is reported
  // but nothing is removed.
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return ErrnoError(errno, "opening directory " + dir + " to sync " + path);
  if (::fsync(dfd) != 0) st = ErrnoError(errno, "syncing directory " + dir);
  ::close(dfd);
  return st;
}

}  // namespace ts::planfmt
