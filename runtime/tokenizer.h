// Hugging Face tokenizer.json files: text to token ids and back, for `tsr generate --prompt`
// and `tsr tokenize`, as the `tokenizers` library computes them for the byte-pair-encoding
// tokenizers of the Llama family, Qwen2, Mistral and GPT-2.
//
// What is read (anything else is a kBadInput naming it):
//   model          BPE: vocab, merges ("a b" strings or [a, b] pairs), unk_token, fuse_unk,
//                  byte_fallback (<0xXX> tokens), ignore_merges, continuing_subword_prefix,
//                  end_of_word_suffix; dropout null or 0.
//   added_tokens   matched leftmost-longest before the model sees the text: those with
//                  normalized false in the raw text, the others in the normalized pieces;
//                  lstrip / rstrip take the whitespace beside a match with it.
//   normalizer     null, NFC, Prepend, Replace (a string pattern), Sequence.
//   pre_tokenizer  null, ByteLevel (with or without GPT-2's split), Metaspace (prepend_scheme
//                  always / first / never, split), Split with one of the patterns of GPT-2,
//                  Llama 3 and Qwen2 (behavior isolated), Sequence. These patterns are matched
//                  by hand-written scanners, not a regex engine; letters, numbers and white
//                  space, and NFC, are Unicode 14's (runtime/unicode.h).
//   post_processor null, ByteLevel, TemplateProcessing (its single-sequence template), Sequence.
//   decoder        null, ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, Sequence.
//                  Bytes that are not UTF-8 decode to U+FFFD, one per maximal invalid run.
#ifndef TENSORSHUNT_RUNTIME_TOKENIZER_H_
#define TENSORSHUNT_RUNTIME_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ir/status.h"
#include "runtime/unicode.h"

namespace ts::runtime {

class Tokenizer {
 public:
  // Parses tokenizer.json's text; `where` names it in messages.
  static StatusOr<std::unique_ptr<Tokenizer>> Parse(std::string_view json_text, const std::string& where);
  ~Tokenizer();

  // The ids of `text` (UTF-8; anything else is a kUsage naming the byte), with the post-
  // processor's special tokens (a BOS) when add_special_tokens.
  StatusOr<std::vector<int64_t>> Encode(std::string_view text, bool add_special_tokens) const;
  // The text of `ids`; ids the tokenizer does not know are left out, as are special tokens when
  // skip_special_tokens.
  std::string Decode(std::span<const int64_t> ids, bool skip_special_tokens) const;
  // One more than the largest id the tokenizer produces.
  int64_t vocab_size() const;
  // The id of a token's text, or -1.
  int64_t TokenId(std::string_view token) const;

  struct Impl;

 private:
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ts::runtime

#endif  // TENSORSHUNT_RUNTIME_TOKENIZER_H_
