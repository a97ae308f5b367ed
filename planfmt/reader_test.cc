#include "planfmt/reader.h"

#include <gtest/gtest.h>

#include <string>

#include "planfmt/format.h"
#include "planfmt/test_util.h"
#include "planfmt/writer.h"

namespace ts::planfmt {
namespace {

using testing::Assemble;
using testing::Reseal;
using testing::St;

class ReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    plan_ = testing::MakeSamplePlan();
    StatusOr<std::vector<uint8_t>> b = SerializeBundle(plan_.contents, plan_.Blobs());
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    bytes_ = *b;
    StatusOr<OpenedBundle> o = ParseBundle(bytes_.data(), bytes_.size());
    ASSERT_TRUE(o.ok()) << o.status().ToString();
    opened_ = *o;
  }

  // Parses `f`, expects kBadInput with `fragment` in the message, and returns the message.
  static std::string ExpectBad(const std::vector<uint8_t>& f, const std::string& fragment) {
    StatusOr<OpenedBundle> b = ParseBundle(f.data(), f.size());
    EXPECT_FALSE(b.ok());
    if (b.ok()) return "";
    EXPECT_EQ(b.status().code(), Code::kBadInput) << b.status().ToString();
    EXPECT_NE(b.status().message().find(fragment), std::string::npos) << b.status().message();
    EXPECT_EQ(b.status().message().find('\n'), std::string::npos) << "one line";
    return b.status().message();
  }

  testing::SamplePlan plan_;
  std::vector<uint8_t> bytes_;
  OpenedBundle opened_;
};

TEST_F(ReaderTest, EveryTruncationIsRefused) {
  for (size_t n = 0; n < bytes_.size(); ++n) {
    StatusOr<OpenedBundle> b = ParseBundle(bytes_.data(), n);
    ASSERT_FALSE(b.ok()) << n;
    ASSERT_EQ(b.status().code(), Code::kBadInput) << n << ": " << b.status().ToString();
    ASSERT_NE(b.status().message().find("truncated"), std::string::npos) << n;
  }
  EXPECT_EQ(ExpectBad(std::vector<uint8_t>(bytes_.begin(), bytes_.begin() + 5000), ""),
            "truncated: header says " + std::to_string(bytes_.size()) +
                " bytes, file has 5000; the file was cut short in transfer, copy it again or "
                "recompile");
}

TEST_F(ReaderTest, AppendedBytesAreRefused) {
  std::vector<uint8_t> f = bytes_;
  f.push_back(0);
  ExpectBad(f, "bytes were appended in transfer");
}

// Every byte of the header region and of each section's payload, plus a sample of the padding.
TEST_F(ReaderTest, EverySingleByteFlipIsDetected) {
  std::vector<size_t> positions;
  for (size_t i = 0; i < kHeaderRegionSize; ++i) positions.push_back(i);
  for (const SectionInfo& s : opened_.layout.sections) {
    for (uint64_t i = 0; i < s.used; ++i) positions.push_back(s.offset + i);
    for (uint64_t i = s.used; i < s.length; i += 97) positions.push_back(s.offset + i);
    if (s.used < s.length) positions.push_back(s.offset + s.length - 1);
  }
  std::vector<uint8_t> f = bytes_;
  for (size_t pos : positions) {
    for (uint8_t mask : {0x01, 0x80}) {
      f[pos] ^= mask;
      StatusOr<OpenedBundle> b = ParseBundle(f.data(), f.size());
      ASSERT_FALSE(b.ok()) << "flip at " << pos;
      ASSERT_EQ(b.status().code(), Code::kBadInput) << pos << ": " << b.status().ToString();
      f[pos] ^= mask;
    }
  }
}

TEST_F(ReaderTest, ChecksumMismatchNamesSectionAndOffset) {
  const SectionInfo& prog = opened_.layout.sections[1];
  std::vector<uint8_t> f = bytes_;
  f[prog.offset + 3] ^= 0x10;
  ExpectBad(f, "section 'program' (offset 8192): checksum mismatch (stored 0x");
}

TEST_F(ReaderTest, HeaderChecksumMismatch) {
  std::vector<uint8_t> f = bytes_;
  f[kOffFlags + 7] ^= 1;  // a field no earlier check looks at
  ExpectBad(f, "header (bytes 0-224): checksum mismatch");
}

// Payload changes with valid checksums reach the section parsers, which must refuse or accept
// cleanly (never crash or over-allocate); run under --config=asan to check the "never crash".
TEST_F(ReaderTest, ResealedPayloadCorruptionNeverCrashes) {
  int refused = 0;
  for (const SectionInfo& s : opened_.layout.sections) {
    if (s.kind == static_cast<uint32_t>(SectionKind::kWeights)) continue;
    for (uint64_t i = 0; i < s.used; ++i) {
      for (uint8_t value : {uint8_t{0xFF}, uint8_t{0x00}, uint8_t(bytes_[s.offset + i] ^ 0x04)}) {
        std::vector<uint8_t> f = bytes_;
        f[s.offset + i] = value;
        Reseal(f);
        StatusOr<OpenedBundle> b = ParseBundle(f.data(), f.size());
        if (!b.ok()) {
          ASSERT_EQ(b.status().code(), Code::kBadInput) << b.status().ToString();
          ++refused;
        }
      }
    }
  }
  EXPECT_GT(refused, 0);
}

TEST_F(ReaderTest, NewerMajorVersionIsRefused) {
  std::vector<uint8_t> f = bytes_;
  St(&f[kOffMajor], 3, 2);
  St(&f[kOffMinor], 3, 2);
  EXPECT_EQ(ExpectBad(f, ""),
            "bundle version 3.3 is newer than this tsr reads (2.x); use a newer tsr");
}

TEST_F(ReaderTest, NewerMinorVersionIsAccepted) {
  std::vector<uint8_t> f = bytes_;
  St(&f[kOffMinor], 7, 2);
  Reseal(f);
  StatusOr<OpenedBundle> b = ParseBundle(f.data(), f.size());
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->layout.minor, 7);
  EXPECT_EQ(b->contents, plan_.contents);
}

TEST_F(ReaderTest, CrLfToLfIsReportedAsTextModeMangling) {
  std::vector<uint8_t> f;
  for (size_t i = 0; i < bytes_.size(); ++i) {
    if (bytes_[i] == '\r' && i + 1 < bytes_.size() && bytes_[i + 1] == '\n') continue;
    f.push_back(bytes_[i]);
  }
  ExpectBad(f, "bytes 0-7: magic mangled by a text-mode transfer (found 89 54 53 50 0a 1a 0a");
}

TEST_F(ReaderTest, SevenBitStrippingIsReportedAsTextModeMangling) {
  std::vector<uint8_t> f = bytes_;
  for (uint8_t& c : f) c &= 0x7F;
  ExpectBad(f, "magic mangled by a text-mode transfer");
}

TEST_F(ReaderTest, OtherFileIsNotABundle) {
  std::vector<uint8_t> f = {0x7F, 'E', 'L', 'F', 2, 1, 1, 0};
  f.resize(100, 0);
  ExpectBad(f, "not a TensorShunt bundle (found 7f 45 4c 46");
  ExpectBad({'{', '}'}, "not a TensorShunt bundle");
}

TEST_F(ReaderTest, UnknownSectionIsSkipped) {
  auto secs = testing::Sections(bytes_, opened_.layout);
  secs.insert(secs.begin() + 2, {77, std::vector<uint8_t>(5000, 0xAB)});
  std::vector<uint8_t> f = Assemble(secs);
  StatusOr<OpenedBundle> b = ParseBundle(f.data(), f.size());
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->contents, plan_.contents);
  ASSERT_EQ(b->layout.sections.size(), 6u);
  EXPECT_EQ(b->layout.sections[2].kind, 77u);
  EXPECT_EQ(b->layout.sections[2].length, 8192u);
}

TEST_F(ReaderTest, SectionTableRules) {
  auto secs = testing::Sections(bytes_, opened_.layout);
  auto dup = secs;
  dup.insert(dup.begin() + 1, secs[0]);
  ExpectBad(Assemble(dup), "a second 'metadata' section");

  auto missing = secs;
  missing.erase(missing.begin() + 3);
  ExpectBad(Assemble(missing), "section table: no 'kernels' section");

  auto weights_first = secs;
  std::swap(weights_first[0], weights_first[4]);
  ExpectBad(Assemble(weights_first), "the weights section must be the last one");

  // An entry pointing back at the previous section (overlap).
  std::vector<uint8_t> f = bytes_;
  St(&f[kPrefixSize + 2 * kSectionEntrySize + kEntOffset], opened_.layout.sections[1].offset, 8);
  Reseal(f);
  ExpectBad(f, "section table entry 2 ('memory plan'): starts at 8192, expected 12288");

  f = bytes_;
  St(&f[kPrefixSize + 0 * kSectionEntrySize + kEntUsed], 5000, 8);
  Reseal(f);
  ExpectBad(f, "used 5000 bytes is more than its length 4096");
}

TEST_F(ReaderTest, ParseWithoutWeightVerification) {
  std::vector<uint8_t> f = bytes_;
  f[opened_.layout.weights.offset] ^= 1;
  ExpectBad(f, "section 'weights' (offset 20480): checksum mismatch");
  StatusOr<OpenedBundle> b = ParseBundle(f.data(), f.size(), /*verify_weights=*/false);
  EXPECT_TRUE(b.ok()) << b.status().ToString();
}

TEST_F(ReaderTest, WeightsHasherMatchesOneShot) {
  const SectionInfo& w = opened_.layout.weights;
  WeightsHasher h;
  h.Update(bytes_.data() + w.offset, 1);
  h.Update(bytes_.data() + w.offset + 1, w.used - 1);
  EXPECT_EQ(h.Digest(), w.checksum);
}

// Semantic validation of contents whose bytes are well formed.
class ValidateTest : public ReaderTest {
 protected:
  Status Validate() { return ValidateContents(c_, opened_.layout); }
  void ExpectInvalid(const std::string& fragment) {
    Status st = Validate();
    ASSERT_FALSE(st.ok()) << "expected: " << fragment;
    EXPECT_EQ(st.code(), Code::kBadInput);
    EXPECT_NE(st.message().find(fragment), std::string::npos) << st.message();
  }
  void SetUp() override {
    ReaderTest::SetUp();
    c_ = opened_.contents;
  }
  PlanContents c_;
};

TEST_F(ValidateTest, SampleIsValid) { EXPECT_TRUE(Validate().ok()); }

TEST_F(ValidateTest, TensorPastArenaEnd) {
  c_.program.outputs[0].offset = c_.memory.arena_bytes - 8;
  ExpectInvalid("program output 0 'y': bytes [8184, +40) run past the arena end 8192");
}

TEST_F(ValidateTest, TensorOffsetOverflow) {
  c_.program.steps[0].args[2].offset = ~uint64_t{0} - 4;
  ExpectInvalid("program step 0 ('matmul_0'): arg 2 't': bytes [");
}

TEST_F(ValidateTest, BytesDisagreeWithShape) {
  c_.program.steps[2].args[0].bytes = 44;
  ExpectInvalid("arg 0 't': 44 bytes, but its f32 shape needs 40");
}

TEST_F(ValidateTest, SymbolNotInKernelModule) {
  c_.program.steps[1].symbol = "ts_gone";
  ExpectInvalid("program step 1 ('add_0'): kernel symbol 'ts_gone' is not in the kernels section");
}

TEST_F(ValidateTest, BadStepKindAndBuiltin) {
  c_.program.steps[0].builtin = static_cast<Builtin>(kMaxBuiltin + 1);
  ExpectInvalid("builtin 6 is not in 1..5");
  c_ = opened_.contents;
  c_.program.steps[0].kind = static_cast<StepKind>(9);
  ExpectInvalid("unknown step kind 9");
  c_ = opened_.contents;
  c_.program.steps[0].num_inputs = 4;
  ExpectInvalid("num_inputs 4 exceeds its 3 args");
  c_ = opened_.contents;
  c_.program.inputs[0].dtype = static_cast<DType>(0);
  ExpectInvalid("program input 0 'x': unknown dtype 0");
}

TEST_F(ValidateTest, LoadAndWaitStepsNameAStreamedWeight) {
  Step load, wait;
  load.kind = StepKind::kLoad;
  load.node = "load W";
  load.iparams = {0};
  wait.kind = StepKind::kWait;
  wait.node = "wait W";
  wait.iparams = {0};
  c_.program.steps.insert(c_.program.steps.begin(), {load, wait});
  ExpectInvalid("program step 0 ('load W'): a load or wait step must name one streamed weight");
  c_.weights[0].streamed = true;
  EXPECT_TRUE(Validate().ok());
  // A wait with no load before it would block tsr forever.
  std::swap(c_.program.steps[0], c_.program.steps[1]);
  ExpectInvalid("program step 0 ('wait W'): waits for weight 0 before any step loads it");
  std::swap(c_.program.steps[0], c_.program.steps[1]);
  // A second load would race the first wait.
  c_.program.steps.insert(c_.program.steps.begin() + 1, load);
  ExpectInvalid("program step 1 ('load W'): weight 0 is loaded twice");
  c_.program.steps.erase(c_.program.steps.begin() + 1);
  // A step between load and wait that uses the weight's bytes races the I/O thread.
  c_.program.steps.insert(c_.program.steps.begin() + 1, c_.program.steps[2]);
  ExpectInvalid("program step 1 uses arena bytes of weight 'W' while it is being loaded");
  c_.program.steps.erase(c_.program.steps.begin() + 1);
  // Streamed but never loaded.
  c_.program.steps.erase(c_.program.steps.begin(), c_.program.steps.begin() + 2);
  ExpectInvalid("weight 0 'W' is streamed but never loaded and waited for");
  c_.program.steps.insert(c_.program.steps.begin(), {load, wait});
  c_.program.steps[0].iparams = {3};
  ExpectInvalid("must name one streamed weight");
  c_.program.steps[0].iparams = {};
  ExpectInvalid("must name one streamed weight");
}

TEST_F(ValidateTest, FillsReadWhatAnEarlierSpillWrote) {
  const TensorRef t = c_.program.outputs[0];  // 40 bytes inside the arena
  Step spill, fill;
  spill.kind = StepKind::kSpill;
  spill.node = "spill y";
  spill.iparams = {4096};
  spill.args = {t};
  spill.num_inputs = 1;
  fill.kind = StepKind::kFill;
  fill.node = "fill y";
  fill.iparams = {4096};
  fill.args = {t};
  c_.program.steps.insert(c_.program.steps.end(), {spill, fill});
  EXPECT_TRUE(Validate().ok()) << Validate().ToString();
  const size_t at = c_.program.steps.size() - 2;
  // A fill before any spill of its place would read what was never written.
  std::swap(c_.program.steps[at], c_.program.steps[at + 1]);
  ExpectInvalid("fills 40 bytes from spill-file offset 4096 where no earlier step spilled as many");
  std::swap(c_.program.steps[at], c_.program.steps[at + 1]);
  c_.program.steps[at + 1].iparams = {8192};
  ExpectInvalid("where no earlier step spilled as many");
  c_.program.steps[at + 1].iparams = {4096};
  c_.program.steps[at].iparams = {100};
  ExpectInvalid("a spill or fill step must name one tensor and a 4096-aligned spill-file offset");
  c_.program.steps[at].iparams = {int64_t{1} << 51};
  ExpectInvalid("a spill or fill step must name one tensor");
  c_.program.steps[at].iparams = {4096};
  c_.program.steps[at].num_inputs = 0;
  ExpectInvalid("a spill or fill step must name one tensor");
  c_.program.steps[at].num_inputs = 1;
  // A second spill starting inside the first's place would let the fill read parts of both.
  Step other = spill;
  other.node = "spill z";
  other.iparams = {0};
  other.args[0].offset = 0;
  other.args[0].bytes = 8192;
  other.args[0].shape = {2048};
  c_.program.steps.insert(c_.program.steps.begin() + static_cast<long>(at), other);
  ExpectInvalid("spills 40 bytes at spill-file offset 4096, over another spill's place");
}

// A bundle without weight bytes is checked too (the staging checks return early for it).
TEST_F(ValidateTest, SpillsAreCheckedInAPlanWithoutWeights) {
  c_.weights.clear();
  Step fill;
  fill.kind = StepKind::kFill;
  fill.node = "fill y";
  fill.iparams = {0};
  fill.args = {c_.program.outputs[0]};
  c_.program.steps.push_back(fill);
  ExpectInvalid("where no earlier step spilled as many");
}

TEST_F(ValidateTest, OverlappingWeights) {
  c_.weights[1].file_offset = 0;
  ExpectInvalid("weight 1 'emb': file_offset 0 overlaps the previous weight, which ends at 60");
}

TEST_F(ValidateTest, WeightRules) {
  c_.weights[2].file_offset = 12289;
  ExpectInvalid("weight 2 'b': file_offset 12289 is not a multiple of 4096");
  c_ = opened_.contents;
  c_.weights[2].bytes = 4;
  ExpectInvalid("run past the weights section's 12291 bytes");
  c_ = opened_.contents;
  c_.weights[0].arena_offset = 8190;
  ExpectInvalid("weight 0 'W': arena bytes [8190, +60) run past the arena end 8192");
  c_ = opened_.contents;
  c_.memory.io_chunk_bytes = 1000;
  ExpectInvalid("io_chunk_bytes 1000 must be a nonzero multiple of 4096");
  c_.memory.io_chunk_bytes = 128ull << 20;
  ExpectInvalid("I/O staging of 4 x 134217728 bytes is over the limits");
  c_ = opened_.contents;
  c_.memory.io_queue_depth = 0;
  ExpectInvalid("io_queue_depth 0 is outside 1..64");
}

TEST_F(ValidateTest, MemoryPlanRules) {
  c_.memory.peak_step = 4;
  ExpectInvalid("peak_step 4 is past the last of 4 steps");
  c_ = opened_.contents;
  c_.memory.buffers[1].bytes = 4000;
  ExpectInvalid("buffer 't' bytes [4608, +4000) run past the arena end 8192");
}

// A semantic error in a well-formed, correctly checksummed file is reported by ParseBundle too.
TEST_F(ValidateTest, ParseBundleRunsValidation) {
  auto secs = testing::Sections(bytes_, opened_.layout);
  std::vector<uint8_t>& mem = secs[2].second;
  St(mem.data(), 100, 8);  // arena_bytes is the memory plan's first field
  ExpectBad(Assemble(secs), "run past the arena end 100");
}

}  // namespace
}  // namespace ts::planfmt
