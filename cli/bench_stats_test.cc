#include "cli/bench_stats.h"

#include <gtest/gtest.h>

namespace ts::cli {
namespace {

TEST(SummarizeTest, HandComputedFigures) {
  // 1..10 shuffled: median (5+6)/2, mean 5.5, p90 the 9th sample, p99 the 10th.
  Summary s = Summarize({7, 3, 10, 1, 5, 9, 2, 8, 6, 4});
  EXPECT_EQ(s.min, 1);
  EXPECT_EQ(s.max, 10);
  EXPECT_EQ(s.median, 5.5);
  EXPECT_EQ(s.mean, 5.5);
  EXPECT_EQ(s.p90, 9);
  EXPECT_EQ(s.p99, 10);
}

TEST(SummarizeTest, OddCountAndSingleSample) {
  Summary s = Summarize({3, 1, 2});
  EXPECT_EQ(s.median, 2);
  EXPECT_EQ(s.p90, 3);
  s = Summarize({4});
  EXPECT_EQ(s.min, 4);
  EXPECT_EQ(s.p99, 4);
  EXPECT_EQ(Summarize({}).mean, 0);
}

}  // namespace
}  // namespace ts::cli
