// Streaming generated text as it becomes final (tsr generate). After each token the caller
// decodes prompt + generated ids; the streamer returns what to write now: the text past the
// prompt's own decoding that extends what was written, less a trailing run of U+FFFD (the
// bytes of a character not all generated yet, which a byte-level decoder shows as one U+FFFD
// and a byte-fallback decoder as one per byte). Text that no longer extends what was written
// (a decoder that changed earlier output) is held until it does.
#ifndef TENSORSHUNT_CLI_TEXT_STREAM_H_
#define TENSORSHUNT_CLI_TEXT_STREAM_H_

#include <string>
#include <string_view>

namespace ts::cli {

class TextStreamer {
 public:
  // `prompt` is the decoding of the prompt's ids alone.
  explicit TextStreamer(std::string prompt) : prompt_(std::move(prompt)) {}

  // `all`: the decoding of prompt + generated ids; `last`: no more tokens follow, so nothing is
  // held back for being incomplete. Returns the bytes to write.
  std::string Update(std::string_view all, bool last);

  const std::string& written() const { return written_; }

 private:
  std::string prompt_;
  std::string written_;
};

}  // namespace ts::cli

#endif  // TENSORSHUNT_CLI_TEXT_STREAM_H_
