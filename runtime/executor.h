// tsr's CPU executor: loads a bundle, allocates the arena once, streams the weights into it,
// JIT-links the kernels, and runs the steps in plan order.
//
// Load does all allocation: Run touches only the arena and the argument tables built at load.
// One Executor runs one plan at a time (not thread-safe).
#ifndef TENSORSHUNT_RUNTIME_EXECUTOR_H_
#define TENSORSHUNT_RUNTIME_EXECUTOR_H_

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ir/status.h"
#include "planfmt/plan.h"
#include "planfmt/reader.h"
#include "runtime/block_reader.h"
#include "runtime/cpu_jit.h"
#include "runtime/tensor_io.h"

namespace ts::runtime {

// Host memory the kernel says is available (/proc/meminfo MemAvailable), if it can be read.
std::optional<uint64_t> HostMemoryAvailable();

struct LoadOptions {
  ReaderOptions io;  // chunk size and depth are taken from the plan; the rest from here
  JitCacheOptions jit_cache;
  // Load the bundle's prefill program (planfmt::SubPlan) instead of its main program: plan()
  // then shows the prefill's program, memory plan, kernels and weights.
  bool prefill = false;
};

struct LoadReport {
  std::string io_method;   // "io_uring" or "pread"
  bool io_direct = false;  // O_DIRECT used
  std::string warning;     // one line, empty when none
  uint64_t weight_bytes = 0;
  uint64_t staging_bytes = 0;
  double read_ms = 0;
  double jit_ms = 0;
  std::string jit_cache;   // CpuKernels::cache_state(): "hit", "miss", "off", ...
  std::string host;        // what the kernels were tuned for
};

// When each step and each weight load of the last Run began and ended, in microseconds from the
// run's start (filled only when tracing is on; the buffers are sized at load).
struct RunTrace {
  std::vector<double> step_begin_us, step_end_us;  // per program step
  std::vector<double> load_begin_us, load_end_us;  // per weight (streamed ones; -1 if not loaded)
};

// What one Run measured.
struct RunStats {
  uint64_t streamed_bytes = 0;  // weights read from the bundle during the run
  uint64_t spilled_bytes = 0;   // activations written to the spill file (and read back)
  double run_ms = 0;
  double wait_ms = 0;           // compute blocked on weight loads (stalls)
  double read_ms = 0;           // the I/O thread busy reading streamed weights
  // Share of read time hidden behind compute, as the report predicts it: 1 - wait / read.
  double HiddenFraction() const { return read_ms > 0 ? std::max(0.0, 1 - wait_ms / read_ms) : 1; }
};

class Executor {
 public:
  static StatusOr<std::unique_ptr<Executor>> Load(const std::string& path,
                                                  const LoadOptions& options = {});
  ~Executor();

  const planfmt::PlanContents& plan() const { return bundle_.contents; }
  const planfmt::BundleLayout& layout() const { return bundle_.layout; }
  const LoadReport& load_report() const { return report_; }
  const RunStats& last_run() const { return run_stats_; }
  // Turns per-step timing on for later runs (buffers allocated here, not while running).
  void EnableTrace();
  const RunTrace& last_trace() const { return trace_; }

  // Copies `inputs` (by name; every plan input exactly once, matching dtype and shape) into
  // the arena, runs every step, and returns the outputs in plan order. Streamed weights are read
  // by an I/O thread, started by the plan's load steps, while the compute steps proceed.
  StatusOr<std::vector<HostTensor>> Run(const std::map<std::string, HostTensor>& inputs);

  // Reads every streamed weight once, in the program's load order, with no compute: what this
  // disk gives the plan's reads alone (tsr bench's bound). Fills streamed_bytes, read_ms and
  // run_ms (issue to last byte); a plan that streams nothing returns zeros. Between runs only:
  // the weights land in their arena bytes, which no resident weight shares.
  StatusOr<RunStats> ReadStreamedAlone();

  // The arena bytes of a resident weight (a key/value cache the program updates in place, say),
  // and writing them: how a prefill program's cache is handed to the decoding step's.
  StatusOr<std::vector<uint8_t>> ReadWeight(const std::string& name) const;
  Status WriteWeight(const std::string& name, const std::vector<uint8_t>& bytes);

 private:
  Executor() = default;
  Status LoadWeights(const std::string& path, const LoadOptions& options);
  Status PrepareSteps();
  Status PrepareOpStep(size_t i);
  Status ExecuteSteps();

  planfmt::OpenedBundle bundle_;
  LoadReport report_;
  RunStats run_stats_;
  RunTrace trace_;
  bool tracing_ = false;
  // Last: destroyed first, so the I/O thread stops before the weight table and trace buffers it
  // writes to go away.
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ts::runtime

#endif  // TENSORSHUNT_RUNTIME_EXECUTOR_H_
