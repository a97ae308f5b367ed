#include "cli/text_stream.h"

namespace ts::cli {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

}  // namespace

std::string TextStreamer::Update(std::string_view all, bool last) {
  if (all.substr(0, prompt_.size()) != prompt_) return "";  // the prompt's text changed: wait
  std::string_view fresh = all.substr(prompt_.size());
  while (!last && fresh.size() >= kReplacement.size() &&
         fresh.substr(fresh.size() - kReplacement.size()) == kReplacement) {
    fresh.remove_suffix(kReplacement.size());
  }
  if (fresh.size() <= written_.size() || fresh.substr(0, written_.size()) != written_) return "";
  std::string out(fresh.substr(written_.size()));
  written_.assign(fresh);
  return out;
}

}  // namespace ts::cli
