#include "planfmt/writer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "planfmt/format.h"
#include "planfmt/reader.h"
#include "planfmt/test_util.h"

namespace ts::planfmt {
namespace {

using testing::MakeSamplePlan;

std::vector<uint8_t> Serialize(testing::SamplePlan& s) {
  StatusOr<std::vector<uint8_t>> b = SerializeBundle(s.contents, s.Blobs());
  EXPECT_TRUE(b.ok()) << b.status().ToString();
  return b.ok() ? *b : std::vector<uint8_t>{};
}

TEST(WriterTest, StreamedWeightsAndLoadStepsRoundTrip) {
  testing::SamplePlan s = MakeSamplePlan();
  s.contents.weights[1].streamed = true;
  Step load, wait;
  load.kind = StepKind::kLoad;
  load.node = "load emb";
  load.iparams = {1};
  wait.kind = StepKind::kWait;
  wait.node = "wait emb";
  wait.iparams = {1};
  s.contents.program.steps.insert(s.contents.program.steps.begin(), {load, wait});
  std::vector<uint8_t> bytes = Serialize(s);
  ASSERT_FALSE(bytes.empty());
  StatusOr<OpenedBundle> b = ParseBundle(bytes.data(), bytes.size());
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->contents, s.contents);
  EXPECT_TRUE(b->contents.weights[1].streamed);
  EXPECT_FALSE(b->contents.weights[0].streamed);
}

TEST(WriterTest, RoundTripPreservesContents) {
  testing::SamplePlan s = MakeSamplePlan();
  std::vector<uint8_t> bytes = Serialize(s);
  // The writer fills in where each weight went: 4096-aligned, in the given order.
  EXPECT_EQ(s.contents.weights[0].file_offset, 0u);
  EXPECT_EQ(s.contents.weights[1].file_offset, 4096u);
  EXPECT_EQ(s.contents.weights[2].file_offset, 12288u);
  EXPECT_EQ(s.contents.weights[1].bytes, 4097u);

  StatusOr<OpenedBundle> b = ParseBundle(bytes.data(), bytes.size());
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->contents, s.contents);
  EXPECT_EQ(b->layout.major, 2);
  EXPECT_EQ(b->layout.minor, 3);
  EXPECT_EQ(b->layout.file_size, bytes.size());
  ASSERT_EQ(b->layout.sections.size(), 5u);
  EXPECT_EQ(b->layout.weights, b->layout.sections.back());
  EXPECT_EQ(b->layout.weights.used, 12288u + 3);
  EXPECT_EQ(b->layout.weights.offset + b->layout.weights.length, bytes.size());
  for (size_t i = 0; i < s.weight_bytes.size(); ++i) {
    const uint8_t* at = bytes.data() + b->layout.weights.offset + s.contents.weights[i].file_offset;
    EXPECT_TRUE(std::equal(s.weight_bytes[i].begin(), s.weight_bytes[i].end(), at)) << i;
  }
}

TEST(WriterTest, TokenizerSectionRoundTripsBeforeTheWeights) {
  testing::SamplePlan s = MakeSamplePlan();
  s.contents.tokenizer = std::string("{\"model\": {}}") + std::string(5000, ' ');
  std::vector<uint8_t> bytes = Serialize(s);
  StatusOr<OpenedBundle> b = ParseBundle(bytes.data(), bytes.size());
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->contents, s.contents);
  ASSERT_EQ(b->layout.sections.size(), 6u);
  EXPECT_EQ(b->layout.sections[4].kind, static_cast<uint32_t>(SectionKind::kTokenizer));
  EXPECT_EQ(b->layout.sections[4].used, s.contents.tokenizer.size());
  EXPECT_EQ(b->layout.weights, b->layout.sections.back());
  // A bundle without one has five sections and an empty tokenizer.
  testing::SamplePlan plain = MakeSamplePlan();
  std::vector<uint8_t> plain_bytes = Serialize(plain);
  StatusOr<OpenedBundle> p = ParseBundle(plain_bytes.data(), plain_bytes.size());
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_TRUE(p->contents.tokenizer.empty());
  EXPECT_EQ(p->layout.sections.size(), 5u);
}

TEST(WriterTest, APrefillProgramSharesWeightBytesAndAppendsTheRest) {
  testing::SamplePlan s = MakeSamplePlan();
  // The prefill: the same program over the same weights in another order, with W's bytes
  // changed (a constant that differs between the two programs) and b's the same.
  SubPlan p;
  p.program = s.contents.program;
  p.memory = s.contents.memory;
  p.kernels = s.contents.kernels;
  p.weights = {s.contents.weights[2], s.contents.weights[0], s.contents.weights[1]};
  std::vector<uint8_t> other_w = s.weight_bytes[0];
  other_w[5] ^= 0xFF;
  s.contents.prefill = p;
  const std::vector<WeightBlob> prefill_blobs = {
      {s.weight_bytes[2].data(), s.weight_bytes[2].size()},
      {other_w.data(), other_w.size()},
      {s.weight_bytes[1].data(), s.weight_bytes[1].size()}};
  StatusOr<std::vector<uint8_t>> bytes = SerializeBundle(s.contents, s.Blobs(), prefill_blobs);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  const auto& main_w = s.contents.weights;
  const auto& pre_w = s.contents.prefill->weights;
  EXPECT_EQ(pre_w[0].file_offset, main_w[2].file_offset) << "the same bytes are shared";
  EXPECT_EQ(pre_w[2].file_offset, main_w[1].file_offset);
  EXPECT_EQ(pre_w[1].file_offset, 16384u) << "changed bytes follow the main program's weights";
  StatusOr<OpenedBundle> b = ParseBundle(bytes->data(), bytes->size());
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->contents, s.contents);
  ASSERT_EQ(b->layout.sections.size(), 6u);
  EXPECT_EQ(b->layout.sections[4].kind, static_cast<uint32_t>(SectionKind::kPrefill));
  EXPECT_EQ(b->layout.weights.used, 16384u + other_w.size());
  EXPECT_TRUE(std::equal(other_w.begin(), other_w.end(), bytes->data() + b->layout.weights.offset + 16384));
}

TEST(WriterTest, EmptyPlanRoundTrips) {
  PlanContents c;
  StatusOr<std::vector<uint8_t>> bytes = SerializeBundle(c, {});
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  EXPECT_EQ(bytes->size() % kAlignment, 0u);
  StatusOr<OpenedBundle> b = ParseBundle(bytes->data(), bytes->size());
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->contents, c);
  EXPECT_EQ(b->layout.weights.used, 0u);
}

TEST(WriterTest, Deterministic) {
  testing::SamplePlan a = MakeSamplePlan();
  testing::SamplePlan b = MakeSamplePlan();
  EXPECT_EQ(Serialize(a), Serialize(b));
  EXPECT_EQ(Serialize(a), Serialize(a));  // re-serializing already laid-out contents
}

TEST(WriterTest, RefusesInvalidPlanAsInternalError) {
  testing::SamplePlan s = MakeSamplePlan();
  s.contents.program.steps[1].symbol = "ts_missing";
  StatusOr<std::vector<uint8_t>> b = SerializeBundle(s.contents, s.Blobs());
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), Code::kInternal);
  EXPECT_NE(b.status().message().find("refusing to write an invalid bundle"), std::string::npos);
  EXPECT_NE(b.status().message().find("'ts_missing'"), std::string::npos);
}

TEST(WriterTest, RefusesBlobCountMismatch) {
  testing::SamplePlan s = MakeSamplePlan();
  std::vector<WeightBlob> blobs = s.Blobs();
  blobs.pop_back();
  StatusOr<std::vector<uint8_t>> b = SerializeBundle(s.contents, blobs);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), Code::kInternal);
  EXPECT_NE(b.status().message().find("2 + 0 weight blobs for 3 + 0 weight entries"), std::string::npos);
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = ::testing::TempDir() + "/planfmt_XXXXXX";
    path_ = ::mkdtemp(tmpl.data()) ? tmpl : "";
  }
  ~TempDir() {
    if (!path_.empty()) std::filesystem::remove_all(path_);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::vector<uint8_t> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

TEST(WriterTest, WriteBundleThenReadBundle) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string path = dir.path() + "/model.tsplan";
  testing::SamplePlan s = MakeSamplePlan();
  ASSERT_TRUE(WriteBundle(path, s.contents, s.Blobs()).ok());

  // Same bytes as the in-memory writer, and no temporary file left behind.
  std::vector<uint8_t> file = ReadFile(path);
  testing::SamplePlan s2 = MakeSamplePlan();
  EXPECT_EQ(file, Serialize(s2));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()),
                          std::filesystem::directory_iterator()), 1);

  StatusOr<OpenedBundle> b = ReadBundle(path);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->contents, s.contents);

  // What the runtime does: stream the weights' used bytes through the hasher.
  const SectionInfo& w = b->layout.weights;
  WeightsHasher h;
  for (uint64_t off = 0; off < w.used; off += 1000) {
    h.Update(file.data() + w.offset + off, std::min<uint64_t>(1000, w.used - off));
  }
  EXPECT_EQ(h.Digest(), w.checksum);
}

TEST(WriterTest, WriteBundleIntoMissingDirectoryIsIoError) {
  TempDir dir;
  testing::SamplePlan s = MakeSamplePlan();
  Status st = WriteBundle(dir.path() + "/no/such/dir/model.tsplan", s.contents, s.Blobs());
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Code::kIo);
  EXPECT_NE(st.message().find("model.tsplan.tmp."), std::string::npos) << st.message();
}

TEST(WriterTest, ReadBundleOfTruncatedFileNamesPath) {
  TempDir dir;
  const std::string path = dir.path() + "/cut.tsplan";
  testing::SamplePlan s = MakeSamplePlan();
  ASSERT_TRUE(WriteBundle(path, s.contents, s.Blobs()).ok());
  const auto full = std::filesystem::file_size(path);
  std::filesystem::resize_file(path, full - 100);
  StatusOr<OpenedBundle> b = ReadBundle(path);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), Code::kBadInput);
  EXPECT_EQ(b.status().message(),
            path + ": truncated: header says " + std::to_string(full) + " bytes, file has " +
                std::to_string(full - 100) +
                "; the file was cut short in transfer, copy it again or recompile");
}

TEST(WriterTest, ReadBundleChecksWeightPaddingButNotWeightBytes) {
  TempDir dir;
  const std::string path = dir.path() + "/m.tsplan";
  testing::SamplePlan s = MakeSamplePlan();
  ASSERT_TRUE(WriteBundle(path, s.contents, s.Blobs()).ok());
  std::vector<uint8_t> file = ReadFile(path);
  StatusOr<OpenedBundle> b = ReadBundle(path);
  ASSERT_TRUE(b.ok());
  const SectionInfo w = b->layout.weights;

  auto write = [&](const std::vector<uint8_t>& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  };
  // A flipped weight byte is the runtime's to find while streaming.
  std::vector<uint8_t> f = file;
  f[w.offset + 5] ^= 1;
  write(f);
  EXPECT_TRUE(ReadBundle(path).ok());
  // A flipped padding byte after the last weight is found here.
  f = file;
  f[file.size() - 1] ^= 1;
  write(f);
  StatusOr<OpenedBundle> bad = ReadBundle(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kBadInput);
  EXPECT_NE(bad.status().message().find("section 'weights'"), std::string::npos);
  EXPECT_NE(bad.status().message().find("expected zero"), std::string::npos);
}

TEST(WriterTest, ReadBundleOfMissingFileIsIoError) {
  StatusOr<OpenedBundle> b = ReadBundle("/nonexistent/x.tsplan");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), Code::kIo);
  EXPECT_NE(b.status().message().find("/nonexistent/x.tsplan: opening bundle"), std::string::npos);
}

}  // namespace
}  // namespace ts::planfmt
