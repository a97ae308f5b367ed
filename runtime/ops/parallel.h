// The CPU kernels' threads: one process-wide pool, so every kernel (the op library's, the
// runtime's builtins, the matrix products) splits its work over the same cores and nothing else
// spins on them. OpenBLAS is told to use one thread per call when the pool has more than one:
// matrix products are split here instead (by rows, columns or batch), which also lets a
// convolution's im2col run on every core beside its GEMM.
//
// Thread-safety: ParallelFor may be called from any thread. One parallel region runs at a time;
// a call made while another region is running (from another thread, or nested inside fn) runs
// its whole range on the calling thread.
#ifndef TENSORSHUNT_RUNTIME_OPS_PARALLEL_H_
#define TENSORSHUNT_RUNTIME_OPS_PARALLEL_H_

#include <cstdint>
#include <functional>

namespace ts::ops {

// Threads the kernels use: TSR_NUM_THREADS when set to 1..256, else the CPUs this process may
// run on (sched_getaffinity). Read once.
int NumThreads();

// Whether this CPU has AVX-512F, which the hand-written kernels (direct and blocked convolution,
// the blocked matrix product, MaxPool's stride-2 rows) need. Read once.
bool CpuHasAvx512F();

// Calls fn(begin, end) on contiguous ranges that cover [0, n) exactly once, none smaller than
// `grain` items (so small loops stay on one thread) and at most 4 per thread. The ranges are
// handed out in order to the threads (the caller is one) as each asks for more, so a thread
// slowed by other work runs fewer. Their bounds depend only on n, grain and NumThreads(), except
// that a nested call, or one made while another region runs, gets the single range [0, n) on
// the calling thread. A thread's calls run one after another. Returns when every range is done.
void ParallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace ts::ops

#endif  // TENSORSHUNT_RUNTIME_OPS_PARALLEL_H_
