// JIT-linking of a plan's CPU kernels with LLVM ORC (LLJIT).
//
// The bundle carries target-independent LLVM bitcode; at load it is optimised (O3) for the
// host's CPU and its features, so the vector width is the host's, then compiled to an object
// (cached on disk, see JitCacheOptions) and linked. libm symbols (tanhf, expf...) resolve from
// this process.
#ifndef TENSORSHUNT_RUNTIME_CPU_JIT_H_
#define TENSORSHUNT_RUNTIME_CPU_JIT_H_

#include <memory>
#include <string>
#include <vector>

#include "ir/status.h"
#include "planfmt/plan.h"

namespace ts::runtime {

using KernelFn = void (*)(void** args);

// The object cache: machine code compiled from a kernel module, kept in `dir` under a key made
// of the bitcode's SHA-256, the host's triple, CPU and feature string and the LLVM version, so a
// second load of the same kernels on the same kind of machine skips optimisation and code
// generation. A cache file carries the SHA-256 of its object; one that does not match (torn,
// edited) is ignored and rewritten. Failing to write the cache never fails a load.
struct JitCacheOptions {
  enum class Mode {
    kOff,        // compile, store nothing
    kReadWrite,  // use a cached object if there is one, store a new one
    kWriteOnly,  // compile even if cached (to time a first load), store the result
  };
  Mode mode = Mode::kOff;
  std::string dir;
};

// The default cache folder: $TSR_CACHE_DIR, else $XDG_CACHE_HOME/tensorshunt/kernels, else
// $HOME/.cache/tensorshunt/kernels; empty when none of them is set.
std::string DefaultJitCacheDir();

class CpuKernels {
 public:
  // Compiles every symbol of `module` (format "llvm-bc"). An empty module yields no kernels.
  static StatusOr<std::unique_ptr<CpuKernels>> Load(const planfmt::KernelModule& module,
                                                    const JitCacheOptions& cache = {});
  ~CpuKernels();

  // "hit", "miss" (compiled and stored), "off", or "miss (not stored: REASON)".
  const std::string& cache_state() const { return cache_state_; }

  // The entry point of a symbol listed in the module.
  StatusOr<KernelFn> Lookup(const std::string& symbol) const;
  // "x86_64 skylake-avx512 (+avx2,+fma,...)": what the kernels were tuned for.
  const std::string& host_description() const { return host_; }

 private:
  struct Impl;
  explicit CpuKernels(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::string host_;
  std::string cache_state_;
};

}  // namespace ts::runtime

#endif  // TENSORSHUNT_RUNTIME_CPU_JIT_H_
