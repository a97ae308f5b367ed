// Unicode for the tokenizer: UTF-8 decoding as Rust's lossy conversion does it, the character
// classes a tokenizer's split patterns use (\p{L}, \p{N}, \s), canonical combining classes,
// and normalization form C. The tables are Unicode 14's, generated from Python's unicodedata by
// tools/gen_unicode_tables.py into unicode_tables.inc.
#ifndef TENSORSHUNT_RUNTIME_UNICODE_H_
#define TENSORSHUNT_RUNTIME_UNICODE_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ts::runtime {

inline constexpr char kReplacementChar[] = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

// Decodes one scalar value at text[*at] (*at < text.size()), advancing *at; -1 where the bytes
// are not UTF-8, *at then past the maximal invalid subpart (at least one byte).
int32_t NextCodePoint(std::string_view text, size_t* at);
// Bytes to text as Rust's String::from_utf8_lossy does it: each maximal invalid subpart becomes
// one U+FFFD.
std::string Utf8Lossy(std::string_view bytes);

void AppendUtf8(int32_t cp, std::string* out);
// The scalar values of UTF-8 text (-1 for each invalid subpart), and back.
std::vector<int32_t> CodePoints(std::string_view text);
std::string ToUtf8(std::span<const int32_t> cps);

bool IsLetter(int32_t cp);  // general category L*
bool IsNumber(int32_t cp);  // general category N*
bool IsSpace(int32_t cp);   // White_Space, what \s matches in the tokenizers' regexes
int CombiningClass(int32_t cp);

// Normalization form C: canonical decomposition (Hangul by arithmetic), canonical order,
// canonical composition. Text that passes NFC_Quick_Check comes back unchanged at once.
std::string Nfc(std::string_view text);

}  // namespace ts::runtime

#endif  // TENSORSHUNT_RUNTIME_UNICODE_H_
