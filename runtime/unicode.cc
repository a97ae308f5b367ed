#include "runtime/unicode.h"

#include <algorithm>
#include <iterator>

namespace ts::runtime {
namespace {

#include "runtime/unicode_tables.inc"

}  // namespace

namespace {

template <size_t N>
bool InRanges(const uint32_t (&table)[N][2], int32_t cp) {
  const auto* it = std::upper_bound(std::begin(table), std::end(table), static_cast<uint32_t>(cp),
                                    [](uint32_t v, const uint32_t(&r)[2]) { return v < r[0]; });
  if (it == std::begin(table)) return false;
  --it;
  return static_cast<uint32_t>(cp) <= (*it)[1];
}

}  // namespace

bool IsLetter(int32_t cp) { return cp >= 0 && InRanges(kLetter, cp); }
bool IsNumber(int32_t cp) { return cp >= 0 && InRanges(kNumber, cp); }
// Unicode's White_Space property: what \s matches in the tokenizers' regexes.
bool IsSpace(int32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
         cp == 0x3000;
}
int CombiningClass(int32_t cp) {
  const auto* it = std::upper_bound(std::begin(kCombining), std::end(kCombining), static_cast<uint32_t>(cp),
                                    [](uint32_t v, const uint32_t(&r)[3]) { return v < r[0]; });
  if (it == std::begin(kCombining)) return 0;
  --it;
  return static_cast<uint32_t>(cp) <= (*it)[1] ? static_cast<int>((*it)[2]) : 0;
}

void AppendUtf8(int32_t cp, std::string* out) {
  const auto u = static_cast<uint32_t>(cp);
  if (u < 0x80) {
    out->push_back(static_cast<char>(u));
  } else if (u < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (u >> 6)));
    out->push_back(static_cast<char>(0x80 | (u & 0x3F)));
  } else if (u < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (u >> 12)));
    out->push_back(static_cast<char>(0x80 | ((u >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (u & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (u >> 18)));
    out->push_back(static_cast<char>(0x80 | ((u >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((u >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (u & 0x3F)));
  }
}

// The scalar values of valid UTF-8 text.
std::vector<int32_t> CodePoints(std::string_view text) {
  std::vector<int32_t> cps;
  size_t at = 0;
  while (at < text.size()) cps.push_back(NextCodePoint(text, &at));
  return cps;
}

std::string ToUtf8(std::span<const int32_t> cps) {
  std::string s;
  for (int32_t cp : cps) AppendUtf8(cp, &s);
  return s;
}


namespace {

// NFC_Quick_Check over the text: true when NFC certainly leaves it as it is.
bool IsNfc(std::string_view text) {
  int last = 0;
  size_t at = 0;
  while (at < text.size()) {
    const int32_t cp = NextCodePoint(text, &at);
    if (cp < 0x300) {  // nothing below U+0300 combines or changes
      last = 0;
      continue;
    }
    const int ccc = CombiningClass(cp);
    if (ccc != 0 && ccc < last) return false;
    if (InRanges(kNfcNo, cp) || InRanges(kNfcMaybe, cp)) return false;
    last = ccc;
  }
  return true;
}

// Hangul syllables decompose and compose by arithmetic (Unicode 3.12).
constexpr int32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr int32_t kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount, kSCount = kLCount * kNCount;

void Decompose(int32_t cp, std::vector<int32_t>* out) {
  if (cp >= kSBase && cp < kSBase + kSCount) {
    const int32_t s = cp - kSBase;
    out->push_back(kLBase + s / kNCount);
    out->push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount != 0) out->push_back(kTBase + s % kTCount);
    return;
  }
  const auto* it = std::lower_bound(std::begin(kDecompose), std::end(kDecompose), static_cast<uint32_t>(cp),
                                    [](const uint32_t(&r)[3], uint32_t v) { return r[0] < v; });
  if (it == std::end(kDecompose) || (*it)[0] != static_cast<uint32_t>(cp)) {
    out->push_back(cp);
    return;
  }
  Decompose(static_cast<int32_t>((*it)[1]), out);
  if ((*it)[2] != 0) Decompose(static_cast<int32_t>((*it)[2]), out);
}

// The primary composite of a and b, or -1.
int32_t Compose(int32_t a, int32_t b) {
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount) {
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  }
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase && b < kTBase + kTCount) {
    return a + (b - kTBase);
  }
  const uint32_t key[2] = {static_cast<uint32_t>(a), static_cast<uint32_t>(b)};
  const auto* it = std::lower_bound(std::begin(kCompose), std::end(kCompose), key, [](const uint32_t(&r)[3], const uint32_t* k) {
    return r[0] < k[0] || (r[0] == k[0] && r[1] < k[1]);
  });
  if (it == std::end(kCompose) || (*it)[0] != key[0] || (*it)[1] != key[1]) return -1;
  return static_cast<int32_t>((*it)[2]);
}

}  // namespace

std::string Nfc(std::string_view text) {
  if (IsNfc(text)) return std::string(text);
  std::vector<int32_t> d;
  for (int32_t cp : CodePoints(text)) Decompose(cp, &d);
  // Each run of non-starters sorted by combining class, keeping the order of equal classes.
  for (size_t i = 0; i < d.size();) {
    if (CombiningClass(d[i]) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < d.size() && CombiningClass(d[j]) != 0) ++j;
    std::stable_sort(d.begin() + static_cast<std::ptrdiff_t>(i), d.begin() + static_cast<std::ptrdiff_t>(j),
                     [](int32_t a, int32_t b) { return CombiningClass(a) < CombiningClass(b); });
    i = j;
  }
  std::vector<int32_t> out;
  int64_t starter = -1;
  int last_ccc = 0;
  for (int32_t ch : d) {
    const int ccc = CombiningClass(ch);
    if (starter >= 0) {
      const bool adjacent = static_cast<int64_t>(out.size()) - 1 == starter;
      const bool blocked = !adjacent && (last_ccc == 0 || last_ccc >= ccc);
      if (!blocked) {
        if (const int32_t c = Compose(out[static_cast<size_t>(starter)], ch); c >= 0) {
          out[static_cast<size_t>(starter)] = c;
          continue;
        }
      }
    }
    if (ccc == 0) starter = static_cast<int64_t>(out.size());
    out.push_back(ch);
    last_ccc = ccc;
  }
  return ToUtf8(out);
}

int32_t NextCodePoint(std::string_view t, size_t* at) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(t[k]); };
  const size_t i = *at;
  const uint8_t b0 = byte(i);
  if (b0 < 0x80) {
    *at = i + 1;
    return b0;
  }
  int need = 0;
  uint8_t lo = 0x80, hi = 0xBF;  // the range of the second byte
  int32_t cp = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1, cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2, cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3, cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    *at = i + 1;
    return -1;
  }
  size_t k = i + 1;
  for (int n = 0; n < need; ++n, ++k) {
    const uint8_t lo_n = n == 0 ? lo : 0x80, hi_n = n == 0 ? hi : 0xBF;
    if (k >= t.size() || byte(k) < lo_n || byte(k) > hi_n) {
      *at = k;  // the maximal subpart: the lead byte and the continuation bytes that fit
      return -1;
    }
    cp = (cp << 6) | (byte(k) & 0x3F);
  }
  *at = k;
  return cp;
}

std::string Utf8Lossy(std::string_view bytes) {
  std::string out;
  size_t at = 0;
  while (at < bytes.size()) {
    const size_t from = at;
    if (NextCodePoint(bytes, &at) < 0) {
      out += kReplacementChar;
    } else {
      out.append(bytes.substr(from, at - from));
    }
  }
  return out;
}

}  // namespace ts::runtime
