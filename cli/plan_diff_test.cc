#include "cli/plan_diff.h"

#include <gtest/gtest.h>

namespace ts::cli {
namespace {

std::string Report(uint64_t peak, uint64_t total = 1000) {
  return "{\"peak_bytes\": " + std::to_string(peak) + ", \"total_bytes\": " + std::to_string(total) +
         ", \"lower_bound_bytes\": 100, \"runtime_overhead_bytes\": 0, \"resident_weight_bytes\": 50,"
         " \"steps\": 3}";
}

TEST(PlanDiffTest, GrowthWithinAllowanceIsNotARegression) {
  auto d = DiffPlanReports(Report(1000), "base.json", Report(1010), "new.json", 1.0);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_NEAR(d->peak_increase_pct, 1.0, 1e-9);
  EXPECT_FALSE(d->regressed);
  EXPECT_NE(d->table.find("peak_bytes               1000 -> 1010 (+1.00%)"), std::string::npos);
}

TEST(PlanDiffTest, GrowthPastAllowanceIsARegression) {
  auto d = DiffPlanReports(Report(1000), "base.json", Report(1011), "new.json", 1.0);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->regressed);
}

TEST(PlanDiffTest, ShrinkingAndUnchangedPass) {
  auto d = DiffPlanReports(Report(1000), "b", Report(900, 900), "n", 0.0);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->regressed);
  EXPECT_NE(d->table.find("total_bytes"), std::string::npos);
  d = DiffPlanReports(Report(1000), "b", Report(1000), "n", 0.0);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->regressed);
  EXPECT_EQ(d->table, "");
}

TEST(PlanDiffTest, NotAReportIsBadInputNamingTheFileAndField) {
  auto d = DiffPlanReports("[1,2]", "base.json", Report(1), "new.json", 1.0);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), Code::kBadInput);
  EXPECT_NE(d.status().message().find("base.json: not a JSON object"), std::string::npos);
  d = DiffPlanReports(Report(1), "base.json", "{\"peak_bytes\": -3}", "new.json", 1.0);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("new.json: field 'peak_bytes'"), std::string::npos);
  d = DiffPlanReports(Report(1), "b", Report(1), "n", -1);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), Code::kUsage);
}

}  // namespace
}  // namespace ts::cli
