// libFuzzer target: the textual IR parser. Whatever parses must print and parse back to the
// same text (the round-trip property), and the verifier must not crash on it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ir/text.h"
#include "ir/verifier.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto g = ts::ir::ParseGraph(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!g.ok()) return 0;
  (void)ts::ir::Verify(*g, {.require_shapes = false}).ok();
  std::string printed = ts::ir::PrintGraph(*g);
  auto again = ts::ir::ParseGraph(printed);
  if (!again.ok() || ts::ir::PrintGraph(*again) != printed) std::abort();
  return 0;
}
