#include "passes/hardware_profile.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cctype>
#include <charconv>
#include <cmath>
#include <exception>
#include <map>
#include <new>
#include <optional>
#include <sstream>
#include <utility>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

namespace ts::passes {
namespace {

constexpr std::string_view kSchemaRef = "examples/profiles/README.md";

// ---------------------------------------------------------------------------------------------
// Messages

std::string At(const std::string& where, int line, int column) {
  return where + " line " + std::to_string(line) + ", column " + std::to_string(column);
}

std::string At(const std::string& where, const YAML::Mark& m) {
  // yaml-cpp marks are 0-based; a null mark (-1) becomes line 0, which no real error has.
  return At(where, m.line + 1, m.column + 1);
}

Status FieldError(const std::string& where, const YAML::Mark& m, std::string_view field,
                  std::string_view what, std::string_view fix) {
  std::string f = field.empty() ? "" : "field '" + std::string(field) + "': ";
  return BadInputError(At(where, m) + ": " + f + std::string(what) + "; " + std::string(fix));
}

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1])});
      diag = up;
    }
  }
  return row[b.size()];
}

// ---------------------------------------------------------------------------------------------
// Bounds on hostile input, checked before yaml-cpp sees the text.

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

// Refuses control characters and nesting deeper than kMaxProfileNesting. The nesting estimate
// is the indentation depth of the line, plus compact "- "/"? "/": " indicators that open it,
// plus open flow brackets outside quotes and comments. It errs high on exotic YAML (block
// scalars, brackets inside plain scalars), never on what a profile looks like; yaml-cpp's own
// depth guard (2000) stays as the backstop for anything this scan miscounts.
Status PreScan(std::string_view t, const std::string& where) {
  int line = 1;
  size_t line_start = 0;
  int flow = 0;
  char quote = 0;
  int block = 0;
  std::vector<size_t> indents;
  while (line_start <= t.size()) {
    size_t end = t.find('\n', line_start);
    if (end == std::string_view::npos) end = t.size();
    std::string_view s = t.substr(line_start, end - line_start);
    if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
    for (size_t i = 0; i < s.size(); ++i) {
      unsigned char c = static_cast<unsigned char>(s[i]);
      if ((c < 0x20 && c != '\t') || c == 0x7f) {
        return BadInputError(At(where, line, static_cast<int>(i) + 1) + ": control character 0x" +
                             "0123456789abcdef"[c >> 4] + "0123456789abcdef"[c & 15] +
                             " in the document; a profile is plain UTF-8 text");
      }
    }
    size_t i = 0;
    if (quote == 0 && flow == 0) {
      size_t indent = 0;
      while (indent < s.size() && s[indent] == ' ') ++indent;
      bool content = indent < s.size() && s[indent] != '#' && s[indent] != '\t';
      if (content) {
        while (!indents.empty() && indents.back() > indent) indents.pop_back();
        if (indents.empty() || indents.back() < indent) indents.push_back(indent);
        block = static_cast<int>(indents.size());
        i = indent;
        while (i < s.size() && (s[i] == '-' || s[i] == '?' || s[i] == ':') &&
               (i + 1 == s.size() || IsBlank(s[i + 1]))) {
          ++block;
          ++i;
          while (i < s.size() && IsBlank(s[i])) ++i;
        }
      }
    }
    int deepest = block + flow;
    for (; i < s.size(); ++i) {
      char c = s[i];
      if (quote != 0) {
        if (quote == '"' && c == '\\') {
          ++i;
        } else if (quote == '\'' && c == '\'' && i + 1 < s.size() && s[i + 1] == '\'') {
          ++i;
        } else if (c == quote) {
          quote = 0;
        }
        continue;
      }
      bool token_start = i == 0 || IsBlank(s[i - 1]) || s[i - 1] == '[' || s[i - 1] == '{' ||
                         s[i - 1] == ',';
      if (c == '#' && (i == 0 || IsBlank(s[i - 1]))) break;
      if ((c == '"' || c == '\'') && token_start) quote = c;
      if (c == '[' || c == '{') deepest = std::max(deepest, block + ++flow);
      if ((c == ']' || c == '}') && flow > 0) --flow;
    }
    if (deepest > kMaxProfileNesting) {
      return BadInputError(At(where, line, 1) + ": nesting deeper than " +
                           std::to_string(kMaxProfileNesting) +
                           " levels; a hardware profile nests 3 levels deep (see " +
                           std::string(kSchemaRef) + ")");
    }
    if (end == t.size()) break;
    line_start = end + 1;
    ++line;
  }
  return OkStatus();
}

// ---------------------------------------------------------------------------------------------
// Exact decimal numbers with a power-of-ten unit.

// Parses strict decimal text ("51", "0.5", "1.2e3") as value * 10^pow10, rounded once. On
// failure returns what is wrong, for the message.
std::optional<std::string> ParseScaled(std::string_view s, int pow10, double* out) {
  if (s.empty()) return "empty number";
  if (s[0] == '-') return "must be >= 0";
  std::string lower(s);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string_view l = lower;
  if (l.starts_with('+')) l.remove_prefix(1);
  if (l.starts_with('.')) l.remove_prefix(1);
  if (l == "nan" || l == "inf" || l == "infinity") return "must be a finite number";
  size_t i = 0, int_digits = 0, frac_digits = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++int_digits;
  if (int_digits == 0) return "not a number";
  if (int_digits > 1 && s[0] == '0') return "leading zeros are ambiguous (YAML 1.1 octal)";
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++frac_digits;
    if (frac_digits == 0) return "not a number";
  }
  if (int_digits + frac_digits > 40) return "too many digits";
  std::string_view mantissa = s.substr(0, i);
  long exponent = 0;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    bool neg = false;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
    size_t exp_digits = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) && exp_digits < 5) {
      exponent = exponent * 10 + (s[i++] - '0');
      ++exp_digits;
    }
    if (exp_digits == 0 || exp_digits == 5) return "not a number";
    if (neg) exponent = -exponent;
  }
  if (i != s.size()) return "not a number";
  std::string text = std::string(mantissa) + "e" + std::to_string(exponent + pow10);
  double v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size()) return "out of range";
  if (!std::isfinite(v)) return "must be a finite number";
  *out = v;
  return std::nullopt;
}

// The shortest decimal text that ParseScaled(text, pow10) maps back to exactly x (x finite,
// >= 0): the shortest round-trip digits of x with the decimal point moved by pow10.
std::string FormatScaled(double x, int pow10) {
  if (x == 0) return "0";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::scientific);
  std::string_view sci(buf, r.ptr - buf);  // "d[.ddd]e[+-]XX"
  size_t e = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e)) {
    if (c != '.') digits += c;
  }
  int exp10 = 0;
  std::string_view es = sci.substr(e + 1);
  if (es[0] == '+') es.remove_prefix(1);
  std::from_chars(es.data(), es.data() + es.size(), exp10);
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  // value = 0.digits * 10^point after scaling.
  long point = static_cast<long>(exp10) + 1 - pow10;
  long n = static_cast<long>(digits.size());
  if (point > 0 && point <= n) {
    std::string s = digits.substr(0, point);
    if (point < n) s += "." + digits.substr(point);
    return s;
  }
  if (point > n && point <= 21) return digits + std::string(point - n, '0');
  if (point <= 0 && point > -6) return "0." + std::string(-point, '0') + digits;
  std::string s = digits.substr(0, 1);
  if (n > 1) s += "." + digits.substr(1);
  return s + "e" + std::to_string(point - 1);
}

struct SizeUnit {
  std::string_view name;
  uint64_t bytes;
};
// Largest first: FormatSize picks the first unit that divides exactly.
constexpr SizeUnit kSizeUnits[] = {
    {"TiB", uint64_t{1} << 40}, {"TB", 1000000000000}, {"GiB", uint64_t{1} << 30},
    {"GB", 1000000000},         {"MiB", uint64_t{1} << 20}, {"MB", 1000000},
    {"KiB", uint64_t{1} << 10}, {"KB", 1000},           {"B", 1},
};

// "85899345920", "80GiB", "80 GiB", "1.5GiB", "80GB": a whole number of bytes.
std::optional<std::string> ParseSize(std::string_view s, uint64_t* out) {
  size_t i = 0;
  unsigned __int128 mant = 0, scale = 1;
  size_t int_digits = 0, frac_digits = 0;
  if (!s.empty() && s[0] == '-') return "must be >= 0";
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
    if (++int_digits > 20) return "too large";
    mant = mant * 10 + (s[i++] - '0');
  }
  if (int_digits == 0) return "not a size (an integer of bytes, or a number and a unit such as 80GiB)";
  if (int_digits > 1 && s[0] == '0') return "leading zeros are ambiguous (YAML 1.1 octal)";
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
      if (++frac_digits > 9) return "too many decimals";
      mant = mant * 10 + (s[i++] - '0');
      scale *= 10;
    }
    if (frac_digits == 0) return "not a size";
  }
  std::string_view unit = s.substr(i);
  if (unit.starts_with(' ')) unit.remove_prefix(1);
  uint64_t mult = 0;
  if (unit.empty() && i == s.size()) {
    if (frac_digits > 0) return "a byte count must be a whole number; add a unit (e.g. 1.5GiB)";
    mult = 1;
  }
  for (const SizeUnit& u : kSizeUnits) {
    if (unit == u.name) mult = u.bytes;
  }
  if (mult == 0) {
    return "unknown unit '" + std::string(unit) +
           "' (units: B, KiB, MiB, GiB, TiB are powers of 1024; KB, MB, GB, TB powers of 1000)";
  }
  unsigned __int128 total = mant * mult;
  if (total % scale != 0) return "not a whole number of bytes";
  total /= scale;
  if (total > UINT64_MAX) return "too large";
  *out = static_cast<uint64_t>(total);
  return std::nullopt;
}

std::string FormatSize(uint64_t b) {
  if (b == 0) return "0";
  for (const SizeUnit& u : kSizeUnits) {
    if (u.bytes > 1 && b % u.bytes == 0) return std::to_string(b / u.bytes) + std::string(u.name);
  }
  return std::to_string(b);
}

// ---------------------------------------------------------------------------------------------
// Schema walking. Each mapping is read once into a table keyed by name; every lookup removes
// nothing, and unknown or duplicate keys are refused up front, so what remains is typed reads.

struct Entry {
  YAML::Node key, value;
};
using Table = std::map<std::string, Entry, std::less<>>;

std::string Describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Sequence: return "a sequence";
    case YAML::NodeType::Null: return "nothing (null)";
    case YAML::NodeType::Scalar:
      return n.Tag() == "!" ? "the quoted string \"" + n.Scalar() + "\"" : "'" + n.Scalar() + "'";
    default: return "an undefined node";
  }
}

std::string Child(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

class Reader {
 public:
  explicit Reader(const std::string& where) : where_(where) {}

  // Reads `node` (reached through `path`, anchored at `anchor` for messages) as a mapping
  // whose keys must all be in `allowed`.
  Status ReadMap(const YAML::Node& node, const YAML::Mark& anchor, const std::string& path,
                 std::initializer_list<std::string_view> allowed, Table* out) {
    if (!node.IsMap()) {
      return FieldError(where_, node.IsNull() ? anchor : node.Mark(), path,
                        "expected a mapping, found " + Describe(node),
                        "see " + std::string(kSchemaRef) + " for its keys");
    }
    for (auto it = node.begin(); it != node.end(); ++it) {
      YAML::Node k = it->first;  // copies: `it->` yields a temporary proxy
      if (!k.IsScalar()) {
        return FieldError(where_, k.Mark(), path, "a key is " + Describe(k),
                          "keys are plain names");
      }
      const std::string& name = k.Scalar();
      std::string field = Child(path, name);
      if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
        std::string_view best;
        size_t best_d = 3;
        std::vector<std::string> known;
        for (std::string_view a : allowed) {
          known.emplace_back(a);
          size_t d = EditDistance(name, a);
          if (d < best_d) best_d = d, best = a;
        }
        std::string fix = best.empty() ? "" : "did you mean '" + std::string(best) + "'? ";
        return FieldError(where_, k.Mark(), field, "unknown key",
                          fix + "known keys here: " + Join(known));
      }
      if (auto prev = out->find(name); prev != out->end()) {
        return FieldError(where_, k.Mark(), field,
                          "duplicate key (first at line " +
                              std::to_string(prev->second.key.Mark().line + 1) + ")",
                          "keep one");
      }
      out->emplace(name, Entry{k, it->second});
    }
    return OkStatus();
  }

  // A non-empty string, plain or quoted, checked by `valid`.
  Status String(const Table& t, const YAML::Mark& anchor, const std::string& path,
                std::string_view key, bool required, bool (*valid)(std::string_view),
                std::string_view expect, std::string* out) {
    const Entry* e = Find(t, key);
    std::string field = Child(path, key);
    if (e == nullptr) return required ? Missing(anchor, field, expect) : OkStatus();
    RETURN_IF_ERROR(CheckScalar(*e, field, expect, /*allow_quoted=*/true));
    const std::string& s = e->value.Scalar();
    if (!valid(s)) {
      return FieldError(where_, e->value.Mark(), field, "'" + s + "' is not valid",
                        "expected " + std::string(expect));
    }
    *out = s;
    return OkStatus();
  }

  // A number in YAML units, stored as value * 10^pow10; must be > 0 when `positive`.
  Status Number(const Table& t, const YAML::Mark& anchor, const std::string& path,
                std::string_view key, bool required, bool positive, int pow10, double* out) {
    const Entry* e = Find(t, key);
    std::string field = Child(path, key);
    std::string_view expect = positive ? "a number > 0" : "a number >= 0";
    if (e == nullptr) return required ? Missing(anchor, field, expect) : OkStatus();
    RETURN_IF_ERROR(CheckScalar(*e, field, expect, /*allow_quoted=*/false));
    const std::string& s = e->value.Scalar();
    double v = 0;
    if (auto err = ParseScaled(s, pow10, &v)) {
      return FieldError(where_, e->value.Mark(), field, "'" + s + "': " + *err,
                        "write " + std::string(expect) + " in decimal, e.g. 51 or 0.5");
    }
    if (positive && v == 0) {
      return FieldError(where_, e->value.Mark(), field, "must be > 0",
                        "give the measured or datasheet value, or run `tsc profile probe`");
    }
    *out = v;
    return OkStatus();
  }

  Status Integer(const Table& t, const YAML::Mark& anchor, const std::string& path,
                 std::string_view key, bool required, int max, int* out) {
    const Entry* e = Find(t, key);
    std::string field = Child(path, key);
    std::string expect = "an integer from 0 to " + std::to_string(max);
    if (e == nullptr) return required ? Missing(anchor, field, expect) : OkStatus();
    RETURN_IF_ERROR(CheckScalar(*e, field, expect, /*allow_quoted=*/false));
    const std::string& s = e->value.Scalar();
    int v = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    bool ok = ec == std::errc() && ptr == s.data() + s.size() && v >= 0 && v <= max &&
              !(s.size() > 1 && s[0] == '0');
    if (!ok) return FieldError(where_, e->value.Mark(), field, "'" + s + "' is not " + expect, "fix the value");
    *out = v;
    return OkStatus();
  }

  Status Size(const Table& t, const YAML::Mark& anchor, const std::string& path,
              std::string_view key, bool required, bool positive, uint64_t* out) {
    const Entry* e = Find(t, key);
    std::string field = Child(path, key);
    std::string_view expect = "a size such as 80GiB, 80GB or 85899345920 (bytes)";
    if (e == nullptr) return required ? Missing(anchor, field, expect) : OkStatus();
    RETURN_IF_ERROR(CheckScalar(*e, field, expect, /*allow_quoted=*/false));
    const std::string& s = e->value.Scalar();
    uint64_t v = 0;
    if (auto err = ParseSize(s, &v)) {
      return FieldError(where_, e->value.Mark(), field, "'" + s + "': " + *err,
                        "expected " + std::string(expect));
    }
    if (positive && v == 0) return FieldError(where_, e->value.Mark(), field, "must be > 0", "give the size");
    *out = v;
    return OkStatus();
  }

  // A nested mapping: returns nullptr in *found when absent (and not required).
  Status Section(const Table& t, const YAML::Mark& anchor, const std::string& path,
                 std::string_view key, bool required,
                 std::initializer_list<std::string_view> allowed, Table* out, YAML::Mark* mark,
                 bool* present) {
    const Entry* e = Find(t, key);
    std::string field = Child(path, key);
    *present = e != nullptr;
    if (e == nullptr) {
      return required ? Missing(anchor, field, "a mapping (see " + std::string(kSchemaRef) + ")")
                      : OkStatus();
    }
    *mark = e->key.Mark();
    return ReadMap(e->value, e->key.Mark(), field, allowed, out);
  }

  Status Forbid(const Table& t, std::string_view key, std::string_view why) {
    const Entry* e = Find(t, key);
    if (e == nullptr) return OkStatus();
    return FieldError(where_, e->key.Mark(), key, "not allowed here: " + std::string(why),
                      "remove it");
  }

 private:
  static const Entry* Find(const Table& t, std::string_view key) {
    auto it = t.find(key);
    return it == t.end() ? nullptr : &it->second;
  }

  Status Missing(const YAML::Mark& anchor, const std::string& field, std::string_view expect) {
    return FieldError(where_, anchor, field, "required field is missing",
                      "add it: " + std::string(expect));
  }

  Status CheckScalar(const Entry& e, const std::string& field, std::string_view expect,
                     bool allow_quoted) {
    const YAML::Node& v = e.value;
    if (v.IsScalar() && (v.Tag() == "?" || (allow_quoted && v.Tag() == "!"))) return OkStatus();
    std::string found = v.IsScalar() && v.Tag() != "!" ? "a value tagged " + v.Tag() : Describe(v);
    return FieldError(where_, v.IsNull() ? e.key.Mark() : v.Mark(), field,
                      "expected " + std::string(expect) + ", found " + found,
                      allow_quoted ? "write the value" : "write the number without quotes or tags");
  }

  const std::string& where_;
};

bool ValidName(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}
bool ValidTarget(std::string_view s) { return s == "cuda" || s == "cpu"; }
bool ValidArch(std::string_view s) {
  if (!s.starts_with("sm_") || s.size() > 8) return false;
  s.remove_prefix(3);
  size_t d = 0;
  while (d < s.size() && std::isdigit(static_cast<unsigned char>(s[d]))) ++d;
  if (d < 2 || d > 3 || s[0] == '0') return false;
  return d == s.size() || (d + 1 == s.size() && std::islower(static_cast<unsigned char>(s[d])));
}

constexpr int kGiga = 9, kTera = 12, kMicro = -6;

Status ReadLink(Reader& r, const Table& links, const YAML::Mark& anchor, std::string_view key,
                bool required, HardwareProfile::Link* out) {
  Table t;
  YAML::Mark mark;
  bool present = false;
  RETURN_IF_ERROR(r.Section(links, anchor, "links", key, required,
                            {"bandwidth_gbps", "latency_us"}, &t, &mark, &present));
  if (!present) return OkStatus();
  std::string path = "links." + std::string(key);
  RETURN_IF_ERROR(r.Number(t, mark, path, "bandwidth_gbps", true, true, kGiga, &out->bandwidth));
  return r.Number(t, mark, path, "latency_us", false, false, kMicro, &out->latency_s);
}

StatusOr<HardwareProfile> ReadProfile(const YAML::Node& root, const std::string& where) {
  Reader r(where);
  HardwareProfile p;
  Table top;
  const YAML::Mark& m = root.Mark();
  RETURN_IF_ERROR(r.ReadMap(root, m, "", {"name", "target", "cuda_arch", "device_memory", "compute",
                                          "device_memory_bandwidth_gbps", "links", "nvme", "cpu",
                                          "kernel_launch_latency_us"},
                            &top));
  RETURN_IF_ERROR(r.String(top, m, "", "name", true, ValidName,
                           "a name of letters, digits, '.', '_' and '-', at most 64 characters",
                           &p.name));
  RETURN_IF_ERROR(r.String(top, m, "", "target", true, ValidTarget, "cuda or cpu", &p.target));
  bool cuda = p.target == "cuda";
  if (cuda) {
    RETURN_IF_ERROR(r.String(top, m, "", "cuda_arch", true, ValidArch,
                             "a CUDA SM architecture such as sm_90, sm_89 or sm_90a", &p.cuda_arch));
  } else {
    RETURN_IF_ERROR(r.Forbid(top, "cuda_arch", "target is cpu"));
    RETURN_IF_ERROR(r.Forbid(top, "links", "target is cpu, which has no host-device links"));
  }
  RETURN_IF_ERROR(r.Size(top, m, "", "device_memory", true, true, &p.device_memory_bytes));

  Table compute;
  YAML::Mark cm;
  bool present = false;
  RETURN_IF_ERROR(r.Section(top, m, "", "compute", true,
                            {"fp32_tflops", "fp16_tflops", "bf16_tflops", "tf32_tflops", "int8_tops",
                             "fp32_conv_tflops"},
                            &compute, &cm, &present));
  RETURN_IF_ERROR(r.Number(compute, cm, "compute", "fp32_tflops", true, true, kTera, &p.peak_flops_fp32));
  RETURN_IF_ERROR(r.Number(compute, cm, "compute", "fp16_tflops", false, false, kTera, &p.peak_flops_fp16));
  RETURN_IF_ERROR(r.Number(compute, cm, "compute", "bf16_tflops", false, false, kTera, &p.peak_flops_bf16));
  RETURN_IF_ERROR(r.Number(compute, cm, "compute", "tf32_tflops", false, false, kTera, &p.peak_flops_tf32));
  RETURN_IF_ERROR(r.Number(compute, cm, "compute", "int8_tops", false, false, kTera, &p.peak_ops_int8));
  RETURN_IF_ERROR(r.Number(compute, cm, "compute", "fp32_conv_tflops", false, false, kTera, &p.conv_flops_fp32));
  RETURN_IF_ERROR(r.Number(top, m, "", "device_memory_bandwidth_gbps", true, true, kGiga,
                           &p.device_memory_bandwidth));

  if (cuda) {
    Table links;
    YAML::Mark lm;
    RETURN_IF_ERROR(r.Section(top, m, "", "links", true,
                              {"h2d_pinned", "h2d_pageable", "d2h_pinned", "d2h_pageable"}, &links,
                              &lm, &present));
    RETURN_IF_ERROR(ReadLink(r, links, lm, "h2d_pinned", true, &p.h2d_pinned));
    RETURN_IF_ERROR(ReadLink(r, links, lm, "h2d_pageable", false, &p.h2d_pageable));
    RETURN_IF_ERROR(ReadLink(r, links, lm, "d2h_pinned", false, &p.d2h_pinned));
    RETURN_IF_ERROR(ReadLink(r, links, lm, "d2h_pageable", false, &p.d2h_pageable));
  }

  Table nvme;
  YAML::Mark nm;
  RETURN_IF_ERROR(r.Section(top, m, "", "nvme", false, {"read_bandwidth_gbps", "latency_us", "queue_depth"},
                            &nvme, &nm, &present));
  if (present) {
    RETURN_IF_ERROR(r.Number(nvme, nm, "nvme", "read_bandwidth_gbps", true, true, kGiga,
                             &p.nvme.read_bandwidth));
    RETURN_IF_ERROR(r.Number(nvme, nm, "nvme", "latency_us", false, false, kMicro, &p.nvme.latency_s));
    RETURN_IF_ERROR(r.Integer(nvme, nm, "nvme", "queue_depth", false, 65536, &p.nvme.queue_depth));
  }

  Table cpu;
  YAML::Mark pm;
  RETURN_IF_ERROR(r.Section(top, m, "", "cpu", false, {"cores", "simd_width_bits", "ram"}, &cpu, &pm,
                            &present));
  if (present) {
    RETURN_IF_ERROR(r.Integer(cpu, pm, "cpu", "cores", false, 1 << 20, &p.cpu_cores));
    RETURN_IF_ERROR(r.Integer(cpu, pm, "cpu", "simd_width_bits", false, 2048, &p.simd_width_bits));
    int w = p.simd_width_bits;
    if (w != 0 && (w < 64 || (w & (w - 1)) != 0)) {
      return FieldError(where, cpu.find("simd_width_bits")->second.value.Mark(),
                        "cpu.simd_width_bits", std::to_string(w) + " is not a SIMD register width",
                        "use 128 (SSE/NEON), 256 (AVX2), 512 (AVX-512) or 0 if unknown");
    }
    RETURN_IF_ERROR(r.Size(cpu, pm, "cpu", "ram", false, false, &p.host_ram_bytes));
  }
  RETURN_IF_ERROR(r.Number(top, m, "", "kernel_launch_latency_us", false, false, kMicro,
                           &p.kernel_launch_latency_s));
  return p;
}

// Counts documents without building nodes. yaml-cpp 0.7's LoadAll loops forever, allocating, on
// a stray ',' outside a flow collection (jbeder/yaml-cpp#1040, fixed upstream in 2024 by #1319):
// its parser then reports the same document again without consuming anything. So documents are
// counted here, at most three calls, and a document that starts where the previous one started
// is that stall.
class DocumentCounter : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

  std::vector<YAML::Mark> starts;
};

// Parses the single document of `text` (yaml-cpp may throw; the caller catches).
StatusOr<YAML::Node> LoadOneDocument(const std::string& text, const std::string& where) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentCounter counter;
  for (int i = 0; i < 3 && parser.HandleNextDocument(counter); ++i) {
    const std::vector<YAML::Mark>& s = counter.starts;
    if (s.size() >= 2 && s[s.size() - 1].pos == s[s.size() - 2].pos) {
      return BadInputError(At(where, s.back()) +
                           ": YAML syntax error: unexpected text (a stray ',' or similar); fix the "
                           "YAML syntax");
    }
  }
  if (counter.starts.size() >= 2) {
    return BadInputError(At(where, counter.starts[1]) +
                         ": a second YAML document; put one profile per file");
  }
  if (counter.starts.empty()) return YAML::Node();
  std::istringstream again(text);
  return YAML::Load(again);
}

}  // namespace

StatusOr<HardwareProfile> ParseHardwareProfile(std::string_view yaml_text, const std::string& where) {
  if (yaml_text.size() > kMaxProfileBytes) {
    return BadInputError(where + ": document is " + std::to_string(yaml_text.size()) +
                         " bytes, over the 1 MiB limit for a profile; a hardware profile is about "
                         "1 KiB: check that this is the right file");
  }
  RETURN_IF_ERROR(PreScan(yaml_text, where));
  try {
    ASSIGN_OR_RETURN(YAML::Node root, LoadOneDocument(std::string(yaml_text), where));
    if (!root.IsDefined() || root.IsNull()) {
      return BadInputError(At(where, 1, 1) +
                           ": empty document; a profile is a mapping with at least name, target, "
                           "device_memory, compute and device_memory_bandwidth_gbps (see " +
                           std::string(kSchemaRef) + ")");
    }
    if (!root.IsMap()) {
      return BadInputError(At(where, root.Mark()) + ": the document is " + Describe(root) +
                           ", not a mapping; a profile is a mapping of name, target, ... (see " +
                           std::string(kSchemaRef) + ")");
    }
    return ReadProfile(root, where);
  } catch (const YAML::Exception& e) {
    return BadInputError(At(where, e.mark) + ": YAML syntax error: " + e.msg +
                         "; fix the YAML syntax");
  } catch (const std::bad_alloc&) {
    return BadInputError(where + ": out of memory while parsing; the document is not a profile");
  } catch (const std::exception& e) {
    return InternalError(where + ": yaml-cpp failed: " + e.what());
  } catch (...) {
    return InternalError(where + ": yaml-cpp threw an unknown exception");
  }
}

StatusOr<HardwareProfile> LoadHardwareProfile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError(errno, "opening hardware profile " + path);
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoError(errno, "reading hardware profile " + path);
  if (!S_ISREG(st.st_mode)) {
    return BadInputError(path + ": not a regular file; pass a profile YAML file or a shipped name");
  }
  std::string text;
  char buf[65536];
  while (text.size() <= kMaxProfileBytes) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError(errno, "reading hardware profile " + path);
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  return ParseHardwareProfile(text, path);
}

std::vector<std::string> ShippedProfileNames() {
  std::vector<std::string> names;
  for (const internal::ShippedProfile& s : internal::ShippedProfileTable()) names.emplace_back(s.name);
  std::sort(names.begin(), names.end());
  return names;
}

StatusOr<HardwareProfile> ResolveHardwareProfile(const std::string& name_or_path) {
  for (const internal::ShippedProfile& s : internal::ShippedProfileTable()) {
    if (name_or_path == s.name) {
      return ParseHardwareProfile(s.yaml, "<shipped profile " + name_or_path + ">");
    }
  }
  struct stat st;
  if (::stat(name_or_path.c_str(), &st) != 0) {
    return UsageError("--profile '" + name_or_path +
                      "': no shipped profile has that name and no such file exists; shipped "
                      "profiles: " + Join(ShippedProfileNames()) +
                      "; or pass the path of a profile YAML (write one with `tsc profile probe`)");
  }
  return LoadHardwareProfile(name_or_path);
}

std::string ProfileToYaml(const HardwareProfile& p) {
  std::string y =
      "# TensorShunt hardware profile; schema and units: examples/profiles/README.md\n"
      "# (GB/s = 1e9 bytes/s, TFLOPS = 1e12 FLOP/s, us = microseconds).\n";
  auto num = [](double v, int pow10) { return FormatScaled(v, pow10); };
  y += "name: \"" + p.name + "\"\n";
  y += "target: " + p.target + "\n";
  if (!p.cuda_arch.empty()) y += "cuda_arch: " + p.cuda_arch + "\n";
  y += "device_memory: " + FormatSize(p.device_memory_bytes) + "\n";
  y += "compute:\n";
  y += "  fp32_tflops: " + num(p.peak_flops_fp32, kTera) + "\n";
  y += "  fp16_tflops: " + num(p.peak_flops_fp16, kTera) + "\n";
  y += "  bf16_tflops: " + num(p.peak_flops_bf16, kTera) + "\n";
  y += "  tf32_tflops: " + num(p.peak_flops_tf32, kTera) + "\n";
  y += "  int8_tops: " + num(p.peak_ops_int8, kTera) + "\n";
  if (p.conv_flops_fp32 > 0) y += "  fp32_conv_tflops: " + num(p.conv_flops_fp32, kTera) + "\n";
  y += "device_memory_bandwidth_gbps: " + num(p.device_memory_bandwidth, kGiga) + "\n";
  if (p.target != "cpu") {
    y += "links:\n";
    auto link = [&](std::string_view key, const HardwareProfile::Link& l) {
      if (l.bandwidth == 0) return;
      y += "  " + std::string(key) + ":\n";
      y += "    bandwidth_gbps: " + num(l.bandwidth, kGiga) + "\n";
      y += "    latency_us: " + num(l.latency_s, kMicro) + "\n";
    };
    link("h2d_pinned", p.h2d_pinned);
    link("h2d_pageable", p.h2d_pageable);
    link("d2h_pinned", p.d2h_pinned);
    link("d2h_pageable", p.d2h_pageable);
  }
  if (p.nvme.read_bandwidth != 0) {
    y += "nvme:\n";
    y += "  read_bandwidth_gbps: " + num(p.nvme.read_bandwidth, kGiga) + "\n";
    y += "  latency_us: " + num(p.nvme.latency_s, kMicro) + "\n";
    y += "  queue_depth: " + std::to_string(p.nvme.queue_depth) + "\n";
  }
  y += "cpu:\n";
  y += "  cores: " + std::to_string(p.cpu_cores) + "\n";
  y += "  simd_width_bits: " + std::to_string(p.simd_width_bits) + "\n";
  y += "  ram: " + FormatSize(p.host_ram_bytes) + "\n";
  y += "kernel_launch_latency_us: " + num(p.kernel_launch_latency_s, kMicro) + "\n";
  return y;
}

uint64_t ProfileHash(const HardwareProfile& p) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : ProfileToYaml(p)) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace ts::passes
