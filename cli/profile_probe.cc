#include "cli/profile_probe.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "planfmt/plan.h"
#include "runtime/block_reader.h"
#include "runtime/cpu_builtins.h"
#include "runtime/cuda/driver.h"
#include "runtime/executor.h"
#include "runtime/ops/conv_direct.h"

namespace ts::cli {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Storage reads are timed at least this many times per queue depth; the figure is the median.
constexpr int kReadRepeats = 5;

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

// FLOP/s of the runtime's direct convolution kernel on a 3x3, 64-channel convolution of a 56x56
// image (a ResNet-50 block's), best of `repeats`; 0 where this CPU has no such kernel.
double ConvFlops(const ProbeOptions& o) {
  if (!ops::DirectConvAvailable()) return 0;
  ops::DirectConv2d g;
  g.in_channels = g.out_channels = 64;
  g.height = g.width = g.out_height = g.out_width = 56;
  g.kernel_h = g.kernel_w = 3;
  g.pad_top = g.pad_left = 1;
  std::vector<float> x(64 * 56 * 56, 0.5f), w(64 * 64 * 9, 0.25f), y(64 * 56 * 56);
  ops::DirectConvF32(g, x.data(), w.data(), nullptr, y.data());  // warm: buffers, pool threads
  const double t = Best(std::max(o.repeats, 3), [&] { ops::DirectConvF32(g, x.data(), w.data(), nullptr, y.data()); });
  return 2.0 * 64 * 56 * 56 * 64 * 9 / t;
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
    // The median, not the best: shared disks swing by 2x from one read to the next, and a plan
    // predicted on the best case stalls on the typical one.
    std::vector<double> times;
    for (int rep = 0; rep < std::max(o.repeats, kReadRepeats) && status.ok(); ++rep) {
      auto start = Clock::now();
      status = (*reader)->ReadRange(0, o.io_bytes, [](uint64_t, const uint8_t*, size_t) { return OkStatus(); });
      times.push_back(Seconds(start));
    }
    if (!status.ok()) break;
    std::sort(times.begin(), times.end());
    const double bw = static_cast<double>(o.io_bytes) / times[times.size() / 2];
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


// ---------------------------------------------------------------------------------------------
// GPU: CUDA device 0 through the driver API (runtime/cuda/driver.h).

namespace cu = runtime::cuda;

// One progress line, printf-style.
void Say(const ProbeOptions& o, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void Say(const ProbeOptions& o, const char* fmt, ...) {
  if (!o.progress) return;
  char line[320];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(line, sizeof line, fmt, args);
  va_end(args);
  o.progress(line);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

constexpr int kFmaChains = 8;        // independent accumulators per thread
constexpr int kFmaPerChainStep = 8;  // FMAs per chain in one loop iteration
constexpr int kFmaThreads = 256;     // per block

// The probe's kernels, as PTX that the driver JIT-compiles for the device (no NVRTC needed).
// `sm` is the PTX target: at most sm_80, the newest that PTX ISA 7.0 names; newer devices run
// it through the JIT, which is forward compatible.
//   ts_probe_empty: does nothing (launch overhead).
//   ts_probe_fma(out, iters, mul, add): kFmaChains independent chains a = a * mul + add per
//   thread, kFmaPerChainStep steps each per iteration; writes the sum so nothing is dead code.
std::string ProbePtx(int sm) {
  std::string s = ".version 7.0\n.target sm_" + std::to_string(sm) + "\n.address_size 64\n\n";
  s += ".visible .entry ts_probe_empty()\n{\n  ret;\n}\n\n";
  s += ".visible .entry ts_probe_fma(.param .u64 out, .param .u32 iters, .param .f32 mul, "
       ".param .f32 add)\n{\n"
       "  .reg .pred %p;\n"
       "  .reg .b32 %i, %n, %g, %u, %bdim, %bidx;\n"
       "  .reg .f32 %a<" + std::to_string(kFmaChains) + ">, %m, %c;\n"
       "  .reg .b64 %o, %off;\n"
       "  ld.param.u64 %o, [out];\n"
       "  ld.param.u32 %n, [iters];\n"
       "  ld.param.f32 %m, [mul];\n"
       "  ld.param.f32 %c, [add];\n"
       "  mov.u32 %g, %tid.x;\n"
       "  mov.u32 %bdim, %ntid.x;\n"
       "  mov.u32 %bidx, %ctaid.x;\n"
       "  mad.lo.u32 %g, %bidx, %bdim, %g;\n";
  // Distinct starting values, so no two chains are the same computation.
  for (int k = 0; k < kFmaChains; ++k) {
    s += "  add.u32 %u, %g, " + std::to_string(k) + ";\n";
    s += "  cvt.rn.f32.u32 %a" + std::to_string(k) + ", %u;\n";
  }
  s += "  mov.u32 %i, 0;\n"
       "  setp.eq.u32 %p, %n, 0;\n"
       "  @%p bra DONE;\n"
       "LOOP:\n";
  for (int step = 0; step < kFmaPerChainStep; ++step) {
    for (int k = 0; k < kFmaChains; ++k) {
      std::string a = "%a" + std::to_string(k);
      s += "  fma.rn.f32 " + a + ", " + a + ", %m, %c;\n";
    }
  }
  s += "  add.u32 %i, %i, 1;\n"
       "  setp.lt.u32 %p, %i, %n;\n"
       "  @%p bra LOOP;\n"
       "DONE:\n";
  for (int k = 1; k < kFmaChains; ++k) s += "  add.f32 %a0, %a0, %a" + std::to_string(k) + ";\n";
  s += "  cvta.to.global.u64 %o, %o;\n"
       "  mul.wide.u32 %off, %g, 4;\n"
       "  add.s64 %o, %o, %off;\n"
       "  st.global.f32 [%o], %a0;\n"
       "  ret;\n}\n";
  return s;
}

class GpuProbe {
 public:
  GpuProbe(const cu::Driver& d, const ProbeOptions& o) : d_(d), api_(d.api()), o_(o) {}

  StatusOr<GpuFigures> Run() {
    GpuFigures g;
    ASSIGN_OR_RETURN(cu::DeviceInfo info, d_.Describe(0));
    g.device_name = info.name;
    g.cuda_arch = info.Arch();
    g.memory_bytes = info.total_memory;
    ASSIGN_OR_RETURN(context_, d_.RetainPrimaryContext(0));
    Say(o_, "GPU 0: %s, %s, %d SMs, %.1f GiB, driver %s (%s, loaded with dlopen)", info.name.c_str(),
        g.cuda_arch.c_str(), info.multiprocessors, static_cast<double>(info.total_memory) / (1 << 30),
        d_.VersionString().c_str(), d_.library().c_str());
    ASSIGN_OR_RETURN(stream_, d_.CreateStream());
    RETURN_IF_ERROR(Allocate());

    struct Case {
      const char* label;
      bool h2d, pinned;
      passes::HardwareProfile::Link* out;
    } cases[] = {{"H2D pinned", true, true, &g.h2d_pinned},
                 {"H2D pageable", true, false, &g.h2d_pageable},
                 {"D2H pinned", false, true, &g.d2h_pinned},
                 {"D2H pageable", false, false, &g.d2h_pageable}};
    for (const Case& c : cases) {
      ASSIGN_OR_RETURN(*c.out, MeasureLink(c.h2d, c.pinned));
      Say(o_, "%-12s copy bandwidth: %.2f GB/s (median of %d x %llu MiB); 4-byte copy: %.1f us",
          c.label, c.out->bandwidth / 1e9, copies_, static_cast<unsigned long long>(bytes_ >> 20),
          c.out->latency_s * 1e6);
    }
    ASSIGN_OR_RETURN(g.memory_bandwidth, DeviceCopyBandwidth());
    Say(o_, "GPU memory bandwidth (device-to-device copy, read + write): %.2f GB/s",
        g.memory_bandwidth / 1e9);

    const int sm = std::min(info.cc_major * 10 + info.cc_minor, 80);
    ASSIGN_OR_RETURN(module_, d_.LoadModule(ProbePtx(sm)));
    ASSIGN_OR_RETURN(g.launch_latency_s, LaunchLatency());
    Say(o_, "kernel launch: %.2f us per launch (%d empty launches then one sync, host clock)",
        g.launch_latency_s * 1e6, kLaunches);
    ASSIGN_OR_RETURN(g.fp32_flops, Fp32Flops(info));
    Say(o_, "fp32 FMA peak: %.2f TFLOP/s (PTX FMA loop on every SM, non-tensor)", g.fp32_flops / 1e12);
    Say(o_, "GEMM TFLOP/s: not measured (no cuBLASLt in the probe; fp16/bf16/tf32/int8 peaks "
            "are left 0 = unknown)");
    return g;
  }

 private:
  static constexpr int kLaunches = 1000;
  static constexpr int kLatencyCopies = 100;

  Status Allocate() {
    bytes_ = o_.gpu_copy_bytes ? o_.gpu_copy_bytes
                               : (o_.memory_bytes < (256ull << 20) ? 64ull << 20 : 256ull << 20);
    copies_ = o_.gpu_copies > 0 ? o_.gpu_copies : (o_.gpu_copy_bytes == 0 && bytes_ == (64ull << 20) ? 3 : 8);
    // Two device buffers (the device-to-device copy needs both), with room to spare for the
    // context and the JIT.
    size_t free_bytes = 0, total = 0;
    CU_RETURN_IF_ERROR(d_, api_.cuMemGetInfo(&free_bytes, &total));
    const uint64_t spare = 256ull << 20;
    if (free_bytes < 2 * bytes_ + spare) {
      const uint64_t fit = free_bytes > spare ? (free_bytes - spare) / 2 / (1 << 20) * (1 << 20) : 0;
      if (fit < (16ull << 20)) {
        return DoesNotFitError("GPU 0 has " + std::to_string(free_bytes) +
                               " bytes free, too few to time copies; free some device memory "
                               "(other processes are using it)");
      }
      Say(o_, "GPU 0 has %.1f GiB free: timing %llu MiB copies", static_cast<double>(free_bytes) / (1 << 30),
          static_cast<unsigned long long>(fit >> 20));
      bytes_ = fit;
    }
    ASSIGN_OR_RETURN(dev_, d_.AllocDevice(bytes_));
    ASSIGN_OR_RETURN(dev2_, d_.AllocDevice(bytes_));
    ASSIGN_OR_RETURN(pinned_, d_.AllocPinned(bytes_));
    std::memset(pinned_.get(), 1, bytes_);
    pageable_.assign(bytes_, 1);  // touched, so page faults are not timed
    return OkStatus();
  }

  // Seconds per copy: the median over `copies_` copies issued back to back on the stream, each
  // timed by the events on either side of it (so several are in flight, as in a plan).
  StatusOr<double> TimeQueued(const std::function<cu::CUresult()>& copy, const char* what) {
    std::vector<cu::Event> events;
    for (int i = 0; i <= copies_; ++i) {
      ASSIGN_OR_RETURN(cu::Event e, d_.CreateEvent());
      events.push_back(std::move(e));
    }
    RETURN_IF_ERROR(d_.Check(copy(), what, __FILE__, __LINE__));  // warm-up
    CU_RETURN_IF_ERROR(d_, api_.cuStreamSynchronize(stream_.get()));
    CU_RETURN_IF_ERROR(d_, api_.cuEventRecord(events[0].get(), stream_.get()));
    for (int i = 0; i < copies_; ++i) {
      RETURN_IF_ERROR(d_.Check(copy(), what, __FILE__, __LINE__));
      CU_RETURN_IF_ERROR(d_, api_.cuEventRecord(events[i + 1].get(), stream_.get()));
    }
    std::vector<double> s;
    for (int i = 0; i < copies_; ++i) {
      ASSIGN_OR_RETURN(double ms, d_.ElapsedMs(events[i], events[i + 1]));
      s.push_back(ms / 1e3);
    }
    return Median(s);
  }

  // Seconds per call of a synchronous copy, host clock: the median of `n` after a warm-up.
  StatusOr<double> TimeSync(const std::function<cu::CUresult()>& copy, const char* what, int n) {
    RETURN_IF_ERROR(d_.Check(copy(), what, __FILE__, __LINE__));
    std::vector<double> s;
    for (int i = 0; i < n; ++i) {
      auto start = Clock::now();
      RETURN_IF_ERROR(d_.Check(copy(), what, __FILE__, __LINE__));
      s.push_back(Seconds(start));
    }
    return Median(s);
  }

  // Pinned copies are queued with the async calls and timed with events; pageable ones use the
  // synchronous calls and the host clock, since the driver stages them through its own pinned
  // buffers while the caller waits. Latency: a synchronous 4-byte copy from or to the same
  // memory, host clock, which includes the call's own overhead.
  StatusOr<passes::HardwareProfile::Link> MeasureLink(bool h2d, bool pinned) {
    void* host = pinned ? pinned_.get() : pageable_.data();
    const cu::CUdeviceptr dev = dev_.get();
    const cu::CUstream st = stream_.get();
    auto sync_copy = [&](size_t n) {
      return [=, this] { return h2d ? api_.cuMemcpyHtoD(dev, host, n) : api_.cuMemcpyDtoH(host, dev, n); };
    };
    double t = 0;
    if (pinned) {
      auto async_copy = [=, this] {
        return h2d ? api_.cuMemcpyHtoDAsync(dev, host, bytes_, st) : api_.cuMemcpyDtoHAsync(host, dev, bytes_, st);
      };
      ASSIGN_OR_RETURN(t, TimeQueued(async_copy, h2d ? "cuMemcpyHtoDAsync" : "cuMemcpyDtoHAsync"));
    } else {
      ASSIGN_OR_RETURN(t, TimeSync(sync_copy(bytes_), h2d ? "cuMemcpyHtoD" : "cuMemcpyDtoH", copies_));
    }
    passes::HardwareProfile::Link link;
    link.bandwidth = static_cast<double>(bytes_) / t;
    ASSIGN_OR_RETURN(link.latency_s, TimeSync(sync_copy(4), h2d ? "cuMemcpyHtoD" : "cuMemcpyDtoH", kLatencyCopies));
    return link;
  }

  // A copy reads and writes every byte, as the CPU probe's memcpy figure counts.
  StatusOr<double> DeviceCopyBandwidth() {
    const cu::CUdeviceptr a = dev_.get(), b = dev2_.get();
    const cu::CUstream st = stream_.get();
    ASSIGN_OR_RETURN(double t, TimeQueued([=, this] { return api_.cuMemcpyDtoDAsync(b, a, bytes_, st); },
                                          "cuMemcpyDtoDAsync"));
    return 2.0 * static_cast<double>(bytes_) / t;
  }

  // Host clock around kLaunches launches of an empty kernel and one stream sync, divided by
  // kLaunches: the cost of one launch when launches are queued back to back, as a plan issues
  // them. The median of five such rounds, after a warm-up round.
  StatusOr<double> LaunchLatency() {
    ASSIGN_OR_RETURN(cu::CUfunction f, d_.GetFunction(module_, "ts_probe_empty"));
    const cu::CUstream st = stream_.get();
    auto round = [&]() -> StatusOr<double> {
      auto start = Clock::now();
      for (int i = 0; i < kLaunches; ++i) {
        CU_RETURN_IF_ERROR(d_, api_.cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, st, nullptr, nullptr));
      }
      CU_RETURN_IF_ERROR(d_, api_.cuStreamSynchronize(st));
      return Seconds(start) / kLaunches;
    };
    RETURN_IF_ERROR(round().status());
    std::vector<double> s;
    for (int i = 0; i < 5; ++i) {
      ASSIGN_OR_RETURN(double t, round());
      s.push_back(t);
    }
    return Median(s);
  }

  // FLOP/s of the FMA kernel with every SM full (one wave of blocks of kFmaThreads), its loop
  // lengthened until one launch takes at least 20 ms; the median of three launches, events.
  StatusOr<double> Fp32Flops(const cu::DeviceInfo& info) {
    ASSIGN_OR_RETURN(cu::CUfunction f, d_.GetFunction(module_, "ts_probe_fma"));
    const int per_sm = std::max(1, info.max_threads_per_multiprocessor / kFmaThreads);
    const unsigned blocks = static_cast<unsigned>(std::max(1, info.multiprocessors) * per_sm);
    ASSIGN_OR_RETURN(cu::DeviceMemory out, d_.AllocDevice(size_t{blocks} * kFmaThreads * 4));
    ASSIGN_OR_RETURN(cu::Event start, d_.CreateEvent());
    ASSIGN_OR_RETURN(cu::Event end, d_.CreateEvent());
    cu::CUdeviceptr out_ptr = out.get();
    uint32_t iters = 256;
    float mul = 0.9999f, add = 1e-4f;
    void* params[] = {&out_ptr, &iters, &mul, &add};
    const cu::CUstream st = stream_.get();
    auto launch = [&]() -> StatusOr<double> {
      CU_RETURN_IF_ERROR(d_, api_.cuEventRecord(start.get(), st));
      CU_RETURN_IF_ERROR(d_, api_.cuLaunchKernel(f, blocks, 1, 1, kFmaThreads, 1, 1, 0, st, params, nullptr));
      CU_RETURN_IF_ERROR(d_, api_.cuEventRecord(end.get(), st));
      ASSIGN_OR_RETURN(double ms, d_.ElapsedMs(start, end));
      return ms / 1e3;
    };
    double t = 0;
    for (;;) {
      ASSIGN_OR_RETURN(t, launch());
      if (t >= 0.02 || iters >= (1u << 24)) break;
      const double grow = std::clamp(0.025 / std::max(t, 1e-6), 2.0, 64.0);
      iters = static_cast<uint32_t>(std::min<double>(iters * grow, 1u << 24));
    }
    std::vector<double> s;
    for (int i = 0; i < 3; ++i) {
      ASSIGN_OR_RETURN(t, launch());
      s.push_back(t);
    }
    const double flops = 2.0 * kFmaChains * kFmaPerChainStep * static_cast<double>(iters) * blocks * kFmaThreads;
    return flops / Median(s);
  }

  const cu::Driver& d_;
  const cu::DriverApi& api_;
  const ProbeOptions& o_;
  cu::PrimaryContext context_;  // declared first among the handles: released last
  cu::Stream stream_;
  cu::Module module_;
  cu::DeviceMemory dev_, dev2_;
  cu::PinnedMemory pinned_;
  std::vector<uint8_t> pageable_;
  uint64_t bytes_ = 0;
  int copies_ = 0;
};

}  // namespace

void ApplyGpuFigures(const GpuFigures& g, passes::HardwareProfile* p) {
  p->target = "cuda";
  p->cuda_arch = g.cuda_arch;
  p->device_memory_bytes = g.memory_bytes;
  p->peak_flops_fp32 = g.fp32_flops;
  p->peak_flops_fp16 = p->peak_flops_bf16 = p->peak_flops_tf32 = p->peak_ops_int8 = 0;
  p->device_memory_bandwidth = g.memory_bandwidth;
  p->h2d_pinned = g.h2d_pinned;
  p->h2d_pageable = g.h2d_pageable;
  p->d2h_pinned = g.d2h_pinned;
  p->d2h_pageable = g.d2h_pageable;
  p->kernel_launch_latency_s = g.launch_latency_s;
}

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
  p.conv_flops_fp32 = ConvFlops(o);
  if (p.conv_flops_fp32 > 0) {
    say("f32 Conv 3x3 (direct kernel, 64 channels at 56x56): %.2f GFLOP/s", p.conv_flops_fp32 / 1e9);
  } else if (o.progress) {
    o.progress("f32 Conv: no direct kernel on this CPU (no AVX-512F, or TSR_CONV=im2col); costed at the MatMul rate");
  }
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

  if (!o.probe_gpu) {
    if (o.progress) o.progress("GPU: not probed (a CPU profile was asked for)");
    return p;
  }
  auto driver = runtime::cuda::Driver::Load();
  if (!driver.ok()) {
    if (o.progress) o.progress("GPU: none (" + driver.status().message() + ")");
    return p;
  }
  auto gpu = GpuProbe(**driver, o).Run();
  if (!gpu.ok()) {
    return gpu.status().Annotate("probing GPU 0 (a driver and a device are present, but a measurement failed)");
  }
  ApplyGpuFigures(*gpu, &p);
  return p;
}

}  // namespace ts::cli
