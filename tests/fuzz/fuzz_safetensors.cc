// libFuzzer target: the safetensors header parser (the whole input is the file).
#include <cstddef>
#include <cstdint>

#include "frontend/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)ts::frontend::ParseSafetensorsHeader(data, size, size, "fuzz.safetensors",
                                             "fuzz.safetensors")
      .ok();
  return 0;
}
