#include "runtime/tokenizer.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <queue>
#include <unordered_map>
#include <utility>

#include <nlohmann/json.hpp>

#include "runtime/unicode.h"

namespace ts::runtime {
namespace {

using json = nlohmann::json;

constexpr size_t kMaxVocab = size_t{1} << 24;
constexpr int kMaxDepth = 16;  // Sequence nesting in a tokenizer.json

// GPT-2's reversible map from bytes to printable characters: the printable Latin-1 bytes stand
// for themselves, the other 68 for U+0100 onwards in byte order.
struct ByteMap {
  std::array<int32_t, 256> to_char{};
  std::unordered_map<int32_t, uint8_t> to_byte;
  ByteMap() {
    int32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      to_char[static_cast<size_t>(b)] = printable ? b : next++;
      to_byte[to_char[static_cast<size_t>(b)]] = static_cast<uint8_t>(b);
    }
  }
};
const ByteMap& Bytes() {
  static const ByteMap m;
  return m;
}

// A piece of text on its way to the model, and whether it starts the original text (Metaspace's
// prepend_scheme "first" needs to know).
struct Word {
  std::string text;
  bool at_start = false;
};

// ---- The split patterns, as scanners. Each returns the length in code points of the match at
// cps[i] (the text has at least one code point left), following the alternatives in order as a
// backtracking regex engine would; 0 when nothing matches there.
enum class Pattern { kGpt2, kLlama3, kQwen2 };

const char kGpt2Pattern[] = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
const char kLlama3Pattern[] =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char kQwen2Pattern[] =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

bool IsOther(int32_t cp) { return !IsSpace(cp) && !IsLetter(cp) && !IsNumber(cp); }
bool IsNewline(int32_t cp) { return cp == '\r' || cp == '\n'; }

size_t Contraction(const std::vector<int32_t>& c, size_t i, bool ignore_case) {
  if (c[i] != '\'' || i + 1 >= c.size()) return 0;
  auto is = [&](size_t k, char ch) {
    if (k >= c.size()) return false;
    const int32_t v = c[k];
    return v == ch || (ignore_case && v < 128 && v == (ch - 'a' + 'A'));
  };
  for (const char* s : {"s", "t", "re", "ve", "m", "ll", "d"}) {
    const size_t n = std::strlen(s);
    bool ok = true;
    for (size_t k = 0; k < n && ok; ++k) ok = is(i + 1 + k, s[k]);
    if (ok) return 1 + n;
  }
  return 0;
}

// Length of the run of code points from i for which pred holds.
template <typename Pred>
size_t Run(const std::vector<int32_t>& c, size_t i, Pred pred) {
  size_t j = i;
  while (j < c.size() && pred(c[j])) ++j;
  return j - i;
}

// \s+(?!\S) then \s+: the whitespace run, less its last character when a non-space follows
// and the run is longer than one.
size_t Whitespace(const std::vector<int32_t>& c, size_t i) {
  const size_t n = Run(c, i, IsSpace);
  if (n == 0) return 0;
  if (i + n == c.size() || n == 1) return n;
  return n - 1;
}

size_t MatchAt(Pattern p, const std::vector<int32_t>& c, size_t i) {
  if (p == Pattern::kGpt2) {
    if (size_t n = Contraction(c, i, false)) return n;
    const size_t sp = c[i] == ' ' && i + 1 < c.size() ? 1 : 0;
    for (auto cls : {IsLetter, IsNumber, IsOther}) {
      if (size_t n = Run(c, i + sp, cls); n > 0) return sp + n;
      if (size_t n = sp ? Run(c, i, cls) : 0; n > 0) return n;
    }
    return Whitespace(c, i);
  }
  if (size_t n = Contraction(c, i, true)) return n;
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (!IsNewline(c[i]) && !IsLetter(c[i]) && !IsNumber(c[i]) && i + 1 < c.size() && IsLetter(c[i + 1])) {
    return 1 + Run(c, i + 1, IsLetter);
  }
  if (size_t n = Run(c, i, IsLetter)) return n;
  if (size_t n = Run(c, i, IsNumber)) return std::min<size_t>(n, p == Pattern::kLlama3 ? 3 : 1);
  // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
  {
    const size_t sp = c[i] == ' ' && i + 1 < c.size() && IsOther(c[i + 1]) ? 1 : 0;
    if (size_t n = Run(c, i + sp, IsOther)) {
      const size_t end = i + sp + n;
      return sp + n + Run(c, end, IsNewline);
    }
  }
  // \s*[\r\n]+: up to and including the last newline of the whitespace run.
  const size_t ws = Run(c, i, IsSpace);
  for (size_t k = ws; k > 0; --k) {
    if (IsNewline(c[i + k - 1])) return k;
  }
  return Whitespace(c, i);
}

// Splits `text` into the pattern's matches and the gaps between them (behavior "isolated").
void SplitWith(Pattern p, const Word& w, std::vector<Word>* out) {
  const std::vector<int32_t> c = CodePoints(w.text);
  size_t i = 0, gap = 0;
  bool first = true;
  auto emit = [&](size_t from, size_t to) {
    out->push_back({ToUtf8(std::span(c).subspan(from, to - from)), w.at_start && first});
    first = false;
  };
  while (i < c.size()) {
    const size_t n = MatchAt(p, c, i);
    if (n == 0) {
      ++i;
      continue;
    }
    if (gap < i) emit(gap, i);
    emit(i, i + n);
    i += n;
    gap = i;
  }
  if (gap < c.size()) emit(gap, c.size());
}

std::string Replace(std::string_view s, std::string_view from, std::string_view to) {
  if (from.empty()) return std::string(s);
  std::string out;
  size_t at = 0;
  while (true) {
    const size_t k = s.find(from, at);
    if (k == std::string_view::npos) break;
    out.append(s.substr(at, k - at));
    out.append(to);
    at = k + from.size();
  }
  out.append(s.substr(at));
  return out;
}

std::string ByteToken(uint8_t b) {
  static const char kHex[] = "0123456789ABCDEF";
  return std::string("<0x") + kHex[b >> 4] + kHex[b & 15] + ">";
}

// ---- JSON reading helpers. Each names the field in its message.
StatusOr<std::string> Str(const json& j, const char* key, const std::string& where, std::optional<std::string> dflt = {}) {
  if (!j.contains(key) || j[key].is_null()) {
    if (dflt) return *dflt;
    return BadInputError(where + ": \"" + key + "\" is missing");
  }
  if (!j[key].is_string()) return BadInputError(where + ": \"" + key + "\" must be a string");
  return j[key].get<std::string>();
}
StatusOr<bool> Bool(const json& j, const char* key, const std::string& where, bool dflt) {
  if (!j.contains(key) || j[key].is_null()) return dflt;
  if (!j[key].is_boolean()) return BadInputError(where + ": \"" + key + "\" must be true or false");
  return j[key].get<bool>();
}
StatusOr<std::string> Type(const json& j, const std::string& where) {
  if (!j.is_object()) return BadInputError(where + " must be an object or null");
  return Str(j, "type", where);
}
// At most 48 characters of `s` for a message, control characters and bytes that are not
// UTF-8 escaped, so that the message stays one line.
std::string Short(const std::string& s) {
  std::string out;
  size_t at = 0;
  for (int n = 0; at < s.size() && n < 48; ++n) {
    const size_t from = at;
    const int32_t cp = NextCodePoint(s, &at);
    if (cp < 0x20 || cp == 0x7F) {
      for (size_t k = from; k < at; ++k) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<uint8_t>(s[k]));
        out += buf;
      }
    } else {
      out.append(s, from, at - from);
    }
  }
  return at < s.size() ? out + "..." : out;
}

}  // namespace


struct Tokenizer::Impl {
  // ---- model
  std::unordered_map<std::string, int64_t> vocab;
  std::vector<std::string> id_to_token;  // "" where no token has the id
  struct PairHash {
    size_t operator()(const std::pair<int64_t, int64_t>& p) const {
      return std::hash<int64_t>()(p.first * 0x9E3779B97F4A7C15LL ^ p.second);
    }
  };
  // (left id, right id) -> (rank, merged id)
  std::unordered_map<std::pair<int64_t, int64_t>, std::pair<int64_t, int64_t>, PairHash> merges;
  int64_t unk = -1;
  bool fuse_unk = false, byte_fallback = false, ignore_merges = false;
  std::string subword_prefix, word_suffix;
  std::array<int64_t, 256> byte_ids{};  // <0xXX> tokens, -1 where missing

  // ---- added tokens
  struct Added {
    std::string content;
    int64_t id = 0;
    bool special = false, normalized = false, lstrip = false, rstrip = false, single_word = false;
  };
  std::vector<Added> added;                          // longest first
  std::array<std::vector<size_t>, 256> added_by_byte;  // indices into `added`, by first byte
  std::vector<bool> special;                         // by id

  // ---- pipeline stages, each a list of steps
  struct Normalize {
    enum Kind { kNfc, kPrepend, kReplace } kind;
    std::string a, b;
  };
  std::vector<Normalize> normalizers;
  struct PreTokenize {
    enum Kind { kByteLevel, kMetaspace, kSplit } kind;
    bool add_prefix_space = false, use_regex = false, split = false;
    std::string replacement;
    enum Scheme { kAlways, kFirst, kNever } scheme = kAlways;
    Pattern pattern = Pattern::kGpt2;
  };
  std::vector<PreTokenize> pre_tokenizers;
  std::vector<std::vector<int64_t>> template_parts;  // ids; an empty vector stands for $A
  bool has_template = false;
  struct DecodeStep {
    enum Kind { kByteLevel, kMetaspace, kReplace, kByteFallback, kFuse, kStrip } kind;
    std::string a, b;
    bool prepend = true;
    size_t start = 0, stop = 0;
  };
  std::vector<DecodeStep> decoders;
  bool has_decoder = false;
  std::string where;

  Status ParseModel(const json& m);
  Status ParseAddedTokens(const json& a);
  Status ParseNormalizer(const json& n, const std::string& at, int depth = 0);
  Status ParsePreTokenizer(const json& p, const std::string& at, int depth = 0);
  Status ParsePostProcessor(const json& p, const std::string& at, int depth = 0);
  Status ParseDecoder(const json& d, const std::string& at, int depth = 0);

  void Bpe(const std::string& word, std::vector<int64_t>* ids) const;
  Status EncodePiece(std::string_view piece, bool at_start, std::vector<int64_t>* ids) const;
  std::vector<std::string> DecodeChain(std::vector<std::string> tokens) const;
};

Status Tokenizer::Impl::ParseModel(const json& m) {
  const std::string at = where + " model";
  if (!m.is_object()) return BadInputError(at + " must be an object");
  ASSIGN_OR_RETURN(const std::string type, Str(m, "type", at, "BPE"));
  if (type != "BPE") {
    return BadInputError(at + ": type \"" + Short(type) + "\" is not supported; this version reads BPE tokenizers");
  }
  if (m.contains("dropout") && !m["dropout"].is_null() && !(m["dropout"].is_number() && m["dropout"].get<double>() == 0)) {
    return BadInputError(at + ": dropout is for training; a tokenizer.json for inference has null");
  }
  if (!m.contains("vocab") || !m["vocab"].is_object()) return BadInputError(at + ": \"vocab\" must be an object");
  if (m["vocab"].size() > kMaxVocab) return BadInputError(at + ": more than 2^24 tokens in \"vocab\"");
  // Ids are dense in real files; a bound on them keeps a small file from claiming a huge table.
  const int64_t max_id = std::min<int64_t>(kMaxVocab, 2 * static_cast<int64_t>(m["vocab"].size()) + 65536);
  for (const auto& [token, id] : m["vocab"].items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= max_id) {
      return BadInputError(at + ": vocab \"" + Short(token) + "\" has id " + Short(id.dump()) +
                           "; ids are integers from 0 to twice the number of tokens + 65536 (" +
                           std::to_string(max_id) + ")");
    }
    const int64_t v = id.get<int64_t>();
    vocab[token] = v;
    if (static_cast<size_t>(v) >= id_to_token.size()) id_to_token.resize(static_cast<size_t>(v) + 1);
    id_to_token[static_cast<size_t>(v)] = token;
  }
  ASSIGN_OR_RETURN(const std::string unk_token, Str(m, "unk_token", at, ""));
  if (!unk_token.empty()) {
    auto it = vocab.find(unk_token);
    if (it == vocab.end()) return BadInputError(at + ": unk_token \"" + Short(unk_token) + "\" is not in the vocab");
    unk = it->second;
  }
  ASSIGN_OR_RETURN(fuse_unk, Bool(m, "fuse_unk", at, false));
  ASSIGN_OR_RETURN(byte_fallback, Bool(m, "byte_fallback", at, false));
  ASSIGN_OR_RETURN(ignore_merges, Bool(m, "ignore_merges", at, false));
  ASSIGN_OR_RETURN(subword_prefix, Str(m, "continuing_subword_prefix", at, ""));
  ASSIGN_OR_RETURN(word_suffix, Str(m, "end_of_word_suffix", at, ""));
  for (int b = 0; b < 256; ++b) {
    auto it = vocab.find(ByteToken(static_cast<uint8_t>(b)));
    byte_ids[static_cast<size_t>(b)] = it == vocab.end() ? -1 : it->second;
  }
  if (!m.contains("merges") || !m["merges"].is_array()) return BadInputError(at + ": \"merges\" must be an array");
  int64_t rank = 0;
  for (const json& e : m["merges"]) {
    std::string a, b;
    if (e.is_string()) {
      const std::string s = e.get<std::string>();
      const size_t sp = s.find(' ');
      if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos) {
        return BadInputError(at + ": merge " + std::to_string(rank) + " \"" + Short(s) +
                             "\" is not two tokens separated by one space");
      }
      a = s.substr(0, sp), b = s.substr(sp + 1);
    } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
      a = e[0].get<std::string>(), b = e[1].get<std::string>();
    } else {
      return BadInputError(at + ": merge " + std::to_string(rank) + " is neither \"a b\" nor [\"a\", \"b\"]");
    }
    // With a continuing-subword prefix ("##"), the merged token drops the right part's prefix.
    const std::string merged =
        !subword_prefix.empty() && b.compare(0, subword_prefix.size(), subword_prefix) == 0 ? a + b.substr(subword_prefix.size())
                                                                                             : a + b;
    auto ia = vocab.find(a), ib = vocab.find(b), ic = vocab.find(merged);
    for (const auto& [it, name] : {std::pair{ia, a}, std::pair{ib, b}, std::pair{ic, merged}}) {
      if (it == vocab.end()) {
        return BadInputError(at + ": merge " + std::to_string(rank) + " names \"" + Short(name) +
                             "\", which is not in the vocab");
      }
    }
    merges.try_emplace({ia->second, ib->second}, rank, ic->second);
    ++rank;
  }
  return OkStatus();
}

Status Tokenizer::Impl::ParseAddedTokens(const json& a) {
  const std::string at = where + " added_tokens";
  if (a.is_null()) return OkStatus();
  if (!a.is_array()) return BadInputError(at + " must be an array");
  for (size_t i = 0; i < a.size(); ++i) {
    const std::string here = at + "[" + std::to_string(i) + "]";
    const json& t = a[i];
    if (!t.is_object()) return BadInputError(here + " must be an object");
    Added x;
    ASSIGN_OR_RETURN(x.content, Str(t, "content", here));
    if (x.content.empty()) return BadInputError(here + ": \"content\" is empty");
    const int64_t max_id =
        std::min<int64_t>(kMaxVocab, 2 * static_cast<int64_t>(vocab.size() + a.size()) + 65536);
    if (!t.contains("id") || !t["id"].is_number_integer() || t["id"].get<int64_t>() < 0 ||
        t["id"].get<int64_t>() >= max_id) {
      return BadInputError(here + ": \"id\" must be an integer from 0 to twice the number of tokens + 65536 (" +
                           std::to_string(max_id) + ")");
    }
    x.id = t["id"].get<int64_t>();
    ASSIGN_OR_RETURN(x.special, Bool(t, "special", here, false));
    ASSIGN_OR_RETURN(x.normalized, Bool(t, "normalized", here, !x.special));
    ASSIGN_OR_RETURN(x.lstrip, Bool(t, "lstrip", here, false));
    ASSIGN_OR_RETURN(x.rstrip, Bool(t, "rstrip", here, false));
    ASSIGN_OR_RETURN(x.single_word, Bool(t, "single_word", here, false));
    if (static_cast<size_t>(x.id) >= id_to_token.size()) id_to_token.resize(static_cast<size_t>(x.id) + 1);
    id_to_token[static_cast<size_t>(x.id)] = x.content;
    if (special.size() <= static_cast<size_t>(x.id)) special.resize(static_cast<size_t>(x.id) + 1);
    special[static_cast<size_t>(x.id)] = x.special;
    added.push_back(std::move(x));
  }
  return OkStatus();
}

Status Tokenizer::Impl::ParseNormalizer(const json& n, const std::string& at, int depth) {
  if (n.is_null()) return OkStatus();
  if (depth > kMaxDepth) return BadInputError(at + ": Sequences nested more than 16 deep");
  ASSIGN_OR_RETURN(const std::string type, Type(n, at));
  if (type == "Sequence") {
    if (!n.contains("normalizers") || !n["normalizers"].is_array()) {
      return BadInputError(at + ": a Sequence needs a \"normalizers\" array");
    }
    for (size_t i = 0; i < n["normalizers"].size(); ++i) {
      RETURN_IF_ERROR(ParseNormalizer(n["normalizers"][i], at + "[" + std::to_string(i) + "]", depth + 1));
    }
  } else if (type == "NFC") {
    normalizers.push_back({Normalize::kNfc, "", ""});
  } else if (type == "Prepend") {
    ASSIGN_OR_RETURN(std::string p, Str(n, "prepend", at));
    normalizers.push_back({Normalize::kPrepend, std::move(p), ""});
  } else if (type == "Replace") {
    if (!n.contains("pattern") || !n["pattern"].is_object() || !n["pattern"].contains("String")) {
      return BadInputError(at + ": Replace with a regex pattern is not supported; this version replaces strings");
    }
    ASSIGN_OR_RETURN(std::string from, Str(n["pattern"], "String", at + " pattern"));
    ASSIGN_OR_RETURN(std::string to, Str(n, "content", at));
    normalizers.push_back({Normalize::kReplace, std::move(from), std::move(to)});
  } else {
    return BadInputError(at + ": normalizer \"" + Short(type) +
                         "\" is not supported; this version applies NFC, Prepend, Replace and Sequence");
  }
  return OkStatus();
}

Status Tokenizer::Impl::ParsePreTokenizer(const json& p, const std::string& at, int depth) {
  if (p.is_null()) return OkStatus();
  if (depth > kMaxDepth) return BadInputError(at + ": Sequences nested more than 16 deep");
  ASSIGN_OR_RETURN(const std::string type, Type(p, at));
  PreTokenize t;
  if (type == "Sequence") {
    if (!p.contains("pretokenizers") || !p["pretokenizers"].is_array()) {
      return BadInputError(at + ": a Sequence needs a \"pretokenizers\" array");
    }
    for (size_t i = 0; i < p["pretokenizers"].size(); ++i) {
      RETURN_IF_ERROR(ParsePreTokenizer(p["pretokenizers"][i], at + "[" + std::to_string(i) + "]", depth + 1));
    }
    return OkStatus();
  } else if (type == "ByteLevel") {
    t.kind = PreTokenize::kByteLevel;
    ASSIGN_OR_RETURN(t.add_prefix_space, Bool(p, "add_prefix_space", at, true));
    ASSIGN_OR_RETURN(t.use_regex, Bool(p, "use_regex", at, true));
  } else if (type == "Metaspace") {
    t.kind = PreTokenize::kMetaspace;
    ASSIGN_OR_RETURN(t.replacement, Str(p, "replacement", at, "\xE2\x96\x81"));
    if (CodePoints(t.replacement).size() != 1) return BadInputError(at + ": \"replacement\" must be one character");
    ASSIGN_OR_RETURN(t.split, Bool(p, "split", at, true));
    ASSIGN_OR_RETURN(const bool prefix, Bool(p, "add_prefix_space", at, true));
    ASSIGN_OR_RETURN(const std::string scheme, Str(p, "prepend_scheme", at, prefix ? "always" : "never"));
    if (scheme == "always") {
      t.scheme = PreTokenize::kAlways;
    } else if (scheme == "first") {
      t.scheme = PreTokenize::kFirst;
    } else if (scheme == "never") {
      t.scheme = PreTokenize::kNever;
    } else {
      return BadInputError(at + ": prepend_scheme \"" + Short(scheme) + "\" is not always, first or never");
    }
  } else if (type == "Split") {
    t.kind = PreTokenize::kSplit;
    if (!p.contains("pattern") || !p["pattern"].is_object() || !p["pattern"].contains("Regex")) {
      return BadInputError(at + ": Split needs a {\"Regex\": ...} pattern");
    }
    ASSIGN_OR_RETURN(const std::string re, Str(p["pattern"], "Regex", at + " pattern"));
    ASSIGN_OR_RETURN(const std::string behavior, Str(p, "behavior", at, "Isolated"));
    ASSIGN_OR_RETURN(const bool invert, Bool(p, "invert", at, false));
    if (behavior != "Isolated" || invert) {
      return BadInputError(at + ": Split with behavior " + Short(behavior) + (invert ? " inverted" : "") +
                           " is not supported; this version splits Isolated, not inverted");
    }
    if (re == kGpt2Pattern) {
      t.pattern = Pattern::kGpt2;
    } else if (re == kLlama3Pattern) {
      t.pattern = Pattern::kLlama3;
    } else if (re == kQwen2Pattern) {
      t.pattern = Pattern::kQwen2;
    } else {
      return BadInputError(at + ": the Split pattern " + Short(re) +
                           " is not one this version knows (those of GPT-2, Llama 3 and Qwen2)");
    }
  } else {
    return BadInputError(at + ": pre_tokenizer \"" + Short(type) +
                         "\" is not supported; this version applies ByteLevel, Metaspace, Split and Sequence");
  }
  pre_tokenizers.push_back(std::move(t));
  return OkStatus();
}

Status Tokenizer::Impl::ParsePostProcessor(const json& p, const std::string& at, int depth) {
  if (p.is_null()) return OkStatus();
  if (depth > kMaxDepth) return BadInputError(at + ": Sequences nested more than 16 deep");
  ASSIGN_OR_RETURN(const std::string type, Type(p, at));
  if (type == "Sequence") {
    if (!p.contains("processors") || !p["processors"].is_array()) {
      return BadInputError(at + ": a Sequence needs a \"processors\" array");
    }
    for (size_t i = 0; i < p["processors"].size(); ++i) {
      RETURN_IF_ERROR(ParsePostProcessor(p["processors"][i], at + "[" + std::to_string(i) + "]", depth + 1));
    }
    return OkStatus();
  }
  if (type == "ByteLevel") return OkStatus();  // changes offsets only
  if (type != "TemplateProcessing") {
    return BadInputError(at + ": post_processor \"" + Short(type) +
                         "\" is not supported; this version applies TemplateProcessing, ByteLevel and Sequence");
  }
  if (has_template) return BadInputError(at + ": a second TemplateProcessing");
  has_template = true;
  if (!p.contains("single") || !p["single"].is_array()) return BadInputError(at + ": \"single\" must be an array");
  const json& specials = p.contains("special_tokens") ? p["special_tokens"] : json::object();
  if (!specials.is_object()) return BadInputError(at + ": \"special_tokens\" must be an object");
  bool has_a = false;
  for (const json& item : p["single"]) {
    if (item.is_object() && item.contains("Sequence")) {
      ASSIGN_OR_RETURN(const std::string id, Str(item["Sequence"], "id", at + " single"));
      if (id != "A") return BadInputError(at + ": the single template names sequence " + Short(id) + ", not A");
      template_parts.emplace_back();
      has_a = true;
    } else if (item.is_object() && item.contains("SpecialToken")) {
      ASSIGN_OR_RETURN(const std::string id, Str(item["SpecialToken"], "id", at + " single"));
      if (!specials.contains(id) || !specials[id].is_object() || !specials[id].contains("ids") ||
          !specials[id]["ids"].is_array() || specials[id]["ids"].empty()) {
        return BadInputError(at + ": special token \"" + Short(id) + "\" has no ids in \"special_tokens\"");
      }
      std::vector<int64_t> ids;
      for (const json& v : specials[id]["ids"]) {
        if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= static_cast<int64_t>(kMaxVocab)) {
          return BadInputError(at + ": special token \"" + Short(id) + "\" has an id that is not from 0 to 2^24");
        }
        ids.push_back(v.get<int64_t>());
      }
      template_parts.push_back(std::move(ids));
    } else {
      return BadInputError(at + ": an item of \"single\" is neither a Sequence nor a SpecialToken");
    }
  }
  if (!has_a) return BadInputError(at + ": the single template has no $A");
  return OkStatus();
}

Status Tokenizer::Impl::ParseDecoder(const json& d, const std::string& at, int depth) {
  if (d.is_null()) return OkStatus();
  if (depth > kMaxDepth) return BadInputError(at + ": Sequences nested more than 16 deep");
  has_decoder = true;
  ASSIGN_OR_RETURN(const std::string type, Type(d, at));
  DecodeStep s{};
  if (type == "Sequence") {
    if (!d.contains("decoders") || !d["decoders"].is_array()) return BadInputError(at + ": a Sequence needs \"decoders\"");
    for (size_t i = 0; i < d["decoders"].size(); ++i) {
      RETURN_IF_ERROR(ParseDecoder(d["decoders"][i], at + "[" + std::to_string(i) + "]", depth + 1));
    }
    return OkStatus();
  } else if (type == "ByteLevel") {
    s.kind = DecodeStep::kByteLevel;
  } else if (type == "ByteFallback") {
    s.kind = DecodeStep::kByteFallback;
  } else if (type == "Fuse") {
    s.kind = DecodeStep::kFuse;
  } else if (type == "Metaspace") {
    s.kind = DecodeStep::kMetaspace;
    ASSIGN_OR_RETURN(s.a, Str(d, "replacement", at, "\xE2\x96\x81"));
    ASSIGN_OR_RETURN(const bool prefix, Bool(d, "add_prefix_space", at, true));
    ASSIGN_OR_RETURN(const std::string scheme, Str(d, "prepend_scheme", at, prefix ? "always" : "never"));
    s.prepend = scheme != "never";
  } else if (type == "Replace") {
    if (!d.contains("pattern") || !d["pattern"].is_object() || !d["pattern"].contains("String")) {
      return BadInputError(at + ": Replace with a regex pattern is not supported; this version replaces strings");
    }
    s.kind = DecodeStep::kReplace;
    ASSIGN_OR_RETURN(s.a, Str(d["pattern"], "String", at + " pattern"));
    ASSIGN_OR_RETURN(s.b, Str(d, "content", at));
  } else if (type == "Strip") {
    s.kind = DecodeStep::kStrip;
    ASSIGN_OR_RETURN(s.a, Str(d, "content", at));
    if (CodePoints(s.a).size() != 1) return BadInputError(at + ": Strip's \"content\" must be one character");
    for (const char* key : {"start", "stop"}) {
      if (!d.contains(key) || !d[key].is_number_unsigned() || d[key].get<uint64_t>() > (1u << 20)) {
        return BadInputError(at + ": Strip's \"" + key + "\" must be a count from 0 to 2^20");
      }
    }
    s.start = d["start"].get<size_t>(), s.stop = d["stop"].get<size_t>();
  } else {
    return BadInputError(at + ": decoder \"" + Short(type) +
                         "\" is not supported; this version applies ByteLevel, Metaspace, Replace, ByteFallback, "
                         "Fuse, Strip and Sequence");
  }
  decoders.push_back(std::move(s));
  return OkStatus();
}

// Byte-pair encoding of one word: its characters (or their <0xXX> bytes, or the unknown token),
// then the merge of lowest rank, leftmost first, until none applies.
void Tokenizer::Impl::Bpe(const std::string& word, std::vector<int64_t>* ids) const {
  if (word.empty()) return;
  if (ignore_merges) {
    if (auto it = vocab.find(word); it != vocab.end()) {
      ids->push_back(it->second);
      return;
    }
  }
  std::vector<int64_t> sym;
  const std::vector<int32_t> cps = CodePoints(word);
  bool last_unk = false;
  for (size_t i = 0; i < cps.size(); ++i) {
    std::string ch;
    AppendUtf8(cps[i], &ch);
    std::string key = (i > 0 ? subword_prefix : "") + ch + (i + 1 == cps.size() ? word_suffix : "");
    if (auto it = vocab.find(key); it != vocab.end()) {
      sym.push_back(it->second);
      last_unk = false;
      continue;
    }
    if (byte_fallback && std::all_of(ch.begin(), ch.end(), [&](char b) { return byte_ids[static_cast<uint8_t>(b)] >= 0; })) {
      for (char b : ch) sym.push_back(byte_ids[static_cast<uint8_t>(b)]);
      last_unk = false;
      continue;
    }
    if (unk >= 0) {
      if (!(fuse_unk && last_unk)) sym.push_back(unk);
      last_unk = true;
    }
  }
  // Merge with a heap of candidate pairs; a doubly linked list of live symbols.
  const size_t n = sym.size();
  std::vector<int64_t> prev(n), next(n);
  std::vector<bool> alive(n, true);
  for (size_t i = 0; i < n; ++i) prev[i] = static_cast<int64_t>(i) - 1, next[i] = static_cast<int64_t>(i) + 1;
  using Cand = std::tuple<int64_t, size_t, int64_t, int64_t>;  // rank, left position, left id, right id
  std::priority_queue<Cand, std::vector<Cand>, std::greater<>> heap;
  auto push = [&](size_t i) {
    if (next[i] >= static_cast<int64_t>(n)) return;
    const size_t j = static_cast<size_t>(next[i]);
    if (auto it = merges.find({sym[i], sym[j]}); it != merges.end()) heap.emplace(it->second.first, i, sym[i], sym[j]);
  };
  for (size_t i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    const auto [rank, i, left, right] = heap.top();
    heap.pop();
    if (!alive[i] || sym[i] != left || next[i] >= static_cast<int64_t>(n)) continue;
    const size_t j = static_cast<size_t>(next[i]);
    if (sym[j] != right) continue;
    sym[i] = merges.at({left, right}).second;
    alive[j] = false;
    next[i] = next[j];
    if (next[j] < static_cast<int64_t>(n)) prev[static_cast<size_t>(next[j])] = static_cast<int64_t>(i);
    push(i);
    if (prev[i] >= 0) push(static_cast<size_t>(prev[i]));
  }
  for (size_t i = 0; i < n; ++i) {
    if (alive[i]) ids->push_back(sym[i]);
  }
}

// One piece of text between added tokens: normalized already; pre-tokenized into words here,
// each word through the model.
Status Tokenizer::Impl::EncodePiece(std::string_view piece, bool at_start, std::vector<int64_t>* ids) const {
  std::vector<Word> words = {{std::string(piece), at_start}};
  const ByteMap& bm = Bytes();
  for (const PreTokenize& t : pre_tokenizers) {
    std::vector<Word> out;
    for (Word& w : words) {
      switch (t.kind) {
        case PreTokenize::kSplit:
          SplitWith(t.pattern, w, &out);
          break;
        case PreTokenize::kByteLevel: {
          if (t.add_prefix_space && !w.text.empty() && w.text[0] != ' ') w.text.insert(0, " ");
          std::vector<Word> parts;
          if (t.use_regex) {
            SplitWith(Pattern::kGpt2, w, &parts);
          } else {
            parts.push_back(std::move(w));
          }
          for (Word& p : parts) {
            std::string mapped;
            for (char b : p.text) AppendUtf8(bm.to_char[static_cast<uint8_t>(b)], &mapped);
            out.push_back({std::move(mapped), p.at_start});
          }
          break;
        }
        case PreTokenize::kMetaspace: {
          std::string s = Replace(w.text, " ", t.replacement);
          const bool prepend = t.scheme == PreTokenize::kAlways || (t.scheme == PreTokenize::kFirst && w.at_start);
          if (prepend && s.compare(0, t.replacement.size(), t.replacement) != 0) s.insert(0, t.replacement);
          if (!t.split) {
            out.push_back({std::move(s), w.at_start});
            break;
          }
          // Split before each replacement character (it starts the next word).
          size_t from = 0;
          bool first = true;
          while (from < s.size()) {
            size_t k = s.find(t.replacement, from + (s.compare(from, t.replacement.size(), t.replacement) == 0
                                                         ? t.replacement.size()
                                                         : 0));
            if (k == std::string::npos) k = s.size();
            out.push_back({s.substr(from, k - from), w.at_start && first});
            first = false;
            from = k;
          }
          break;
        }
      }
    }
    words = std::move(out);
  }
  for (const Word& w : words) Bpe(w.text, ids);
  return OkStatus();
}

std::vector<std::string> Tokenizer::Impl::DecodeChain(std::vector<std::string> tokens) const {
  const ByteMap& bm = Bytes();
  for (const DecodeStep& d : decoders) {
    std::vector<std::string> out;
    switch (d.kind) {
      case DecodeStep::kByteLevel: {
        std::string bytes;
        for (const std::string& t : tokens) {
          std::string b;
          bool all = true;
          for (int32_t cp : CodePoints(t)) {
            auto it = bm.to_byte.find(cp);
            if (it == bm.to_byte.end()) {
              all = false;
              break;
            }
            b.push_back(static_cast<char>(it->second));
          }
          bytes += all ? b : t;
        }
        out.push_back(Utf8Lossy(bytes));
        break;
      }
      case DecodeStep::kMetaspace:
        for (size_t i = 0; i < tokens.size(); ++i) {
          // The first token loses all its leading replacement characters (as tokenizers 0.23 does).
          std::string_view t = tokens[i];
          while (i == 0 && d.prepend && !d.a.empty() && t.substr(0, d.a.size()) == d.a) t.remove_prefix(d.a.size());
          out.push_back(Replace(t, d.a, " "));
        }
        break;
      case DecodeStep::kReplace:
        for (const std::string& t : tokens) out.push_back(Replace(t, d.a, d.b));
        break;
      case DecodeStep::kByteFallback: {
        std::string pending;
        size_t count = 0;
        auto flush = [&] {
          if (count == 0) return;
          size_t at = 0;
          bool valid = true;
          while (at < pending.size()) {
            if (NextCodePoint(pending, &at) < 0) valid = false;
          }
          if (valid) {
            out.push_back(pending);
          } else {
            for (size_t k = 0; k < count; ++k) out.push_back(kReplacementChar);
          }
          pending.clear();
          count = 0;
        };
        for (const std::string& t : tokens) {
          int v = -1;
          if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>') {
            auto hex = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1; };
            const int hi = hex(t[3]), lo = hex(t[4]);
            if (hi >= 0 && lo >= 0) v = hi * 16 + lo;
          }
          if (v >= 0) {
            pending.push_back(static_cast<char>(v));
            ++count;
          } else {
            flush();
            out.push_back(t);
          }
        }
        flush();
        break;
      }
      case DecodeStep::kFuse: {
        std::string all;
        for (const std::string& t : tokens) all += t;
        out.push_back(std::move(all));
        break;
      }
      case DecodeStep::kStrip:
        for (const std::string& t : tokens) {
          size_t from = 0, to = t.size();
          for (size_t k = 0; k < d.start && t.compare(from, d.a.size(), d.a) == 0 && from < to; ++k) from += d.a.size();
          for (size_t k = 0; k < d.stop && to >= from + d.a.size() && t.compare(to - d.a.size(), d.a.size(), d.a) == 0;
               ++k) {
            to -= d.a.size();
          }
          out.push_back(t.substr(from, to - from));
        }
        break;
    }
    tokens = std::move(out);
  }
  return tokens;
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;

StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::Parse(std::string_view text, const std::string& where) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    return BadInputError(where + ": not valid JSON (" + std::string(e.what()) + ")");
  }
  if (!j.is_object()) return BadInputError(where + ": not a JSON object");
  auto impl = std::make_unique<Impl>();
  impl->where = where;
  if (!j.contains("model")) return BadInputError(where + ": \"model\" is missing");
  RETURN_IF_ERROR(impl->ParseModel(j["model"]));
  static const json kNull;
  auto field = [&](const char* key) -> const json& { return j.contains(key) ? j[key] : kNull; };
  RETURN_IF_ERROR(impl->ParseAddedTokens(field("added_tokens")));
  RETURN_IF_ERROR(impl->ParseNormalizer(field("normalizer"), where + " normalizer"));
  RETURN_IF_ERROR(impl->ParsePreTokenizer(field("pre_tokenizer"), where + " pre_tokenizer"));
  RETURN_IF_ERROR(impl->ParsePostProcessor(field("post_processor"), where + " post_processor"));
  RETURN_IF_ERROR(impl->ParseDecoder(field("decoder"), where + " decoder"));
  // The template's special tokens must be tokens of this tokenizer.
  for (const std::vector<int64_t>& part : impl->template_parts) {
    for (int64_t id : part) {
      if (static_cast<size_t>(id) >= impl->id_to_token.size() || impl->id_to_token[static_cast<size_t>(id)].empty()) {
        return BadInputError(where + " post_processor: the template's special token id " + std::to_string(id) +
                             " is not a token of this tokenizer");
      }
    }
  }
  // Longest first, so that the first match found at a position is the longest.
  std::stable_sort(impl->added.begin(), impl->added.end(),
                   [](const Impl::Added& a, const Impl::Added& b) { return a.content.size() > b.content.size(); });
  for (size_t k = 0; k < impl->added.size(); ++k) {
    impl->added_by_byte[static_cast<uint8_t>(impl->added[k].content[0])].push_back(k);
  }
  impl->special.resize(impl->id_to_token.size());
  return std::unique_ptr<Tokenizer>(new Tokenizer(std::move(impl)));
}

StatusOr<std::vector<int64_t>> Tokenizer::Encode(std::string_view text, bool add_special_tokens) const {
  const Impl& m = *impl_;
  for (size_t at = 0; at < text.size();) {
    const size_t from = at;
    if (NextCodePoint(text, &at) < 0) {
      return UsageError("the text is not UTF-8 at byte " + std::to_string(from) + "; give UTF-8 text");
    }
  }
  // Pieces of text and the added tokens between them. Added tokens that are not normalized
  // match in the raw text, the others in each piece once normalized.
  struct Piece {
    std::string text;
    int64_t token = -1;  // an added token's id; -1 for text
    bool at_start = false;
    bool normalized = false;
  };
  auto is_word = [](int32_t cp) { return cp == '_' || IsLetter(cp) || IsNumber(cp); };
  auto split = [&](const Piece& p, bool normalized_tokens, std::vector<Piece>* out) {
    const std::string& s = p.text;
    size_t gap = 0, i = 0;
    bool first = true;
    auto emit_text = [&](size_t a, size_t b) {
      if (a < b) out->push_back({s.substr(a, b - a), -1, p.at_start && first && a == 0, p.normalized});
      first = first && a == b;
    };
    while (i < s.size()) {
      const Impl::Added* hit = nullptr;
      for (const size_t k : m.added_by_byte[static_cast<uint8_t>(s[i])]) {
        const Impl::Added& t = m.added[k];
        if (t.normalized != normalized_tokens || s.compare(i, t.content.size(), t.content) != 0) continue;
        if (t.single_word) {
          size_t k = i;
          size_t back = i;
          int32_t before = -1;
          if (i > 0) {
            while (back > 0 && (static_cast<uint8_t>(s[back - 1]) & 0xC0) == 0x80) --back;
            --back;
            size_t q = back;
            before = NextCodePoint(s, &q);
          }
          k = i + t.content.size();
          size_t q = k;
          const int32_t after = k < s.size() ? NextCodePoint(s, &q) : -1;
          if ((before >= 0 && is_word(before)) || (after >= 0 && is_word(after))) continue;
        }
        hit = &t;
        break;
      }
      if (hit == nullptr) {
        ++i;
        continue;
      }
      size_t start = i, end = i + hit->content.size();
      while (hit->lstrip && start > gap) {  // whole white-space characters before the match
        size_t b = start - 1;
        while (b > gap && (static_cast<uint8_t>(s[b]) & 0xC0) == 0x80) --b;
        size_t q = b;
        if (!IsSpace(NextCodePoint(s, &q)) || q != start) break;
        start = b;
      }
      while (hit->rstrip && end < s.size()) {  // and after it
        size_t q = end;
        if (!IsSpace(NextCodePoint(s, &q))) break;
        end = q;
      }
      emit_text(gap, start);
      first = false;
      out->push_back({hit->content, hit->id, false, true});
      i = gap = end;
    }
    emit_text(gap, s.size());
  };
  std::vector<Piece> raw;
  split({std::string(text), -1, true, false}, false, &raw);
  std::vector<Piece> pieces;
  for (Piece& p : raw) {
    if (p.token >= 0) {
      pieces.push_back(std::move(p));
      continue;
    }
    for (const Impl::Normalize& n : m.normalizers) {
      switch (n.kind) {
        case Impl::Normalize::kNfc:
          p.text = Nfc(p.text);
          break;
        case Impl::Normalize::kPrepend:
          if (!p.text.empty()) p.text.insert(0, n.a);
          break;
        case Impl::Normalize::kReplace:
          p.text = Replace(p.text, n.a, n.b);
          break;
      }
      if (p.text.size() > 16 * text.size() + 4096) {
        return BadInputError("the tokenizer's normalizers grow a " + std::to_string(text.size()) + "-byte text to " +
                             std::to_string(p.text.size()) + " bytes; is the tokenizer.json damaged?");
      }
    }
    p.normalized = true;
    split(p, true, &pieces);
  }
  std::vector<int64_t> ids;
  for (const Piece& p : pieces) {
    if (p.token >= 0) {
      ids.push_back(p.token);
    } else {
      RETURN_IF_ERROR(m.EncodePiece(p.text, p.at_start, &ids));
    }
  }
  if (!add_special_tokens || !m.has_template) return ids;
  std::vector<int64_t> out;
  for (const std::vector<int64_t>& part : m.template_parts) {
    out.insert(out.end(), part.empty() ? ids.begin() : part.begin(), part.empty() ? ids.end() : part.end());
  }
  return out;
}

std::string Tokenizer::Decode(std::span<const int64_t> ids, bool skip_special_tokens) const {
  const Impl& m = *impl_;
  std::vector<std::string> tokens;
  for (int64_t id : ids) {
    if (id < 0 || static_cast<size_t>(id) >= m.id_to_token.size()) continue;
    const std::string& t = m.id_to_token[static_cast<size_t>(id)];
    if (t.empty()) continue;
    if (skip_special_tokens && m.special[static_cast<size_t>(id)]) continue;
    tokens.push_back(t);
  }
  if (!m.has_decoder) {
    std::string s;
    for (size_t i = 0; i < tokens.size(); ++i) s += (i ? " " : "") + tokens[i];
    return s;
  }
  std::string s;
  for (const std::string& t : m.DecodeChain(std::move(tokens))) s += t;
  return s;
}

int64_t Tokenizer::vocab_size() const { return static_cast<int64_t>(impl_->id_to_token.size()); }

int64_t Tokenizer::TokenId(std::string_view token) const {
  for (const Impl::Added& a : impl_->added) {
    if (a.content == token) return a.id;
  }
  auto it = impl_->vocab.find(std::string(token));
  return it == impl_->vocab.end() ? -1 : it->second;
}

}  // namespace ts::runtime
