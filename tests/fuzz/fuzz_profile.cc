// libFuzzer target: the hardware profile parser (YAML via yaml-cpp, strict schema). Whatever
// parses must print canonically and parse back to the same profile (the round-trip property),
// and the canonical text must be a fixed point. No input may crash, hang or throw.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "passes/hardware_profile.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto p = ts::passes::ParseHardwareProfile(
      std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.yaml");
  if (!p.ok()) return 0;
  std::string yaml = ts::passes::ProfileToYaml(*p);
  auto again = ts::passes::ParseHardwareProfile(yaml, "canonical.yaml");
  if (!again.ok() || !(*again == *p) || ts::passes::ProfileToYaml(*again) != yaml) std::abort();
  if (ts::passes::ProfileHash(*again) != ts::passes::ProfileHash(*p)) std::abort();
  return 0;
}
