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
  int repeats = 3;                        // each figure is the best of this many runs (storage
                                          // reads: the median of at least 5)
  bool probe_gpu = true;                  // probe CUDA device 0 when a driver and a device exist
  // Size of each timed host<->device and device-to-device copy, and how many are timed (the
  // median is kept). 0 = derived: 256 MiB x 8, or 64 MiB x 3 when memory_bytes is under
  // 256 MiB (what --quick sets).
  uint64_t gpu_copy_bytes = 0;
  int gpu_copies = 0;
  std::function<void(const std::string&)> progress;  // one line per measurement, if set
};

// What the GPU probe measured on CUDA device 0. Link bandwidths are bytes/s of one large copy
// (the median of several, queued back to back), link latencies the median time of a
// synchronous 4-byte copy.
struct GpuFigures {
  std::string device_name;
  std::string cuda_arch;              // "sm_90", from the compute capability
  uint64_t memory_bytes = 0;          // cuDeviceTotalMem
  passes::HardwareProfile::Link h2d_pinned, h2d_pageable, d2h_pinned, d2h_pageable;
  double memory_bandwidth = 0;        // device-to-device copy, bytes read + written per second
  double fp32_flops = 0;              // an FMA loop over every SM: the non-tensor f32 peak
  double launch_latency_s = 0;        // per launch of an empty kernel, launches queued
};

// Makes `p`, as the CPU probe filled it, describe the GPU: target cuda, the device's arch and
// memory, and the figures above in place of the host's memcpy bandwidth, MatMul rate and
// dispatch overhead. nvme and cpu are kept. Tensor-core rates (fp16, bf16, tf32, int8) stay 0,
// which the profile schema reads as unknown.
void ApplyGpuFigures(const GpuFigures& g, passes::HardwareProfile* p);

// Measures: memory bandwidth (large memcpy), f32 MatMul GFLOP/s of the runtime's own kernel, the
// per-step dispatch overhead, O_DIRECT read bandwidth through the runtime's io_uring reader at
// queue depths 1 to 32 (the best is kept, with the depth that reached it), 4 KiB read latency,
// cores, SIMD width, RAM. Then, when libcuda.so.1 loads (dlopen; see runtime/cuda/driver.h) and
// reports a device, CUDA device 0 (GpuFigures) and the profile becomes a cuda one; otherwise it
// prints "GPU: none (REASON)" and the profile stays a cpu one. A GPU that is present but fails
// a measurement is an error, not a silent CPU profile.
StatusOr<passes::HardwareProfile> ProbeThisMachine(const ProbeOptions& options);

}  // namespace ts::cli

#endif  // TENSORSHUNT_CLI_PROFILE_PROBE_H_
