// Choosing the next token from a row of logits: greedy, or sampled with temperature, top-k and
// top-p (nucleus), as `tsr generate` does it.
#ifndef TENSORSHUNT_CLI_SAMPLING_H_
#define TENSORSHUNT_CLI_SAMPLING_H_

#include <cstdint>
#include <random>
#include <vector>

namespace ts::cli {

struct SamplingOptions {
  double temperature = 0;  // 0: greedy (the first index of the largest logit)
  int64_t top_k = 0;       // 0: no limit
  double top_p = 1;        // 1: no limit; else the smallest set of likeliest tokens whose
                           // probabilities sum to at least top_p
};

// The chosen token index. With temperature > 0: softmax(logits / temperature) restricted to the
// top_k likeliest (ties: lower index first) and then to the top_p nucleus, renormalised, and one
// draw from `rng`. `logits` must not be empty; NaN logits are never chosen unless all are NaN
// (then 0).
int64_t ChooseToken(const float* logits, int64_t n, const SamplingOptions& options, std::mt19937_64& rng);

}  // namespace ts::cli

#endif  // TENSORSHUNT_CLI_SAMPLING_H_
