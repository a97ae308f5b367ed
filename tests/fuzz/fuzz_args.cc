// libFuzzer target: command-line value parsers: sizes, --shape, inline tensors, --input specs
// (file references are skipped so the fuzzer never opens files).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cli/args.h"
#include "runtime/tensor_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)ts::cli::ParseSize(text).ok();
  (void)ts::cli::ParseShapeArg(text).ok();
  (void)ts::runtime::ParseInlineTensor(text).ok();
  if (text.find('@') == std::string_view::npos) (void)ts::runtime::ParseInputArg(text).ok();
  return 0;
}
