#include "cli/args.h"

#include <cctype>
#include <charconv>
#include <cstdio>

namespace ts::cli {
namespace {

constexpr uint64_t kMaxSize = uint64_t{INT64_MAX};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

char Lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

// Multiplier of a unit suffix, or 0 when the suffix is not a unit.
uint64_t UnitMultiplier(std::string_view unit) {
  std::string u;
  for (char c : unit) u += Lower(c);
  if (u.empty() || u == "b") return 1;
  static constexpr std::pair<char, int> kPrefixes[] = {{'k', 10}, {'m', 20}, {'g', 30}, {'t', 40}};
  for (auto [prefix, shift] : kPrefixes) {
    if (u[0] != prefix) continue;
    std::string_view rest = std::string_view(u).substr(1);
    if (rest.empty() || rest == "b" || rest == "ib") return uint64_t{1} << shift;
  }
  return 0;
}

}  // namespace

StatusOr<uint64_t> ParseSize(std::string_view text) {
  auto error = [&](std::string_view why) {
    return UsageError("size \"" + std::string(text) + "\": " + std::string(why) +
                      "; write a number with an optional binary unit, e.g. 3.5G, 512MiB, 1024");
  };
  if (text.empty()) return error("empty");
  if (text[0] == '-') return error("negative sizes are not allowed");
  size_t i = 0;
  while (i < text.size() && IsDigit(text[i])) ++i;
  std::string_view int_part = text.substr(0, i);
  std::string_view frac_part;
  if (int_part.empty()) return error("expected a number");
  if (i < text.size() && text[i] == '.') {
    size_t start = ++i;
    while (i < text.size() && IsDigit(text[i])) ++i;
    frac_part = text.substr(start, i - start);
    if (frac_part.empty()) return error("expected digits after '.'");
  }
  size_t unit_start = i;
  while (unit_start < text.size() && text[unit_start] == ' ') ++unit_start;
  std::string_view unit = text.substr(unit_start);
  uint64_t mult = UnitMultiplier(unit);
  if (mult == 0 || (unit.empty() && unit_start != i)) {
    return error("unknown unit \"" + std::string(text.substr(i)) + "\" (use B, K, M, G or T)");
  }

  uint64_t whole = 0;
  for (char c : int_part) {
    if (__builtin_mul_overflow(whole, 10, &whole) ||
        __builtin_add_overflow(whole, static_cast<uint64_t>(c - '0'), &whole)) {
      return error("too large (the limit is 2^63 - 1 bytes)");
    }
  }
  // floor(mult * 0.d1d2...dn), exactly: folding digits from the last one, each step
  // floor((d * mult + acc) / 10) equals the floor of the exact partial value because
  // floor((a + floor(x)) / b) == floor((a + x) / b) for integers a, b. acc stays below mult.
  uint64_t frac_bytes = 0;
  for (size_t k = frac_part.size(); k-- > 0;) {
    frac_bytes = (static_cast<uint64_t>(frac_part[k] - '0') * mult + frac_bytes) / 10;
  }
  uint64_t bytes;
  if (__builtin_mul_overflow(whole, mult, &bytes) ||
      __builtin_add_overflow(bytes, frac_bytes, &bytes) || bytes > kMaxSize) {
    return error("too large (the limit is 2^63 - 1 bytes)");
  }
  return bytes;
}

std::string FormatSize(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return std::to_string(bytes) + (bytes == 1 ? " byte" : " bytes");
  int u = 0;
  while (u + 1 < 6 && bytes >> (10 * (u + 2)) != 0) ++u;
  const uint64_t unit = uint64_t{1} << (10 * (u + 1));
  const uint64_t whole = bytes / unit;
  // Hundredths of the remainder, rounded down; 128-bit because remainder * 100 can overflow.
  const uint64_t hundredths =
      static_cast<uint64_t>(static_cast<unsigned __int128>(bytes % unit) * 100 / unit);
  std::string s = std::to_string(whole);
  if (hundredths != 0) {
    char frac[4];
    std::snprintf(frac, sizeof(frac), "%02u", static_cast<unsigned>(hundredths));
    s += '.';
    s += frac[0];
    if (frac[1] != '0') s += frac[1];
  }
  return s + " " + kUnits[u] + " (" + std::to_string(bytes) + " bytes)";
}

StatusOr<std::pair<std::string, std::vector<int64_t>>> ParseShapeArg(std::string_view arg) {
  auto error = [&](std::string_view why) {
    return UsageError("--shape \"" + std::string(arg) + "\": " + std::string(why) +
                      "; write NAME=DIMS, e.g. input=1x3x224x224");
  };
  size_t eq = arg.rfind('=');
  if (eq == std::string_view::npos) return error("missing '='");
  if (eq == 0) return error("empty input name");
  std::string_view dims = arg.substr(eq + 1);
  if (dims.empty()) return error("no dimensions");
  std::vector<int64_t> shape;
  int64_t product = 1;
  while (true) {
    size_t x = dims.find('x');
    std::string_view tok = dims.substr(0, x);
    int64_t d = 0;
    auto [p, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), d);
    // from_chars would accept a leading '-'; IsDigit on the first char keeps dims unsigned.
    if (tok.empty() || !IsDigit(tok[0]) || ec != std::errc() || p != tok.data() + tok.size()) {
      return error("bad dimension \"" + std::string(tok) + "\" (dimensions are integers >= 1)");
    }
    if (d < 1) return error("dimension " + std::string(tok) + " must be >= 1");
    if (__builtin_mul_overflow(product, d, &product)) {
      return error("the element count overflows 64 bits");
    }
    shape.push_back(d);
    if (x == std::string_view::npos) break;
    dims.remove_prefix(x + 1);
  }
  return std::make_pair(std::string(arg.substr(0, eq)), std::move(shape));
}

}  // namespace ts::cli
