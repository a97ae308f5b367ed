// External data: weights stored next to the model, read through ImportOnnx and directly
// through ExternalDataReader. Every way out of the model's folder is refused.
#include "frontend/external_data.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <onnx/onnx_pb.h>

#include "frontend/onnx_importer.h"

namespace ts::frontend {
namespace {

std::string MakeTempDir() {
  std::string tmpl = testing::TempDir();
  if (tmpl.empty() || tmpl.back() != '/') tmpl += '/';
  tmpl += "external_data_XXXXXX";
  EXPECT_NE(mkdtemp(tmpl.data()), nullptr);
  return tmpl;
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(f.good()) << path;
}

std::string FloatBytes(const std::vector<float>& v) {
  std::string s(v.size() * sizeof(float), '\0');
  std::memcpy(s.data(), v.data(), s.size());
  return s;
}

template <typename T>
void ExpectError(const StatusOr<T>& r, Code code, const std::string& part) {
  ASSERT_FALSE(r.ok()) << "expected an error containing: " << part;
  EXPECT_EQ(r.status().code(), code) << r.status().ToString();
  EXPECT_NE(r.status().message().find(part), std::string::npos)
      << "message: " << r.status().message() << "\nwanted: " << part;
  EXPECT_EQ(r.status().message().find('\n'), std::string::npos) << "messages are one line";
}

const std::vector<float> kW = {1, 2, 3, 4, 5, 6};  // f32[2,3], 24 bytes
constexpr int64_t kWBytes = 24;
constexpr int64_t kOffset = 16;

// Key/value pairs of TensorProto.external_data, in order.
using ExternalKeys = std::vector<std::pair<std::string, std::string>>;

ExternalKeys At(const std::string& location, int64_t offset = kOffset,
                int64_t length = kWBytes) {
  return {{"location", location},
          {"offset", std::to_string(offset)},
          {"length", std::to_string(length)}};
}

// y = MatMul(x, W), x: f32[1,2]; W: f32[2,3] stored as external data described by `keys`.
onnx::ModelProto ExternalModel(const ExternalKeys& keys) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  auto* g = m.mutable_graph();
  auto* x = g->add_input();
  x->set_name("x");
  auto* tt = x->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  tt->mutable_shape()->add_dim()->set_dim_value(1);
  tt->mutable_shape()->add_dim()->set_dim_value(2);
  auto* w = g->add_initializer();
  w->set_name("W");
  w->set_data_type(onnx::TensorProto::FLOAT);
  w->add_dims(2);
  w->add_dims(3);
  w->set_data_location(onnx::TensorProto::EXTERNAL);
  for (const auto& [k, v] : keys) {
    auto* e = w->add_external_data();
    e->set_key(k);
    e->set_value(v);
  }
  auto* n = g->add_node();
  n->set_op_type("MatMul");
  n->set_name("mm");
  n->add_input("x");
  n->add_input("W");
  n->add_output("y");
  g->add_output()->set_name("y");
  return m;
}

// A folder holding model.onnx and weights.bin (16 bytes of padding, then W's 24 bytes).
struct ModelDir {
  std::string dir = MakeTempDir();
  std::string model = dir + "/model.onnx";

  explicit ModelDir(const ExternalKeys& keys) {
    WriteFile(dir + "/weights.bin", std::string(kOffset, '\x5a') + FloatBytes(kW));
    Rewrite(keys);
  }
  void Rewrite(const ExternalKeys& keys) const {
    std::string bytes;
    EXPECT_TRUE(ExternalModel(keys).SerializeToString(&bytes));
    WriteFile(model, bytes);
  }
  StatusOr<ir::Graph> Import() const { return ImportOnnx(model, {}); }
};

TEST(ExternalDataTest, WeightNextToModelImportsWithItsBytes) {
  ModelDir d(At("weights.bin"));
  auto r = d.Import();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const ir::Value& w = r->values[*r->FindValue("W")];
  EXPECT_EQ(w.kind, ir::ValueKind::kWeight);
  EXPECT_EQ(w.shape, (std::vector<int64_t>{2, 3}));
  ASSERT_TRUE(w.HasData());
  const std::string want = FloatBytes(kW);
  EXPECT_EQ(*w.data, std::vector<uint8_t>(want.begin(), want.end()));
}

TEST(ExternalDataTest, LengthMayBeOmitted) {
  ModelDir d({{"location", "weights.bin"}, {"offset", std::to_string(kOffset)}});
  auto r = d.Import();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->values[*r->FindValue("W")].data->size(), static_cast<size_t>(kWBytes));
}

TEST(ExternalDataTest, FileInSubfolderAndDotComponentsAreAllowed) {
  ModelDir d(At("./sub/./w.bin", 0));
  ASSERT_EQ(mkdir((d.dir + "/sub").c_str(), 0755), 0);
  WriteFile(d.dir + "/sub/w.bin", FloatBytes(kW));
  auto r = d.Import();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
}

TEST(ExternalDataTest, ModelInCurrentFolderByBareName) {
  ModelDir d(At("weights.bin"));
  char cwd[4096];
  ASSERT_NE(getcwd(cwd, sizeof cwd), nullptr);
  ASSERT_EQ(chdir(d.dir.c_str()), 0);
  auto r = ImportOnnx("model.onnx", {});
  ASSERT_EQ(chdir(cwd), 0);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
}

// --- Paths that leave the folder ----------------------------------------------------------------

TEST(ExternalDataTest, AbsolutePathIsRefused) {
  ModelDir d(At("weights.bin"));
  d.Rewrite(At(d.dir + "/weights.bin"));  // absolute, even though it points inside
  ExpectError(d.Import(), Code::kBadInput, "absolute paths are not allowed");
}

TEST(ExternalDataTest, DotDotIsRefused) {
  ModelDir d(At("../weights.bin"));
  ExpectError(d.Import(), Code::kBadInput, "external data '../weights.bin': '..' is not allowed");
}

TEST(ExternalDataTest, DotDotInsideAPathIsRefused) {
  ModelDir d(At("sub/../../x"));
  ASSERT_EQ(mkdir((d.dir + "/sub").c_str(), 0755), 0);
  ExpectError(d.Import(), Code::kBadInput, "'..' is not allowed");
}

TEST(ExternalDataTest, SymlinkPointingOutsideIsRefused) {
  const std::string outside = MakeTempDir();
  WriteFile(outside + "/secret.bin", std::string(kOffset, '\0') + FloatBytes(kW));
  ModelDir d(At("link.bin"));
  ASSERT_EQ(symlink((outside + "/secret.bin").c_str(), (d.dir + "/link.bin").c_str()), 0);
  ExpectError(d.Import(), Code::kBadInput, "external data 'link.bin': symbolic links are not allowed");
}

TEST(ExternalDataTest, SymlinkedFolderPointingOutsideIsRefused) {
  const std::string outside = MakeTempDir();
  WriteFile(outside + "/secret.bin", std::string(kOffset, '\0') + FloatBytes(kW));
  ModelDir d(At("linkdir/secret.bin"));
  ASSERT_EQ(symlink(outside.c_str(), (d.dir + "/linkdir").c_str()), 0);
  ExpectError(d.Import(), Code::kBadInput, "symbolic links are not allowed");
}

TEST(ExternalDataTest, SymlinkPointingInsideIsAlsoRefused) {
  ModelDir d(At("alias.bin"));
  ASSERT_EQ(symlink("weights.bin", (d.dir + "/alias.bin").c_str()), 0);
  ExpectError(d.Import(), Code::kBadInput, "symbolic links are not allowed");
}

// --- Files that are missing or wrong -------------------------------------------------------------

TEST(ExternalDataTest, MissingFileIsIoErrorNamingIt) {
  ModelDir d(At("absent.bin"));
  ExpectError(d.Import(), Code::kIo, "external data '" + d.dir + "/absent.bin'");
}

TEST(ExternalDataTest, DirectoryInsteadOfFileIsRefused) {
  ModelDir d(At("adir"));
  ASSERT_EQ(mkdir((d.dir + "/adir").c_str(), 0755), 0);
  ExpectError(d.Import(), Code::kBadInput, "external data 'adir': not a regular file");
}

TEST(ExternalDataTest, OffsetPlusLengthPastEndIsRefused) {
  ModelDir d(At("weights.bin", kOffset + 1));
  ExpectError(d.Import(), Code::kBadInput, "offset 17 + length 24 exceeds the file size 40");
}

TEST(ExternalDataTest, OffsetPastEndIsRefused) {
  ModelDir d(At("weights.bin", 1000));
  ExpectError(d.Import(), Code::kBadInput, "offset 1000 is past the end of the file (40 bytes)");
}

TEST(ExternalDataTest, HugeOffsetIsRefused) {
  ModelDir d(At("weights.bin", INT64_MAX));
  ExpectError(d.Import(), Code::kBadInput, "is past the end of the file");
}

TEST(ExternalDataTest, LengthDisagreeingWithShapeIsRefused) {
  ModelDir d(At("weights.bin", kOffset, kWBytes - 4));
  ExpectError(d.Import(), Code::kBadInput,
              "tensor 'W': external data length 20 != 24 bytes its shape and type need");
}

TEST(ExternalDataTest, NonNumericOrNegativeOffsetIsRefused) {
  for (const char* bad : {"-4", "abc", "12x", ""}) {
    ModelDir d({{"location", "weights.bin"}, {"offset", bad}});
    ExpectError(d.Import(), Code::kBadInput,
                std::string("external data offset '") + bad + "' is not a non-negative integer");
  }
}

TEST(ExternalDataTest, NulByteInLocationIsRefused) {
  // "weights.bin\0evil" would open weights.bin if the NUL reached the C library.
  ModelDir d(At(std::string("weights.bin\0evil", 16)));
  ExpectError(d.Import(), Code::kBadInput, "NUL byte in path");
}

TEST(ExternalDataTest, MissingLocationIsRefused) {
  ModelDir d({{"offset", "0"}, {"length", "24"}});
  ExpectError(d.Import(), Code::kBadInput, "empty path");
}

TEST(ExternalDataTest, ModelFromMemoryCannotUseExternalData) {
  std::string bytes;
  ASSERT_TRUE(ExternalModel(At("weights.bin")).SerializeToString(&bytes));
  auto r = ImportOnnxBytes(bytes.data(), bytes.size(), "mem", "", {});
  ExpectError(r, Code::kBadInput, "the model was not read from a folder");
}

// --- ExternalDataReader directly -------------------------------------------------------------

TEST(ExternalDataReaderTest, SameFileIsOpenedOnce) {
  const std::string dir = MakeTempDir();
  WriteFile(dir + "/w.bin", "0123456789");
  ExternalDataReader reader(dir);
  auto a = reader.Read("w.bin", 2, 3);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(*a, (std::vector<uint8_t>{'2', '3', '4'}));
  // Once open, the file is read through the same descriptor: removing the name changes nothing.
  ASSERT_EQ(unlink((dir + "/w.bin").c_str()), 0);
  auto b = reader.Read("w.bin", 7, 3);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(*b, (std::vector<uint8_t>{'7', '8', '9'}));
}

TEST(ExternalDataReaderTest, NegativeLengthReadsToTheEnd) {
  const std::string dir = MakeTempDir();
  WriteFile(dir + "/w.bin", "abcdef");
  ExternalDataReader reader(dir);
  auto r = reader.Read("w.bin", 4, -1);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, (std::vector<uint8_t>{'e', 'f'}));
  auto whole = reader.Read("w.bin", 0, 6);
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  EXPECT_EQ(whole->size(), 6u);
  auto empty = reader.Read("w.bin", 6, 0);
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_TRUE(empty->empty());
}

TEST(ExternalDataReaderTest, LengthOverflowingOffsetIsRefused) {
  const std::string dir = MakeTempDir();
  WriteFile(dir + "/w.bin", "abcdef");
  ExternalDataReader reader(dir);
  ExpectError(reader.Read("w.bin", 2, INT64_MAX), Code::kBadInput, "exceeds the file size 6");
}

TEST(ExternalDataReaderTest, NegativeOffsetIsRefused) {
  const std::string dir = MakeTempDir();
  WriteFile(dir + "/w.bin", "abcdef");
  ExternalDataReader reader(dir);
  ExpectError(reader.Read("w.bin", -1, 2), Code::kBadInput, "offset -1");
}

TEST(ExternalDataReaderTest, OverlongPathIsRefused) {
  ExternalDataReader reader(MakeTempDir());
  ExpectError(reader.Read(std::string(5000, 'a'), 0, 1), Code::kBadInput, "path too long");
}

}  // namespace
}  // namespace ts::frontend
