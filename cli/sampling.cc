#include "cli/sampling.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace ts::cli {

int64_t ChooseToken(const float* logits, int64_t n, const SamplingOptions& o, std::mt19937_64& rng) {
  int64_t best = 0;
  bool found = false;
  for (int64_t i = 0; i < n; ++i) {
    if (std::isnan(logits[i])) continue;
    if (!found || logits[i] > logits[best]) best = i;
    found = true;
  }
  if (!found || o.temperature <= 0) return best;
  // Candidates, likeliest first.
  std::vector<int64_t> order;
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isnan(logits[i])) order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return logits[a] > logits[b]; });
  if (o.top_k > 0 && static_cast<int64_t>(order.size()) > o.top_k) order.resize(static_cast<size_t>(o.top_k));
  std::vector<double> p(order.size());
  const double top = logits[order[0]];
  for (size_t i = 0; i < order.size(); ++i) p[i] = std::exp((logits[order[i]] - top) / o.temperature);
  double sum = std::accumulate(p.begin(), p.end(), 0.0);
  if (o.top_p < 1) {
    double acc = 0;
    size_t keep = 0;
    while (keep < p.size() && acc < o.top_p * sum) acc += p[keep++];
    p.resize(std::max<size_t>(keep, 1));
    sum = std::accumulate(p.begin(), p.end(), 0.0);
  }
  std::uniform_real_distribution<double> u(0, sum);
  double x = u(rng), acc = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    acc += p[i];
    if (x < acc) return order[i];
  }
  return order[p.size() - 1];
}

}  // namespace ts::cli
