#include "ir/text.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "ir/verifier.h"

namespace ts::ir {
namespace {

// gmock is not linked (see third_party/system), so substring checks are spelled out.
#define EXPECT_CONTAINS(text, part) \
  EXPECT_NE(std::string(text).find(part), std::string::npos) << "in: " << (text) << "\n"


int Add(Graph& g, std::string name, ValueKind kind, DType dtype, std::vector<int64_t> shape,
        Bytes data = nullptr, bool shape_known = true) {
  Value v;
  v.name = std::move(name);
  v.kind = kind;
  v.dtype = dtype;
  v.shape = std::move(shape);
  v.shape_known = shape_known;
  v.data = std::move(data);
  auto id = g.AddValue(std::move(v));
  EXPECT_TRUE(id.ok()) << id.status().ToString();
  return id.ok() ? *id : -1;
}

void AddNode(Graph& g, std::string name, std::string op, std::vector<int> in, std::vector<int> out,
             std::map<std::string, AttrValue> attrs = {}) {
  Node n;
  n.name = std::move(name);
  n.op = std::move(op);
  n.inputs = std::move(in);
  n.outputs = std::move(out);
  n.attrs = std::move(attrs);
  g.AddNode(std::move(n));
}

Graph SmallGraph() {
  Graph g;
  g.opset = 17;
  int x = Add(g, "x", ValueKind::kInput, DType::kF32, {2, 2});
  // 1.0f and 2.0f, little-endian.
  int w = Add(g, "w", ValueKind::kWeight, DType::kF32, {2},
              MakeBytes({0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0x40}));
  int y = Add(g, "y", ValueKind::kActivation, DType::kF32, {2, 2});
  int z = Add(g, "z", ValueKind::kOutput, DType::kF32, {2, 2});
  AddNode(g, "add", "Add", {x, w}, {y});
  AddNode(g, "relu", "LeakyRelu", {y}, {z}, {{"alpha", 0.1}});
  g.inputs = {x};
  g.outputs = {z};
  return g;
}

bool SameBits(double a, double b) { return std::memcmp(&a, &b, sizeof(double)) == 0; }

bool SameAttr(const AttrValue& a, const AttrValue& b) {
  if (a.index() != b.index()) return false;
  if (const auto* d = std::get_if<double>(&a)) return SameBits(*d, std::get<double>(b));
  if (const auto* ds = std::get_if<std::vector<double>>(&a)) {
    const auto& other = std::get<std::vector<double>>(b);
    if (ds->size() != other.size()) return false;
    for (size_t k = 0; k < ds->size(); ++k) {
      if (!SameBits((*ds)[k], other[k])) return false;
    }
    return true;
  }
  return a == b;
}

// Field-by-field equality; doubles compare by bits so -0.0 and NaN count.
void ExpectSameGraph(const Graph& a, const Graph& b) {
  EXPECT_EQ(a.opset, b.opset);
  EXPECT_EQ(a.inputs, b.inputs);
  EXPECT_EQ(a.outputs, b.outputs);
  ASSERT_EQ(a.values.size(), b.values.size());
  for (size_t i = 0; i < a.values.size(); ++i) {
    const Value& va = a.values[i];
    const Value& vb = b.values[i];
    SCOPED_TRACE("value " + std::to_string(i));
    EXPECT_EQ(va.name, vb.name);
    EXPECT_EQ(va.dtype, vb.dtype);
    EXPECT_EQ(va.shape, vb.shape);
    EXPECT_EQ(va.shape_known, vb.shape_known);
    EXPECT_EQ(va.kind, vb.kind);
    ASSERT_EQ(va.HasData(), vb.HasData());
    if (va.HasData()) {
      EXPECT_EQ(*va.data, *vb.data);
    }
    EXPECT_EQ(b.FindValue(va.name), std::optional<int>(static_cast<int>(i)));
  }
  ASSERT_EQ(a.nodes.size(), b.nodes.size());
  for (size_t i = 0; i < a.nodes.size(); ++i) {
    const Node& na = a.nodes[i];
    const Node& nb = b.nodes[i];
    SCOPED_TRACE("node " + std::to_string(i));
    EXPECT_EQ(na.name, nb.name);
    EXPECT_EQ(na.op, nb.op);
    EXPECT_EQ(na.inputs, nb.inputs);
    EXPECT_EQ(na.outputs, nb.outputs);
    ASSERT_EQ(na.attrs.size(), nb.attrs.size());
    for (const auto& [key, value] : na.attrs) {
      auto it = nb.attrs.find(key);
      ASSERT_NE(it, nb.attrs.end()) << key;
      EXPECT_TRUE(SameAttr(value, it->second)) << key;
    }
  }
}

void ExpectRoundTrip(const Graph& g) {
  std::string text = PrintGraph(g);
  auto parsed = ParseGraph(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString() << "\n" << text;
  EXPECT_EQ(PrintGraph(*parsed), text);
  ExpectSameGraph(g, *parsed);
}

// A graph with every attribute type, tricky names and every value form.
Graph RichGraph() {
  Graph g;
  g.opset = 21;
  int x = Add(g, "a b", ValueKind::kInput, DType::kF16, {1, 3, 224, 224});
  int q = Add(g, "quote\"d", ValueKind::kInput, DType::kBool, {});
  int w = Add(g, "tab\t", ValueKind::kWeight, DType::kI8, {3}, MakeBytes({0x00, 0x7f, 0xff}));
  int c = Add(g, "caf\xc3\xa9 \\ \n \x01 \x7f", ValueKind::kConstant, DType::kI64, {0},
              MakeBytes({}));
  int s = Add(g, "", ValueKind::kConstant, DType::kBF16, {}, MakeBytes({0x80, 0x3f}));
  int u = Add(g, "unknown", ValueKind::kActivation, DType::kF64, {}, nullptr, false);
  int stale = Add(g, "stale", ValueKind::kActivation, DType::kU8, {4, 0}, nullptr, false);
  int y = Add(g, "y", ValueKind::kActivation, DType::kI32, {7});
  int z = Add(g, "z", ValueKind::kOutput, DType::kF32, {1, 1, 1});
  AddNode(g, "", "com.microsoft:Fused.Op", {x, -1, w}, {u, stale});
  AddNode(g, "weird node \"\\", "weird op", {}, {y},
          {{"i", int64_t{-3}},
           {"imax", std::numeric_limits<int64_t>::max()},
           {"imin", std::numeric_limits<int64_t>::min()},
           {"f", 0.5},
           {"s", std::string("abc \"q\" \\ \n\xff")},
           {"empty_s", std::string()},
           {"ints", std::vector<int64_t>{1, 0, -1}},
           {"no_ints", std::vector<int64_t>{}},
           {"floats", std::vector<double>{0.5, 2, -0.0}},
           {"no_floats", std::vector<double>{}},
           {"weird key=", int64_t{1}}});
  AddNode(g, "n", "Clip", {q, -1, c, -1, s}, {z});
  g.inputs = {x, q};
  g.outputs = {z, y};
  return g;
}

TEST(PrintGraphTest, GoldenSmallGraph) {
  EXPECT_EQ(PrintGraph(SmallGraph()),
            "tsir 1 opset 17\n"
            "input \"x\" f32[2,2]\n"
            "weight \"w\" f32[2] data=hex:0000803f00000040\n"
            "act \"y\" f32[2,2]\n"
            "output \"z\" f32[2,2]\n"
            "node \"add\" Add(\"x\", \"w\") -> (\"y\")\n"
            "node \"relu\" LeakyRelu(\"y\") -> (\"z\") {alpha=f:0.1}\n"
            "inputs \"x\"\n"
            "outputs \"z\"\n");
}

TEST(PrintGraphTest, GoldenUnknownShapesOmittedInputsAndElidedData) {
  Graph g;
  int x = Add(g, "x", ValueKind::kInput, DType::kF32, {});
  int m = Add(g, "m", ValueKind::kConstant, DType::kF32, {}, MakeBytes({0, 0, 0, 0}));
  int u = Add(g, "u", ValueKind::kActivation, DType::kF32, {}, nullptr, false);
  int v = Add(g, "v", ValueKind::kOutput, DType::kF32, {2, 3}, nullptr, false);
  AddNode(g, "c", "Clip", {x, -1, m}, {u});
  AddNode(g, "e", "Expand", {u}, {v}, {{"shape", std::vector<int64_t>{2, 3}}});
  g.outputs = {v};
  EXPECT_EQ(PrintGraph(g, {.elide_data = true}),
            "tsir 1 opset 0\n"
            "input \"x\" f32[]\n"
            "const \"m\" f32[] data=elided\n"
            "act \"u\" f32[?]\n"
            "output \"v\" f32[?2,3]\n"
            "node \"c\" Clip(\"x\", _, \"m\") -> (\"u\")\n"
            "node \"e\" Expand(\"u\") -> (\"v\") {shape=ints:[2,3]}\n"
            "inputs\n"
            "outputs \"v\"\n");
}

TEST(PrintGraphTest, InvalidIdsPrintVisiblyAndDoNotParse) {
  Graph g = SmallGraph();
  g.nodes[0].inputs[1] = 17;
  std::string text = PrintGraph(g);
  EXPECT_CONTAINS(text, "Add(\"x\", <invalid 17>)");
  EXPECT_FALSE(ParseGraph(text).ok());
}

TEST(ParseGraphTest, SmallGraphRoundTripsAndVerifies) {
  Graph g = SmallGraph();
  ExpectRoundTrip(g);
  auto parsed = ParseGraph(PrintGraph(g));
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(Verify(*parsed).ok()) << Verify(*parsed).ToString();
}

TEST(ParseGraphTest, EveryAttrTypeAndTrickyNamesRoundTrip) { ExpectRoundTrip(RichGraph()); }

TEST(ParseGraphTest, PrintedTextIsAscii) {
  for (char c : PrintGraph(RichGraph())) {
    unsigned char u = static_cast<unsigned char>(c);
    EXPECT_TRUE(c == '\n' || (u >= 0x20 && u < 0x7f)) << static_cast<int>(u);
  }
}

TEST(ParseGraphTest, DoublesRoundTripExactly) {
  const double kValues[] = {0.1,
                            1e-300,
                            -0.0,
                            0.0,
                            1.0 / 3.0,
                            5e-324,  // smallest subnormal
                            std::numeric_limits<double>::max(),
                            std::numeric_limits<double>::lowest(),
                            std::numeric_limits<double>::infinity(),
                            -std::numeric_limits<double>::infinity(),
                            std::numeric_limits<double>::quiet_NaN(),
                            -std::numeric_limits<double>::quiet_NaN()};
  Graph g = SmallGraph();
  std::vector<double> all;
  int k = 0;
  for (double d : kValues) {
    g.nodes[1].attrs["f" + std::to_string(k++)] = d;
    all.push_back(d);
  }
  g.nodes[1].attrs["all"] = all;
  ExpectRoundTrip(g);
  std::string text = PrintGraph(g);
  EXPECT_CONTAINS(text, "f0=f:0.1,");
  EXPECT_CONTAINS(text, "f2=f:-0,");
  EXPECT_CONTAINS(text, "all=floats:[0.1,1e-300,-0,0,");
  EXPECT_CONTAINS(text, ",inf,-inf,nan,-nan]");
}

TEST(ParseGraphTest, AcceptsCommentsBlankLinesSpacingAndRawUtf8) {
  auto g = ParseGraph(
      "# hand-written\n"
      "\n"
      "tsir 1 opset 13\n"
      "  input\t\"caf\xc3\xa9\"  f32[ 2 , 3 ]\n"
      "output \"z\" f32[2,3]\n"
      "node \"r\" Relu( \"caf\\xc3\\xa9\" ) -> ( \"z\" ) { }\n"
      "inputs \"café\"\n"
      "outputs \"z\"");
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->values[0].name, "caf\xc3\xa9");
  EXPECT_EQ(g->nodes[0].inputs, std::vector<int>{0});
  EXPECT_EQ(g->values[0].shape, (std::vector<int64_t>{2, 3}));
  EXPECT_TRUE(Verify(*g).ok());
}

// Expects parsing `text` to fail with kBadInput and a message containing every one of `parts`.
void ExpectParseError(const std::string& text, std::vector<std::string> parts) {
  auto g = ParseGraph(text);
  ASSERT_FALSE(g.ok()) << text;
  EXPECT_EQ(g.status().code(), Code::kBadInput);
  for (const auto& p : parts) {
    EXPECT_CONTAINS(g.status().message(), p) << text;
  }
}

const std::string kHead = "tsir 1 opset 17\ninput \"x\" f32[2]\n";

TEST(ParseGraphErrorTest, UnknownReference) {
  ExpectParseError(kHead + "node \"n\" Relu(\"x\", \"q\") -> (\"x\")\ninputs \"x\"\noutputs \"x\"\n",
                   {"line 3, column 20: unknown value \"q\"; expected the name of a value "
                    "defined on an earlier line"});
  ExpectParseError(kHead + "inputs \"x\"\noutputs \"nope\"\n",
                   {"line 4, column 9: unknown value \"nope\""});
}

TEST(ParseGraphErrorTest, ReferenceBeforeDefinition) {
  ExpectParseError("tsir 1 opset 1\nnode \"n\" Relu(\"x\") -> (\"y\")\ninput \"x\" f32[]\n",
                   {"line 2, column 15: unknown value \"x\""});
}

TEST(ParseGraphErrorTest, DuplicateName) {
  ExpectParseError(kHead + "act \"x\" f32[2]\n",
                   {"line 3, column 5: ", "'x' is defined twice"});
}

TEST(ParseGraphErrorTest, BadDType) {
  ExpectParseError(kHead + "act \"y\" f33[2]\n",
                   {"line 3, column 9: unknown dtype 'f33'; expected one of f32"});
}

TEST(ParseGraphErrorTest, NegativeDim) {
  ExpectParseError(kHead + "act \"y\" f32[2,-1]\n",
                   {"line 3, column 15: negative dim; expected a non-negative integer dim"});
}

TEST(ParseGraphErrorTest, DimTooLarge) {
  ExpectParseError(kHead + "act \"y\" f32[9223372036854775808]\n",
                   {"line 3, column 13: integer 9223372036854775808 does not fit in int64"});
}

TEST(ParseGraphErrorTest, MalformedDims) {
  ExpectParseError(kHead + "act \"y\" f32[2x]\n", {"line 3, column 13: malformed integer"});
  ExpectParseError(kHead + "act \"y\" f32[2\n", {"found end of line; expected ',' or ']'"});
  ExpectParseError(kHead + "act \"y\" f32\n", {"expected '[' and the dims"});
}

TEST(ParseGraphErrorTest, UnterminatedString) {
  ExpectParseError(kHead + "act \"y f32[2]\n",
                   {"line 3, column 5: unterminated string; expected a closing '\"'"});
  ExpectParseError(kHead + "act \"y\\\n", {"unterminated string"});
}

TEST(ParseGraphErrorTest, BadEscapes) {
  ExpectParseError(kHead + "act \"\\q\" f32[2]\n", {"column 6: unknown escape \\'q'"});
  ExpectParseError(kHead + "act \"\\x4\" f32[2]\n", {"column 6: bad \\x escape"});
  ExpectParseError(kHead + "act \"a\rb\" f32[2]\n", {"raw control byte 0x0d in string"});
}

TEST(ParseGraphErrorTest, TrailingGarbage) {
  ExpectParseError(kHead + "act \"y\" f32[2] junk\n",
                   {"line 3, column 16: found 'junk'; expected 'data=hex:' or end of line"});
  ExpectParseError(kHead + "output \"y\" f32[2]\nnode \"n\" Relu(\"x\") -> (\"y\") !\n",
                   {"line 4, column 29: found '!'; expected end of line after the node"});
  ExpectParseError(kHead + "inputs \"x\" \"x\"\n", {"found '\"'; expected ',' or end of line"});
  ExpectParseError("tsir 1 opset 17 x\n", {"expected end of line after the header"});
}

TEST(ParseGraphErrorTest, HeaderProblems) {
  ExpectParseError("", {"line 1, column 1: end of text; expected the header"});
  ExpectParseError("input \"x\" f32[]\n", {"line 1, column 1: found 'input'; expected the header"});
  ExpectParseError("tsir 2 opset 1\n", {"line 1, column 6: unsupported tsir version 2"});
  ExpectParseError("tsir 1 opset 1\ntsir 1 opset 1\n", {"line 2, column 1: unknown line keyword"});
}

TEST(ParseGraphErrorTest, MissingOrRepeatedInputsAndOutputs) {
  ExpectParseError(kHead, {"line 3, column 1: end of text; expected an 'inputs' line"});
  ExpectParseError(kHead + "inputs \"x\"", {"line 3, column 11: end of text; expected an 'outputs'"});
  ExpectParseError(kHead + "inputs\ninputs\n", {"line 4, column 1: second 'inputs' line"});
}

TEST(ParseGraphErrorTest, DataProblems) {
  ExpectParseError(kHead + "weight \"w\" f32[1] data=elided\n",
                   {"column 24: data was elided when printed and cannot be parsed back"});
  ExpectParseError(kHead + "weight \"w\" f32[1] data=hex:000\n",
                   {"column 31: found end of line in hex data; expected a hex digit (two per byte)"});
  ExpectParseError(kHead + "weight \"w\" f32[1] data=hex:00g0\n",
                   {"column 30: found 'g' in hex data"});
  ExpectParseError(kHead + "weight \"w\" f32[1] data=b64:AAAA\n", {"found 'b64'"});
}

TEST(ParseGraphErrorTest, AttributeProblems) {
  const std::string node = kHead + "output \"y\" f32[2]\nnode \"n\" Relu(\"x\") -> (\"y\") ";
  ExpectParseError(node + "{a=i:1, a=i:2}\n", {"attribute 'a' given twice"});
  ExpectParseError(node + "{a=x:1}\n", {"unknown attribute type 'x'"});
  ExpectParseError(node + "{a=i:1.5}\n", {"malformed integer"});
  ExpectParseError(node + "{a=i:99999999999999999999}\n", {"does not fit in int64"});
  ExpectParseError(node + "{a=f:1e999}\n", {"out of the range of a double"});
  ExpectParseError(node + "{a=f:infinity}\n", {"malformed number infinity"});
  ExpectParseError(node + "{a=floats:[1,}\n", {"expected a number"});
  ExpectParseError(node + "{a=i:1\n", {"expected ',' or '}'"});
}

TEST(ParseGraphErrorTest, NodeSyntax) {
  const std::string head = kHead + "output \"y\" f32[2]\n";
  ExpectParseError(head + "node \"n\" Relu(\"x\") (\"y\")\n", {"expected '->' after the inputs"});
  ExpectParseError(head + "node \"n\" Relu(\"x\") -> (_)\n", {"found '_'; expected a quoted value"});
  ExpectParseError(head + "node \"n\" 3Relu(\"x\") -> (\"y\")\n", {"expected an op name"});
  ExpectParseError(head + "nod \"n\"\n", {"unknown line keyword 'nod'; expected one of input"});
}

// Every prefix of a printed graph: parsing must not crash, and whatever parses must print and
// parse back identically.
TEST(ParseGraphFuzzTest, EveryTruncationIsSafe) {
  const std::string text = PrintGraph(RichGraph());
  int parsed = 0;
  for (size_t len = 0; len <= text.size(); ++len) {
    auto g = ParseGraph(std::string_view(text).substr(0, len));
    if (!g.ok()) {
      EXPECT_EQ(g.status().code(), Code::kBadInput);
      continue;
    }
    ++parsed;
    std::string again = PrintGraph(*g);
    auto g2 = ParseGraph(again);
    ASSERT_TRUE(g2.ok()) << g2.status().ToString();
    EXPECT_EQ(PrintGraph(*g2), again);
  }
  EXPECT_GE(parsed, 1);  // at least the full text
}

TEST(ParseGraphFuzzTest, RandomByteMutationsAreSafe) {
  const std::string text = PrintGraph(RichGraph()) + PrintGraph(SmallGraph()).substr(16);
  const char kInteresting[] = {'"', '\\', '\n', ',', '(', ')', '[', ']', '{', '}', '-', '9',
                               '_', ':', '=', '?', ' ', 'x', '\0', '\x80', '\xff'};
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 600; ++trial) {
    std::string mutated = text;
    int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      size_t at = rng() % mutated.size();
      char c = rng() % 2 ? kInteresting[rng() % sizeof(kInteresting)] : static_cast<char>(rng());
      switch (rng() % 3) {
        case 0: mutated[at] = c; break;
        case 1: mutated.insert(mutated.begin() + at, c); break;
        default: mutated.erase(at, 1); break;
      }
    }
    auto g = ParseGraph(mutated);
    if (!g.ok()) {
      EXPECT_EQ(g.status().code(), Code::kBadInput);
      continue;
    }
    std::string again = PrintGraph(*g);
    auto g2 = ParseGraph(again);
    ASSERT_TRUE(g2.ok()) << g2.status().ToString();
    EXPECT_EQ(PrintGraph(*g2), again);
    (void)Verify(*g);  // must not crash either, whatever it says
  }
}

}  // namespace
}  // namespace ts::ir
