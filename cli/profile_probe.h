// `tsc profile probe`: measures this machine and describes it as a hardware profile, because
// datasheet figures are wrong by 30-50% in practice and calibrated ones are not.
#ifndef TENSORSHUNT_CLI_PROFILE_PROBE_H_
#define TENSORSHUNT_CLI_PROFILE_PROBE_H_

#include <cstdint>
#include <functional>
#include <string>

#include "ir/status.h"
#include "passes/hardware_profile.h"

namespace ts::cli {

struct ProbeOptions {
  std::string name = "probed";
  std::string scratch_dir = ".";          // where the read-bandwidth file is written (and removed)
  uint64_t io_bytes = 256ull << 20;       // size of that file
  uint64_t memory_bytes = 256ull << 20;   // buffer for the memory-bandwidth copy
  int gemm_n = 384;                       // square MatMul size for GFLOP/s
  int repeats = 3;                        // each figure is the best of this many runs
  std::function<void(const std::string&)> progress;  // one line per measurement, if set
};

// Measures: memory bandwidth (large memcpy), f32 MatMul GFLOP/s of the runtime's own kernel, the
// per-step dispatch overhead, O_DIRECT read bandwidth through the runtime's io_uring reader at
// queue depths 1 to 32 (the best is kept, with the depth that reached it), 4 KiB read latency,
// cores, SIMD width, RAM. No GPU is probed (the CUDA backend is not built yet).
StatusOr<passes::HardwareProfile> ProbeThisMachine(const ProbeOptions& options);

}  // namespace ts::cli

#endif  // TENSORSHUNT_CLI_PROFILE_PROBE_H_
