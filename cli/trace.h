// Chrome trace / Perfetto JSON of one `tsr run`: a track per stream (compute, storage reads) and
// a counter of the arena bytes the plan keeps live at each step.
#ifndef TENSORSHUNT_CLI_TRACE_H_
#define TENSORSHUNT_CLI_TRACE_H_

#include <map>
#include <string>
#include <vector>

#include "planfmt/plan.h"
#include "runtime/executor.h"

namespace ts::cli {

std::string ChromeTrace(const planfmt::PlanContents& plan, const runtime::RunTrace& trace);

// What a step is in a trace and a profile: "kernel" (generated), "op:Conv" (a runtime op),
// "builtin", "spill", "fill"; "" for load and wait steps, which are not compute.
std::string StepCategory(const planfmt::Step& step);

// Milliseconds of one traced run per step category (stalls as "stall"), and per compute step
// (by program step index, -1 where the step did not run).
struct RunProfile {
  std::map<std::string, double> category_ms;
  std::vector<double> step_ms;
};
RunProfile ProfileRun(const planfmt::PlanContents& plan, const runtime::RunTrace& trace);

}  // namespace ts::cli

#endif  // TENSORSHUNT_CLI_TRACE_H_
