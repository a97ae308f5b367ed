// The runtime's streamed-weight path on a hand-built bundle: a weight loaded by the program's
// load step on every run, and refused when the bundle changes on disk after tsr loaded it.
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "planfmt/reader.h"
#include "planfmt/writer.h"
#include "runtime/executor.h"

namespace ts {
namespace {

planfmt::TensorRef F32Ref(const std::string& name, uint64_t offset) {
  return {name, DType::kF32, {4}, offset, 16};
}

// y = copy(w), with w streamed: load w, wait for it, copy it to the output.
std::string WriteStreamedBundle(const float (&w)[4]) {
  planfmt::PlanContents c;
  c.metadata = {{"target", "cpu"}};
  planfmt::Step load, wait, copy;
  load.kind = planfmt::StepKind::kLoad;
  load.node = "load w";
  load.iparams = {0};
  wait.kind = planfmt::StepKind::kWait;
  wait.node = "wait w";
  wait.iparams = {0};
  copy.kind = planfmt::StepKind::kBuiltin;
  copy.builtin = planfmt::Builtin::kCopy;
  copy.node = "copy";
  copy.num_inputs = 1;
  copy.args = {F32Ref("w", 0), F32Ref("y", 64)};
  c.program.steps = {load, wait, copy};
  c.program.outputs = {F32Ref("y", 64)};
  c.memory.arena_bytes = 128;
  c.memory.io_chunk_bytes = 4096;
  c.memory.io_queue_depth = 1;
  c.memory.buffers = {{"w", 0, 16, 0, 0}, {"y", 64, 16, 0, 0}};
  c.kernels.format = "llvm-bc";
  planfmt::WeightEntry entry;
  entry.name = "w";
  entry.bytes = 16;
  entry.streamed = true;
  c.weights = {entry};
  const std::string dir = std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR") : "/tmp";
  const std::string path = dir + "/streamed.tsplan";
  Status st = planfmt::WriteBundle(path, c, {{reinterpret_cast<const uint8_t*>(w), 16}});
  EXPECT_TRUE(st.ok()) << st.ToString();
  return path;
}

TEST(StreamingTest, StreamedWeightIsReadEveryRunAndCheckedAgainstItsChecksum) {
  const float w[4] = {1.5f, -2, 3, 4.25f};
  const std::string path = WriteStreamedBundle(w);
  auto ex = runtime::Executor::Load(path);
  ASSERT_TRUE(ex.ok()) << ex.status().ToString();
  for (int run = 0; run < 3; ++run) {
    auto out = (*ex)->Run({});
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    ASSERT_EQ(out->size(), 1u);
    EXPECT_EQ(std::memcmp((*out)[0].data.data(), w, 16), 0) << "run " << run;
    EXPECT_EQ((*ex)->last_run().streamed_bytes, 16u);
  }

  // The reads alone, as tsr bench times them: the same bytes, and a later run is unaffected.
  auto alone = (*ex)->ReadStreamedAlone();
  ASSERT_TRUE(alone.ok()) << alone.status().ToString();
  EXPECT_EQ(alone->streamed_bytes, 16u);
  EXPECT_GT(alone->run_ms, 0);
  EXPECT_LE(alone->read_ms, alone->run_ms);
  auto again = (*ex)->Run({});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(std::memcmp((*again)[0].data.data(), w, 16), 0);

  // Change one byte of the weight on disk: the next run's read must be refused.
  auto opened = planfmt::ReadBundle(path);
  ASSERT_TRUE(opened.ok());
  int fd = open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  const uint8_t flipped = 0x7f;
  ASSERT_EQ(pwrite(fd, &flipped, 1, static_cast<off_t>(opened->layout.weights.offset + 2)), 1);
  close(fd);
  auto out = (*ex)->Run({});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), Code::kBadInput);
  EXPECT_NE(out.status().message().find("checksum mismatch on re-read"), std::string::npos)
      << out.status().message();
  EXPECT_NE(out.status().message().find("'w'"), std::string::npos);
  // So must the reads alone, with the same error.
  auto refused = (*ex)->ReadStreamedAlone();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kBadInput);
}

// Sets an environment variable for one scope, restoring the old value (or its absence) after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// y = copy(x) by way of the spill file: x is spilled, the arena bytes are scribbled over by a
// copy, and the fill brings x back before the copy to y.
// y = copy(w), w resident; and a prefill program y = copy(v) over weights {v, w} where v's
// bytes differ (laid after w's) and w's are shared: listed out of file order.
TEST(StreamingTest, PrefillProgramSharesWeightsAndWeightsCanBeHandedOver) {
  const float w[4] = {1, 2, 3, 4}, v[4] = {-5, 6.5f, -7, 8};
  planfmt::PlanContents c;
  c.metadata = {{"target", "cpu"}};
  planfmt::Step copy;
  copy.kind = planfmt::StepKind::kBuiltin;
  copy.builtin = planfmt::Builtin::kCopy;
  copy.node = "copy";
  copy.num_inputs = 1;
  copy.args = {F32Ref("w", 0), F32Ref("y", 64)};
  c.program.steps = {copy};
  c.program.outputs = {F32Ref("y", 64)};
  c.memory.arena_bytes = 128;
  c.memory.io_chunk_bytes = 4096;
  c.memory.io_queue_depth = 1;
  c.kernels.format = "llvm-bc";
  planfmt::WeightEntry entry;
  entry.name = "w";
  entry.bytes = 16;
  c.weights = {entry};
  planfmt::SubPlan p;
  p.program = c.program;
  p.program.steps[0].args[0] = F32Ref("v", 16);
  p.memory = c.memory;
  p.kernels = c.kernels;
  planfmt::WeightEntry pv = entry, pw = entry;
  pv.name = "v";
  pv.arena_offset = 16;
  p.weights = {pv, pw};
  c.prefill = p;
  const std::string dir = std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR") : "/tmp";
  const std::string path = dir + "/prefill.tsplan";
  const auto* wb = reinterpret_cast<const uint8_t*>(w);
  const auto* vb = reinterpret_cast<const uint8_t*>(v);
  Status st = planfmt::WriteBundle(path, c, {{wb, 16}}, {{vb, 16}, {wb, 16}});
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(c.prefill->weights[1].file_offset, c.weights[0].file_offset);
  EXPECT_GT(c.prefill->weights[0].file_offset, c.weights[0].file_offset);

  auto main = runtime::Executor::Load(path);
  ASSERT_TRUE(main.ok()) << main.status().ToString();
  auto out = (*main)->Run({});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(std::memcmp((*out)[0].data.data(), w, 16), 0);
  runtime::LoadOptions options;
  options.prefill = true;
  auto pre = runtime::Executor::Load(path, options);
  ASSERT_TRUE(pre.ok()) << pre.status().ToString();
  auto pre_out = (*pre)->Run({});
  ASSERT_TRUE(pre_out.ok()) << pre_out.status().ToString();
  EXPECT_EQ(std::memcmp((*pre_out)[0].data.data(), v, 16), 0);

  // Handing a weight's bytes from one program to the other.
  auto bytes = (*pre)->ReadWeight("v");
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  ASSERT_TRUE((*main)->WriteWeight("w", *bytes).ok());
  auto after = (*main)->Run({});
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(std::memcmp((*after)[0].data.data(), v, 16), 0);
  EXPECT_FALSE((*main)->WriteWeight("w", std::vector<uint8_t>(8)).ok()) << "the size must match";
  EXPECT_FALSE((*main)->ReadWeight("nope").ok());

  // A bundle without a prefill program says so.
  c.prefill.reset();
  ASSERT_TRUE(planfmt::WriteBundle(path, c, {{wb, 16}}).ok());
  auto none = runtime::Executor::Load(path, options);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("has no prefill program"), std::string::npos);
}

TEST(StreamingTest, SpilledActivationComesBackBitForBit) {
  planfmt::PlanContents c;
  c.metadata = {{"target", "cpu"}};
  planfmt::Step spill, scribble, fill, copy;
  spill.kind = planfmt::StepKind::kSpill;
  spill.node = "spill x";
  spill.iparams = {0};
  spill.num_inputs = 1;
  spill.args = {F32Ref("x", 0)};
  scribble.kind = planfmt::StepKind::kBuiltin;
  scribble.builtin = planfmt::Builtin::kCopy;
  scribble.node = "scribble";
  scribble.num_inputs = 1;
  scribble.args = {F32Ref("z", 128), F32Ref("x", 0)};
  fill.kind = planfmt::StepKind::kFill;
  fill.node = "fill x";
  fill.iparams = {0};
  fill.args = {F32Ref("x", 0)};
  copy.kind = planfmt::StepKind::kBuiltin;
  copy.builtin = planfmt::Builtin::kCopy;
  copy.node = "copy";
  copy.num_inputs = 1;
  copy.args = {F32Ref("x", 0), F32Ref("y", 64)};
  c.program.steps = {spill, scribble, fill, copy};
  c.program.inputs = {F32Ref("x", 0), F32Ref("z", 128)};
  c.program.outputs = {F32Ref("y", 64)};
  c.memory.arena_bytes = 192;
  c.memory.buffers = {{"x", 0, 16, 0, 3}, {"y", 64, 16, 3, 3}, {"z", 128, 16, 0, 1}};
  c.kernels.format = "llvm-bc";
  const std::string dir = std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR") : "/tmp";
  const std::string path = dir + "/spilled.tsplan";
  Status st = planfmt::WriteBundle(path, c, {});
  ASSERT_TRUE(st.ok()) << st.ToString();
  std::optional<ScopedEnv> spill_dir(std::in_place, "TSR_SPILL_DIR", dir);
  auto ex = runtime::Executor::Load(path);
  ASSERT_TRUE(ex.ok()) << ex.status().ToString();
  const float x[4] = {1.5f, -2, 3, 4.25f}, z[4] = {9, 9, 9, 9};
  auto tensor = [](const float (&v)[4]) {
    runtime::HostTensor t{DType::kF32, {4}, std::vector<uint8_t>(16)};
    std::memcpy(t.data.data(), v, 16);
    return t;
  };
  for (int run = 0; run < 2; ++run) {
    auto out = (*ex)->Run({{"x", tensor(x)}, {"z", tensor(z)}});
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    EXPECT_EQ(std::memcmp((*out)[0].data.data(), x, 16), 0) << "run " << run;
    EXPECT_EQ((*ex)->last_run().spilled_bytes, 16u);
  }
  // A spill folder that cannot be written is a one-line error naming it.
  spill_dir.emplace("TSR_SPILL_DIR", "/proc/no-such-folder");
  auto refused = runtime::Executor::Load(path);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("TSR_SPILL_DIR"), std::string::npos) << refused.status().message();
}

// A spill of an empty tensor (a valid bundle a crafted file can hold) still gets a spill file,
// and moves nothing.
TEST(StreamingTest, EmptySpillAndFillRun) {
  planfmt::PlanContents c;
  c.metadata = {{"target", "cpu"}};
  const planfmt::TensorRef empty{"e", DType::kF32, {0}, 0, 0};
  planfmt::Step spill, fill, copy;
  spill.kind = planfmt::StepKind::kSpill;
  spill.node = "spill e";
  spill.iparams = {0};
  spill.num_inputs = 1;
  spill.args = {empty};
  fill.kind = planfmt::StepKind::kFill;
  fill.node = "fill e";
  fill.iparams = {0};
  fill.args = {empty};
  copy.kind = planfmt::StepKind::kBuiltin;
  copy.builtin = planfmt::Builtin::kCopy;
  copy.node = "copy";
  copy.num_inputs = 1;
  copy.args = {F32Ref("x", 0), F32Ref("y", 64)};
  c.program.steps = {spill, fill, copy};
  c.program.inputs = {F32Ref("x", 0)};
  c.program.outputs = {F32Ref("y", 64)};
  c.memory.arena_bytes = 128;
  c.memory.buffers = {{"x", 0, 16, 0, 2}, {"y", 64, 16, 2, 2}};
  c.kernels.format = "llvm-bc";
  const std::string dir = std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR") : "/tmp";
  const std::string path = dir + "/empty_spill.tsplan";
  Status st = planfmt::WriteBundle(path, c, {});
  ASSERT_TRUE(st.ok()) << st.ToString();
  ScopedEnv spill_dir("TSR_SPILL_DIR", dir);
  auto ex = runtime::Executor::Load(path);
  ASSERT_TRUE(ex.ok()) << ex.status().ToString();
  runtime::HostTensor x{DType::kF32, {4}, std::vector<uint8_t>(16, 7)};
  auto out = (*ex)->Run({{"x", x}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)[0].data, x.data);
}

}  // namespace
}  // namespace ts
