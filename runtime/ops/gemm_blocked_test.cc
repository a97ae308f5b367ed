#include "runtime/ops/gemm_blocked.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace ts::ops {
namespace {

TEST(BlockedMatMulTest, LayoutAndRoundTrip) {
  const int64_t k = 3, n = 70;  // one full block of 64 columns and a tail of 6
  std::vector<float> b(static_cast<size_t>(k * n)), blocked(b.size()), back(b.size());
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>(i);
  BlockMatMulWeights(k, n, b.data(), blocked.data());
  EXPECT_EQ(blocked[1 * 64 + 5], b[1 * n + 5]);            // block 0, row 1, column 5
  EXPECT_EQ(blocked[64 * k + 2 * 6 + 3], b[2 * n + 67]);   // the tail block, row 2, column 67
  UnblockMatMulWeights(k, n, blocked.data(), back.data());
  EXPECT_EQ(back, b);
}

// Random shapes (columns not a multiple of 64 or of 16, depths over one 256-deep pass, row
// counts that leave partial tiles and work items) against a double-precision product, on the
// AVX-512 kernel and on the plain loop. Canaries around c: nothing written outside it.
TEST(BlockedMatMulTest, MatchesTheDefinition) {
  std::mt19937 rng(20261123);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  std::normal_distribution<float> normal;
  for (int trial = 0; trial < 120; ++trial) {
    const int64_t m = trial % 10 == 0 ? 1 : pick(1, 110), k = trial % 4 == 0 ? pick(257, 700) : pick(1, 80);
    const int64_t n = trial % 3 == 0 ? 64 * pick(1, 3) : pick(1, 200);
    std::vector<float> a(static_cast<size_t>(m * k)), b(static_cast<size_t>(k * n)), blocked(b.size());
    for (float& v : a) v = normal(rng);
    for (float& v : b) v = normal(rng);
    BlockMatMulWeights(k, n, b.data(), blocked.data());
    for (bool vector : {true, false}) {
      std::vector<float> c(static_cast<size_t>(m * n + 32), 777.0f);
      BlockedMatMulF32(m, k, n, a.data(), blocked.data(), c.data() + 16, vector);
      for (int i = 0; i < 16; ++i) {
        ASSERT_EQ(c[static_cast<size_t>(i)], 777.0f) << "trial " << trial << ": wrote before c";
        ASSERT_EQ(c[static_cast<size_t>(m * n + 16 + i)], 777.0f) << "trial " << trial << ": wrote past c";
      }
      for (int64_t i = 0; i < m; ++i) {
        for (int64_t j = 0; j < n; ++j) {
          double want = 0, magnitude = 0;
          for (int64_t p = 0; p < k; ++p) {
            const double t = double(a[static_cast<size_t>(i * k + p)]) * b[static_cast<size_t>(p * n + j)];
            want += t;
            magnitude += std::fabs(t);
          }
          // f32 accumulation over at most 700 terms: within 1e-6 * 700 of their magnitudes.
          ASSERT_NEAR(c[static_cast<size_t>(16 + i * n + j)], want, 1e-4 * magnitude + 1e-6)
              << "trial " << trial << " (" << m << "x" << k << " * " << k << "x" << n << ", vector " << vector
              << ") at " << i << "," << j;
        }
      }
    }
  }
}

TEST(BlockedMatMulTest, EmptyDepthGivesZeros) {
  std::vector<float> c(6, 5.0f);
  BlockedMatMulF32(2, 0, 3, nullptr, nullptr, c.data());
  EXPECT_EQ(c, std::vector<float>(6, 0.0f));
}

}  // namespace
}  // namespace ts::ops
