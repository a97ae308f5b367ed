#include "runtime/block_reader.h"

#include <charconv>

#include <fcntl.h>
#include <liburing.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <vector>

namespace ts::runtime {
namespace {

uint64_t AlignUp(uint64_t v) { return (v + kBlockAlign - 1) & ~(kBlockAlign - 1); }
uint64_t AlignDown(uint64_t v) { return v & ~(kBlockAlign - 1); }

struct FreeDeleter {
  void operator()(uint8_t* p) const { std::free(p); }
};
using AlignedBuffer = std::unique_ptr<uint8_t, FreeDeleter>;

// Heap-held so its address never changes once the kernel has mapped its rings.
struct RingDeleter {
  void operator()(io_uring* ring) const {
    io_uring_queue_exit(ring);
    delete ring;
  }
};
using RingPtr = std::unique_ptr<io_uring, RingDeleter>;

// The one place faults are injected, so the io_uring and pread paths see identical behaviour.
// Indices are taken at submission: io_uring completions arrive out of order, and a fault must hit
// the same read whatever order the kernel completes them in.
class FaultInjector {
 public:
  explicit FaultInjector(const IoFaults& faults) : f_(faults) {}

  int64_t NextIndex() { return next_++; }

  // Maps the real result of read `index` (bytes, or -errno) of `requested` bytes to the faulted one.
  int64_t Apply(int64_t index, uint64_t requested, int64_t res) const {
    auto every = [index](int n) { return n > 0 && (index + 1) % n == 0; };
    if (index == f_.eio_at) return -EIO;
    if (every(f_.eagain_every)) return -EAGAIN;
    if (every(f_.eintr_every)) return -EINTR;
    if (every(f_.short_read_every) && res > 0) {
      const int64_t half = static_cast<int64_t>(AlignDown(requested / 2));
      if (half > 0 && res > half) return half;
    }
    return res;
  }

 private:
  IoFaults f_;
  int64_t next_ = 0;
};

// Progress of one chunk's read into its staging buffer.
struct ChunkRead {
  uint64_t file_offset = 0;  // of the chunk's first byte
  uint64_t want = 0;         // bytes to deliver
  uint64_t read_len = 0;     // bytes to read: want, rounded up to 4096 under O_DIRECT
  uint64_t from = 0;         // start of the current submission within the chunk
  int retries = 0;           // consecutive EAGAIN/EINTR
  int64_t fault_index = 0;   // index of the current submission for FaultInjector

  uint64_t remaining() const { return read_len - from; }
};

enum class Step { kDone, kResubmit };

// What both back ends share: the file, the range checks and the per-chunk result handling.
class FileReader : public BlockReader {
 public:
  FileReader(int fd, std::string path, bool direct, const ReaderOptions& options)
      : fd_(fd), path_(std::move(path)), direct_(direct), options_(options),
        faults_(options.faults) {}
  ~FileReader() override {
    if (fd_ >= 0) close(fd_);
  }
  bool direct() const override { return direct_; }

 protected:
  // Checks the caller's contract and the file's current size (re-read on every call: a bundle
  // truncated after open must be reported as such, not as an I/O error).
  Status CheckRange(uint64_t offset, uint64_t length) const {
    if (offset % kBlockAlign != 0) {
      return InternalError(path_ + ": ReadRange offset " + std::to_string(offset) +
                           " is not a multiple of 4096");
    }
    struct stat st;
    if (fstat(fd_, &st) != 0) return ErrnoError(errno, path_ + ": fstat");
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    if (length > UINT64_MAX - offset || offset + length > size) {
      return Truncated(offset, length, size);
    }
    return OkStatus();
  }

  Status Truncated(uint64_t offset, uint64_t length, uint64_t file_end) const {
    const std::string end =
        length > UINT64_MAX - offset ? "overflow" : std::to_string(offset + length);
    return BadInputError(path_ + ": reading [" + std::to_string(offset) + ", " + end +
                         "): file ends at " + std::to_string(file_end) + ", expected " + end +
                         " bytes; the file was truncated after it was written");
  }

  void StartChunk(ChunkRead& c, uint64_t offset, uint64_t length, uint64_t index) const {
    const uint64_t chunk = options_.chunk_bytes;
    c.file_offset = offset + index * chunk;
    c.want = std::min(chunk, length - index * chunk);
    c.read_len = direct_ ? AlignUp(c.want) : c.want;
    c.from = 0;
    c.retries = 0;
  }

  // Folds the (fault-adjusted) result of one submission into `c`.
  StatusOr<Step> OnResult(ChunkRead& c, int64_t res, uint64_t range_offset,
                          uint64_t range_length) {
    res = faults_.Apply(c.fault_index, c.remaining(), res);
    const uint64_t at = c.file_offset + c.from;
    if (res == -EAGAIN || res == -EINTR) {
      if (++c.retries >= kMaxConsecutiveRetries) {
        return IoError(path_ + ": read at offset " + std::to_string(at) + ": gave up after " +
                       std::to_string(c.retries) +
                       " consecutive EAGAIN/EINTR results; the device is not making progress");
      }
      return Step::kResubmit;
    }
    if (res < 0) {
      return ErrnoError(static_cast<int>(-res), path_ + ": read at offset " + std::to_string(at));
    }
    c.retries = 0;
    const uint64_t end = c.from + static_cast<uint64_t>(res);
    if (end >= c.want) return Step::kDone;
    // Short of what we need. Zero bytes, or (under O_DIRECT) a count that is not a whole number
    // of blocks, only happen at end of file: the file shrank since CheckRange.
    if (res == 0 || (direct_ && end % kBlockAlign != 0)) {
      return Truncated(range_offset, range_length, c.file_offset + end);
    }
    c.from = direct_ ? AlignDown(end) : end;
    return Step::kResubmit;
  }

  int fd_;
  std::string path_;
  bool direct_;
  ReaderOptions options_;
  FaultInjector faults_;
};

class PreadReader final : public FileReader {
 public:
  PreadReader(int fd, std::string path, bool direct, const ReaderOptions& options,
              AlignedBuffer buffer)
      : FileReader(fd, std::move(path), direct, options), buffer_(std::move(buffer)) {}

  std::string_view method() const override { return "pread"; }
  uint64_t staging_bytes() const override { return options_.chunk_bytes; }

  Status ReadRange(uint64_t offset, uint64_t length, const ChunkSink& sink) override {
    RETURN_IF_ERROR(CheckRange(offset, length));
    const uint64_t chunks = (length + options_.chunk_bytes - 1) / options_.chunk_bytes;
    ChunkRead c;
    for (uint64_t i = 0; i < chunks; ++i) {
      StartChunk(c, offset, length, i);
      for (;;) {
        c.fault_index = faults_.NextIndex();
        ssize_t n = pread(fd_, buffer_.get() + c.from, c.remaining(),
                          static_cast<off_t>(c.file_offset + c.from));
        ASSIGN_OR_RETURN(Step step, OnResult(c, n < 0 ? -errno : n, offset, length));
        if (step == Step::kDone) break;
      }
      RETURN_IF_ERROR(sink(c.file_offset, buffer_.get(), c.want));
    }
    return OkStatus();
  }

 private:
  AlignedBuffer buffer_;
};

class UringReader final : public FileReader {
 public:
  UringReader(int fd, std::string path, bool direct, const ReaderOptions& options,
              AlignedBuffer staging, RingPtr ring, bool registered)
      : FileReader(fd, std::move(path), direct, options), staging_(std::move(staging)),
        ring_(std::move(ring)), registered_(registered), slots_(options.queue_depth) {}

  std::string_view method() const override { return "io_uring"; }
  uint64_t staging_bytes() const override {
    return options_.chunk_bytes * static_cast<uint64_t>(options_.queue_depth);
  }

  // Chunk i always lives in slot i % depth. Slot s is refilled with chunk i + depth only after
  // chunk i was delivered, so delivery order alone decides buffer reuse: no free list needed.
  Status ReadRange(uint64_t offset, uint64_t length, const ChunkSink& sink) override {
    if (broken_) {
      return IoError(path_ + ": io_uring reader unusable after an earlier submission failure");
    }
    RETURN_IF_ERROR(CheckRange(offset, length));
    const uint64_t depth = slots_.size();
    const uint64_t chunks = (length + options_.chunk_bytes - 1) / options_.chunk_bytes;
    for (uint64_t i = 0; i < std::min(depth, chunks); ++i) {
      StartChunk(slots_[i].c, offset, length, i);
      Queue(i);
    }
    Status err;
    uint64_t next = 0;  // next chunk to deliver
    while (err.ok() && next < chunks) {
      Slot& s = slots_[next % depth];
      if (s.done) {
        s.done = false;
        err = sink(s.c.file_offset, Buffer(next % depth), s.c.want);
        if (!err.ok()) break;
        if (next + depth < chunks) {
          StartChunk(s.c, offset, length, next + depth);
          Queue(next % depth);
        }
        ++next;
        continue;
      }
      err = CompleteOne(offset, length);
    }
    Drain();
    for (Slot& s : slots_) s.done = false;
    return err;
  }

 private:
  struct Slot {
    ChunkRead c;
    bool done = false;
  };

  uint8_t* Buffer(uint64_t slot) { return staging_.get() + slot * options_.chunk_bytes; }

  void Queue(uint64_t slot) {
    ChunkRead& c = slots_[slot].c;
    c.fault_index = faults_.NextIndex();
    // The ring has queue_depth entries and at most queue_depth reads exist, so an SQE is free.
    io_uring_sqe* sqe = io_uring_get_sqe(ring_.get());
    uint8_t* dst = Buffer(slot) + c.from;
    const auto len = static_cast<unsigned>(c.remaining());
    const auto off = static_cast<off_t>(c.file_offset + c.from);
    if (registered_) {
      io_uring_prep_read_fixed(sqe, fd_, dst, len, off, static_cast<int>(slot));
    } else {
      io_uring_prep_read(sqe, fd_, dst, len, off);
    }
    io_uring_sqe_set_data64(sqe, slot);
    ++unsubmitted_;
  }

  Status Submit() {
    int retries = 0;
    while (unsubmitted_ > 0) {
      const int ret = io_uring_submit(ring_.get());
      if (ret > 0) {
        unsubmitted_ -= ret;
        in_flight_ += ret;
        retries = 0;
        continue;
      }
      if ((ret == -EAGAIN || ret == -EINTR || ret == -EBUSY || ret == 0) &&
          ++retries < kMaxConsecutiveRetries) {
        continue;
      }
      // SQEs left in the ring would be submitted by a later call with stale buffers; give up on
      // this reader rather than guess.
      broken_ = true;
      return ErrnoError(ret < 0 ? -ret : EAGAIN, path_ + ": io_uring_submit");
    }
    return OkStatus();
  }

  StatusOr<io_uring_cqe*> WaitCqe() {
    io_uring_cqe* cqe = nullptr;
    for (int retries = 0;; ++retries) {
      const int ret = io_uring_wait_cqe(ring_.get(), &cqe);
      if (ret == 0) return cqe;
      if ((ret != -EINTR && ret != -EAGAIN) || retries >= kMaxConsecutiveRetries) {
        broken_ = true;
        return ErrnoError(-ret, path_ + ": io_uring_wait_cqe");
      }
    }
  }

  // Submits what is queued, waits for one completion and folds it into its slot.
  Status CompleteOne(uint64_t offset, uint64_t length) {
    RETURN_IF_ERROR(Submit());
    ASSIGN_OR_RETURN(io_uring_cqe * cqe, WaitCqe());
    const uint64_t slot = io_uring_cqe_get_data64(cqe);
    const int res = cqe->res;
    io_uring_cqe_seen(ring_.get(), cqe);
    --in_flight_;
    ASSIGN_OR_RETURN(Step step, OnResult(slots_[slot].c, res, offset, length));
    if (step == Step::kDone) {
      slots_[slot].done = true;
    } else {
      Queue(slot);
    }
    return OkStatus();
  }

  // The kernel may still be writing into staging buffers; wait for every submitted read before
  // the caller can see them reused or freed. Errors here are moot: the first one is returned.
  void Drain() {
    if (!broken_ && unsubmitted_ > 0) (void)Submit();
    while (in_flight_ > 0 && !broken_) {
      StatusOr<io_uring_cqe*> cqe = WaitCqe();
      if (!cqe.ok()) break;
      io_uring_cqe_seen(ring_.get(), *cqe);
      --in_flight_;
    }
    if (unsubmitted_ > 0) broken_ = true;
  }

  AlignedBuffer staging_;
  RingPtr ring_;
  bool registered_;
  std::vector<Slot> slots_;
  int unsubmitted_ = 0;  // prepared SQEs not yet handed to the kernel
  int in_flight_ = 0;    // submitted reads without a completion
  bool broken_ = false;
};

Status ValidateOptions(const ReaderOptions& o) {
  if (o.chunk_bytes == 0 || o.chunk_bytes % kBlockAlign != 0 || o.chunk_bytes > (1u << 30)) {
    return UsageError("block reader: chunk_bytes " + std::to_string(o.chunk_bytes) +
                      " must be a non-zero multiple of 4096 of at most 1 GiB");
  }
  if (o.queue_depth < 1 || o.queue_depth > 256) {
    return UsageError("block reader: queue_depth " + std::to_string(o.queue_depth) +
                      " must be between 1 and 256");
  }
  return OkStatus();
}

StatusOr<AlignedBuffer> AllocStaging(uint64_t bytes) {
  auto* p = static_cast<uint8_t*>(std::aligned_alloc(kBlockAlign, bytes));
  if (p == nullptr) {
    return DoesNotFitError("block reader: cannot allocate " + std::to_string(bytes) +
                           " bytes of staging buffers; lower the chunk size or queue depth");
  }
  return AlignedBuffer(p);
}

void AddWarning(std::string* warning, const std::string& clause) {
  if (warning == nullptr) return;
  if (!warning->empty()) *warning += "; ";
  *warning += clause;
}

// Why io_uring must not be tried, or empty.
std::string UringDisabledBySysctl() {
  std::ifstream f("/proc/sys/kernel/io_uring_disabled");
  int v = 0;
  if (f >> v && v == 2) return "disabled by kernel.io_uring_disabled=2";
  return "";
}

}  // namespace

StatusOr<std::unique_ptr<BlockReader>> OpenBlockReader(const std::string& path,
                                                       const ReaderOptions& options,
                                                       std::string* warning) {
  if (warning != nullptr) warning->clear();
  RETURN_IF_ERROR(ValidateOptions(options));

  bool direct = options.use_direct;
  int fd = -1;
  if (direct) {
    fd = options.simulate_direct_refused ? -1 : open(path.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECT);
    const int err = options.simulate_direct_refused ? EINVAL : errno;
    if (fd < 0 && err != EINVAL) return ErrnoError(err, "opening " + path);
    if (fd < 0) {
      direct = false;
      AddWarning(warning, std::string("O_DIRECT refused by the file system of ") + path + " (" +
                              std::strerror(EINVAL) + "); reading through the page cache");
    }
  }
  if (fd < 0) {
    fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoError(errno, "opening " + path);
  }

  const char* env = std::getenv("TSR_IO");
  const bool force_pread = options.force_pread || (env != nullptr && std::string_view(env) == "pread");
  if (!force_pread) {
    std::string refused = UringDisabledBySysctl();
    RingPtr ring;
    if (refused.empty()) {
      auto* raw = new io_uring;
      const int ret = options.simulate_uring_refused
                          ? -EPERM
                          : io_uring_queue_init(static_cast<unsigned>(options.queue_depth), raw, 0);
      if (ret < 0) {
        refused = std::strerror(-ret);
        delete raw;
      } else {
        ring.reset(raw);
      }
    }
    if (ring != nullptr) {
      const uint64_t bytes = options.chunk_bytes * static_cast<uint64_t>(options.queue_depth);
      StatusOr<AlignedBuffer> staging = AllocStaging(bytes);
      if (!staging.ok()) {
        close(fd);
        return staging.status();
      }
      std::vector<iovec> iov(options.queue_depth);
      for (int i = 0; i < options.queue_depth; ++i) {
        iov[i].iov_base = staging->get() + i * options.chunk_bytes;
        iov[i].iov_len = options.chunk_bytes;
      }
      // Registration pins the buffers (RLIMIT_MEMLOCK on older kernels); plain reads still work.
      const int reg = io_uring_register_buffers(ring.get(), iov.data(), iov.size());
      if (reg < 0) {
        AddWarning(warning, std::string("io_uring buffer registration failed (") +
                                std::strerror(-reg) + "); reading without registered buffers");
      }
      return std::unique_ptr<BlockReader>(new UringReader(
          fd, path, direct, options, std::move(*staging), std::move(ring), reg == 0));
    }
    AddWarning(warning, "io_uring unavailable (" + refused + "); reading with pread");
  }

  StatusOr<AlignedBuffer> buffer = AllocStaging(options.chunk_bytes);
  if (!buffer.ok()) {
    close(fd);
    return buffer.status();
  }
  return std::unique_ptr<BlockReader>(
      new PreadReader(fd, path, direct, options, std::move(*buffer)));
}

Status ApplyFaultSpec(std::string_view spec, ReaderOptions* options) {
  size_t pos = 0;
  while (pos < spec.size()) {
    size_t end = spec.find(',', pos);
    if (end == std::string_view::npos) end = spec.size();
    std::string_view item = spec.substr(pos, end - pos);
    pos = end + 1;
    if (item.empty()) continue;
    if (item == "uring_refused") {
      options->simulate_uring_refused = true;
      continue;
    }
    if (item == "direct_refused") {
      options->simulate_direct_refused = true;
      continue;
    }
    size_t eq = item.find('=');
    std::string_view key = item.substr(0, eq);
    int value = 0;
    if (eq == std::string_view::npos) {
      return UsageError("TSR_FAULTS: '" + std::string(item) + "' needs a value (e.g. " +
                        std::string(key) + "=2)");
    }
    std::string_view digits = item.substr(eq + 1);
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec != std::errc() || ptr != digits.data() + digits.size() || value < 0) {
      return UsageError("TSR_FAULTS: '" + std::string(item) + "' needs a non-negative integer");
    }
    if (key == "short_read_every") options->faults.short_read_every = value;
    else if (key == "eagain_every") options->faults.eagain_every = value;
    else if (key == "eintr_every") options->faults.eintr_every = value;
    else if (key == "eio_at") options->faults.eio_at = value;
    else {
      return UsageError("TSR_FAULTS: unknown fault '" + std::string(key) +
                        "' (known: uring_refused, direct_refused, short_read_every, "
                        "eagain_every, eintr_every, eio_at)");
    }
  }
  return OkStatus();
}

}  // namespace ts::runtime
