#include "runtime/ops/parallel.h"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include <cblas.h>

namespace ts::ops {
namespace {

int ReadNumThreads() {
  if (const char* env = std::getenv("TSR_NUM_THREADS"); env && *env) {
    char* end = nullptr;
    const long v = std::strtol(env, &end, 10);
    if (end && *end == '\0' && v >= 1 && v <= 256) return static_cast<int>(v);
  }
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

thread_local bool in_region = false;

// Chunks per thread that ParallelFor cuts a range into (fewer when the grain allows fewer).
constexpr int64_t kChunksPerThread = 4;

// Matrix products are split by the callers (one pool for everything), so OpenBLAS runs each
// call on the calling thread: set once, before any kernel runs, whatever the pool's size.
const bool kBlasSingleThreaded = [] {
  openblas_set_num_threads(1);
  return true;
}();

// Workers wait for a new generation of work, run their part, and report back. Spinning briefly
// before sleeping keeps the wake-up cost of back-to-back kernels low.
class Pool {
 public:
  explicit Pool(int threads) : parts_(0) {
    (void)kBlasSingleThreaded;
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { Work(i); });
  }
  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs part p of `parts` (p = 0 on the caller) and waits for the others.
  void Run(int parts, const std::function<void(int)>& part) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      job_ = &part;
      parts_ = parts;
      pending_.store(parts - 1, std::memory_order_relaxed);
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    part(0);
    // The workers finish at about the same time: spin, then sleep.
    for (int spin = 0; pending_.load(std::memory_order_acquire) != 0; ++spin) {
      if (spin < 20000) continue;
      std::unique_lock<std::mutex> lock(mu_);
      done_.wait(lock, [&] { return pending_.load(std::memory_order_acquire) == 0; });
      break;
    }
  }

 private:
  void Work(int index) {
    uint64_t seen = 0;
    for (;;) {
      for (int spin = 0; generation_.load(std::memory_order_acquire) == seen && spin < 20000;) {
        ++spin;
      }
      const std::function<void(int)>* job;
      int parts;
      {
        // Generation, job and part count change together under the lock: read them together.
        std::unique_lock<std::mutex> lock(mu_);
        wake_.wait(lock, [&] { return generation_.load(std::memory_order_relaxed) != seen; });
        seen = generation_.load(std::memory_order_relaxed);
        job = job_;
        parts = parts_;
      }
      if (index >= parts) continue;
      in_region = true;
      (*job)(index);
      in_region = false;
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lock(mu_);
        done_.notify_one();
      }
    }
  }

  std::mutex mu_;
  std::condition_variable wake_, done_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  const std::function<void(int)>* job_ = nullptr;
  int parts_;
  std::vector<std::thread> workers_;
};

Pool& ThePool() {
  static Pool* pool = new Pool(NumThreads());  // never destroyed: kernels may run at exit
  return *pool;
}

std::mutex region_mu;

}  // namespace

int NumThreads() {
  static const int n = ReadNumThreads();
  return n;
}

bool CpuHasAvx512F() {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") != 0;
  }();
  return has;
}

void ParallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  const int64_t parts = std::min<int64_t>(NumThreads(), n / grain);
  std::unique_lock<std::mutex> region(region_mu, std::defer_lock);
  if (parts <= 1 || in_region || !region.try_lock()) {
    fn(0, n);
    return;
  }
  Pool& pool = ThePool();
  const int p = static_cast<int>(std::min<int64_t>(parts, pool.size()));
  // Even chunks, up to kChunksPerThread per thread, handed out in order to whichever thread
  // asks next: a thread slowed by other work (the weight reader, another process) takes fewer.
  const int64_t chunks = std::min<int64_t>(n / grain, int64_t{p} * kChunksPerThread);
  std::atomic<int64_t> next{0};
  in_region = true;
  pool.Run(p, [&](int) {
    for (int64_t c = next.fetch_add(1, std::memory_order_relaxed); c < chunks;
         c = next.fetch_add(1, std::memory_order_relaxed)) {
      fn(n * c / chunks, n * (c + 1) / chunks);
    }
  });
  in_region = false;
}

}  // namespace ts::ops
