// Safetensors headers and checkpoint folders: what is read, and every way a file is refused.
#include "frontend/safetensors.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace ts::frontend {
namespace {

// --- Building files -----------------------------------------------------------------------

struct TensorSpec {
  std::string name;
  std::string dtype;  // as written in the header
  std::vector<int64_t> shape;
  int64_t elem_size;
};

std::string LittleEndian64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

// The 8-byte length, the header text and the data area.
std::string File(const std::string& header, const std::string& data = "") {
  return LittleEndian64(header.size()) + header + data;
}

std::string Shape(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string Entry(const std::string& dtype, const std::string& shape, uint64_t begin,
                  uint64_t end) {
  return R"({"dtype":")" + dtype + R"(","shape":)" + shape + R"(,"data_offsets":[)" +
         std::to_string(begin) + "," + std::to_string(end) + "]}";
}

// Distinct bytes per tensor, so a read of the wrong region shows.
std::string Pattern(size_t n, int seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed * 31 + i * 7);
  return s;
}

// A valid file: tensors laid out in the order given, then metadata as a JSON object text.
std::string Build(const std::vector<TensorSpec>& tensors, const std::string& metadata = "") {
  std::string header = "{", data;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorSpec& t = tensors[i];
    int64_t n = t.elem_size;
    for (int64_t d : t.shape) n *= d;
    header += (i ? "," : "") + ("\"" + t.name + "\":") +
              Entry(t.dtype, Shape(t.shape), data.size(), data.size() + n);
    data += Pattern(n, static_cast<int>(i));
  }
  if (!metadata.empty()) header += (tensors.empty() ? "" : ",") + ("\"__metadata__\":" + metadata);
  return File(header + "}", data);
}

std::string MakeTempDir() {
  std::string tmpl = testing::TempDir();
  if (tmpl.empty() || tmpl.back() != '/') tmpl += '/';
  tmpl += "safetensors_XXXXXX";
  EXPECT_NE(mkdtemp(tmpl.data()), nullptr);
  return tmpl;
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(f.good()) << path;
}

// A file holding one tensor "a" over a data area of `data`.
std::string One(const std::string& dtype, const std::string& shape, uint64_t begin, uint64_t end,
                const std::string& data = "abcd") {
  return File(R"({"a":)" + Entry(dtype, shape, begin, end) + "}", data);
}

StatusOr<std::vector<SafetensorsTensor>> Parse(const std::string& file) {
  return ParseSafetensorsHeader(reinterpret_cast<const uint8_t*>(file.data()), file.size(),
                                file.size(), "t.safetensors", "t.safetensors");
}

template <typename T>
void ExpectError(const StatusOr<T>& r, Code code, const std::string& part) {
  ASSERT_FALSE(r.ok()) << "expected an error containing: " << part;
  EXPECT_EQ(r.status().code(), code) << r.status().ToString();
  EXPECT_NE(r.status().message().find(part), std::string::npos)
      << "message: " << r.status().message() << "\nwanted: " << part;
  EXPECT_EQ(r.status().message().find('\n'), std::string::npos) << "messages are one line";
}

void ExpectBad(const std::string& file, const std::string& part) {
  auto r = Parse(file);
  ExpectError(r, Code::kBadInput, part);
  if (!r.ok()) {
    EXPECT_EQ(r.status().message().rfind("t.safetensors", 0), 0u) << "names the file";
  }
}

// --- What is read --------------------------------------------------------------------------

TEST(SafetensorsHeaderTest, ReadsEveryDTypeShapeAndOffset) {
  const std::vector<TensorSpec> specs = {
      {"f64", "F64", {2}, 8},       {"f32", "F32", {2, 3}, 4},   {"f16", "F16", {3}, 2},
      {"bf16", "BF16", {1, 1}, 2},  {"i64", "I64", {}, 8},       {"i32", "I32", {2}, 4},
      {"i16", "I16", {2}, 2},       {"i8", "I8", {5}, 1},        {"u64", "U64", {1}, 8},
      {"u32", "U32", {1}, 4},       {"u16", "U16", {1}, 2},      {"u8", "U8", {0, 3}, 1},
      {"bool", "BOOL", {4}, 1},     {"e4m3", "F8_E4M3", {2}, 1}, {"e5m2", "F8_E5M2", {2}, 1}};
  const std::string file = Build(specs, R"({"format":"pt"})");
  auto r = Parse(file);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), specs.size());
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | static_cast<uint8_t>(file[i]);
  uint64_t begin = 0;
  for (const TensorSpec& spec : specs) {
    const SafetensorsTensor* t = nullptr;
    for (const auto& x : *r) if (x.name == spec.name) t = &x;
    ASSERT_NE(t, nullptr) << spec.name;
    EXPECT_EQ(SafetensorsDTypeName(t->st_dtype), spec.dtype);
    EXPECT_EQ(SafetensorsDTypeSize(t->st_dtype), spec.elem_size);
    EXPECT_EQ(t->shape, spec.shape);
    EXPECT_EQ(t->file, "t.safetensors");
    EXPECT_EQ(t->offset, 8 + header_len + begin) << spec.name;
    int64_t n = spec.elem_size;
    for (int64_t d : spec.shape) n *= d;
    EXPECT_EQ(t->bytes, static_cast<uint64_t>(n)) << spec.name;
    begin += n;
  }
  for (size_t i = 1; i < r->size(); ++i) EXPECT_LT((*r)[i - 1].name, (*r)[i].name) << "sorted";
}

TEST(SafetensorsHeaderTest, MapsToIrDTypesWhereTheyExist) {
  EXPECT_EQ(ToIrDType(SafetensorsDType::F32), DType::kF32);
  EXPECT_EQ(ToIrDType(SafetensorsDType::F16), DType::kF16);
  EXPECT_EQ(ToIrDType(SafetensorsDType::BF16), DType::kBF16);
  EXPECT_EQ(ToIrDType(SafetensorsDType::F64), DType::kF64);
  EXPECT_EQ(ToIrDType(SafetensorsDType::I64), DType::kI64);
  EXPECT_EQ(ToIrDType(SafetensorsDType::I32), DType::kI32);
  EXPECT_EQ(ToIrDType(SafetensorsDType::I8), DType::kI8);
  EXPECT_EQ(ToIrDType(SafetensorsDType::U8), DType::kU8);
  EXPECT_EQ(ToIrDType(SafetensorsDType::BOOL), DType::kBool);
  for (auto t : {SafetensorsDType::I16, SafetensorsDType::U16, SafetensorsDType::U32,
                 SafetensorsDType::U64, SafetensorsDType::F8_E4M3, SafetensorsDType::F8_E5M2}) {
    EXPECT_EQ(ToIrDType(t), std::nullopt) << SafetensorsDTypeName(t);
  }
  auto r = Parse(Build({{"a", "U16", {1}, 2}, {"b", "F32", {1}, 4}}));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)[0].dtype, std::nullopt);
  EXPECT_EQ((*r)[1].dtype, DType::kF32);
}

TEST(SafetensorsHeaderTest, AcceptsEmptyFilesPaddingAndDataOutOfNameOrder) {
  auto empty = Parse(File("{}"));
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_TRUE(empty->empty());
  // Writers pad the header with spaces to align the data.
  auto padded = Parse(File(R"({"a":)" + Entry("F32", "[1]", 0, 4) + "}       ", "abcd"));
  EXPECT_TRUE(padded.ok()) << padded.status().ToString();
  // Data order need not follow name order; zero-size tensors may sit anywhere in the tiling.
  auto reordered = Parse(File(R"({"a":)" + Entry("F32", "[1]", 4, 8) + R"(,"b":)" +
                              Entry("F32", "[1]", 0, 4) + R"(,"c":)" + Entry("F32", "[0]", 4, 4) +
                              "}", "abcdefgh"));
  ASSERT_TRUE(reordered.ok()) << reordered.status().ToString();
  EXPECT_GT((*reordered)[0].offset, (*reordered)[1].offset);
}

// --- Every rule of the format, refused -----------------------------------------------------

TEST(SafetensorsHeaderTest, RefusesBadLengths) {
  ExpectBad("abc", "shorter than the 8-byte header length");
  ExpectBad(LittleEndian64(200ull << 20) + "{}", "over the limit of 104857600");
  ExpectBad(LittleEndian64(100) + "{}", "runs past the end of the file");
  const std::string file = Build({{"a", "F32", {1}, 4}});
  auto r = ParseSafetensorsHeader(reinterpret_cast<const uint8_t*>(file.data()), 12, file.size(),
                                  "t.safetensors", "t.safetensors");
  ExpectError(r, Code::kBadInput, "pass the whole header");
}

TEST(SafetensorsHeaderTest, RefusesBadJson) {
  ExpectBad(File(R"({"a":)"), "not valid JSON at byte");
  ExpectBad(File("[1, 2]"), "a JSON array, not an object of tensor entries");
  ExpectBad(File("{} x"), "not valid JSON");
  ExpectBad(File("{} /* c */"), "not valid JSON");
  ExpectBad(File("{\"\xff\":1}"), "not valid JSON");
  ExpectBad(File(R"({"a":[[[[[[1]]]]]]})"), "nested deeper than 4 levels");
  ExpectBad(File(R"({"a":)" + Entry("F32", "[1]", 0, 4) + R"(,"a":)" + Entry("F32", "[1]", 4, 8) +
                 "}", "abcdefgh"),
            "duplicate key 'a'");
  ExpectBad(File(R"({"a":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}})", "abcd"),
            "duplicate key 'dtype'");
}

TEST(SafetensorsHeaderTest, RefusesBadEntries) {
  ExpectBad(File(R"({"a":5})"), "tensor 'a': a JSON number, not an object");
  ExpectBad(File(R"({"":)" + Entry("F32", "[1]", 0, 4) + "}", "abcd"),
            "a tensor with an empty name");
  ExpectBad(File(R"({"a":{"shape":[1],"data_offsets":[0,4]}})", "abcd"), "\"dtype\" is missing");
  ExpectBad(One("F4", "[1]", 0, 4), "unknown dtype 'F4'");
  ExpectBad(One("f32", "[1]", 0, 4), "supported: F64, F32");
  ExpectBad(File(R"({"a":{"dtype":"F32","data_offsets":[0,4]}})", "abcd"), "\"shape\" is missing");
  ExpectBad(One("F32", "3", 0, 4), "\"shape\" is missing or not an array");
  ExpectBad(One("F32", "[-1]", 0, 4), "shape[0] is not a non-negative integer");
  ExpectBad(One("F32", "[1,1.5]", 0, 4), "shape[1] is not a non-negative");
  ExpectBad(One("F32", R"(["1"])", 0, 4), "shape[0] is not");
  ExpectBad(One("F32", "[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]", 0, 4),
            "rank 17, over the limit of 16");
  ExpectBad(File(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", "abcd"),
            "\"data_offsets\" is not exactly two non-negative integers");
  ExpectBad(File(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,4]}})", "abcd"),
            "\"data_offsets\" is not exactly two");
  ExpectBad(File(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}})", "abcd"),
            "\"data_offsets\" is not exactly two");
  ExpectBad(File(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":"0,4"}})", "abcd"),
            "\"data_offsets\" is not exactly two");
  ExpectBad(One("F32", "[1]", 4, 0), "BEGIN is after END");
}

TEST(SafetensorsHeaderTest, RefusesSizesThatDisagree) {
  ExpectBad(One("F32", "[2]", 0, 4),
            "data_offsets [0, 4] hold 4 bytes but F32[2] needs 8");
  ExpectBad(One("F32", "[4611686018427387904,4]", 0, 4),
            "the byte size of F32[4611686018427387904,4] overflows");
  ExpectBad(One("F32", "[2305843009213693952]", 0, 4),
            "overflows");
  ExpectBad(One("F32", "[2]", 0, 8),
            "run past the end of the data area (4 bytes)");
}

TEST(SafetensorsHeaderTest, RefusesDataThatDoesNotTileTheDataArea) {
  ExpectBad(File(R"({"a":)" + Entry("F32", "[2]", 0, 8) + R"(,"b":)" + Entry("F32", "[2]", 4, 12) +
                 "}", std::string(12, 'x')),
            "the data of tensor 'b' [4, 12) overlaps that of tensor 'a'");
  ExpectBad(File(R"({"a":)" + Entry("F32", "[1]", 0, 4) + R"(,"b":)" + Entry("F32", "[1]", 8, 12) +
                 "}", std::string(12, 'x')),
            "a gap of 4 bytes in the data area before tensor 'b'");
  ExpectBad(One("F32", "[1]", 4, 8, "abcdefgh"),
            "a gap of 4 bytes in the data area before tensor 'a' [4, 8)");
  ExpectBad(One("F32", "[1]", 0, 4, "abcdefgh"),
            "the tensors cover 4 of the data area's 8 bytes");
  ExpectBad(File("{}", "x"), "the tensors cover 0 of the data area's 1 bytes");
}

TEST(SafetensorsHeaderTest, RefusesBadMetadata) {
  ExpectBad(File(R"({"__metadata__":[1]})"), "__metadata__ is not an object of strings");
  ExpectBad(File(R"({"__metadata__":{"k":1}})"),
            "__metadata__ value of 'k' is a JSON number, not a string");
}

TEST(SafetensorsHeaderTest, MessagesEscapeNamesFromTheFile) {
  auto r = Parse(File(R"({"a\nb\u0000":5})"));
  ExpectError(r, Code::kBadInput, R"(tensor 'a\x0ab\x00')");
}

// --- Damaged files never crash ------------------------------------------------------------

TEST(SafetensorsHeaderTest, EveryTruncationIsRefusedCleanly) {
  const std::string file = Build({{"w", "F32", {2, 2}, 4}, {"b", "I64", {}, 8}}, R"({"k":"v"})");
  for (size_t len = 0; len < file.size(); ++len) {
    auto r = Parse(file.substr(0, len));
    ASSERT_FALSE(r.ok()) << "prefix of " << len << " bytes";
    EXPECT_EQ(r.status().code(), Code::kBadInput) << r.status().ToString();
    EXPECT_EQ(r.status().message().find('\n'), std::string::npos);
  }
  EXPECT_TRUE(Parse(file).ok());
}

TEST(SafetensorsHeaderTest, RandomByteMutationsOfTheHeaderNeverCrash) {
  const std::string file = Build({{"w", "F32", {2, 2}, 4}, {"b", "I64", {}, 8}}, R"({"k":"v"})");
  const size_t header_end = file.size() - 24;
  std::mt19937 rng(1234);
  int accepted = 0;
  for (int i = 0; i < 500; ++i) {
    std::string m = file;
    m[rng() % header_end] = static_cast<char>(rng() & 0xff);
    auto r = Parse(m);
    if (r.ok()) {
      ++accepted;
      continue;
    }
    EXPECT_EQ(r.status().code(), Code::kBadInput) << r.status().ToString();
    EXPECT_EQ(r.status().message().find('\n'), std::string::npos) << r.status().message();
  }
  EXPECT_LT(accepted, 500);
}

// --- Checkpoint folders --------------------------------------------------------------------

TEST(SafetensorsCheckpointTest, SingleFileRoundTrip) {
  const std::string dir = MakeTempDir();
  const std::vector<TensorSpec> specs = {
      {"w", "F32", {2, 3}, 4}, {"s", "BF16", {}, 2}, {"z", "I8", {0}, 1}};
  const std::string file = Build(specs, R"({"format":"pt","note":"x"})");
  WriteFile(dir + "/model.safetensors", file);
  auto ckpt = OpenSafetensorsCheckpoint(dir);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status().ToString();
  ASSERT_EQ(ckpt->tensors.size(), 3u);
  EXPECT_EQ(ckpt->tensors[0].name, "s");
  EXPECT_EQ(ckpt->metadata, (std::map<std::string, std::string>{{"format", "pt"}, {"note", "x"}}));
  const SafetensorsTensor* w = ckpt->Find("w");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(ckpt->Find("nope"), nullptr);
  EXPECT_EQ(w->file, "model.safetensors");
  EXPECT_EQ(w->dtype, DType::kF32);
  auto bytes = ReadSafetensorsTensor(dir, *w);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  EXPECT_EQ(std::string(bytes->begin(), bytes->end()), Pattern(24, 0));
  auto s = ReadSafetensorsTensor(dir, *ckpt->Find("s"));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(std::string(s->begin(), s->end()), Pattern(2, 1));
  auto z = ReadSafetensorsTensor(dir, *ckpt->Find("z"));
  ASSERT_TRUE(z.ok());
  EXPECT_TRUE(z->empty());

  // The same bytes viewed in place; the views outlive the mapper that made them.
  SafetensorsMapper::View wv, sv;
  {
    SafetensorsMapper mapper(dir);
    auto m = mapper.Map(*w);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    wv = *m;
    auto ms = mapper.Map(*ckpt->Find("s"));
    ASSERT_TRUE(ms.ok());
    sv = *ms;
    EXPECT_EQ(wv.keep.get(), sv.keep.get()) << "one mapping per file";
    SafetensorsTensor past = *w;
    past.offset = file.size() - 8;
    auto bad = mapper.Map(past);
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.status().message().find("run past the file"), std::string::npos) << bad.status().message();
  }
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(wv.data), wv.bytes), Pattern(24, 0));
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(sv.data), sv.bytes), Pattern(2, 1));
}

const char kShard1[] = "model-00001-of-00002.safetensors";
const char kShard2[] = "model-00002-of-00002.safetensors";

// A weight_map: tensor name -> shard number.
std::string Map(const std::vector<std::pair<std::string, int>>& entries) {
  std::string s = "{";
  for (const auto& [name, shard] : entries) {
    s += (s.size() > 1 ? ",\"" : "\"") + name + "\":\"" + (shard == 1 ? kShard1 : kShard2) + "\"";
  }
  return s + "}";
}

// Two shards (a, b in the first; c in the second) and an index, as Hugging Face writes them.
std::string TwoShards(const std::string& dir, const std::string& weight_map) {
  WriteFile(dir + "/" + kShard1,
            Build({{"a", "F32", {2}, 4}, {"b", "F16", {3}, 2}}, R"({"format":"pt"})"));
  WriteFile(dir + "/" + kShard2, Build({{"c", "I64", {1}, 8}}, R"({"format":"other"})"));
  WriteFile(dir + "/model.safetensors.index.json",
            R"({"metadata":{"total_size":22},"weight_map":)" + weight_map + "}");
  return dir;
}

const std::string kGoodMap = Map({{"a", 1}, {"b", 1}, {"c", 2}});

TEST(SafetensorsCheckpointTest, ShardedRoundTrip) {
  const std::string dir = TwoShards(MakeTempDir(), kGoodMap);
  WriteFile(dir + "/model.safetensors", "ignored when there is an index");
  auto ckpt = OpenSafetensorsCheckpoint(dir);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status().ToString();
  ASSERT_EQ(ckpt->tensors.size(), 3u);
  EXPECT_EQ(ckpt->tensors[0].name, "a");
  EXPECT_EQ(ckpt->tensors[2].name, "c");
  EXPECT_EQ(ckpt->Find("b")->file, kShard1);
  EXPECT_EQ(ckpt->Find("c")->file, kShard2);
  EXPECT_EQ(ckpt->metadata.at("format"), "pt") << "metadata of the first shard";
  auto c = ReadSafetensorsTensor(dir, *ckpt->Find("c"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(std::string(c->begin(), c->end()), Pattern(8, 0));
  auto b = ReadSafetensorsTensor(dir, *ckpt->Find("b"));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(std::string(b->begin(), b->end()), Pattern(6, 1));
}

TEST(SafetensorsCheckpointTest, RefusesIndexesThatDisagreeWithTheShards) {
  ExpectError(OpenSafetensorsCheckpoint(TwoShards(MakeTempDir(), Map({{"a", 1}, {"c", 2}}))),
              Code::kBadInput,
              "weight_map: tensor 'b' of shard 'model-00001-of-00002.safetensors' is not listed");
  ExpectError(OpenSafetensorsCheckpoint(
                  TwoShards(MakeTempDir(), Map({{"a", 1}, {"b", 1}, {"c", 2}, {"d", 2}}))),
              Code::kBadInput,
              "weight_map: tensor 'd' is not in its shard 'model-00002-of-00002.safetensors'");
  ExpectError(
      OpenSafetensorsCheckpoint(TwoShards(MakeTempDir(), Map({{"a", 1}, {"b", 2}, {"c", 2}}))),
      Code::kBadInput,
      "tensor 'b' points at shard 'model-00002-of-00002.safetensors' but is stored in");
  const std::string dir = TwoShards(MakeTempDir(), kGoodMap);
  WriteFile(dir + "/" + kShard2, Build({{"a", "F32", {2}, 4}, {"c", "I64", {1}, 8}}));
  ExpectError(OpenSafetensorsCheckpoint(dir), Code::kBadInput,
              "tensor 'a' is also in shard 'model-00001-of-00002.safetensors'");
}

TEST(SafetensorsCheckpointTest, RefusesBadIndexFiles) {
  ExpectError(OpenSafetensorsCheckpoint(TwoShards(MakeTempDir(), "{")), Code::kBadInput,
              "model.safetensors.index.json: not valid JSON");
  ExpectError(OpenSafetensorsCheckpoint(TwoShards(MakeTempDir(), "[]")), Code::kBadInput,
              "\"weight_map\" is missing or not an object");
  ExpectError(OpenSafetensorsCheckpoint(TwoShards(MakeTempDir(), "{}")), Code::kBadInput,
              "weight_map: empty");
  ExpectError(OpenSafetensorsCheckpoint(TwoShards(MakeTempDir(), R"({"a":1})")), Code::kBadInput,
              "weight_map, tensor 'a': a JSON number, not a shard file name");
  ExpectError(OpenSafetensorsCheckpoint(TwoShards(MakeTempDir(), R"({"a":"x","a":"y"})")),
              Code::kBadInput, "duplicate key 'a'");
  const std::string dir = MakeTempDir();
  WriteFile(dir + "/model.safetensors.index.json", R"({"weight_map":{"a":"bad.safetensors"}})");
  WriteFile(dir + "/bad.safetensors", One("F4", "[1]", 0, 4));
  ExpectError(OpenSafetensorsCheckpoint(dir), Code::kBadInput,
              "/bad.safetensors: header, tensor 'a': unknown dtype 'F4'");
}

TEST(SafetensorsCheckpointTest, ShardsStayInsideTheFolder) {
  const std::string outer = MakeTempDir();
  const std::string dir = outer + "/ckpt";
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  WriteFile(outer + "/outside.safetensors", Build({{"a", "F32", {1}, 4}}));
  WriteFile(dir + "/model.safetensors.index.json",
            R"({"weight_map":{"a":"../outside.safetensors"}})");
  ExpectError(OpenSafetensorsCheckpoint(dir), Code::kBadInput, "'..' is not allowed");
  WriteFile(dir + "/model.safetensors.index.json",
            R"({"weight_map":{"a":")" + outer + R"(/outside.safetensors"}})");
  ExpectError(OpenSafetensorsCheckpoint(dir), Code::kBadInput, "absolute paths are not allowed");
  ASSERT_EQ(symlink((outer + "/outside.safetensors").c_str(),
                    (dir + "/link.safetensors").c_str()), 0);
  WriteFile(dir + "/model.safetensors.index.json", R"({"weight_map":{"a":"link.safetensors"}})");
  ExpectError(OpenSafetensorsCheckpoint(dir), Code::kBadInput, "symbolic links are not allowed");
  WriteFile(dir + "/model.safetensors.index.json", R"({"weight_map":{"a":"missing.safetensors"}})");
  ExpectError(OpenSafetensorsCheckpoint(dir), Code::kIo, "missing.safetensors");

  const std::string single = MakeTempDir();
  ASSERT_EQ(symlink((outer + "/outside.safetensors").c_str(),
                    (single + "/model.safetensors").c_str()), 0);
  ExpectError(OpenSafetensorsCheckpoint(single), Code::kBadInput, "symbolic links are not allowed");
}

TEST(SafetensorsCheckpointTest, RefusesFoldersWithoutACheckpoint) {
  ExpectError(OpenSafetensorsCheckpoint(MakeTempDir()), Code::kBadInput,
              "neither model.safetensors.index.json nor model.safetensors");
  ExpectError(OpenSafetensorsCheckpoint(MakeTempDir() + "/nope"), Code::kIo, "checkpoint folder");
}

TEST(SafetensorsCheckpointTest, EveryTruncatedFileIsRefusedCleanly) {
  const std::string file = Build({{"w", "F32", {2}, 4}}, R"({"k":"v"})");
  const std::string dir = MakeTempDir();
  for (size_t len = 0; len < file.size(); ++len) {
    WriteFile(dir + "/model.safetensors", file.substr(0, len));
    auto r = OpenSafetensorsCheckpoint(dir);
    ASSERT_FALSE(r.ok()) << len;
    EXPECT_EQ(r.status().code(), Code::kBadInput) << r.status().ToString();
  }
}

}  // namespace
}  // namespace ts::frontend
