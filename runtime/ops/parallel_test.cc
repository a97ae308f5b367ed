#include "runtime/ops/parallel.h"

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace ts::ops {
namespace {

TEST(ParallelForTest, CoversEveryIndexExactlyOnce) {
  for (int64_t n : {1, 2, 3, 7, 64, 1000, 12345}) {
    for (int64_t grain : {1, 5, 100, 100000}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      std::atomic<int> ranges{0};
      ParallelFor(n, grain, [&](int64_t b, int64_t e) {
        ASSERT_LT(b, e);
        ++ranges;
        for (int64_t i = b; i < e; ++i) ++hits[static_cast<size_t>(i)];
      });
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << n << " " << i;
      EXPECT_LE(ranges.load(), 4 * NumThreads());
      if (n < 2 * grain) EXPECT_EQ(ranges.load(), 1) << "n " << n << " grain " << grain;
    }
  }
}

TEST(ParallelForTest, NestedAndConcurrentCallsComplete) {
  std::atomic<int64_t> sum{0};
  ParallelFor(8, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      ParallelFor(100, 1, [&](int64_t b2, int64_t e2) { sum += e2 - b2; });  // runs serially
    }
  });
  EXPECT_EQ(sum.load(), 800);
  std::atomic<int64_t> total{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&] {
      for (int r = 0; r < 200; ++r) {
        ParallelFor(1000, 10, [&](int64_t b, int64_t e) { total += e - b; });
      }
    });
  }
  for (auto& c : callers) c.join();
  EXPECT_EQ(total.load(), 4 * 200 * 1000);
}

// Ranges go to whichever thread asks next: while one thread is held up in its first range, the
// other threads run the rest (with an even static split, the held thread would own its share).
TEST(ParallelForTest, AThreadHeldUpRunsFewerIndices) {
  if (NumThreads() < 2) GTEST_SKIP() << "one thread";
  constexpr int64_t n = 1000;
  std::mutex mu;
  std::map<std::thread::id, int64_t> indices_of;
  std::atomic<bool> first{true};
  std::thread::id held;
  ParallelFor(n, 1, [&](int64_t b, int64_t e) {
    bool expected = true;
    const bool hold = first.compare_exchange_strong(expected, false);
    {
      std::lock_guard<std::mutex> lock(mu);
      if (hold) held = std::this_thread::get_id();
      indices_of[std::this_thread::get_id()] += e - b;
    }
    if (hold) std::this_thread::sleep_for(std::chrono::milliseconds(300));
  });
  int64_t total = 0;
  for (const auto& [id, count] : indices_of) total += count;
  EXPECT_EQ(total, n);
  // An even static split gives each thread n / NumThreads(); handed out, the held thread gets
  // its first chunk (n / (4 x threads)) and at most one more.
  EXPECT_LT(indices_of[held], n / NumThreads()) << "the held thread ran " << indices_of[held] << " of " << n;
}

TEST(ParallelForTest, EmptyRangeCallsNothing) {
  bool called = false;
  ParallelFor(0, 1, [&](int64_t, int64_t) { called = true; });
  ParallelFor(-5, 1, [&](int64_t, int64_t) { called = true; });
  EXPECT_FALSE(called);
}

}  // namespace
}  // namespace ts::ops
