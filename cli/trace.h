// Chrome trace / Perfetto JSON of one `tsr run`: a track per stream (compute, storage reads) and
// a counter of the arena bytes the plan keeps live at each step.
#ifndef TENSORSHUNT_CLI_TRACE_H_
#define TENSORSHUNT_CLI_TRACE_H_

#include <string>

#include "planfmt/plan.h"
#include "runtime/executor.h"

namespace ts::cli {

std::string ChromeTrace(const planfmt::PlanContents& plan, const runtime::RunTrace& trace);

}  // namespace ts::cli

#endif  // TENSORSHUNT_CLI_TRACE_H_
