// libFuzzer target: a tokenizer.json, then (after the first NUL byte) a text. The file is parsed;
// when it parses, the text is encoded with and without special tokens, and its bytes, read as
// ids, decoded with and without special tokens.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "runtime/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const std::string_view file = input.substr(0, nul);
  const std::string_view text = nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1);
  auto tokenizer = ts::runtime::Tokenizer::Parse(file, "fuzz.json");
  if (!tokenizer.ok()) return 0;
  for (bool special : {false, true}) (void)(*tokenizer)->Encode(text, special).ok();
  std::vector<int64_t> ids;
  for (size_t i = 0; i + 1 < text.size(); i += 2) {
    ids.push_back(static_cast<int64_t>(static_cast<uint8_t>(text[i])) << 8 | static_cast<uint8_t>(text[i + 1]));
  }
  for (bool skip : {false, true}) (void)(*tokenizer)->Decode(ids, skip);
  return 0;
}
