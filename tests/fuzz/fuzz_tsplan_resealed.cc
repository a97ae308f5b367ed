// libFuzzer target: the .tsplan section parsers and validator behind the checksums. The input's
// checksums are recomputed before parsing (where the table allows), so mutations of section
// payloads reach the decoders instead of stopping at "checksum mismatch".
#include <xxhash.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "planfmt/format.h"
#include "planfmt/reader.h"

namespace {

uint64_t Load(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = v << 8 | p[i];
  return v;
}

void Store(uint8_t* p, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ts::planfmt;
  std::vector<uint8_t> f(data, data + size);
  if (size >= kPrefixSize) {
    const uint64_t header_size = Load(&f[kOffHeaderSize], 4);
    const uint64_t count = Load(&f[kOffSectionCount], 4);
    if (count <= kMaxSections && kPrefixSize + count * kSectionEntrySize <= size) {
      for (uint64_t i = 0; i < count; ++i) {
        uint8_t* ent = &f[kPrefixSize + i * kSectionEntrySize];
        const uint64_t off = Load(ent + kEntOffset, 8), used = Load(ent + kEntUsed, 8);
        if (off <= size && used <= size - off) Store(ent + kEntChecksum, XXH3_64bits(&f[off], used), 8);
      }
    }
    if (header_size <= size && header_size >= kOffHeaderChecksum + 8) {
      Store(&f[kOffHeaderChecksum], 0, 8);
      Store(&f[kOffHeaderChecksum], XXH3_64bits(f.data(), header_size), 8);
    }
  }
  (void)ParseBundle(f.data(), f.size(), /*verify_weights=*/true).ok();
  return 0;
}
