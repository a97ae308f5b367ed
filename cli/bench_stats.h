// Summary statistics for `tsr bench`: the figures trtexec-style tools print.
#ifndef TENSORSHUNT_CLI_BENCH_STATS_H_
#define TENSORSHUNT_CLI_BENCH_STATS_H_

#include <vector>

namespace ts::cli {

struct Summary {
  double min = 0, median = 0, mean = 0, p90 = 0, p99 = 0, max = 0;
};

// Median: the middle sample, or the mean of the two middle ones. Percentiles: nearest rank (the
// smallest sample with at least p% of samples at or below it). Empty input gives all zeros.
Summary Summarize(std::vector<double> samples);

}  // namespace ts::cli

#endif  // TENSORSHUNT_CLI_BENCH_STATS_H_
