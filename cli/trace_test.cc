#include "cli/trace.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace ts::cli {
namespace {

TEST(ChromeTraceTest, TracksCounterAndEvents) {
  planfmt::PlanContents plan;
  planfmt::Step load, wait, mm;
  load.kind = planfmt::StepKind::kLoad;
  load.node = "load w";
  wait.kind = planfmt::StepKind::kWait;
  wait.node = "wait w";
  mm.kind = planfmt::StepKind::kBuiltin;
  mm.node = "mm";
  plan.program.steps = {load, wait, mm};
  plan.weights = {{"w", 0, 4096, 0, true}};
  plan.memory.buffers = {{"w", 0, 4096, 0, 0}, {"x", 4096, 64, 0, 0}, {"later", 0, 8, 1, 1}};
  runtime::RunTrace t;
  t.step_begin_us = {0, 1, 5};
  t.step_end_us = {1, 5, 9};
  t.load_begin_us = {1};
  t.load_end_us = {4.5};
  auto j = nlohmann::json::parse(ChromeTrace(plan, t));
  const auto& ev = j["traceEvents"];
  int reads = 0, kernels = 0, stalls = 0, counters = 0;
  for (const auto& e : ev) {
    if (e["ph"] == "X" && e["tid"] == 2) {
      ++reads;
      EXPECT_EQ(e["name"], "read w");
      EXPECT_EQ(e["dur"], 3.5);
    }
    if (e["ph"] == "X" && e["tid"] == 1 && e["cat"] == "builtin") ++kernels;
    if (e["ph"] == "X" && e["cat"] == "stall") {
      ++stalls;
      EXPECT_EQ(e["dur"], 4);
    }
    if (e["ph"] == "C") {
      ++counters;
      EXPECT_EQ(e["args"]["bytes"], 4096 + 64);  // "later" is not live at compute step 0
    }
  }
  EXPECT_EQ(reads, 1);
  EXPECT_EQ(kernels, 1);
  EXPECT_EQ(stalls, 1);
  EXPECT_EQ(counters, 1);
}

TEST(ProfileRunTest, TimePerCategoryAndStep) {
  planfmt::PlanContents plan;
  planfmt::Step wait, conv, kernel, conv2;
  wait.kind = planfmt::StepKind::kWait;
  conv.kind = conv2.kind = planfmt::StepKind::kOp;
  conv.symbol = conv2.symbol = "Conv";
  kernel.kind = planfmt::StepKind::kJitKernel;
  plan.program.steps = {wait, conv, kernel, conv2};
  runtime::RunTrace t;
  t.step_begin_us = {0, 500, 2500, -1};  // the last step did not run
  t.step_end_us = {500, 2500, 3000, -1};
  const RunProfile p = ProfileRun(plan, t);
  EXPECT_EQ(p.category_ms.at("stall"), 0.5);
  EXPECT_EQ(p.category_ms.at("op:Conv"), 2.0);
  EXPECT_EQ(p.category_ms.at("kernel"), 0.5);
  EXPECT_EQ(p.category_ms.size(), 3u);
  EXPECT_EQ(p.step_ms, (std::vector<double>{-1, 2.0, 0.5, -1}));  // a wait is not a compute step
  EXPECT_EQ(StepCategory(wait), "");
}

}  // namespace
}  // namespace ts::cli
