#include "cli/sampling.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <vector>

namespace ts::cli {
namespace {

TEST(ChooseTokenTest, GreedyTakesTheFirstLargestAndSkipsNaN) {
  std::mt19937_64 rng(1);
  const std::vector<float> a = {0.5f, 2, -1, 2};
  EXPECT_EQ(ChooseToken(a.data(), 4, {}, rng), 1);
  const std::vector<float> b = {NAN, -3, NAN, -2};
  EXPECT_EQ(ChooseToken(b.data(), 4, {}, rng), 3);
  const std::vector<float> c = {NAN, NAN};
  EXPECT_EQ(ChooseToken(c.data(), 2, {}, rng), 0);
}

TEST(ChooseTokenTest, TopKOneIsGreedyWhateverTheTemperature) {
  std::mt19937_64 rng(7);
  const std::vector<float> a = {0.1f, 0.3f, 0.2f};
  for (int i = 0; i < 50; ++i) EXPECT_EQ(ChooseToken(a.data(), 3, {5.0, 1, 1}, rng), 1);
}

// logits log(1), log(2), log(3), log(4): at temperature 1 the draws follow 1:2:3:4; top_p 0.5
// keeps {3} (0.4 < 0.5) and {2} (0.4 + 0.3 >= 0.5), renormalised to 4:3.
TEST(ChooseTokenTest, SamplesFollowTheDistributionAndTheNucleus) {
  const std::vector<float> a = {std::log(1.0f), std::log(2.0f), std::log(3.0f), std::log(4.0f)};
  std::mt19937_64 rng(2026);
  std::map<int64_t, int> count;
  const int n = 40000;
  for (int i = 0; i < n; ++i) ++count[ChooseToken(a.data(), 4, {1.0, 0, 1}, rng)];
  for (int64_t t = 0; t < 4; ++t) EXPECT_NEAR(count[t] / double(n), (t + 1) / 10.0, 0.01) << t;
  count.clear();
  for (int i = 0; i < n; ++i) ++count[ChooseToken(a.data(), 4, {1.0, 0, 0.5}, rng)];
  EXPECT_EQ(count[0] + count[1], 0);
  EXPECT_NEAR(count[3] / double(n), 4.0 / 7, 0.01);
  // The same seed gives the same draws.
  std::mt19937_64 r1(5), r2(5);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(ChooseToken(a.data(), 4, {0.7, 3, 0.9}, r1), ChooseToken(a.data(), 4, {0.7, 3, 0.9}, r2));
}

}  // namespace
}  // namespace ts::cli
