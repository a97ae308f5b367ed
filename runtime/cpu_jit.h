// JIT-linking of a plan's CPU kernels with LLVM ORC (LLJIT).
//
// The bundle carries target-independent LLVM bitcode; at load it is optimised (O3) for the
// host's CPU and its features, so the vector width is the host's, then compiled and linked.
// libm symbols (tanhf, expf...) resolve from this process.
#ifndef TENSORSHUNT_RUNTIME_CPU_JIT_H_
#define TENSORSHUNT_RUNTIME_CPU_JIT_H_

#include <memory>
#include <string>
#include <vector>

#include "ir/status.h"
#include "planfmt/plan.h"

namespace ts::runtime {

using KernelFn = void (*)(void** args);

class CpuKernels {
 public:
  // Compiles every symbol of `module` (format "llvm-bc"). An empty module yields no kernels.
  static StatusOr<std::unique_ptr<CpuKernels>> Load(const planfmt::KernelModule& module);
  ~CpuKernels();

  // The entry point of a symbol listed in the module.
  StatusOr<KernelFn> Lookup(const std::string& symbol) const;
  // "x86_64 skylake-avx512 (+avx2,+fma,...)": what the kernels were tuned for.
  const std::string& host_description() const { return host_; }

 private:
  struct Impl;
  explicit CpuKernels(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::string host_;
};

}  // namespace ts::runtime

#endif  // TENSORSHUNT_RUNTIME_CPU_JIT_H_
