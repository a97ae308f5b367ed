#include "cli/profile_probe.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "planfmt/plan.h"
#include "runtime/block_reader.h"
#include "runtime/cpu_builtins.h"
#include "runtime/executor.h"

namespace ts::cli {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Best (shortest) of `repeats` timings of fn, in seconds.
template <typename Fn>
double Best(int repeats, Fn&& fn) {
  double best = 1e300;
  for (int i = 0; i < repeats; ++i) {
    auto start = Clock::now();
    fn();
    best = std::min(best, Seconds(start));
  }
  return best;
}

double MemoryBandwidth(const ProbeOptions& o) {
  std::vector<uint8_t> a(o.memory_bytes, 1), b(o.memory_bytes, 2);
  // A copy reads and writes every byte.
  const double s = Best(o.repeats, [&] { std::memcpy(b.data(), a.data(), a.size()); });
  volatile uint8_t sink = b[b.size() / 2];
  (void)sink;
  return 2.0 * static_cast<double>(o.memory_bytes) / s;
}

planfmt::TensorRef Ref(std::vector<int64_t> shape, uint64_t offset) {
  uint64_t n = 1;
  for (int64_t d : shape) n *= static_cast<uint64_t>(d);
  return {"t", DType::kF32, std::move(shape), offset, n * 4};
}

// GFLOP/s of the runtime's own f32 MatMul: what a CPU plan actually gets.
double GemmFlops(const ProbeOptions& o, double* step_overhead_s) {
  const int64_t n = o.gemm_n;
  const uint64_t bytes = static_cast<uint64_t>(n * n) * 4;
  std::vector<float> arena(3 * bytes / 4, 0.5f);
  planfmt::Step s;
  s.builtin = planfmt::Builtin::kMatMul;
  s.num_inputs = 2;
  s.args = {Ref({n, n}, 0), Ref({n, n}, bytes), Ref({n, n}, 2 * bytes)};
  auto* base = reinterpret_cast<uint8_t*>(arena.data());
  const double t = Best(o.repeats, [&] { runtime::RunBuiltin(s, base); });
  // Per-step overhead: a 1-element copy, many times.
  planfmt::Step copy;
  copy.builtin = planfmt::Builtin::kCopy;
  copy.num_inputs = 1;
  copy.args = {Ref({1}, 0), Ref({1}, 64)};
  const int reps = 100000;
  *step_overhead_s = Best(o.repeats, [&] {
                       for (int i = 0; i < reps; ++i) runtime::RunBuiltin(copy, base);
                     }) / reps;
  return 2.0 * static_cast<double>(n) * n * n / t;
}

struct ReadFigures {
  double bandwidth = 0;
  int depth = 0;
  double latency_s = 0;
  bool direct = false;
  std::string method;
};

StatusOr<ReadFigures> ReadBandwidth(const ProbeOptions& o) {
  // mkstemp: an unpredictable name created with O_EXCL, so nobody can plant a link there.
  std::string path = o.scratch_dir + "/tsc-probe-XXXXXX";
  int fd = mkstemp(path.data());
  if (fd < 0) return ErrnoError(errno, "creating a probe file in '" + o.scratch_dir + "' (use --dir)");
  struct Cleanup {
    const std::string& path;
    ~Cleanup() { unlink(path.c_str()); }
  } cleanup{path};
  {
    std::vector<uint8_t> block(1 << 20, 0x5a);
    for (uint64_t done = 0; done < o.io_bytes; done += block.size()) {
      if (write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size())) {
        int err = errno ? errno : ENOSPC;
        close(fd);
        return ErrnoError(err, "writing probe file '" + path + "'");
      }
    }
    if (fsync(fd) != 0) {
      int err = errno;
      close(fd);
      return ErrnoError(err, "syncing probe file '" + path + "'");
    }
    // Evict it from the page cache, so a buffered fallback measures the disk, not memory.
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
  }
  ReadFigures f;
  Status status;
  for (int depth = 1; depth <= 32 && status.ok(); depth *= 2) {
    runtime::ReaderOptions ro;
    ro.chunk_bytes = 1 << 20;
    ro.queue_depth = depth;
    std::string warning;
    auto reader = runtime::OpenBlockReader(path, ro, &warning);
    if (!reader.ok()) {
      status = reader.status();
      break;
    }
    double t = 1e300;
    for (int rep = 0; rep < o.repeats && status.ok(); ++rep) {
      auto start = Clock::now();
      status = (*reader)->ReadRange(0, o.io_bytes, [](uint64_t, const uint8_t*, size_t) { return OkStatus(); });
      t = std::min(t, Seconds(start));
    }
    if (!status.ok()) break;
    const double bw = static_cast<double>(o.io_bytes) / t;
    if (o.progress) {
      char line[128];
      std::snprintf(line, sizeof line, "read bandwidth at queue depth %2d: %.2f GB/s (%s%s)", depth,
                    bw / 1e9, std::string((*reader)->method()).c_str(), (*reader)->direct() ? ", O_DIRECT" : "");
      o.progress(line);
    }
    if (bw > f.bandwidth) {
      f.bandwidth = bw;
      f.depth = depth;
    }
    f.direct = (*reader)->direct();
    f.method = std::string((*reader)->method());
    if (depth == 1) {
      // Latency: one 4 KiB read, best of many.
      runtime::ReaderOptions small;
      small.chunk_bytes = 4096;
      small.queue_depth = 1;
      auto r4 = runtime::OpenBlockReader(path, small, &warning);
      if (!r4.ok()) {
        status = r4.status();
        break;
      }
      f.latency_s = Best(std::max(o.repeats, 50), [&] {
        (void)(*r4)->ReadRange(0, 4096, [](uint64_t, const uint8_t*, size_t) { return OkStatus(); });
      });
    }
  }
  if (!status.ok()) return status;
  return f;
}

int SimdWidthBits() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return 512;
  if (__builtin_cpu_supports("avx2") || __builtin_cpu_supports("avx")) return 256;
  if (__builtin_cpu_supports("sse2")) return 128;
  return 64;
}

}  // namespace

StatusOr<passes::HardwareProfile> ProbeThisMachine(const ProbeOptions& o) {
  if (o.io_bytes < (1 << 20) || o.io_bytes % (1 << 20) || o.repeats < 1 || o.gemm_n < 16 ||
      o.gemm_n > 4096 || o.memory_bytes < (1 << 20) || o.memory_bytes > (uint64_t{4} << 30)) {
    return UsageError("probe sizes: --io-size at least 1 MiB in whole MiB; memory buffer 1 MiB to "
                      "4 GiB; GEMM size 16 to 4096; repeats at least 1");
  }
  // Fail before measuring anything if the scratch folder cannot take the read-bandwidth file.
  struct statvfs fs;
  if (statvfs(o.scratch_dir.c_str(), &fs) != 0) {
    return ErrnoError(errno, "probe folder '" + o.scratch_dir + "' (use --dir)");
  }
  const uint64_t free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  if (o.io_bytes > free_bytes / 2) {
    return UsageError("--io-size " + std::to_string(o.io_bytes) + " bytes is over half the " +
                      std::to_string(free_bytes) + " bytes free in '" + o.scratch_dir +
                      "'; use a smaller --io-size or another --dir");
  }
  if (access(o.scratch_dir.c_str(), W_OK) != 0) {
    return ErrnoError(errno, "probe folder '" + o.scratch_dir + "' is not writable (use --dir)");
  }
  auto say = [&](const char* fmt, double a, double b = 0) {
    if (!o.progress) return;
    char line[160];
    std::snprintf(line, sizeof line, fmt, a, b);
    o.progress(line);
  };
  passes::HardwareProfile p;
  p.name = o.name;
  p.target = "cpu";
  p.device_memory_bandwidth = MemoryBandwidth(o);
  say("memory bandwidth (memcpy, read + write): %.2f GB/s", p.device_memory_bandwidth / 1e9);
  double overhead = 0;
  p.peak_flops_fp32 = GemmFlops(o, &overhead);
  p.kernel_launch_latency_s = overhead;
  say("f32 MatMul (runtime kernel, n=%.0f): %.2f GFLOP/s", o.gemm_n, p.peak_flops_fp32 / 1e9);
  say("per-step dispatch overhead: %.3f us", overhead * 1e6);
  ASSIGN_OR_RETURN(ReadFigures r, ReadBandwidth(o));
  p.nvme.read_bandwidth = r.bandwidth;
  p.nvme.latency_s = r.latency_s;
  p.nvme.queue_depth = r.depth;
  say("best read bandwidth %.2f GB/s at queue depth %.0f", r.bandwidth / 1e9, r.depth);
  say("4 KiB read latency: %.1f us", r.latency_s * 1e6);
  if (!r.direct && o.progress) {
    o.progress("warning: O_DIRECT was refused on this folder; read figures may include the page "
               "cache (use --dir on the disk the bundles live on)");
  }
  p.cpu_cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  p.simd_width_bits = SimdWidthBits();
  struct sysinfo si;
  if (sysinfo(&si) == 0) {
    p.host_ram_bytes = static_cast<uint64_t>(si.totalram) * si.mem_unit;
  }
  // The CPU target's "device memory" is the arena ceiling: what is available now, rounded down
  // to a whole MiB so the profile reads back exactly.
  auto avail = runtime::HostMemoryAvailable();
  p.device_memory_bytes = (avail ? *avail : p.host_ram_bytes) / (1 << 20) * (1 << 20);
  if (p.device_memory_bytes == 0) p.device_memory_bytes = 1 << 30;
  return p;
}

}  // namespace ts::cli
