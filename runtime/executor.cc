#include "runtime/executor.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "runtime/cpu_builtins.h"
#include "runtime/cpu_jit.h"

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

struct Executor::Impl {
  struct Arena {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t, Arena> arena;
  std::unique_ptr<CpuKernels> kernels;
  // Per step: the kernel entry point (JIT steps) and its argument pointers into the arena.
  std::vector<KernelFn> fns;
  std::vector<std::vector<void*>> args;
};

Executor::~Executor() = default;

StatusOr<std::unique_ptr<Executor>> Executor::Load(const std::string& path,
                                                   const LoadOptions& options) {
  std::unique_ptr<Executor> ex(new Executor());
  ex->impl_ = std::make_unique<Impl>();
  ASSIGN_OR_RETURN(ex->bundle_, planfmt::ReadBundle(path));
  const planfmt::MemoryPlan& mem = ex->bundle_.contents.memory;

  // The arena: allocated once, its size fixed by the plan. Checked against what the machine
  // can give first, because with overcommit a too-large allocation succeeds and the process is
  // killed later, mid-run.
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
  ASSIGN_OR_RETURN(ex->impl_->kernels, CpuKernels::Load(ex->bundle_.contents.kernels));
  ex->report_.host = ex->impl_->kernels->host_description();
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
  size_t next = 0;  // first weight that may still overlap the incoming chunk (file order)
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
    while (next < weights.size() && weights[next].file_offset + weights[next].bytes <= rel) ++next;
    for (size_t w = next; w < weights.size() && weights[w].file_offset < end; ++w) {
      const uint64_t lo = std::max(rel, weights[w].file_offset);
      const uint64_t hi = std::min(end, weights[w].file_offset + weights[w].bytes);
      if (lo < hi) {
        std::memcpy(arena + weights[w].arena_offset + (lo - weights[w].file_offset),
                    data + (lo - rel), hi - lo);
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
  return OkStatus();
}

Status Executor::PrepareSteps() {
  const auto& steps = bundle_.contents.program.steps;
  impl_->fns.assign(steps.size(), nullptr);
  impl_->args.resize(steps.size());
  for (size_t i = 0; i < steps.size(); ++i) {
    const planfmt::Step& s = steps[i];
    for (const planfmt::TensorRef& r : s.args) impl_->args[i].push_back(impl_->arena.get() + r.offset);
    if (s.kind == planfmt::StepKind::kJitKernel) {
      ASSIGN_OR_RETURN(impl_->fns[i], impl_->kernels->Lookup(s.symbol));
    } else {
      RETURN_IF_ERROR_CTX(CheckBuiltin(s), "step " + std::to_string(i));
    }
  }
  return OkStatus();
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
    if (t.dtype != r.dtype || t.shape != r.shape) {
      return UsageError("input '" + r.name + "': expected " + TypeString(r.dtype, r.shape) +
                        ", got " + TypeString(t.dtype, t.shape) +
                        " (recompile with --shape to change a dynamic dimension)");
    }
    std::memcpy(arena + r.offset, t.data.data(), r.bytes);
  }
  for (size_t i = 0; i < prog.steps.size(); ++i) {
    const planfmt::Step& s = prog.steps[i];
    if (s.kind == planfmt::StepKind::kJitKernel) {
      impl_->fns[i](impl_->args[i].data());
    } else {
      RunBuiltin(s, arena);
    }
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

}  // namespace ts::runtime
