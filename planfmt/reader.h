// Reading and validating .tsplan bundles (byte layout in planfmt/format.h).
//
// Validation runs in a fixed order and stops at the first failure:
//   size >= prefix -> magic -> version -> header_size/section_count -> file_size -> header
//   checksum -> header padding and flags -> section table (aligned, back to back, in bounds,
//   kinds) -> each section's padding and checksum -> parse each section -> ValidateContents.
// All arithmetic on untrusted values is overflow-checked and every count is checked against the
// bytes that remain before anything is allocated. Every failure is Code::kBadInput (an OS
// failure is Code::kIo) with a one-line "where: what; how to fix" message.
//
// Thread-safety: free functions are reentrant; a WeightsHasher is used by one thread at a time.
#ifndef TENSORSHUNT_PLANFMT_READER_H_
#define TENSORSHUNT_PLANFMT_READER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "ir/status.h"
#include "planfmt/plan.h"

namespace ts::planfmt {

// One section table entry, with lengths in bytes.
struct SectionInfo {
  uint32_t kind = 0;
  uint64_t offset = 0;  // from the start of the file
  uint64_t length = 0;  // padded, a multiple of 4096
  uint64_t used = 0;    // payload bytes at the start of the section
  uint64_t checksum = 0;

  bool operator==(const SectionInfo&) const = default;
};

struct BundleLayout {
  uint16_t major = 0, minor = 0;
  uint64_t file_size = 0;
  std::vector<SectionInfo> sections;  // in table (= file) order, unknown kinds included
  SectionInfo weights;                // the weights section, for the runtime to stream
};

struct OpenedBundle {
  PlanContents contents;
  BundleLayout layout;
};

// Reads and validates everything except the weight bytes, with one open and a few preads.
// The runtime checks layout.weights.checksum while it streams the weights (WeightsHasher).
// Messages start with `path`.
StatusOr<OpenedBundle> ReadBundle(const std::string& path);

// A whole bundle in memory. verify_weights=false skips the weights section's checksum and
// padding (for callers that verify them as they stream).
StatusOr<OpenedBundle> ParseBundle(const uint8_t* data, size_t size, bool verify_weights = true);

// Semantic checks of contents against the layout: tensor refs inside the arena and consistent
// with their dtype and shape, valid step kinds and builtins, kernel symbols that exist, weights
// aligned, ascending and inside both the weights section and the arena, sane I/O settings.
// Called by the two functions above and by the writer (which refuses to write a bad plan).
Status ValidateContents(const PlanContents& c, const BundleLayout& layout);

// Incremental XXH3-64: feed the weights section's used bytes in order, then compare Digest()
// with layout.weights.checksum.
class WeightsHasher {
 public:
  WeightsHasher();
  ~WeightsHasher();
  WeightsHasher(const WeightsHasher&) = delete;
  WeightsHasher& operator=(const WeightsHasher&) = delete;

  void Update(const void* p, size_t n);
  uint64_t Digest() const;

 private:
  void* state_;  // XXH3_state_t, kept out of this header so users need not see xxhash.h
};

}  // namespace ts::planfmt

#endif  // TENSORSHUNT_PLANFMT_READER_H_
