#include "runtime/block_reader.h"

#include <fcntl.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace ts::runtime {
namespace {

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * kKiB;
constexpr uint64_t kFileBytes = 5 * kMiB + 12 * kKiB;

// Not periodic in 4096 or in any chunk size, so a block delivered at the wrong offset shows.
uint8_t PatternAt(uint64_t i) {
  uint64_t x = i * 0x9E3779B97F4A7C15ull;
  return static_cast<uint8_t>((x >> 56) ^ (i >> 12));
}

std::string TestDir() {
  // Bazel's TEST_TMPDIR lives under the output base, on a real disk where O_DIRECT works.
  const char* d = std::getenv("TEST_TMPDIR");
  return d != nullptr ? d : testing::TempDir();
}

void WritePatternFile(const std::string& path, uint64_t bytes) {
  std::vector<uint8_t> data(bytes);
  for (uint64_t i = 0; i < bytes; ++i) data[i] = PatternAt(i);
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0) << path << ": " << std::strerror(errno);
  ASSERT_EQ(write(fd, data.data(), data.size()), static_cast<ssize_t>(bytes));
  ASSERT_EQ(fsync(fd), 0);
  close(fd);
}

struct Call {
  uint64_t offset;
  size_t n;
};

struct ReadResult {
  Status status;
  std::vector<Call> calls;
  std::vector<uint8_t> bytes;
};

ReadResult ReadAll(BlockReader& r, uint64_t offset, uint64_t length) {
  ReadResult out;
  out.status = r.ReadRange(offset, length, [&](uint64_t at, const uint8_t* data, size_t n) {
    out.calls.push_back({at, n});
    out.bytes.insert(out.bytes.end(), data, data + n);
    return OkStatus();
  });
  return out;
}

// Chunks come in file order with sizes chunk, chunk, ..., rest; every byte matches the file.
void ExpectRead(const ReadResult& got, uint64_t offset, uint64_t length, uint64_t chunk) {
  ASSERT_TRUE(got.status.ok()) << got.status.ToString();
  const uint64_t chunks = (length + chunk - 1) / chunk;
  ASSERT_EQ(got.calls.size(), chunks);
  for (uint64_t i = 0; i < chunks; ++i) {
    EXPECT_EQ(got.calls[i].offset, offset + i * chunk) << "call " << i;
    EXPECT_EQ(got.calls[i].n, std::min(chunk, length - i * chunk)) << "call " << i;
  }
  ASSERT_EQ(got.bytes.size(), length);
  for (uint64_t i = 0; i < length; ++i) {
    if (got.bytes[i] != PatternAt(offset + i)) {
      FAIL() << "first wrong byte at file offset " << offset + i << ": got "
             << int{got.bytes[i]} << ", expected " << int{PatternAt(offset + i)};
    }
  }
}

enum class Backend { kUring, kPread };

std::string BackendName(const testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kUring ? "io_uring" : "pread";
}

class BlockReaderTest : public testing::TestWithParam<Backend> {
 protected:
  static void SetUpTestSuite() {
    path_ = new std::string(TestDir() + "/block_reader_pattern.bin");
    WritePatternFile(*path_, kFileBytes);
  }
  static void TearDownTestSuite() {
    unlink(path_->c_str());
    delete path_;
    path_ = nullptr;
  }

  // Opens on this test's back end. Call SKIP_IF_NO_URING() first: it skips, with the reason,
  // where io_uring cannot start.
  std::unique_ptr<BlockReader> Open(ReaderOptions o, const std::string& path = "") {
    o.force_pread = GetParam() == Backend::kPread;
    std::string warning;
    auto r = OpenBlockReader(path.empty() ? *path_ : path, o, &warning);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return nullptr;
    if (GetParam() == Backend::kUring && (*r)->method() != "io_uring") {
      ADD_FAILURE() << "io_uring started for the probe but not for these options: " << warning;
      return nullptr;
    }
    return std::move(*r);
  }

  static std::string* path_;
};

std::string* BlockReaderTest::path_ = nullptr;

// Skips the current test when io_uring cannot start here, saying why.
#define SKIP_IF_NO_URING()                                                         \
  do {                                                                             \
    if (GetParam() == Backend::kUring) {                                           \
      std::string w;                                                               \
      auto probe = OpenBlockReader(*path_, ReaderOptions{}, &w);                   \
      ASSERT_TRUE(probe.ok()) << probe.status().ToString();                        \
      if ((*probe)->method() != "io_uring") GTEST_SKIP() << "io_uring: " << w;     \
    }                                                                              \
  } while (0)

TEST_P(BlockReaderTest, ReadsEveryByteInFileOrder) {
  SKIP_IF_NO_URING();
  struct Range {
    uint64_t offset, length;
  };
  // The whole file, and an interior range whose length is neither a multiple of the chunk nor
  // of 4096 (the last chunk is read rounded up under O_DIRECT and delivered short).
  const Range ranges[] = {{0, kFileBytes}, {8192, 3 * kMiB + 100}};
  for (uint64_t chunk : {64 * kKiB, 1 * kMiB}) {
    for (int depth : {1, 4, 8}) {
      for (bool use_direct : {true, false}) {
        ReaderOptions o;
        o.chunk_bytes = chunk;
        o.queue_depth = depth;
        o.use_direct = use_direct;
        auto r = Open(o);
        ASSERT_NE(r, nullptr);
        for (const Range& range : ranges) {
          SCOPED_TRACE("chunk " + std::to_string(chunk) + " depth " + std::to_string(depth) +
                       " direct " + std::to_string(r->direct()) + " range [" +
                       std::to_string(range.offset) + "+" + std::to_string(range.length) + ")");
          ExpectRead(ReadAll(*r, range.offset, range.length), range.offset, range.length, chunk);
        }
      }
    }
  }
}

TEST_P(BlockReaderTest, StagingBytesMatchBackEnd) {
  SKIP_IF_NO_URING();
  ReaderOptions o;
  o.chunk_bytes = 64 * kKiB;
  o.queue_depth = 8;
  auto r = Open(o);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->staging_bytes(), GetParam() == Backend::kUring ? 8 * 64 * kKiB : 64 * kKiB);
}

struct FaultCase {
  const char* name;
  IoFaults faults;
};

TEST_P(BlockReaderTest, RetryableFaultsStillDeliverEveryByte) {
  SKIP_IF_NO_URING();
  const FaultCase cases[] = {
      {"short read every 2nd", {.short_read_every = 2}},
      {"EAGAIN every 3rd", {.eagain_every = 3}},
      {"EINTR every 2nd", {.eintr_every = 2}},
      {"all at once", {.short_read_every = 2, .eagain_every = 3, .eintr_every = 5}},
  };
  for (const FaultCase& c : cases) {
    for (bool use_direct : {true, false}) {
      SCOPED_TRACE(std::string(c.name) + (use_direct ? ", O_DIRECT" : ", buffered"));
      ReaderOptions o;
      o.chunk_bytes = 64 * kKiB;
      o.use_direct = use_direct;
      o.faults = c.faults;
      auto r = Open(o);
      ASSERT_NE(r, nullptr);
      ExpectRead(ReadAll(*r, 0, kFileBytes), 0, kFileBytes, o.chunk_bytes);
      ExpectRead(ReadAll(*r, 4096, 1 * kMiB + 7), 4096, 1 * kMiB + 7, o.chunk_bytes);
    }
  }
}

TEST_P(BlockReaderTest, EndlessEagainGivesUpWithIoError) {
  SKIP_IF_NO_URING();
  ReaderOptions o;
  o.chunk_bytes = 64 * kKiB;
  o.faults.eagain_every = 1;
  auto r = Open(o);
  ASSERT_NE(r, nullptr);
  ReadResult got = ReadAll(*r, 0, kFileBytes);
  EXPECT_EQ(got.status.code(), Code::kIo);
  EXPECT_NE(got.status.message().find("gave up after 1000 consecutive EAGAIN/EINTR"),
            std::string::npos)
      << got.status.message();
  EXPECT_TRUE(got.calls.empty());
}

TEST_P(BlockReaderTest, EioIsIoErrorNamingPathAndOffset) {
  SKIP_IF_NO_URING();
  ReaderOptions o;
  o.chunk_bytes = 64 * kKiB;
  o.queue_depth = 1;  // submissions then map one to one onto chunks: index 2 is offset 128 KiB
  o.faults.eio_at = 2;
  auto r = Open(o);
  ASSERT_NE(r, nullptr);
  ReadResult got = ReadAll(*r, 0, kFileBytes);
  EXPECT_EQ(got.status.code(), Code::kIo);
  EXPECT_EQ(got.status.message(),
            *path_ + ": read at offset 131072: Input/output error (errno 5)");
  EXPECT_EQ(got.calls.size(), 2u);
  // The failure is per read, not sticky: the next range reads fine.
  ExpectRead(ReadAll(*r, 0, 256 * kKiB), 0, 256 * kKiB, o.chunk_bytes);
}

TEST_P(BlockReaderTest, EioWithReadsInFlightIsReported) {
  SKIP_IF_NO_URING();
  ReaderOptions o;
  o.chunk_bytes = 64 * kKiB;
  o.queue_depth = 8;
  o.faults.eio_at = 2;
  auto r = Open(o);
  ASSERT_NE(r, nullptr);
  ReadResult got = ReadAll(*r, 0, kFileBytes);
  EXPECT_EQ(got.status.code(), Code::kIo);
  EXPECT_NE(got.status.message().find(*path_ + ": read at offset "), std::string::npos);
  EXPECT_LE(got.calls.size(), 2u);
}

TEST_P(BlockReaderTest, RangePastEndOfFileIsRefused) {
  SKIP_IF_NO_URING();
  auto r = Open(ReaderOptions{});
  ASSERT_NE(r, nullptr);
  ReadResult got = ReadAll(*r, kFileBytes - 4096, 8192);
  EXPECT_EQ(got.status.code(), Code::kBadInput);
  EXPECT_EQ(got.status.message(),
            *path_ + ": reading [5251072, 5259264): file ends at 5255168, expected 5259264 "
                     "bytes; the file was truncated after it was written");
  EXPECT_TRUE(got.calls.empty());
}

TEST_P(BlockReaderTest, UnpaddedFileReadsToExactEnd) {
  SKIP_IF_NO_URING();
  // Bundles are 4096-padded, but a reader must not depend on it: under O_DIRECT the last block is
  // read rounded up and the kernel returns a short count at end of file.
  const std::string path = TestDir() + "/block_reader_unpadded.bin";
  const uint64_t size = 3 * 4096 + 100;
  WritePatternFile(path, size);
  ReaderOptions o;
  o.chunk_bytes = 8192;
  auto r = Open(o, path);
  ASSERT_NE(r, nullptr);
  ExpectRead(ReadAll(*r, 0, size), 0, size, o.chunk_bytes);
  ExpectRead(ReadAll(*r, 8192, size - 8192), 8192, size - 8192, o.chunk_bytes);
  EXPECT_EQ(ReadAll(*r, 8192, size - 8192 + 1).status.code(), Code::kBadInput);
  unlink(path.c_str());
}

TEST_P(BlockReaderTest, FileTruncatedAfterOpenIsReported) {
  SKIP_IF_NO_URING();
  const std::string path = TestDir() + "/block_reader_truncated.bin";
  WritePatternFile(path, 1 * kMiB);
  auto r = Open(ReaderOptions{}, path);
  ASSERT_NE(r, nullptr);
  ASSERT_EQ(truncate(path.c_str(), 512 * kKiB), 0);
  ReadResult got = ReadAll(*r, 0, 1 * kMiB);
  EXPECT_EQ(got.status.code(), Code::kBadInput);
  EXPECT_NE(got.status.message().find("file ends at 524288, expected 1048576 bytes; the file "
                                      "was truncated after it was written"),
            std::string::npos)
      << got.status.message();
  unlink(path.c_str());
}

TEST_P(BlockReaderTest, SinkErrorIsReturnedAsIsAndReaderStaysUsable) {
  SKIP_IF_NO_URING();
  ReaderOptions o;
  o.chunk_bytes = 64 * kKiB;
  o.queue_depth = 8;
  auto r = Open(o);
  ASSERT_NE(r, nullptr);
  int calls = 0;
  Status s = r->ReadRange(0, kFileBytes, [&](uint64_t, const uint8_t*, size_t) {
    return ++calls == 3 ? CheckFailedError("destination full") : OkStatus();
  });
  EXPECT_EQ(s.code(), Code::kCheckFailed);
  EXPECT_EQ(s.message(), "destination full");
  EXPECT_EQ(calls, 3);
  // Reads that were in flight were drained, so the buffers can be reused at once.
  ExpectRead(ReadAll(*r, 0, kFileBytes), 0, kFileBytes, o.chunk_bytes);
}

TEST_P(BlockReaderTest, UnalignedOffsetIsRefused) {
  SKIP_IF_NO_URING();
  auto r = Open(ReaderOptions{});
  ASSERT_NE(r, nullptr);
  ReadResult got = ReadAll(*r, 100, 4096);
  EXPECT_EQ(got.status.code(), Code::kInternal);
  EXPECT_NE(got.status.message().find("offset 100 is not a multiple of 4096"), std::string::npos)
      << got.status.message();
  EXPECT_TRUE(got.calls.empty());
}

TEST_P(BlockReaderTest, EmptyRangeCallsNothing) {
  SKIP_IF_NO_URING();
  auto r = Open(ReaderOptions{});
  ASSERT_NE(r, nullptr);
  ReadResult got = ReadAll(*r, 4096, 0);
  EXPECT_TRUE(got.status.ok()) << got.status.ToString();
  EXPECT_TRUE(got.calls.empty());
}

INSTANTIATE_TEST_SUITE_P(Backends, BlockReaderTest,
                         testing::Values(Backend::kUring, Backend::kPread), BackendName);

// --- Opening and fallbacks (not per back end) ---

class BlockReaderOpenTest : public testing::Test {
 protected:
  void SetUp() override {
    path_ = TestDir() + "/block_reader_open.bin";
    WritePatternFile(path_, 256 * kKiB);
  }
  void TearDown() override { unlink(path_.c_str()); }
  std::string path_;
};

TEST_F(BlockReaderOpenTest, RefusedUringFallsBackToPreadWithWarning) {
  ReaderOptions o;
  o.simulate_uring_refused = true;
  std::string warning;
  auto r = OpenBlockReader(path_, o, &warning);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)->method(), "pread");
  EXPECT_EQ(warning, "io_uring unavailable (Operation not permitted); reading with pread");
  ExpectRead(ReadAll(**r, 0, 256 * kKiB), 0, 256 * kKiB, o.chunk_bytes);
}

TEST_F(BlockReaderOpenTest, TsrIoEnvForcesPreadWithoutWarning) {
  ASSERT_EQ(setenv("TSR_IO", "pread", 1), 0);
  std::string warning = "stale";
  auto r = OpenBlockReader(path_, ReaderOptions{}, &warning);
  unsetenv("TSR_IO");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)->method(), "pread");
  EXPECT_EQ(warning, "");
}

TEST_F(BlockReaderOpenTest, RefusedDirectFallsBackToBufferedWithWarning) {
  ReaderOptions o;
  o.simulate_direct_refused = true;
  o.simulate_uring_refused = true;
  std::string warning;
  auto r = OpenBlockReader(path_, o, &warning);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE((*r)->direct());
  EXPECT_EQ(warning, "O_DIRECT refused by the file system of " + path_ +
                         " (Invalid argument); reading through the page cache; "
                         "io_uring unavailable (Operation not permitted); reading with pread");
  ExpectRead(ReadAll(**r, 4096, 100 * kKiB + 3), 4096, 100 * kKiB + 3, o.chunk_bytes);
}

TEST_F(BlockReaderOpenTest, DirectIsUsedOnTheTestDisk) {
  std::string warning;
  auto r = OpenBlockReader(path_, ReaderOptions{}, &warning);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  if (!(*r)->direct()) GTEST_SKIP() << "the file system of " << TestDir() << ": " << warning;
  EXPECT_TRUE((*r)->direct());
}

TEST_F(BlockReaderOpenTest, TmpfsWithoutDirectFallsBackToBuffered) {
  // tmpfs refused O_DIRECT before Linux 6.6; where it still does, the real fallback is exercised.
  struct statfs fs;
  if (statfs("/dev/shm", &fs) != 0 || fs.f_type != 0x01021994 /* TMPFS_MAGIC */) {
    GTEST_SKIP() << "no tmpfs at /dev/shm";
  }
  char dir[] = "/dev/shm/block_reader_XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/f.bin";
  WritePatternFile(path, 64 * kKiB);
  std::string warning;
  auto r = OpenBlockReader(path, ReaderOptions{}, &warning);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectRead(ReadAll(**r, 0, 64 * kKiB), 0, 64 * kKiB, ReaderOptions{}.chunk_bytes);
  const bool direct = (*r)->direct();
  r = Status();  // close before removing the folder
  unlink(path.c_str());
  rmdir(dir);
  if (direct) GTEST_SKIP() << "this kernel's tmpfs accepts O_DIRECT; fallback not reachable here";
  EXPECT_NE(warning.find("O_DIRECT refused by the file system of " + path), std::string::npos)
      << warning;
}

TEST_F(BlockReaderOpenTest, BadOptionsAreUsageErrors) {
  ReaderOptions o;
  o.chunk_bytes = 4096 + 1;
  EXPECT_EQ(OpenBlockReader(path_, o, nullptr).status().code(), Code::kUsage);
  o = ReaderOptions{};
  o.chunk_bytes = 0;
  EXPECT_EQ(OpenBlockReader(path_, o, nullptr).status().code(), Code::kUsage);
  o = ReaderOptions{};
  o.queue_depth = 0;
  EXPECT_EQ(OpenBlockReader(path_, o, nullptr).status().code(), Code::kUsage);
}

TEST_F(BlockReaderOpenTest, MissingFileIsIoErrorNamingIt) {
  const std::string missing = TestDir() + "/no_such_bundle.tsplan";
  auto r = OpenBlockReader(missing, ReaderOptions{}, nullptr);
  EXPECT_EQ(r.status().code(), Code::kIo);
  EXPECT_EQ(r.status().message(),
            "opening " + missing + ": No such file or directory (errno 2)");
}

}  // namespace
}  // namespace ts::runtime
