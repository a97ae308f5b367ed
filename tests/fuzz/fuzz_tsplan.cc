// libFuzzer target: the .tsplan reader and validator, weights checksum included.
#include <cstddef>
#include <cstdint>

#include "planfmt/reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)ts::planfmt::ParseBundle(data, size, /*verify_weights=*/true).ok();
  return 0;
}
