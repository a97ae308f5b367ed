#include "ir/text.h"

#include <charconv>
#include <climits>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ts::ir {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";
constexpr int kFormatVersion = 1;

// ---------------------------------------------------------------------------------------------
// Printing

bool IsIdentStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool IsIdentChar(char c, bool op_chars) {
  return IsIdentStart(c) || (c >= '0' && c <= '9') || (op_chars && (c == '.' || c == ':'));
}
bool IsBare(std::string_view s, bool op_chars) {
  if (s.empty() || !IsIdentStart(s[0])) return false;
  for (char c : s) {
    if (!IsIdentChar(c, op_chars)) return false;
  }
  return true;
}

void AppendQuoted(std::string& out, std::string_view s) {
  out += '"';
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c >= 0x20 && c < 0x7f) {
          out += ch;
        } else {
          out += "\\x";
          out += kHexDigits[c >> 4];
          out += kHexDigits[c & 15];
        }
    }
  }
  out += '"';
}

void AppendBareOrQuoted(std::string& out, std::string_view s, bool op_chars) {
  if (IsBare(s, op_chars)) {
    out += s;
  } else {
    AppendQuoted(out, s);
  }
}

void AppendDouble(std::string& out, double d) {
  // to_chars would print "-nan" or "nan" too, but the spelling of NaN is not pinned down by the
  // standard, and the parser relies on exactly these four words.
  if (std::isnan(d)) {
    out += std::signbit(d) ? "-nan" : "nan";
    return;
  }
  if (std::isinf(d)) {
    out += d < 0 ? "-inf" : "inf";
    return;
  }
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), d);
  out.append(buf, r.ptr);
}

void AppendRef(std::string& out, const Graph& g, int id) {
  if (id >= 0 && id < static_cast<int>(g.values.size())) {
    AppendQuoted(out, g.values[id].name);
  } else {
    out += "<invalid " + std::to_string(id) + ">";
  }
}

void AppendRefList(std::string& out, const Graph& g, const std::vector<int>& ids,
                   bool allow_omitted) {
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) out += ", ";
    if (allow_omitted && ids[i] == -1) {
      out += '_';
    } else {
      AppendRef(out, g, ids[i]);
    }
  }
}

void AppendAttr(std::string& out, const AttrValue& a) {
  if (const auto* i = std::get_if<int64_t>(&a)) {
    out += "i:" + std::to_string(*i);
  } else if (const auto* f = std::get_if<double>(&a)) {
    out += "f:";
    AppendDouble(out, *f);
  } else if (const auto* s = std::get_if<std::string>(&a)) {
    out += "s:";
    AppendQuoted(out, *s);
  } else if (const auto* is = std::get_if<std::vector<int64_t>>(&a)) {
    out += "ints:[";
    for (size_t k = 0; k < is->size(); ++k) {
      if (k > 0) out += ',';
      out += std::to_string((*is)[k]);
    }
    out += ']';
  } else if (const auto* fs = std::get_if<std::vector<double>>(&a)) {
    out += "floats:[";
    for (size_t k = 0; k < fs->size(); ++k) {
      if (k > 0) out += ',';
      AppendDouble(out, (*fs)[k]);
    }
    out += ']';
  }
}

void AppendValue(std::string& out, const Value& v, const PrintOptions& options) {
  out += ValueKindName(v.kind);
  out += ' ';
  AppendQuoted(out, v.name);
  out += ' ';
  out += DTypeName(v.dtype);
  out += '[';
  if (!v.shape_known) out += '?';
  for (size_t k = 0; k < v.shape.size(); ++k) {
    if (k > 0) out += ',';
    out += std::to_string(v.shape[k]);
  }
  out += ']';
  if (v.HasData()) {
    if (options.elide_data) {
      out += " data=elided";
    } else {
      out += " data=hex:";
      out.reserve(out.size() + v.data->size() * 2 + 1);
      for (uint8_t b : *v.data) {
        out += kHexDigits[b >> 4];
        out += kHexDigits[b & 15];
      }
    }
  }
  out += '\n';
}

void AppendNode(std::string& out, const Graph& g, const Node& n) {
  out += "node ";
  AppendQuoted(out, n.name);
  out += ' ';
  AppendBareOrQuoted(out, n.op, /*op_chars=*/true);
  out += '(';
  AppendRefList(out, g, n.inputs, /*allow_omitted=*/true);
  out += ") -> (";
  AppendRefList(out, g, n.outputs, /*allow_omitted=*/false);
  out += ')';
  if (!n.attrs.empty()) {
    out += " {";
    bool first = true;
    for (const auto& [key, value] : n.attrs) {
      if (!first) out += ", ";
      first = false;
      AppendBareOrQuoted(out, key, /*op_chars=*/false);
      out += '=';
      AppendAttr(out, value);
    }
    out += '}';
  }
  out += '\n';
}

// ---------------------------------------------------------------------------------------------
// Parsing: one Line cursor per text line. Nothing recurses and every read is bounds-checked
// against the line, so no input can crash the parser or exhaust the stack.

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

class Line {
 public:
  Line(std::string_view text, int number) : s_(text), number_(number) {}

  size_t pos() {
    Skip();
    return pos_;
  }
  bool AtEnd() { return pos() >= s_.size(); }
  bool Peek(char c) { return pos() < s_.size() && s_[pos_] == c; }
  bool Consume(char c) {
    if (!Peek(c)) return false;
    ++pos_;
    return true;
  }

  Status ErrorAt(size_t at, std::string_view what, std::string_view expected) const {
    return BadInputError(Where(at) + std::string(what) + "; expected " + std::string(expected));
  }
  // "line L, column C: " for messages that come from elsewhere (Graph::AddValue).
  std::string Where(size_t at) const {
    return "line " + std::to_string(number_) + ", column " + std::to_string(at + 1) + ": ";
  }
  // An error at the current position that says what was found there.
  Status Unexpected(std::string_view expected) {
    size_t at = pos();
    return ErrorAt(at, "found " + Describe(at), expected);
  }

  Status Expect(char c, std::string_view expected) {
    if (Consume(c)) return OkStatus();
    return Unexpected(expected);
  }
  Status ExpectLiteral(std::string_view lit, std::string_view expected) {
    size_t at = pos();
    if (s_.substr(at, lit.size()) != lit) return Unexpected(expected);
    pos_ = at + lit.size();
    return OkStatus();
  }
  Status ExpectEnd(std::string_view expected) {
    if (AtEnd()) return OkStatus();
    return Unexpected(expected);
  }

  StatusOr<std::string> Word(bool op_chars, std::string_view expected) {
    size_t start = pos();
    if (start >= s_.size() || !IsIdentStart(s_[start])) return Unexpected(expected);
    size_t end = start;
    while (end < s_.size() && IsIdentChar(s_[end], op_chars)) ++end;
    pos_ = end;
    return std::string(s_.substr(start, end - start));
  }

  StatusOr<std::string> Quoted(std::string_view expected) {
    size_t start = pos();
    if (start >= s_.size() || s_[start] != '"') return Unexpected(expected);
    std::string out;
    size_t p = start + 1;
    for (;;) {
      if (p >= s_.size()) {
        return ErrorAt(start, "unterminated string", "a closing '\"' on the same line");
      }
      unsigned char c = static_cast<unsigned char>(s_[p]);
      if (c == '"') break;
      if (c == '\\') {
        if (p + 1 >= s_.size()) {
          return ErrorAt(start, "unterminated string", "a closing '\"' on the same line");
        }
        char e = s_[p + 1];
        if (e == '"' || e == '\\') {
          out += e;
        } else if (e == 'n') {
          out += '\n';
        } else if (e == 't') {
          out += '\t';
        } else if (e == 'x') {
          int hi = p + 2 < s_.size() ? HexValue(s_[p + 2]) : -1;
          int lo = p + 3 < s_.size() ? HexValue(s_[p + 3]) : -1;
          if (hi < 0 || lo < 0) return ErrorAt(p, "bad \\x escape", "two hex digits after \\x");
          out += static_cast<char>(hi * 16 + lo);
          p += 2;
        } else {
          return ErrorAt(p, "unknown escape \\" + Printable(e),
                         "one of \\\" \\\\ \\n \\t \\xNN");
        }
        p += 2;
        continue;
      }
      if (c < 0x20 || c == 0x7f) {
        return ErrorAt(p, "raw control " + Printable(s_[p]) + " in string",
                       "an escape such as \\xNN");
      }
      out += s_[p];
      ++p;
    }
    pos_ = p + 1;
    return out;
  }

  StatusOr<int64_t> Int(std::string_view expected) {
    size_t start = pos();
    size_t p = start;
    if (p < s_.size() && s_[p] == '-') ++p;
    size_t digits = p;
    while (p < s_.size() && IsDigit(s_[p])) ++p;
    if (p == digits) return Unexpected(expected);
    if (p < s_.size() && (IsIdentChar(s_[p], true) || s_[p] == '-' || s_[p] == '+')) {
      return ErrorAt(start, "malformed integer", expected);
    }
    int64_t v = 0;
    auto r = std::from_chars(s_.data() + start, s_.data() + p, v);
    if (r.ec != std::errc() || r.ptr != s_.data() + p) {
      return ErrorAt(start, "integer " + std::string(s_.substr(start, p - start)) +
                                " does not fit in int64",
                     expected);
    }
    pos_ = p;
    return v;
  }

  StatusOr<double> Double(std::string_view expected) {
    size_t start = pos();
    size_t p = start;
    while (p < s_.size() && (IsIdentChar(s_[p], true) || s_[p] == '-' || s_[p] == '+')) ++p;
    std::string_view tok = s_.substr(start, p - start);
    if (tok.empty()) return Unexpected(expected);
    std::optional<double> v;
    if (tok == "nan") {
      v = std::numeric_limits<double>::quiet_NaN();
    } else if (tok == "-nan") {
      v = -std::numeric_limits<double>::quiet_NaN();
    } else if (tok == "inf") {
      v = std::numeric_limits<double>::infinity();
    } else if (tok == "-inf") {
      v = -std::numeric_limits<double>::infinity();
    } else {
      // Only decimal forms: from_chars would also take "infinity", "NAN" and the like.
      bool decimal = true;
      for (char c : tok) {
        if (!(IsDigit(c) || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E')) {
          decimal = false;
        }
      }
      double d = 0;
      auto r = std::from_chars(tok.data(), tok.data() + tok.size(), d);
      if (decimal && r.ec == std::errc() && r.ptr == tok.data() + tok.size()) v = d;
      if (decimal && r.ec == std::errc::result_out_of_range) {
        return ErrorAt(start, "number " + std::string(tok) + " is out of the range of a double",
                       expected);
      }
    }
    if (!v) return ErrorAt(start, "malformed number " + std::string(tok), expected);
    pos_ = p;
    return *v;
  }

  // Hex digits up to the next blank or end of line; may be empty (zero-byte data).
  StatusOr<std::vector<uint8_t>> HexBytes() {
    size_t start = pos();
    size_t p = start;
    while (p < s_.size() && s_[p] != ' ' && s_[p] != '\t') ++p;
    std::vector<uint8_t> out;
    out.reserve((p - start) / 2);
    for (size_t k = start; k < p; k += 2) {
      int hi = HexValue(s_[k]);
      if (hi < 0) return ErrorAt(k, "found " + Describe(k) + " in hex data", "a hex digit");
      int lo = k + 1 < p ? HexValue(s_[k + 1]) : -1;
      if (lo < 0) {
        return ErrorAt(k + 1, "found " + Describe(k + 1) + " in hex data",
                       "a hex digit (two per byte)");
      }
      out.push_back(static_cast<uint8_t>(hi * 16 + lo));
    }
    pos_ = p;
    return out;
  }

 private:
  void Skip() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t')) ++pos_;
  }
  static std::string Printable(char ch) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c > 0x20 && c < 0x7f) return std::string("'") + ch + "'";
    return std::string("byte 0x") + kHexDigits[c >> 4] + kHexDigits[c & 15];
  }
  std::string Describe(size_t at) const {
    if (at >= s_.size()) return "end of line";
    return Printable(s_[at]);
  }

  std::string_view s_;
  int number_;
  size_t pos_ = 0;
};

constexpr std::string_view kDTypeList = "one of f32, f16, bf16, i64, i32, i8, u8, bool, f64";
constexpr std::string_view kLineKinds =
    "one of input, output, weight, act, const, node, inputs, outputs";

std::optional<ValueKind> KindFromWord(std::string_view w) {
  for (ValueKind k : {ValueKind::kInput, ValueKind::kOutput, ValueKind::kWeight,
                      ValueKind::kActivation, ValueKind::kConstant}) {
    if (ValueKindName(k) == w) return k;
  }
  return std::nullopt;
}

class Parser {
 public:
  StatusOr<Graph> Run(std::string_view text);

 private:
  Status ParseHeader(Line& line);
  Status ParseValue(Line& line, ValueKind kind);
  Status ParseNode(Line& line);
  Status ParseAttr(Line& line, Node& node);
  StatusOr<int> Ref(Line& line);
  Status ParseGraphRefs(Line& line, std::vector<int>& ids);

  Graph g_;
};

StatusOr<Graph> Parser::Run(std::string_view text) {
  bool have_header = false, have_inputs = false, have_outputs = false;
  int line_no = 0;
  size_t last_len = 0;
  size_t begin = 0;
  for (;;) {
    size_t nl = text.find('\n', begin);
    size_t end = nl == std::string_view::npos ? text.size() : nl;
    if (line_no == INT_MAX) return BadInputError("text has more than INT_MAX lines");
    ++line_no;
    last_len = end - begin;
    Line line(text.substr(begin, end - begin), line_no);
    begin = end + 1;
    if (!line.AtEnd() && !line.Peek('#')) {
      size_t kw_pos = line.pos();
      std::string_view expected = have_header ? kLineKinds : "the header 'tsir 1 opset N'";
      ASSIGN_OR_RETURN(std::string kw, line.Word(false, expected));
      if (!have_header) {
        if (kw != "tsir") return line.ErrorAt(kw_pos, "found '" + kw + "'", expected);
        RETURN_IF_ERROR(ParseHeader(line));
        have_header = true;
      } else if (kw == "node") {
        RETURN_IF_ERROR(ParseNode(line));
      } else if (kw == "inputs" || kw == "outputs") {
        bool& seen = kw == "inputs" ? have_inputs : have_outputs;
        if (seen) return line.ErrorAt(kw_pos, "second '" + kw + "' line", "it exactly once");
        seen = true;
        RETURN_IF_ERROR(ParseGraphRefs(line, kw == "inputs" ? g_.inputs : g_.outputs));
      } else if (auto kind = KindFromWord(kw)) {
        RETURN_IF_ERROR(ParseValue(line, *kind));
      } else {
        return line.ErrorAt(kw_pos, "unknown line keyword '" + kw + "'", expected);
      }
    }
    if (nl == std::string_view::npos) break;
  }
  Line last("", line_no);
  const char* missing = !have_header   ? "the header 'tsir 1 opset N'"
                        : !have_inputs ? "an 'inputs' line"
                        : !have_outputs ? "an 'outputs' line"
                                        : nullptr;
  if (missing) return last.ErrorAt(last_len, "end of text", missing);
  return std::move(g_);
}

Status Parser::ParseHeader(Line& line) {
  size_t at = line.pos();
  ASSIGN_OR_RETURN(int64_t version, line.Int("the format version after 'tsir'"));
  if (version != kFormatVersion) {
    return line.ErrorAt(at, "unsupported tsir version " + std::to_string(version),
                        "version " + std::to_string(kFormatVersion));
  }
  size_t word_pos = line.pos();
  ASSIGN_OR_RETURN(std::string word, line.Word(false, "'opset'"));
  if (word != "opset") return line.ErrorAt(word_pos, "found '" + word + "'", "'opset'");
  ASSIGN_OR_RETURN(g_.opset, line.Int("the opset number"));
  return line.ExpectEnd("end of line after the header");
}

Status Parser::ParseValue(Line& line, ValueKind kind) {
  Value v;
  v.kind = kind;
  size_t name_pos = line.pos();
  ASSIGN_OR_RETURN(v.name, line.Quoted("a quoted value name"));
  size_t dtype_pos = line.pos();
  ASSIGN_OR_RETURN(std::string dtype, line.Word(false, kDTypeList));
  auto dt = DTypeFromName(dtype);
  if (!dt) return line.ErrorAt(dtype_pos, "unknown dtype '" + dtype + "'", kDTypeList);
  v.dtype = *dt;
  RETURN_IF_ERROR(line.Expect('[', "'[' and the dims after the dtype"));
  if (line.Consume('?')) v.shape_known = false;
  if (!line.Consume(']')) {
    for (;;) {
      if (line.Peek('-')) {
        return line.ErrorAt(line.pos(), "negative dim", "a non-negative integer dim");
      }
      ASSIGN_OR_RETURN(int64_t dim, line.Int("a non-negative integer dim"));
      v.shape.push_back(dim);
      if (line.Consume(']')) break;
      RETURN_IF_ERROR(line.Expect(',', "',' or ']' in the dims"));
    }
  }
  if (!line.AtEnd()) {
    size_t word_pos = line.pos();
    ASSIGN_OR_RETURN(std::string word, line.Word(false, "'data=hex:' or end of line"));
    if (word != "data") {
      return line.ErrorAt(word_pos, "found '" + word + "'", "'data=hex:' or end of line");
    }
    RETURN_IF_ERROR(line.Expect('=', "'=' after 'data'"));
    size_t enc_pos = line.pos();
    ASSIGN_OR_RETURN(std::string enc, line.Word(false, "'hex' after 'data='"));
    if (enc == "elided") {
      return line.ErrorAt(enc_pos, "data was elided when printed and cannot be parsed back",
                          "text printed without elide_data");
    }
    if (enc != "hex") return line.ErrorAt(enc_pos, "found '" + enc + "'", "'hex' after 'data='");
    RETURN_IF_ERROR(line.Expect(':', "':' after 'data=hex'"));
    ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, line.HexBytes());
    v.data = ir::MakeBytes(std::move(bytes));
  }
  RETURN_IF_ERROR(line.ExpectEnd("end of line after the value"));
  if (g_.values.size() >= static_cast<size_t>(INT_MAX)) {
    return line.ErrorAt(name_pos, "too many values", "fewer than INT_MAX values");
  }
  auto id = g_.AddValue(std::move(v));
  if (!id.ok()) return BadInputError(line.Where(name_pos) + id.status().message());
  return OkStatus();
}

StatusOr<int> Parser::Ref(Line& line) {
  size_t at = line.pos();
  ASSIGN_OR_RETURN(std::string name, line.Quoted("a quoted value name"));
  auto id = g_.FindValue(name);
  if (!id) {
    std::string quoted;
    AppendQuoted(quoted, name);
    return line.ErrorAt(at, "unknown value " + quoted,
                        "the name of a value defined on an earlier line");
  }
  return *id;
}

Status Parser::ParseGraphRefs(Line& line, std::vector<int>& ids) {
  if (line.AtEnd()) return OkStatus();
  for (;;) {
    ASSIGN_OR_RETURN(int id, Ref(line));
    ids.push_back(id);
    if (line.AtEnd()) return OkStatus();
    RETURN_IF_ERROR(line.Expect(',', "',' or end of line"));
  }
}

Status Parser::ParseNode(Line& line) {
  Node n;
  ASSIGN_OR_RETURN(n.name, line.Quoted("a quoted node name"));
  if (line.Peek('"')) {
    ASSIGN_OR_RETURN(n.op, line.Quoted("an op name"));
  } else {
    ASSIGN_OR_RETURN(n.op, line.Word(true, "an op name"));
  }
  RETURN_IF_ERROR(line.Expect('(', "'(' and the inputs after the op"));
  if (!line.Consume(')')) {
    for (;;) {
      if (line.Consume('_')) {
        n.inputs.push_back(-1);
      } else {
        ASSIGN_OR_RETURN(int id, Ref(line));
        n.inputs.push_back(id);
      }
      if (line.Consume(')')) break;
      RETURN_IF_ERROR(line.Expect(',', "',' or ')' in the inputs"));
    }
  }
  RETURN_IF_ERROR(line.ExpectLiteral("->", "'->' after the inputs"));
  RETURN_IF_ERROR(line.Expect('(', "'(' and the outputs after '->'"));
  if (!line.Consume(')')) {
    for (;;) {
      ASSIGN_OR_RETURN(int id, Ref(line));
      n.outputs.push_back(id);
      if (line.Consume(')')) break;
      RETURN_IF_ERROR(line.Expect(',', "',' or ')' in the outputs"));
    }
  }
  if (line.Consume('{') && !line.Consume('}')) {
    for (;;) {
      RETURN_IF_ERROR(ParseAttr(line, n));
      if (line.Consume('}')) break;
      RETURN_IF_ERROR(line.Expect(',', "',' or '}' in the attributes"));
    }
  }
  RETURN_IF_ERROR(line.ExpectEnd("end of line after the node"));
  if (g_.nodes.size() >= static_cast<size_t>(INT_MAX)) {
    return BadInputError(line.Where(0) + "too many nodes; expected fewer than INT_MAX");
  }
  g_.AddNode(std::move(n));
  return OkStatus();
}

Status Parser::ParseAttr(Line& line, Node& node) {
  size_t key_pos = line.pos();
  std::string key;
  if (line.Peek('"')) {
    ASSIGN_OR_RETURN(key, line.Quoted("an attribute name"));
  } else {
    ASSIGN_OR_RETURN(key, line.Word(false, "an attribute name"));
  }
  if (node.attrs.count(key)) {
    return line.ErrorAt(key_pos, "attribute '" + key + "' given twice", "each attribute once");
  }
  RETURN_IF_ERROR(line.Expect('=', "'=' after the attribute name"));
  constexpr std::string_view kTypes = "an attribute type i:, f:, s:, ints: or floats:";
  size_t type_pos = line.pos();
  ASSIGN_OR_RETURN(std::string type, line.Word(false, kTypes));
  RETURN_IF_ERROR(line.Expect(':', "':' after the attribute type"));
  AttrValue value;
  if (type == "i") {
    ASSIGN_OR_RETURN(value, line.Int("an int64"));
  } else if (type == "f") {
    ASSIGN_OR_RETURN(value, line.Double("a number"));
  } else if (type == "s") {
    ASSIGN_OR_RETURN(value, line.Quoted("a quoted string"));
  } else if (type == "ints" || type == "floats") {
    std::vector<int64_t> ints;
    std::vector<double> floats;
    RETURN_IF_ERROR(line.Expect('[', "'[' to open the list"));
    if (!line.Consume(']')) {
      for (;;) {
        if (type == "ints") {
          ASSIGN_OR_RETURN(int64_t i, line.Int("an int64"));
          ints.push_back(i);
        } else {
          ASSIGN_OR_RETURN(double f, line.Double("a number"));
          floats.push_back(f);
        }
        if (line.Consume(']')) break;
        RETURN_IF_ERROR(line.Expect(',', "',' or ']' in the list"));
      }
    }
    if (type == "ints") {
      value = std::move(ints);
    } else {
      value = std::move(floats);
    }
  } else {
    return line.ErrorAt(type_pos, "unknown attribute type '" + type + "'", kTypes);
  }
  node.attrs.emplace(std::move(key), std::move(value));
  return OkStatus();
}

}  // namespace

std::string PrintGraph(const Graph& g, const PrintOptions& options) {
  std::string out = "tsir " + std::to_string(kFormatVersion) + " opset " +
                    std::to_string(g.opset) + "\n";
  for (const Value& v : g.values) AppendValue(out, v, options);
  for (const Node& n : g.nodes) AppendNode(out, g, n);
  out += "inputs";
  if (!g.inputs.empty()) out += ' ';
  AppendRefList(out, g, g.inputs, /*allow_omitted=*/false);
  out += "\noutputs";
  if (!g.outputs.empty()) out += ' ';
  AppendRefList(out, g, g.outputs, /*allow_omitted=*/false);
  out += '\n';
  return out;
}

StatusOr<Graph> ParseGraph(std::string_view text) { return Parser().Run(text); }

}  // namespace ts::ir
