// The .tsplan bundle, byte by byte. planfmt/reader.cc is the only code that parses these bytes
// and planfmt/writer.cc the only code that produces them; everyone else uses planfmt/plan.h.
//
// All integers are little-endian. Offsets are from the start of the file unless said otherwise.
//
// == Prefix: bytes [0, 64). Frozen across all versions, so any reader can name the version. ==
//   off size field
//     0    8 magic           89 'T' 'S' 'P' 0D 0A 1A 0A. The high byte catches 7-bit stripping,
//                            CR LF catches CRLF<->LF conversion, 1A stops DOS `type`.
//     8    2 major           1. A reader refuses a larger major: the layout may have changed.
//    10    2 minor           0. A reader accepts any minor of its major (additions only).
//    12    4 header_size     64 + 32 * section_count (+ any extension a newer minor appends),
//                            at most 4096. The header region [header_size, 4096) is zero.
//    16    8 flags           0. A set bit changes meaning, so a reader refuses bits it does not know.
//    24    8 file_size       total bytes in the file; catches truncation before anything else.
//    32    4 section_count   at most 64.
//    36    4 reserved        0 when written; ignored when read (still covered by the checksum).
//    40    8 header_checksum XXH3-64 of bytes [0, header_size) with these 8 bytes taken as zero.
//    48   16 reserved        0 when written; ignored when read (still covered by the checksum).
//
// == Section table: bytes [64, 64 + 32 * section_count), one 32-byte entry per section. ==
//   off size field
//     0    4 kind            SectionKind below; unknown kinds are skipped by size.
//     4    4 length_pages    padded length / 4096 (so a section is at most 16 TiB).
//     8    8 offset          multiple of 4096.
//    16    8 used            bytes of payload at the start of the section, <= padded length.
//    24    8 checksum        XXH3-64 of the `used` payload bytes.
//
// Sections lie back to back in table order: the first at 4096, each next one at the previous
// offset + padded length, the last ending at file_size. With the header checksum, the section
// checksums and the rule that every padding byte is zero, every byte of the file is covered:
// any single-byte change is detected. Each of kinds 1..5 appears exactly once, and the weights
// section is the last entry, so the runtime can stream it after reading everything else.
//
// == Encoding inside sections ==
//   u8/u16/u32/u64/i64  little-endian; f64 = IEEE-754 bits as u64
//   str                 u32 byte length, then the bytes (no terminator), at most kMaxStringBytes
//   vec<T>              u32 count, then the elements
//   blob                u64 byte length, then the bytes
//   TensorRef           str name, u8 dtype (ir/dtype.h values), u32 rank (<= 16),
//                       i64 dims[rank] (>= 0), u64 arena offset, u64 bytes
// A section's payload must be consumed exactly: trailing bytes are an error.
//
// 1 metadata     vec<{str key, str value}>
// 2 program      vec<TensorRef> inputs, vec<TensorRef> outputs, vec<Step> steps;
//                Step = u8 kind (1 JIT kernel, 2 builtin, 3 load weight, 4 wait for a load,
//                       5 op from the runtime's op library, 6 spill args[0] to the spill file at
//                       byte iparams[0], 7 fill args[0] back from there; 6 and 7 since 2.1),
//                       u16 builtin, u32 num_inputs,
//                       str node, str symbol, vec<i64> iparams, vec<f64> fparams,
//                       vec<Attr> attrs, vec<TensorRef> args
//                Attr = str name, u8 type (0 i64, 1 f64, 2 str, 3 vec<i64>, 4 vec<f64>), value;
//                       names strictly ascending
// 3 memory plan  u64 arena_bytes, u64 lower_bound_bytes, u32 peak_step, str peak_node,
//                u64 io_chunk_bytes, u32 io_queue_depth,
//                vec<{str name, u64 offset, u64 bytes, u32 first_step, u32 last_step}> buffers,
//                vec<{str name, u64 file_offset, u64 bytes, u64 arena_offset, u8 streamed,
//                     u64 checksum (XXH3-64 of the weight's bytes)}> weights
//                (the weight table lives here, not in section 5, so that everything but the
//                weight bytes is read before streaming starts)
// 4 kernels      str format, vec<str> symbols, blob code
// 5 weights      raw weight bytes; weight i at its file_offset (relative to the section,
//                a multiple of 4096), zero bytes between weights; used = end of the last weight
// 6 tokenizer    optional, at most once, before the weights (since 2.2): the checkpoint's
//                tokenizer.json, its bytes as they were (what `tsr generate --prompt` reads)
// 7 prefill      optional, at most once, before the weights (since 2.3): a second program over
//                the same weights section, encoded as sections 2, 3 and 4 one after the other
//                (program, memory plan with its own weight table, kernels). Its weights need not
//                ascend in file order: they share the bytes of the main program's weights where
//                those are the same and use bytes laid after them otherwise.
#ifndef TENSORSHUNT_PLANFMT_FORMAT_H_
#define TENSORSHUNT_PLANFMT_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ts::planfmt {

inline constexpr uint8_t kMagic[8] = {0x89, 'T', 'S', 'P', '\r', '\n', 0x1A, '\n'};
inline constexpr uint16_t kMajorVersion = 2;  // 2: steps carry attributes
inline constexpr uint16_t kMinorVersion = 3;  // 1: spill and fill steps; 2: tokenizer; 3: prefill

inline constexpr uint64_t kAlignment = 4096;
inline constexpr size_t kPrefixSize = 64;
inline constexpr size_t kSectionEntrySize = 32;
inline constexpr uint32_t kMaxSections = 64;
inline constexpr uint64_t kMaxArenaBytes = uint64_t{1} << 50;
inline constexpr uint64_t kHeaderRegionSize = 4096;  // prefix + table + zero padding

// Prefix field offsets.
inline constexpr size_t kOffMajor = 8;
inline constexpr size_t kOffMinor = 10;
inline constexpr size_t kOffHeaderSize = 12;
inline constexpr size_t kOffFlags = 16;
inline constexpr size_t kOffFileSize = 24;
inline constexpr size_t kOffSectionCount = 32;
inline constexpr size_t kOffHeaderChecksum = 40;

// Section entry field offsets.
inline constexpr size_t kEntKind = 0;
inline constexpr size_t kEntLengthPages = 4;
inline constexpr size_t kEntOffset = 8;
inline constexpr size_t kEntUsed = 16;
inline constexpr size_t kEntChecksum = 24;

enum class SectionKind : uint32_t {
  kMetadata = 1,
  kProgram = 2,
  kMemoryPlan = 3,
  kKernels = 4,
  kWeights = 5,
  kTokenizer = 6,  // optional
  kPrefill = 7,    // optional
};
inline constexpr uint32_t kNumRequiredSections = 5;

// Limits the reader enforces on untrusted bytes.
inline constexpr uint32_t kMaxStringBytes = 1u << 20;
inline constexpr uint32_t kMaxRank = 16;
inline constexpr uint64_t kMaxIoChunkBytes = 64ull << 20;
inline constexpr uint32_t kMaxIoQueueDepth = 64;

// Name used in messages; "unknown" for kinds this version does not define.
constexpr std::string_view SectionName(uint32_t kind) {
  switch (kind) {
    case 1: return "metadata";
    case 2: return "program";
    case 3: return "memory plan";
    case 4: return "kernels";
    case 5: return "weights";
    case 6: return "tokenizer";
    case 7: return "prefill";
  }
  return "unknown";
}

constexpr uint64_t AlignUp(uint64_t n) { return (n + kAlignment - 1) & ~(kAlignment - 1); }

}  // namespace ts::planfmt

#endif  // TENSORSHUNT_PLANFMT_FORMAT_H_
