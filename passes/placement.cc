#include "passes/placement.h"

#include <algorithm>
#include <cstdio>
#include <numeric>
#include <optional>

namespace ts::passes {
namespace {

constexpr uint64_t kPage = 4096;

// Staging configurations from the most to the least read bandwidth.
std::vector<Staging> StagingCandidates(uint64_t weight_file_bytes) {
  std::vector<Staging> out;
  if (weight_file_bytes == 0) return {Staging{}};
  for (Staging s : {Staging{1 << 20, 4}, Staging{256 << 10, 4}, Staging{64 << 10, 2},
                    Staging{kPage, 1}}) {
    s.chunk_bytes = std::min(s.chunk_bytes, AlignUp(weight_file_bytes, kPage));
    s.depth = static_cast<uint32_t>(std::min<uint64_t>(
        s.depth, (weight_file_bytes + s.chunk_bytes - 1) / s.chunk_bytes));
    if (out.empty() || s.Bytes() < out.back().Bytes()) out.push_back(s);
  }
  return out;
}

class Placer {
 public:
  Placer(const Liveness& lv) : lv_(lv) {
    for (size_t b = 0; b < lv.buffers.size(); ++b) {
      if (lv.buffers[b].resident) by_size_.push_back(static_cast<int>(b));
    }
    std::stable_sort(by_size_.begin(), by_size_.end(), [&](int a, int b) {
      return lv.buffers[a].bytes > lv.buffers[b].bytes;
    });
  }

  int candidates() const { return static_cast<int>(by_size_.size()); }

  // A lower bound on Evaluate(k, d, staging).TotalBytes(), without packing (which is the cost).
  uint64_t TotalLowerBound(int k, int d, const Staging& staging) const {
    std::vector<Interval> iv;
    iv.reserve(lv_.buffers.size());
    std::vector<bool> streamed(lv_.buffers.size(), false);
    for (int i = 0; i < k; ++i) streamed[by_size_[i]] = true;
    for (size_t b = 0; b < lv_.buffers.size(); ++b) {
      const Buffer& buf = lv_.buffers[b];
      iv.push_back(streamed[b] ? Interval{std::max<int64_t>(buf.use.first - d, 0), buf.use.last, buf.bytes}
                               : buf.live);
    }
    return LiveBytesLowerBound(iv).bytes + staging.Bytes();
  }

  // The plan with the `k` largest weights streamed at prefetch distance `d`.
  Placement Evaluate(int k, int d, const Staging& staging) const {
    Placement p;
    p.prefetch_distance = d;
    p.staging = staging;
    p.streamed.assign(lv_.buffers.size(), false);
    p.load_step.assign(lv_.buffers.size(), -1);
    for (int i = 0; i < k; ++i) p.streamed[by_size_[i]] = true;
    for (size_t b = 0; b < lv_.buffers.size(); ++b) {
      const Buffer& buf = lv_.buffers[b];
      if (p.streamed[b]) {
        p.load_step[b] = std::max<int64_t>(buf.use.first - d, 0);
        p.intervals.push_back({p.load_step[b], buf.use.last, buf.bytes});
        p.streamed_bytes += buf.bytes;
      } else {
        p.intervals.push_back(buf.live);
      }
    }
    p.offsets = PlanOffsets(p.intervals);
    p.bound = LiveBytesLowerBound(p.intervals);
    return p;
  }

  // Moves each streamed weight's load of the fitting plan `p` as early as `budget` allows: in
  // order of first use, the earliest step not before the previous load (reads are served in
  // issue order, so an earlier start would only hold arena bytes) at which the plan still fits,
  // found by bisection over the steps. Packing is greedy, so fitting is not exactly monotone in
  // the step; only plans checked to fit are kept.
  Placement LoadEarly(Placement p, uint64_t budget) const {
    std::vector<int> order;
    for (size_t b = 0; b < lv_.buffers.size(); ++b) {
      if (p.streamed[b]) order.push_back(static_cast<int>(b));
    }
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
      return lv_.buffers[a].use.first < lv_.buffers[b].use.first;
    });
    int64_t floor = 0;
    for (int b : order) {
      int64_t lo = floor, hi = p.load_step[b];  // hi fits
      while (lo < hi) {
        const int64_t mid = lo + (hi - lo) / 2;
        std::vector<Interval> iv = p.intervals;
        iv[b].first = mid;
        OffsetPlan offsets = PlanOffsets(iv);
        if (offsets.arena_bytes + p.staging.Bytes() <= budget) {
          hi = mid;
          p.intervals = std::move(iv);
          p.offsets = std::move(offsets);
          p.load_step[b] = mid;
        } else {
          lo = mid + 1;
        }
      }
      floor = p.load_step[b];
    }
    p.bound = LiveBytesLowerBound(p.intervals);
    return p;
  }

 private:
  const Liveness& lv_;
  std::vector<int> by_size_;
};

}  // namespace

StatusOr<Placement> PlaceWeights(const Liveness& lv, const std::vector<std::string>& step_names,
                                 uint64_t budget, uint64_t weight_file_bytes) {
  Placer placer(lv);
  const std::vector<Staging> stagings = StagingCandidates(weight_file_bytes);
  // Streaming costs bandwidth on every run; smaller staging only slows the one-time load. So
  // everything resident with any staging beats streaming anything.
  for (const Staging& staging : stagings) {
    Placement all_resident = placer.Evaluate(0, 0, staging);
    if (budget == 0 || all_resident.TotalBytes() <= budget) return all_resident;
  }

  const int n = placer.candidates();
  // Fast path: per prefetch distance and staging, in order of preference, a binary search for
  // the fewest streamed weights (largest first) that fit. Greedy packing is not exactly
  // monotone in that number, so `best` is always a plan checked to fit.
  for (int d : {1, 0}) {
    for (const Staging& staging : stagings) {
      Placement most = placer.Evaluate(n, d, staging);
      if (most.TotalBytes() > budget) continue;
      Placement best = std::move(most);
      int lo = 0, hi = n;  // plan(lo) does not fit (all resident), plan(hi) fits
      while (hi - lo > 1) {
        int mid = lo + (hi - lo) / 2;
        Placement p = placer.Evaluate(mid, d, staging);
        if (p.TotalBytes() <= budget) {
          hi = mid;
          best = std::move(p);
        } else {
          lo = mid;
        }
      }
      return placer.LoadEarly(std::move(best), budget);
    }
  }
  // Slow path, and the definition of the minimum: every plan this placer can make, in order of
  // preference; the first that fits is taken, and if none does, the smallest is the minimum
  // feasible total. So any budget at or above the reported minimum always gets a plan.
  // Seeded with the plan that is usually smallest, so the pruning below works from the start;
  // the order in which plans are tried (and so the plan chosen) does not change.
  std::optional<Placement> least = placer.Evaluate(n, 0, stagings.back());
  for (int d : {1, 0}) {
    for (const Staging& staging : stagings) {
      for (int k = 0; k <= n; ++k) {
        // Packing is the expensive part: skip plans whose lower bound can neither fit the
        // budget nor beat the smallest plan found so far (the minimum stays exact).
        const uint64_t bound = placer.TotalLowerBound(k, d, staging);
        if (bound > budget && least && bound >= least->TotalBytes()) continue;
        Placement p = placer.Evaluate(k, d, staging);
        if (p.TotalBytes() <= budget) return placer.LoadEarly(std::move(p), budget);
        if (!least || p.TotalBytes() < least->TotalBytes()) least = std::move(p);
      }
    }
  }
  const size_t streamed = static_cast<size_t>(std::count(least->streamed.begin(), least->streamed.end(), true));
  const std::string where =
      step_names.empty() ? "" : " at step " + std::to_string(least->bound.step) + " (node '" +
                                    step_names[std::min<size_t>(least->bound.step, step_names.size() - 1)] + "')";
  return DoesNotFitError(
      "the budget of " + BytesString(budget) + " is below the minimum feasible " +
      BytesString(least->TotalBytes()) + " (" + std::to_string(streamed) + " of " + std::to_string(n) +
      " weights streamed, prefetch " + std::to_string(least->prefetch_distance) + ": arena " +
      BytesString(least->offsets.arena_bytes) + " + I/O staging " + BytesString(least->staging.Bytes()) +
      "), peak" + where + " with " + BytesString(least->bound.bytes) +
      " live; the minimum feasible budget is " + std::to_string(least->TotalBytes()) +
      " bytes: raise --vram to at least that");
}

}  // namespace ts::passes
