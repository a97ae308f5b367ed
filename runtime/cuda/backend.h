// tsr's CUDA backend: runs a plan whose kernel module is "cuda" (codegen/lower_cuda.h) on GPU 0.
//
// Load: the driver is dlopened (a machine without one gets a one-line kBadInput: this plan needs
// a GPU), the device arena is allocated once after cuMemGetInfo says it fits (else kDoesNotFit),
// the host arena as the CPU executor filled it (resident weights in place) is copied in, the
// streamed weights are packed into pinned host memory, the module loaded (the cubin when the
// device matches its architecture, else the PTX through the driver's JIT when the device is
// newer), and every step's launch prepared: nothing is allocated or looked up while the plan
// runs. Run: the inputs' arena ranges go to the device, every step is issued in order on the
// compute stream, the outputs' ranges come back. A load step records an event on the compute
// stream (every earlier step is done with the weight's arena bytes), makes the copy stream wait
// for it and copies the weight from pinned memory there; its wait step makes the compute stream
// wait for the copy's event. A CUDA error names the step and kernel; errors after a launch are
// kInternal (exit 70).
//
// Not yet: weights streamed from storage (all streamed weights sit in pinned host memory), a
// device-side trace of the steps and copies, several compute streams.
#ifndef TENSORSHUNT_RUNTIME_CUDA_BACKEND_H_
#define TENSORSHUNT_RUNTIME_CUDA_BACKEND_H_

#include <memory>
#include <string>
#include <vector>

#include "ir/status.h"
#include "planfmt/plan.h"

namespace ts::runtime::cuda {

// The bytes of a plan's streamed weights, read from the bundle by the caller: entry w of
// plan.weights, when streamed, is at bytes + offset[w].
struct StreamedWeights {
  const uint8_t* bytes = nullptr;
  uint64_t size = 0;
  std::vector<uint64_t> offset;
};

class Backend {
 public:
  static StatusOr<std::unique_ptr<Backend>> Load(const planfmt::PlanContents& plan,
                                                 const uint8_t* host_arena, uint64_t arena_bytes,
                                                 const StreamedWeights& streamed = {});
  ~Backend();

  // Runs the plan: reads the program's inputs from `host_arena`, writes its outputs there.
  Status Run(uint8_t* host_arena);

  // "NVIDIA H100 80GB HBM3, sm_90, cubin (NVRTC 13.0), driver 13.0"
  const std::string& description() const { return description_; }
  double last_run_ms() const { return last_run_ms_; }
  // Bytes the load steps copy from pinned host memory on every run.
  uint64_t streamed_bytes_per_run() const;

 private:
  struct Impl;
  Backend();
  std::unique_ptr<Impl> impl_;
  std::string description_;
  double last_run_ms_ = 0;
};

}  // namespace ts::runtime::cuda

#endif  // TENSORSHUNT_RUNTIME_CUDA_BACKEND_H_
