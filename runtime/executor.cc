#include "runtime/executor.h"

#include "runtime/cuda/backend.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>
#include <cstdlib>
#include <cstring>

#include "runtime/cpu_builtins.h"
#include "runtime/cpu_jit.h"
#include "runtime/ops/op.h"

namespace ts::runtime {
namespace {

double MsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

std::optional<uint64_t> HostMemoryAvailable() {
  FILE* f = std::fopen("/proc/meminfo", "r");
  if (!f) return std::nullopt;
  char line[256];
  std::optional<uint64_t> kib;
  while (std::fgets(line, sizeof line, f)) {
    unsigned long long v = 0;
    if (std::sscanf(line, "MemAvailable: %llu kB", &v) == 1) {
      kib = v;
      break;
    }
  }
  std::fclose(f);
  if (!kib) return std::nullopt;
  return *kib * 1024;
}

// Where spill steps put activations: an unnamed temporary file in $TSR_SPILL_DIR, else $TMPDIR,
// else /tmp, gone when tsr exits. Written and read through the page cache; each spill is flushed
// to the disk and dropped from the cache so its bytes leave memory, and so is each fill.
class SpillFile {
 public:
  static StatusOr<std::unique_ptr<SpillFile>> Create(uint64_t bytes) {
    const char* dir = std::getenv("TSR_SPILL_DIR");
    if (dir == nullptr || *dir == '\0') dir = std::getenv("TMPDIR");
    if (dir == nullptr || *dir == '\0') dir = "/tmp";
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    std::string path = std::string(dir) + "/tsr-spill-XXXXXX";
    if (fd < 0) {  // file systems without O_TMPFILE: a named file, unlinked at once
      fd = mkstemp(path.data());
      if (fd >= 0) unlink(path.c_str());
    }
    if (fd < 0) {
      return ErrnoError(errno, std::string("creating the spill file in '") + dir +
                                   "' (set TSR_SPILL_DIR to a writable folder)");
    }
    auto f = std::unique_ptr<SpillFile>(new SpillFile(fd, dir));
    if (ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
      return ErrnoError(errno, "sizing the spill file in '" + f->dir_ + "' to " + std::to_string(bytes) +
                                   " bytes (free disk space, or set TSR_SPILL_DIR)");
    }
    return f;
  }
  ~SpillFile() { close(fd_); }

  Status Write(uint64_t offset, const uint8_t* data, uint64_t n) {
    if (n == 0) return OkStatus();
    for (uint64_t done = 0; done < n;) {
      const ssize_t w = pwrite(fd_, data + done, n - done, static_cast<off_t>(offset + done));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return ErrnoError(w < 0 ? errno : ENOSPC, Where(offset + done, "writing"));
      done += static_cast<uint64_t>(w);
    }
    if (fdatasync(fd_) != 0) return ErrnoError(errno, Where(offset, "flushing"));
    posix_fadvise(fd_, static_cast<off_t>(offset), static_cast<off_t>(n), POSIX_FADV_DONTNEED);
    return OkStatus();
  }

  Status Read(uint64_t offset, uint8_t* data, uint64_t n) {
    if (n == 0) return OkStatus();
    for (uint64_t done = 0; done < n;) {
      const ssize_t r = pread(fd_, data + done, n - done, static_cast<off_t>(offset + done));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return ErrnoError(errno, Where(offset + done, "reading"));
      if (r == 0) return IoError(Where(offset + done, "reading") + ": the file ended early");
      done += static_cast<uint64_t>(r);
    }
    posix_fadvise(fd_, static_cast<off_t>(offset), static_cast<off_t>(n), POSIX_FADV_DONTNEED);
    return OkStatus();
  }

 private:
  SpillFile(int fd, std::string dir) : fd_(fd), dir_(std::move(dir)) {}
  std::string Where(uint64_t at, const char* what) const {
    return std::string(what) + " the spill file in '" + dir_ + "' at byte " + std::to_string(at);
  }
  int fd_;
  std::string dir_;
};

// Reads streamed weights into the arena on its own thread, in the order the plan's load steps
// ask for them; the compute thread waits on a weight only where the plan says so.
class StreamLoader {
 public:
  StreamLoader(std::unique_ptr<BlockReader> reader, const planfmt::SectionInfo& section,
               const std::vector<planfmt::WeightEntry>& weights, uint8_t* arena)
      : reader_(std::move(reader)), section_(section), weights_(weights), arena_(arena),
        done_(weights.size(), 0), requested_(weights.size(), 0), thread_([this] { Loop(); }) {}

  ~StreamLoader() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  // Optional per-weight timing, in microseconds since `origin`; sized by the caller.
  void SetTrace(std::vector<double>* begin_us, std::vector<double>* end_us) {
    trace_begin_ = begin_us;
    trace_end_ = end_us;
  }

  void BeginRun(std::chrono::steady_clock::time_point origin) {
    std::lock_guard<std::mutex> lock(mu_);
    origin_ = origin;
    ++run_;
    error_ = OkStatus();
    bytes_ = 0;
    busy_ms_ = 0;
  }
  void Load(size_t w) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      requested_[w] = run_;
      queue_.push_back(w);
      ++in_flight_;
    }
    cv_.notify_all();
  }
  Status Wait(size_t w) {
    std::unique_lock<std::mutex> lock(mu_);
    // Validation guarantees a load precedes every wait; never block on one nobody issued.
    if (requested_[w] != run_) {
      return InternalError("waiting for weight '" + weights_[w].name + "', which this run never loaded");
    }
    cv_.wait(lock, [&] { return done_[w] == run_ || !error_.ok(); });
    return error_;
  }
  // Blocks until no load is queued or running, so a failed run leaves nothing writing.
  uint64_t Drain(double* busy_ms) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return in_flight_ == 0; });
    *busy_ms = busy_ms_;
    return bytes_;
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      const size_t w = queue_.front();
      queue_.pop_front();
      const uint64_t run = run_;
      lock.unlock();
      const auto begin = std::chrono::steady_clock::now();
      Status st = Read(weights_[w]);
      if (trace_begin_) {
        (*trace_begin_)[w] = std::chrono::duration<double, std::micro>(begin - origin_).count();
        (*trace_end_)[w] = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - origin_).count();
      }
      const double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - begin).count();
      lock.lock();
      busy_ms_ += ms;
      if (st.ok()) {
        done_[w] = run;
        bytes_ += weights_[w].bytes;
      } else {
        if (error_.ok()) error_ = st.Annotate("loading streamed weight '" + weights_[w].name + "'");
        // The run has failed: reads still queued would only delay its end.
        in_flight_ -= static_cast<int>(queue_.size());
        queue_.clear();
      }
      --in_flight_;
      cv_.notify_all();
    }
  }

  // Reads one weight into its arena bytes and checks it against its own checksum: the load-time
  // hash of the whole section does not cover a file changed on disk since then.
  Status Read(const planfmt::WeightEntry& w) {
    const uint64_t start = section_.offset + w.file_offset;
    const uint64_t length = std::min<uint64_t>((w.bytes + 4095) / 4096 * 4096,
                                               section_.length - w.file_offset);
    uint8_t* dest = arena_ + w.arena_offset;
    planfmt::WeightsHasher hasher;
    RETURN_IF_ERROR(reader_->ReadRange(start, length, [&](uint64_t off, const uint8_t* data, size_t n) {
      const uint64_t rel = off - start;
      if (rel < w.bytes) {
        const size_t take = static_cast<size_t>(std::min<uint64_t>(n, w.bytes - rel));
        std::memcpy(dest + rel, data, take);
        hasher.Update(data, take);
      }
      return OkStatus();
    }));
    if (hasher.Digest() != w.checksum) {
      return BadInputError("checksum mismatch on re-read (the bundle changed on disk after tsr "
                           "loaded it); reload or recompile the bundle");
    }
    return OkStatus();
  }

  std::unique_ptr<BlockReader> reader_;
  const planfmt::SectionInfo section_;
  const std::vector<planfmt::WeightEntry>& weights_;
  uint8_t* const arena_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<size_t> queue_;
  std::vector<uint64_t> done_;       // per weight: the run in which its load last completed
  std::vector<uint64_t> requested_;  // per weight: the run in which its load was last issued
  double busy_ms_ = 0;               // time spent reading in this run
  std::chrono::steady_clock::time_point origin_;
  std::vector<double>* trace_begin_ = nullptr;
  std::vector<double>* trace_end_ = nullptr;
  uint64_t run_ = 0;
  uint64_t bytes_ = 0;
  int in_flight_ = 0;
  Status error_;
  bool stop_ = false;
  std::thread thread_;  // last: starts once everything above is initialised
};

struct Executor::Impl {
  struct Arena {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t, Arena> arena;
  std::unique_ptr<CpuKernels> kernels;
  // Per step: the kernel entry point (JIT steps) and its argument pointers into the arena.
  std::vector<KernelFn> fns;
  std::vector<std::vector<void*>> args;
  // kOp steps: the library definition and the kernel's arguments, built once at load.
  std::vector<const ops::OpDef*> op_defs;
  std::vector<std::unique_ptr<ops::KernelContext>> op_ctx;
  std::unique_ptr<StreamLoader> loader;  // after arena: destroyed first
  std::unique_ptr<SpillFile> spill;       // plans with spill steps
  std::unique_ptr<cuda::Backend> gpu;     // plans compiled with --target cuda
  // A GPU plan's streamed weights, read from the bundle for the backend to pin (then freed).
  std::vector<uint8_t> gpu_streamed;
  std::vector<uint64_t> gpu_streamed_at;  // per weight entry, its offset in gpu_streamed
};

Executor::~Executor() = default;

StatusOr<std::unique_ptr<Executor>> Executor::Load(const std::string& path,
                                                   const LoadOptions& options) {
  std::unique_ptr<Executor> ex(new Executor());
  ex->impl_ = std::make_unique<Impl>();
  ASSIGN_OR_RETURN(ex->bundle_, planfmt::ReadBundle(path));
  if (options.prefill) {
    planfmt::PlanContents& c = ex->bundle_.contents;
    if (!c.prefill) {
      return UsageError(path + " has no prefill program; compile the checkpoint with --prefill-tokens N");
    }
    c.program = std::move(c.prefill->program);
    c.memory = std::move(c.prefill->memory);
    c.kernels = std::move(c.prefill->kernels);
    c.weights = std::move(c.prefill->weights);
    c.prefill.reset();
  }
  const planfmt::MemoryPlan& mem = ex->bundle_.contents.memory;

  // The arena: allocated once, its size fixed by the plan. Checked against what the machine
  // can give first, because with overcommit a too-large allocation succeeds and the process is
  // killed later, mid-run.
  // planfmt caps arena_bytes at 2^50, so rounding up cannot wrap.
  const uint64_t arena_bytes = std::max<uint64_t>((mem.arena_bytes + 63) / 64 * 64, 64);
  if (auto available = HostMemoryAvailable()) {
    const uint64_t needed = arena_bytes + mem.StagingBytes();
    if (needed > *available) {
      return DoesNotFitError(path + ": the plan needs " + std::to_string(needed) +
                             " bytes of host memory (arena " + std::to_string(arena_bytes) +
                             " + I/O staging " + std::to_string(mem.StagingBytes()) +
                             ") but only " + std::to_string(*available) +
                             " are available (MemAvailable); free memory or recompile with a "
                             "smaller --vram");
    }
  }
  ex->impl_->arena.reset(static_cast<uint8_t*>(std::aligned_alloc(64, arena_bytes)));
  if (!ex->impl_->arena) {
    return DoesNotFitError("cannot allocate the plan's arena of " + std::to_string(arena_bytes) +
                           " bytes of host memory; free memory or use a smaller budget");
  }
  std::memset(ex->impl_->arena.get(), 0, arena_bytes);

  RETURN_IF_ERROR(ex->LoadWeights(path, options));

  auto jit_start = std::chrono::steady_clock::now();
  if (ex->bundle_.contents.kernels.format == "cuda") {
    // The host arena holds the resident weights; the GPU backend copies it to the device.
    const cuda::StreamedWeights streamed{ex->impl_->gpu_streamed.data(), ex->impl_->gpu_streamed.size(),
                                         ex->impl_->gpu_streamed_at};
    ASSIGN_OR_RETURN(ex->impl_->gpu, cuda::Backend::Load(ex->bundle_.contents, ex->impl_->arena.get(),
                                                         mem.arena_bytes, streamed));
    ex->impl_->gpu_streamed = {};
    ex->impl_->gpu_streamed_at = {};
    ex->report_.host = ex->impl_->gpu->description();
    ex->report_.jit_cache = "off (GPU plan)";
    ex->report_.jit_ms = MsSince(jit_start);
    return ex;
  }
  ASSIGN_OR_RETURN(ex->impl_->kernels,
                   CpuKernels::Load(ex->bundle_.contents.kernels, options.jit_cache));
  ex->report_.host = ex->impl_->kernels->host_description();
  ex->report_.jit_cache = ex->impl_->kernels->cache_state();
  RETURN_IF_ERROR(ex->PrepareSteps());
  ex->report_.jit_ms = MsSince(jit_start);
  return ex;
}

Status Executor::LoadWeights(const std::string& path, const LoadOptions& options) {
  const planfmt::MemoryPlan& mem = bundle_.contents.memory;
  const planfmt::SectionInfo& section = bundle_.layout.weights;
  const auto& weights = bundle_.contents.weights;
  if (weights.empty() || section.used == 0) return OkStatus();

  ReaderOptions ro = options.io;
  ro.chunk_bytes = mem.io_chunk_bytes;
  ro.queue_depth = static_cast<int>(mem.io_queue_depth);
  std::string warning;
  ASSIGN_OR_RETURN(auto reader, OpenBlockReader(path, ro, &warning));
  report_.io_method = std::string(reader->method());
  report_.io_direct = reader->direct();
  report_.warning = warning;
  report_.staging_bytes = reader->staging_bytes();

  auto start = std::chrono::steady_clock::now();
  planfmt::WeightsHasher hasher;
  uint8_t* arena = impl_->arena.get();
  // A GPU plan's streamed weights are kept in host memory (the backend pins them); a CPU plan
  // reads them again on every run.
  const bool gpu = bundle_.contents.kernels.format == "cuda";
  if (gpu) {
    uint64_t total = 0;
    impl_->gpu_streamed_at.assign(weights.size(), 0);
    for (size_t w = 0; w < weights.size(); ++w) {
      if (!weights[w].streamed) continue;
      impl_->gpu_streamed_at[w] = total;
      total += weights[w].bytes;
    }
    impl_->gpu_streamed.resize(total);
  }
  // The weights in file order (a prefill program's need not be; ties keep table order).
  std::vector<size_t> order(weights.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return weights[a].file_offset < weights[b].file_offset; });
  size_t next = 0;  // first position in `order` that may still overlap the incoming chunk
  auto sink = [&](uint64_t file_offset, const uint8_t* data, size_t n) -> Status {
    const uint64_t rel = file_offset - section.offset;  // offset within the section
    const uint64_t end = rel + n;
    if (rel < section.used) hasher.Update(data, std::min<uint64_t>(n, section.used - rel));
    for (uint64_t i = std::max(rel, section.used); i < end; ++i) {
      if (data[i - rel] != 0) {
        return BadInputError(path + ": weights section padding byte at file offset " +
                             std::to_string(section.offset + i) +
                             " is not zero; the bundle is corrupt, recompile or copy it again");
      }
    }
    // Weights may overlap (a prefill's share bytes), so `next` skips only those ended before
    // this chunk and that every earlier one has also ended before it.
    while (next < order.size() && weights[order[next]].file_offset + weights[order[next]].bytes <= rel) ++next;
    for (size_t k = next; k < order.size() && weights[order[k]].file_offset < end; ++k) {
      const size_t w = order[k];
      if (weights[w].streamed && !gpu) continue;  // read by its load step, on every run
      const uint64_t lo = std::max(rel, weights[w].file_offset);
      const uint64_t hi = std::min(end, weights[w].file_offset + weights[w].bytes);
      if (lo < hi) {
        uint8_t* dst = weights[w].streamed ? impl_->gpu_streamed.data() + impl_->gpu_streamed_at[w]
                                           : arena + weights[w].arena_offset;
        std::memcpy(dst + (lo - weights[w].file_offset), data + (lo - rel), hi - lo);
      }
    }
    return OkStatus();
  };
  RETURN_IF_ERROR(reader->ReadRange(section.offset, section.length, sink));
  const uint64_t digest = hasher.Digest();
  if (digest != section.checksum) {
    char buf[160];
    std::snprintf(buf, sizeof buf,
                  ": section 'weights' (offset %llu): checksum mismatch (stored 0x%016llx, "
                  "computed 0x%016llx); the bundle is corrupt, recompile or copy it again",
                  static_cast<unsigned long long>(section.offset),
                  static_cast<unsigned long long>(section.checksum),
                  static_cast<unsigned long long>(digest));
    return BadInputError(path + buf);
  }
  report_.read_ms = MsSince(start);
  report_.weight_bytes = section.used;
  bool any_streamed = false;
  for (const auto& w : weights) any_streamed |= w.streamed;
  if (any_streamed && !gpu) {
    impl_->loader = std::make_unique<StreamLoader>(std::move(reader), section, weights, arena);
  }
  return OkStatus();
}

// An op step is checked like the compiler checked its node: the library infers the output
// types from the input types and attributes, and they must be the step's.
Status Executor::PrepareOpStep(size_t i) {
  const planfmt::Step& s = bundle_.contents.program.steps[i];
  const ops::OpDef* def = ops::FindOp(s.symbol);
  if (!def) {
    return BadInputError("op '" + s.symbol + "' is not in this tsr's op library; the bundle needs "
                         "a newer tsr, or recompile it");
  }
  ops::AttrView attrs(s.attrs);
  ASSIGN_OR_RETURN(int64_t opset, attrs.Int("opset"));
  std::vector<ops::TensorType> in_types;
  auto ctx = std::make_unique<ops::KernelContext>(ops::KernelContext{opset, attrs, {}, {}});
  uint8_t* arena = impl_->arena.get();
  for (size_t a = 0; a < s.args.size(); ++a) {
    const planfmt::TensorRef& r = s.args[a];
    ops::Tensor t{r.dtype, r.shape, arena + r.offset};
    if (a < s.num_inputs) {
      in_types.push_back({r.dtype, r.shape});
      ctx->inputs.push_back(std::move(t));
    } else {
      ctx->outputs.push_back(std::move(t));
    }
  }
  ASSIGN_OR_RETURN(std::vector<ops::TensorType> want,
                   ops::InferOp(*def, opset, s.attrs, in_types, ctx->outputs.size()));
  for (size_t o = 0; o < want.size(); ++o) {
    const ops::Tensor& have = ctx->outputs[o];
    if (have.dtype != want[o].dtype || have.shape != want[o].shape) {
      return BadInputError("output " + std::to_string(o) + " is " +
                           TypeString(have.dtype, have.shape) + " but " + s.symbol + " makes " +
                           TypeString(want[o].dtype, want[o].shape) +
                           "; the bundle is inconsistent, recompile it");
    }
  }
  impl_->op_defs[i] = def;
  impl_->op_ctx[i] = std::move(ctx);
  return OkStatus();
}

Status Executor::PrepareSteps() {
  const auto& steps = bundle_.contents.program.steps;
  impl_->fns.assign(steps.size(), nullptr);
  impl_->args.resize(steps.size());
  impl_->op_defs.assign(steps.size(), nullptr);
  impl_->op_ctx.resize(steps.size());
  bool spills = false;
  uint64_t spill_bytes = 0;  // the spill file's size: offsets and sizes are checked by planfmt
  for (size_t i = 0; i < steps.size(); ++i) {
    const planfmt::Step& s = steps[i];
    for (const planfmt::TensorRef& r : s.args) impl_->args[i].push_back(impl_->arena.get() + r.offset);
    if (s.kind == planfmt::StepKind::kJitKernel) {
      ASSIGN_OR_RETURN(impl_->fns[i], impl_->kernels->Lookup(s.symbol));
    } else if (s.kind == planfmt::StepKind::kBuiltin) {
      RETURN_IF_ERROR_CTX(CheckBuiltin(s), "step " + std::to_string(i));
    } else if (s.kind == planfmt::StepKind::kOp) {
      RETURN_IF_ERROR_CTX(PrepareOpStep(i), "step " + std::to_string(i) + " ('" + s.node + "')");
    } else if (s.kind == planfmt::StepKind::kSpill || s.kind == planfmt::StepKind::kFill) {
      spills = true;
      spill_bytes = std::max(spill_bytes, static_cast<uint64_t>(s.iparams[0]) + s.args[0].bytes);
    } else if (!impl_->loader) {
      return BadInputError("step " + std::to_string(i) + " ('" + s.node +
                           "') loads a streamed weight but the plan streams none; recompile it");
    }
  }
  if (spills) {
    ASSIGN_OR_RETURN(impl_->spill, SpillFile::Create(spill_bytes));
  }
  return OkStatus();
}

void Executor::EnableTrace() {
  const size_t steps = bundle_.contents.program.steps.size();
  const size_t weights = bundle_.contents.weights.size();
  trace_.step_begin_us.assign(steps, -1);
  trace_.step_end_us.assign(steps, -1);
  trace_.load_begin_us.assign(weights, -1);
  trace_.load_end_us.assign(weights, -1);
  if (impl_->loader) impl_->loader->SetTrace(&trace_.load_begin_us, &trace_.load_end_us);
  tracing_ = true;
}

Status Executor::ExecuteSteps() {
  const auto& steps = bundle_.contents.program.steps;
  uint8_t* arena = impl_->arena.get();
  StreamLoader* loader = impl_->loader.get();
  run_stats_ = RunStats{};
  const auto start = std::chrono::steady_clock::now();
  if (loader) loader->BeginRun(start);
  auto us = [&start] {
    return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
  };
  Status st;
  for (size_t i = 0; i < steps.size() && st.ok(); ++i) {
    const planfmt::Step& s = steps[i];
    if (tracing_) trace_.step_begin_us[i] = us();
    switch (s.kind) {
      case planfmt::StepKind::kJitKernel: impl_->fns[i](impl_->args[i].data()); break;
      case planfmt::StepKind::kBuiltin: RunBuiltin(s, arena); break;
      case planfmt::StepKind::kOp: impl_->op_defs[i]->run(*impl_->op_ctx[i]); break;
      case planfmt::StepKind::kLoad: loader->Load(static_cast<size_t>(s.iparams[0])); break;
      case planfmt::StepKind::kWait: {
        const auto wait_start = std::chrono::steady_clock::now();
        st = loader->Wait(static_cast<size_t>(s.iparams[0]));
        run_stats_.wait_ms += MsSince(wait_start);
        break;
      }
      case planfmt::StepKind::kSpill:
        st = impl_->spill->Write(static_cast<uint64_t>(s.iparams[0]), arena + s.args[0].offset, s.args[0].bytes);
        run_stats_.spilled_bytes += s.args[0].bytes;
        break;
      case planfmt::StepKind::kFill:
        st = impl_->spill->Read(static_cast<uint64_t>(s.iparams[0]), arena + s.args[0].offset, s.args[0].bytes);
        break;
    }
    if (tracing_) trace_.step_end_us[i] = us();
  }
  if (loader) run_stats_.streamed_bytes = loader->Drain(&run_stats_.read_ms);
  run_stats_.run_ms = MsSince(start);
  return st;
}

StatusOr<RunStats> Executor::ReadStreamedAlone() {
  RunStats stats;
  StreamLoader* loader = impl_->loader.get();
  if (!loader) return stats;
  const auto& steps = bundle_.contents.program.steps;
  const auto start = std::chrono::steady_clock::now();
  loader->BeginRun(start);
  for (const planfmt::Step& s : steps) {
    if (s.kind == planfmt::StepKind::kLoad) loader->Load(static_cast<size_t>(s.iparams[0]));
  }
  Status st;
  for (const planfmt::Step& s : steps) {
    if (s.kind == planfmt::StepKind::kLoad && st.ok()) st = loader->Wait(static_cast<size_t>(s.iparams[0]));
  }
  stats.streamed_bytes = loader->Drain(&stats.read_ms);
  stats.run_ms = MsSince(start);
  RETURN_IF_ERROR(st);
  return stats;
}

StatusOr<std::vector<HostTensor>> Executor::Run(const std::map<std::string, HostTensor>& inputs) {
  const planfmt::Program& prog = bundle_.contents.program;
  uint8_t* arena = impl_->arena.get();
  for (const auto& [name, t] : inputs) {
    bool known = false;
    for (const auto& r : prog.inputs) known |= r.name == name;
    if (!known) {
      std::string names;
      for (const auto& r : prog.inputs) names += (names.empty() ? "" : ", ") + r.name;
      return UsageError("input '" + name + "': the plan has no such input (its inputs: " + names + ")");
    }
  }
  for (const planfmt::TensorRef& r : prog.inputs) {
    auto it = inputs.find(r.name);
    if (it == inputs.end()) {
      return UsageError("input '" + r.name + "' (" + TypeString(r.dtype, r.shape) +
                        ") is missing; pass --input " + r.name + "=@FILE.npy or --seed N");
    }
    const HostTensor& t = it->second;
    if (t.dtype != r.dtype || t.shape != r.shape || t.data.size() != r.bytes) {
      return UsageError("input '" + r.name + "': expected " + TypeString(r.dtype, r.shape) +
                        ", got " + TypeString(t.dtype, t.shape) +
                        " (recompile with --shape to change a dynamic dimension)");
    }
    std::memcpy(arena + r.offset, t.data.data(), r.bytes);
  }
  if (impl_->gpu) {
    RETURN_IF_ERROR(impl_->gpu->Run(arena));
    run_stats_ = RunStats{};
    run_stats_.run_ms = impl_->gpu->last_run_ms();
    run_stats_.streamed_bytes = impl_->gpu->streamed_bytes_per_run();
  } else {
    RETURN_IF_ERROR(ExecuteSteps());
  }
  std::vector<HostTensor> outputs;
  for (const planfmt::TensorRef& r : prog.outputs) {
    HostTensor t;
    t.dtype = r.dtype;
    t.shape = r.shape;
    t.data.assign(arena + r.offset, arena + r.offset + r.bytes);
    outputs.push_back(std::move(t));
  }
  return outputs;
}

namespace {

// The resident weight `name` of a plan, or an error saying why its bytes cannot be handed over.
StatusOr<const planfmt::WeightEntry*> ResidentWeight(const planfmt::PlanContents& c, const std::string& name) {
  for (const planfmt::WeightEntry& w : c.weights) {
    if (w.name != name) continue;
    if (w.streamed) return UsageError("weight '" + name + "' is streamed: its arena bytes do not last between steps");
    return &w;
  }
  return UsageError("the plan has no weight '" + name + "'");
}

}  // namespace

StatusOr<std::vector<uint8_t>> Executor::ReadWeight(const std::string& name) const {
  if (impl_->gpu) return UsageError("reading a weight back is not supported for GPU plans yet");
  ASSIGN_OR_RETURN(const planfmt::WeightEntry* w, ResidentWeight(bundle_.contents, name));
  const uint8_t* p = impl_->arena.get() + w->arena_offset;
  return std::vector<uint8_t>(p, p + w->bytes);
}

Status Executor::WriteWeight(const std::string& name, const std::vector<uint8_t>& bytes) {
  if (impl_->gpu) return UsageError("writing a weight is not supported for GPU plans yet");
  ASSIGN_OR_RETURN(const planfmt::WeightEntry* w, ResidentWeight(bundle_.contents, name));
  if (bytes.size() != w->bytes) {
    return UsageError("weight '" + name + "' has " + std::to_string(w->bytes) + " bytes, not " +
                      std::to_string(bytes.size()) + "; the two plans do not match");
  }
  std::memcpy(impl_->arena.get() + w->arena_offset, bytes.data(), bytes.size());
  return OkStatus();
}

}  // namespace ts::runtime
