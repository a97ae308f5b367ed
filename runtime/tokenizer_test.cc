#include "runtime/tokenizer.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ts::runtime {
namespace {

using json = nlohmann::json;
using Ids = std::vector<int64_t>;

// GPT-2's byte-to-character map, written out independently of tokenizer.cc: printable bytes
// stand for themselves, the rest for U+0100 upwards.
std::string ByteChar(int b) {
  static std::vector<int> chars = [] {
    std::vector<int> c(256);
    int next = 256;
    for (int i = 0; i < 256; ++i) {
      const bool printable = (i >= 33 && i <= 126) || (i >= 161 && i <= 172) || (i >= 174);
      c[static_cast<size_t>(i)] = printable ? i : next++;
    }
    return c;
  }();
  const int cp = chars[static_cast<size_t>(b)];
  std::string s;
  if (cp < 0x80) {
    s.push_back(static_cast<char>(cp));
  } else {
    s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
  return s;
}

// A byte-level tokenizer: ids 0..255 the bytes, then the merges' results in order.
json ByteLevelJson(const std::vector<std::pair<std::string, std::string>>& merges, json pre_tokenizer) {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[ByteChar(b)] = b;
  json m = json::array();
  int next = 256;
  for (const auto& [a, b] : merges) {
    vocab[a + b] = next++;
    m.push_back(a + " " + b);
  }
  return {{"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", m}}},
          {"added_tokens", {{{"id", next}, {"content", "<|end|>"}, {"special", true}}}},
          {"pre_tokenizer", pre_tokenizer},
          {"decoder", {{"type", "ByteLevel"}}}};
}

std::unique_ptr<Tokenizer> MustParse(const json& j) {
  auto t = Tokenizer::Parse(j.dump(), "tokenizer.json");
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? std::move(*t) : nullptr;
}

TEST(TokenizerTest, ByteLevelMergesLowestRankFirst) {
  const std::string G = ByteChar(' ');  // "Ġ"
  auto t = MustParse(ByteLevelJson({{"l", "l"}, {"h", "e"}, {"he", "ll"}, {G, "w"}, {"o", "r"}},
                                   {{"type", "ByteLevel"}, {"add_prefix_space", false}}));
  ASSERT_NE(t, nullptr);
  // "hello": h e l l o -> h e ll o (rank 0) -> he ll o (rank 1) -> hell o (rank 2).
  // " world": Ġ w o r l d -> Ġw o r l d -> Ġw or l d.
  auto ids = t->Encode("hello world", true);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (Ids{258, 'o', 259, 260, 'l', 'd'}));
  EXPECT_EQ(t->Decode(*ids, false), "hello world");
  // The added token is matched before the model; decoded as its text unless skipped.
  auto with_end = t->Encode("hello<|end|>", true);
  ASSERT_TRUE(with_end.ok());
  EXPECT_EQ(*with_end, (Ids{258, 'o', 261}));
  EXPECT_EQ(t->Decode(*with_end, false), "hello<|end|>");
  EXPECT_EQ(t->Decode(*with_end, true), "hello");
  EXPECT_EQ(t->TokenId("<|end|>"), 261);
  EXPECT_EQ(t->vocab_size(), 262);
}

TEST(TokenizerTest, ByteLevelMapsEveryByteAndDecodesBadUtf8Lossily) {
  auto t = MustParse(ByteLevelJson({}, {{"type", "ByteLevel"}, {"add_prefix_space", true}}));
  ASSERT_NE(t, nullptr);
  auto ids = t->Encode("\xC3\xA9\n", false);  // é and a newline, with the prefix space
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (Ids{' ', 0xC3, 0xA9, '\n'}));
  // A truncated 4-byte sequence is one U+FFFD; a stray continuation byte another.
  EXPECT_EQ(t->Decode(Ids{'a', 0xF0, 0x9F, 0x99, 0x80, 0x80, 'b'}, false), "a\xF0\x9F\x99\x80\xEF\xBF\xBD" "b");
  EXPECT_EQ(t->Decode(Ids{0xF0, 0x9F, 0x99, 'b'}, false), "\xEF\xBF\xBD" "b");
}

TEST(TokenizerTest, SplitPatternsFollowTheRegexAlternatives) {
  // Llama 3's split: with a merge for every pair needed, each word becomes one token, so the
  // ids show the split. "I'll  go 12345\n\n" -> I | 'll | ␠ | ␠go | ␠ | 123 | 45 | \n\n
  const std::string G = ByteChar(' '), N = ByteChar('\n');
  json pre = {{"type", "Sequence"},
              {"pretokenizers",
               {{{"type", "Split"},
                 {"pattern",
                  {{"Regex", R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"}}},
                 {"behavior", "Isolated"},
                 {"invert", false}},
                {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
  auto t = MustParse(ByteLevelJson({{"'", "l"}, {"'l", "l"}, {G, "g"}, {G + "g", "o"}, {"1", "2"}, {"12", "3"},
                                    {"4", "5"}, {N, N}},
                                   pre));
  ASSERT_NE(t, nullptr);
  auto ids = t->Encode("I'll  go 12345\n\n", false);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (Ids{'I', 257, ' ', 259, ' ', 261, 262, 263}));
}

TEST(TokenizerTest, SentencePieceStyleFallsBackToBytesAndStripsTheFirstSpace) {
  const std::string S = "\xE2\x96\x81";  // ▁
  json vocab = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    vocab[name] = 3 + b;
  }
  vocab[S] = 259, vocab["h"] = 260, vocab["i"] = 261, vocab[S + "h"] = 262, vocab[S + "hi"] = 263;
  json j = {{"model",
             {{"type", "BPE"}, {"vocab", vocab}, {"merges", {S + " h", S + "h i"}}, {"unk_token", "<unk>"},
              {"fuse_unk", true}, {"byte_fallback", true}}},
            {"added_tokens",
             {{{"id", 0}, {"content", "<unk>"}, {"special", true}, {"normalized", false}},
              {{"id", 1}, {"content", "<s>"}, {"special", true}, {"normalized", false}},
              {{"id", 2}, {"content", "</s>"}, {"special", true}, {"normalized", false}}}},
            {"normalizer",
             {{"type", "Sequence"},
              {"normalizers",
               {{{"type", "Prepend"}, {"prepend", S}},
                {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", S}}}}}},
            {"post_processor",
             {{"type", "TemplateProcessing"},
              {"single", {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
              {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}}},
            {"decoder",
             {{"type", "Sequence"},
              {"decoders",
               {{{"type", "Replace"}, {"pattern", {{"String", S}}}, {"content", " "}},
                {{"type", "ByteFallback"}},
                {{"type", "Fuse"}},
                {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}}}};
  auto t = MustParse(j);
  ASSERT_NE(t, nullptr);
  // "hi é": ▁hi ▁ é -> 263, 259, then é's bytes C3 A9 as <0xC3> <0xA9>.
  auto ids = t->Encode("hi \xC3\xA9", true);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (Ids{1, 263, 259, 3 + 0xC3, 3 + 0xA9}));
  EXPECT_EQ(t->Decode(*ids, true), "hi \xC3\xA9");
  EXPECT_EQ(t->Decode(*ids, false), "<s> hi \xC3\xA9");
  // A lone byte that is not UTF-8 decodes to U+FFFD.
  EXPECT_EQ(t->Decode(Ids{263, 3 + 0xC3}, false), "hi\xEF\xBF\xBD");
  // An invalid run of byte tokens gives one U+FFFD per token; a valid one its character.
  EXPECT_EQ(t->Decode(Ids{3 + 0xE6, 3 + 0x97, 3 + 0x41}, false), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(t->Decode(Ids{3 + 0xC3, 3 + 0xA9, 260}, false), "\xC3\xA9h");
  // The special token in the text is matched in the raw text, before the normalizer.
  auto with_s = t->Encode("<s>hi", false);
  ASSERT_TRUE(with_s.ok());
  EXPECT_EQ(*with_s, (Ids{1, 263}));
}

TEST(TokenizerTest, BadFilesAndTextNameWhatIsWrong) {
  struct Case {
    json j;
    const char* fragment;
  };
  const json base = ByteLevelJson({}, nullptr);
  json bad_merge = base;
  bad_merge["model"]["merges"] = {"a zz"};
  json bad_pre = base;
  bad_pre["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "\\w+"}}}, {"behavior", "Isolated"}};
  json bad_norm = base;
  bad_norm["normalizer"] = {{"type", "NFKC"}};
  json bad_model = base;
  bad_model["model"]["type"] = "WordPiece";
  json bad_id = base;
  bad_id["model"]["vocab"]["x"] = -3;
  json huge_id = base;
  huge_id["model"]["vocab"]["a\nb"] = 16777215;  // a small file claiming a 2^24-entry table
  json deep = base;
  json seq = {{"type", "NFC"}};
  for (int i = 0; i < 20; ++i) seq = {{"type", "Sequence"}, {"normalizers", {seq}}};
  deep["normalizer"] = seq;
  json unknown_template = base;
  unknown_template["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single", {{{"SpecialToken", {{"id", "<s>"}}}}, {{"Sequence", {{"id", "A"}}}}}},
      {"special_tokens", {{"<s>", {{"ids", {200000}}}}}}};
  const Case cases[] = {
      {huge_id, "vocab \"a\\x0ab\" has id 16777215; ids are integers from 0 to twice the number of tokens"},
      {deep, "Sequences nested more than 16 deep"},
      {unknown_template, "special token id 200000 is not a token of this tokenizer"},
      {bad_merge, "merge 0 names \"zz\", which is not in the vocab"},
      {bad_pre, "is not one this version knows"},
      {bad_norm, "normalizer \"NFKC\" is not supported"},
      {bad_model, "type \"WordPiece\" is not supported"},
      {bad_id, "vocab \"x\" has id -3"},
  };
  for (const Case& c : cases) {
    auto t = Tokenizer::Parse(c.j.dump(), "tokenizer.json");
    ASSERT_FALSE(t.ok()) << c.fragment;
    EXPECT_EQ(t.status().code(), Code::kBadInput);
    EXPECT_NE(t.status().message().find(c.fragment), std::string::npos) << t.status().message();
    EXPECT_EQ(t.status().message().find('\n'), std::string::npos) << t.status().message();
  }
  auto truncated = Tokenizer::Parse("{\"model\": {\"vocab\"", "tokenizer.json");
  ASSERT_FALSE(truncated.ok());
  EXPECT_NE(truncated.status().message().find("not valid JSON"), std::string::npos);

  auto t = MustParse(base);
  ASSERT_NE(t, nullptr);
  auto not_utf8 = t->Encode("ab\xFF", false);
  ASSERT_FALSE(not_utf8.ok());
  EXPECT_EQ(not_utf8.status().code(), Code::kUsage);
  EXPECT_NE(not_utf8.status().message().find("byte 2"), std::string::npos);

  // Normalizers that grow the text without bound (a Replace chain doubling it) are refused.
  json grow = base;
  json doubling = json::array();
  for (int i = 0; i < 40; ++i) doubling.push_back({{"type", "Replace"}, {"pattern", {{"String", "a"}}}, {"content", "aa"}});
  grow["normalizer"] = {{"type", "Sequence"}, {"normalizers", doubling}};
  auto tg = MustParse(grow);
  ASSERT_NE(tg, nullptr);
  auto grown = tg->Encode("aaaa", false);
  ASSERT_FALSE(grown.ok());
  EXPECT_NE(grown.status().message().find("normalizers grow"), std::string::npos);

  json nfc = base;
  nfc["normalizer"] = {{"type", "NFC"}};
  auto tn = MustParse(nfc);
  ASSERT_NE(tn, nullptr);
  auto precomposed = tn->Encode("caf\xC3\xA9", false);
  ASSERT_TRUE(precomposed.ok());
  // No pre-tokenizer: the model sees characters, and U+00E9 is the byte map's character for 0xE9.
  EXPECT_EQ(*precomposed, (Ids{'c', 'a', 'f', 0xE9}));
}

TEST(TokenizerTest, NfcComposesDecomposedText) {
  json nfc = ByteLevelJson({}, {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}});
  nfc["normalizer"] = {{"type", "NFC"}};
  auto t = MustParse(nfc);
  ASSERT_NE(t, nullptr);
  auto bytes = [&](const std::string& text) {
    auto ids = t->Encode(text, false);
    EXPECT_TRUE(ids.ok());
    std::string s;
    for (int64_t id : *ids) s.push_back(static_cast<char>(id));
    return s;
  };
  EXPECT_EQ(bytes("cafe\xCC\x81"), "caf\xC3\xA9") << "e + U+0301 -> U+00E9";
  EXPECT_EQ(bytes("q\xCC\x81"), "q\xCC\x81") << "no precomposed q with acute: unchanged";
  // Hangul jamo L V T compose to one syllable (U+1100 U+1161 U+11A8 -> U+AC01).
  EXPECT_EQ(bytes("\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8"), "\xEA\xB0\x81");
  // Out-of-order marks are reordered by combining class before composing: a + U+0323 (220)
  // + U+0302 (230) and a + U+0302 + U+0323 both give U+1EAD.
  EXPECT_EQ(bytes("a\xCC\x82\xCC\xA3"), "\xE1\xBA\xAD");
  EXPECT_EQ(bytes("a\xCC\xA3\xCC\x82"), "\xE1\xBA\xAD");
  // A singleton: U+212B ANGSTROM SIGN -> U+00C5.
  EXPECT_EQ(bytes("\xE2\x84\xAB"), "\xC3\x85");
}

TEST(TokenizerTest, AddedTokensStripWholeWhiteSpaceCharacters) {
  json j = ByteLevelJson({}, nullptr);
  j["added_tokens"] = {{{"id", 300}, {"content", "<mask>"}, {"special", true}, {"lstrip", true}, {"rstrip", true}}};
  j["model"]["vocab"]["<mask>"] = 300;
  auto t = MustParse(j);
  ASSERT_NE(t, nullptr);
  // U+00E0 (C3 A0) before the token: its second byte is not a space; U+00A0 (C2 A0) after it is.
  auto ids = t->Encode("\xC3\xA0<mask>\xC2\xA0x", false);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (Ids{0xE0, 300, 'x'})) << "no pre-tokenizer: the model sees characters";
  auto spaced = t->Encode("a \xE3\x80\x80<mask>", false);  // an ideographic space, stripped whole
  ASSERT_TRUE(spaced.ok());
  EXPECT_EQ(*spaced, (Ids{'a', 300}));
}

TEST(Utf8Test, MaximalSubpartsBecomeOneReplacementEach) {
  const std::string R = "\xEF\xBF\xBD";
  EXPECT_EQ(Utf8Lossy("ok"), "ok");
  EXPECT_EQ(Utf8Lossy("\xC0\x80"), R + R) << "C0 is never a lead byte";
  EXPECT_EQ(Utf8Lossy("\xED\xA0\x80"), R + R + R) << "a surrogate's lead byte admits 80..9F only";
  EXPECT_EQ(Utf8Lossy("\xE2\x96"), R) << "a truncated sequence is one subpart";
  EXPECT_EQ(Utf8Lossy("\xF4\x90\x80\x80"), R + R + R + R) << "beyond U+10FFFF";
  size_t at = 0;
  EXPECT_EQ(NextCodePoint("\xF0\x9F\x99\x82", &at), 0x1F642);
  EXPECT_EQ(at, 4u);
}

}  // namespace
}  // namespace ts::runtime
