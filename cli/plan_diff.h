// `tsc plan-diff BASE.json NEW.json --max-increase PCT`: the CI gate over two plan reports
// (written by `tsc compile --report`). The peak is the report's `peak_bytes`.
#ifndef TENSORSHUNT_CLI_PLAN_DIFF_H_
#define TENSORSHUNT_CLI_PLAN_DIFF_H_

#include <string>

#include "ir/status.h"

namespace ts::cli {

struct PlanDiff {
  std::string table;       // one line per numeric field that changed: "field: base -> new (+x.xx%)"
  double peak_increase_pct = 0;
  bool regressed = false;  // peak grew by more than the allowed percentage
};

// Compares two reports' JSON text. kBadInput when either is not a report (names the file and
// the missing or mistyped field).
StatusOr<PlanDiff> DiffPlanReports(const std::string& base_json, const std::string& base_where,
                                   const std::string& new_json, const std::string& new_where,
                                   double max_increase_pct);

}  // namespace ts::cli

#endif  // TENSORSHUNT_CLI_PLAN_DIFF_H_
