#include "cli/plan_diff.h"

#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

namespace ts::cli {
namespace {

// The fields compared, in print order; peak_bytes decides.
constexpr const char* kFields[] = {"peak_bytes", "total_bytes", "lower_bound_bytes",
                                   "runtime_overhead_bytes", "resident_weight_bytes", "steps"};

StatusOr<nlohmann::json> ParseReport(const std::string& text, const std::string& where) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return BadInputError(where + ": not a JSON object; pass reports written by `tsc compile --report`");
  }
  for (const char* f : kFields) {
    if (!j.contains(f) || !j[f].is_number_unsigned()) {
      return BadInputError(where + ": field '" + f +
                           "' is missing or not a non-negative integer; pass reports written by "
                           "`tsc compile --report`");
    }
  }
  return j;
}

}  // namespace

StatusOr<PlanDiff> DiffPlanReports(const std::string& base_json, const std::string& base_where,
                                   const std::string& new_json, const std::string& new_where,
                                   double max_increase_pct) {
  if (!(max_increase_pct >= 0) || std::isinf(max_increase_pct)) {
    return UsageError("--max-increase must be a finite percentage >= 0");
  }
  ASSIGN_OR_RETURN(nlohmann::json base, ParseReport(base_json, base_where));
  ASSIGN_OR_RETURN(nlohmann::json next, ParseReport(new_json, new_where));
  PlanDiff d;
  for (const char* f : kFields) {
    const uint64_t b = base[f].get<uint64_t>(), n = next[f].get<uint64_t>();
    if (b == n) continue;
    char line[160];
    const double pct = b ? (static_cast<double>(n) - static_cast<double>(b)) * 100.0 / b : INFINITY;
    std::snprintf(line, sizeof line, "  %-24s %llu -> %llu (%+.2f%%)\n", f,
                  static_cast<unsigned long long>(b), static_cast<unsigned long long>(n), pct);
    d.table += line;
  }
  const uint64_t b = base["peak_bytes"].get<uint64_t>(), n = next["peak_bytes"].get<uint64_t>();
  d.peak_increase_pct = b ? (static_cast<double>(n) - static_cast<double>(b)) * 100.0 / b
                          : (n > 0 ? INFINITY : 0.0);
  d.regressed = d.peak_increase_pct > max_increase_pct;
  return d;
}

}  // namespace ts::cli
