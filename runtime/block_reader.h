// BlockReader: streams a 4096-aligned byte range of a file (a bundle's weights section) through a
// few aligned staging buffers, handing each chunk to a caller's sink in file order.
//
// Two back ends behind one interface:
//  - io_uring: queue_depth reads in flight, staging buffers registered once with the ring and
//    read with read_fixed; completions may arrive out of order and are held until their turn.
//  - pread: one read at a time. Used where io_uring is refused (seccomp EPERM, ENOSYS,
//    kernel.io_uring_disabled), when ReaderOptions::force_pread is set, or with env TSR_IO=pread.
//
// Both back ends resubmit short reads (from the returned byte count, rounded down to 4096 under
// O_DIRECT) and -EAGAIN / -EINTR (at most kMaxConsecutiveRetries in a row per chunk, so a stuck
// device yields an IoError rather than a hang). Faults can be injected through IoFaults; they are
// applied to each read's result in one place shared by both back ends, so one test suite covers
// both.
//
// Ownership: the reader owns the file descriptor, the ring and the staging buffers (allocated
// once at open; ReadRange allocates nothing unless it fails). Thread-safety: none; one reader is
// used by one thread at a time.
#ifndef TENSORSHUNT_RUNTIME_BLOCK_READER_H_
#define TENSORSHUNT_RUNTIME_BLOCK_READER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "ir/status.h"

namespace ts::runtime {

inline constexpr uint64_t kBlockAlign = 4096;
inline constexpr int kMaxConsecutiveRetries = 1000;

// Faults injected into the read path by tests. Indices count read submissions (resubmissions
// included) from 0 in submission order; "every N" hits submissions N-1, 2N-1, ... When several
// apply to one submission the first in this order wins: eio_at, eagain, eintr, short read.
struct IoFaults {
  int short_read_every = 0;  // result cut to half the requested bytes, rounded down to 4096
                             // (left whole when that would be 0, which would read as EOF)
  int eagain_every = 0;      // completes with -EAGAIN
  int eintr_every = 0;       // completes with -EINTR
  int eio_at = -1;           // the submission with this index fails with -EIO
};

// Parses a fault spec, as tsr reads it from the TSR_FAULTS environment variable (a test seam):
// comma-separated "uring_refused", "direct_refused", "short_read_every=N", "eagain_every=N",
// "eintr_every=N", "eio_at=N". Errors are kUsage naming the item.
struct ReaderOptions;
Status ApplyFaultSpec(std::string_view spec, ReaderOptions* options);

struct ReaderOptions {
  uint64_t chunk_bytes = 1 << 20;  // multiple of 4096
  int queue_depth = 4;             // staging buffers = reads in flight (io_uring)
  bool use_direct = true;          // O_DIRECT when the file system allows it
  bool force_pread = false;        // skip io_uring (also set by env TSR_IO=pread)
  // For tests: behave as if io_uring_queue_init returned -EPERM (seccomp).
  bool simulate_uring_refused = false;
  // For tests: behave as if open(O_DIRECT) returned -EINVAL (tmpfs on older kernels).
  bool simulate_direct_refused = false;
  IoFaults faults;
};

// Called once per chunk, in file order, with a pointer into a staging buffer that is valid only
// during the call. An error stops the read and is returned from ReadRange unchanged.
using ChunkSink = std::function<Status(uint64_t file_offset, const uint8_t* data, size_t n)>;

class BlockReader {
 public:
  virtual ~BlockReader() = default;
  virtual std::string_view method() const = 0;  // "io_uring" or "pread"
  virtual bool direct() const = 0;              // O_DIRECT in use
  // Reads [offset, offset + length) in chunks of chunk_bytes (the last may be shorter; under
  // O_DIRECT it is read rounded up to 4096 and only the requested bytes are delivered).
  // Errors: offset not a multiple of 4096 -> InternalError (a caller bug: bundle offsets are
  // validated by planfmt). Range past the end of the file -> BadInputError naming path, range
  // and size ("file ends at N, expected M bytes; the file was truncated after it was written").
  // A failed read -> IoError naming path and offset. A sink error is returned as is. In-flight
  // reads are always drained before returning, so the reader stays usable after any error.
  virtual Status ReadRange(uint64_t offset, uint64_t length, const ChunkSink& sink) = 0;
  // Bytes of staging memory held: chunk_bytes * queue_depth for io_uring, chunk_bytes for pread
  // (which has one read in flight and so needs one buffer).
  virtual uint64_t staging_bytes() const = 0;
};

// Opens `path` for reading. Falls back (never fails) when io_uring is refused or unusable, and
// when the file system refuses O_DIRECT; each fallback adds one clause to *warning (joined with
// "; "), e.g. "io_uring unavailable (Operation not permitted); reading with pread". *warning is
// left empty when nothing fell back; `warning` may be null.
// Errors: bad options -> UsageError; the file cannot be opened -> IoError naming it.
StatusOr<std::unique_ptr<BlockReader>> OpenBlockReader(const std::string& path,
                                                       const ReaderOptions& options,
                                                       std::string* warning);

}  // namespace ts::runtime

#endif  // TENSORSHUNT_RUNTIME_BLOCK_READER_H_
