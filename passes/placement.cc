#include "passes/placement.h"

#include <algorithm>
#include <cstdio>
#include <numeric>
#include <optional>

namespace ts::passes {
namespace {

constexpr uint64_t kPage = 4096;
// Tight read-ahead fills the arena up to this factor of the plan's live-bytes lower bound;
// read-ahead filling the budget is kept only when packed within it too.
constexpr double kPackingSlack = 1.02;
// Rounds of read-ahead under a lower arena limit that a loosely packed plan gets.
constexpr int kLooseRounds = 6;

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

// Whether the plan's arena is within kPackingSlack x the bytes its buffers keep live at one step.
bool Packed(const Placement& p) {
  return static_cast<double>(p.offsets.arena_bytes) <= static_cast<double>(p.bound.bytes) * kPackingSlack;
}

class Placer {
 public:
  Placer(const Liveness& lv) : lv_(lv) {
    for (size_t b = 0; b < lv.buffers.size(); ++b) {
      // A weight the program writes (a key/value cache) keeps its contents between runs: never
      // streamed.
      if (lv.buffers[b].resident && !lv.buffers[b].written) by_size_.push_back(static_cast<int>(b));
    }
    std::stable_sort(by_size_.begin(), by_size_.end(), [&](int a, int b) {
      return lv.buffers[a].bytes > lv.buffers[b].bytes;
    });
  }

  int candidates() const { return static_cast<int>(by_size_.size()); }
  const std::vector<int>& by_size() const { return by_size_; }

  // The weights whose reads can hide behind the compute before their first use (read time at
  // the link's bandwidth at most the predicted compute before it) largest first, then the rest
  // largest first: a weight needed at the first step costs its whole read every run.
  std::vector<int> HideableFirst(const PlacementTiming& timing) const {
    std::vector<double> before(timing.step_seconds.size() + 1, 0);
    for (size_t s = 0; s < timing.step_seconds.size(); ++s) before[s + 1] = before[s] + timing.step_seconds[s];
    auto hideable = [&](int b) {
      const Buffer& buf = lv_.buffers[b];
      const size_t first = static_cast<size_t>(std::clamp<int64_t>(buf.use.first, 0, static_cast<int64_t>(before.size()) - 1));
      return timing.storage.bandwidth > 0 && static_cast<double>(buf.bytes) / timing.storage.bandwidth <= before[first];
    };
    std::vector<int> order = by_size_;
    std::stable_partition(order.begin(), order.end(), hideable);
    return order;
  }

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

  // The plan with the first `k` weights of `order` (default: the k largest) streamed at
  // prefetch distance `d`.
  Placement Evaluate(int k, int d, const Staging& staging, const std::vector<int>* order = nullptr) const {
    const std::vector<int>& from = order ? *order : by_size_;
    Placement p;
    p.prefetch_distance = d;
    p.staging = staging;
    p.streamed.assign(lv_.buffers.size(), false);
    p.load_step.assign(lv_.buffers.size(), -1);
    for (int i = 0; i < k; ++i) p.streamed[from[i]] = true;
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

  // Moves each streamed weight's load of the fitting plan `p` as early as `budget` allows. In
  // order of first use, each streamed weight takes the earliest load step L (not before the
  // previous load: reads are served in issue order, so starting earlier would only hold arena
  // bytes) at which some arena gap below budget - staging is free of every other buffer live
  // in [L, last use]; it moves to the lowest such gap. The other buffers keep their offsets, so
  // the test is exact and monotone in L (fewer buffers are live over a shorter span), and a
  // bisection over the steps finds the earliest.
  Placement LoadEarly(Placement p, uint64_t budget, bool tight) const {
    if (budget < p.staging.Bytes()) return p;
    const uint64_t cap = budget - p.staging.Bytes();
    std::vector<int> order;
    for (size_t b = 0; b < lv_.buffers.size(); ++b) {
      if (p.streamed[b]) order.push_back(static_cast<int>(b));
    }
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
      return lv_.buffers[a].use.first < lv_.buffers[b].use.first;
    });
    // Bytes live per step (aligned, as the lower bound counts them) and their maximum: with
    // `tight`, read-ahead may fill the arena only up to kPackingSlack x that bound, so it does
    // not leave the arena loosely packed; otherwise up to the budget.
    std::vector<uint64_t> live;
    for (const Interval& iv : p.intervals) {
      if (iv.last >= static_cast<int64_t>(live.size())) live.resize(static_cast<size_t>(iv.last) + 1, 0);
      for (int64_t st = iv.first; st <= iv.last; ++st) live[static_cast<size_t>(st)] += AlignUp(iv.bytes, kArenaAlignment);
    }
    uint64_t bound = live.empty() ? 0 : *std::max_element(live.begin(), live.end());
    // The arena limit if buffer b's interval started at `first` instead of where it does.
    auto limit = [&](int b, int64_t first) {
      const uint64_t size = AlignUp(p.intervals[b].bytes, kArenaAlignment);
      uint64_t lb = bound;
      for (int64_t st = first; st < p.intervals[b].first; ++st) lb = std::max(lb, live[static_cast<size_t>(st)] + size);
      if (!tight) return cap;
      const auto slack = static_cast<uint64_t>(static_cast<double>(lb) * kPackingSlack);
      return std::min(cap, std::max(p.offsets.arena_bytes, slack));
    };
    // The lowest offset where buffer b fits below the limit if it lives over [first, last], or none.
    auto gap = [&](int b, int64_t first, int64_t last) -> std::optional<uint64_t> {
      std::vector<std::pair<uint64_t, uint64_t>> taken;  // [offset, end) of buffers live then
      for (size_t c = 0; c < p.intervals.size(); ++c) {
        const Interval& iv = p.intervals[c];
        if (static_cast<int>(c) == b || iv.bytes == 0 || iv.last < first || iv.first > last) continue;
        taken.push_back({p.offsets.offsets[c], p.offsets.offsets[c] + AlignUp(iv.bytes, kArenaAlignment)});
      }
      std::sort(taken.begin(), taken.end());
      const uint64_t size = AlignUp(p.intervals[b].bytes, kArenaAlignment);
      uint64_t at = 0;
      for (const auto& [begin, end] : taken) {
        if (begin >= at + size) break;
        at = std::max(at, end);
      }
      if (at + size > limit(b, first)) return std::nullopt;
      return at;
    };
    int64_t floor = 0;
    for (int b : order) {
      Interval& iv = p.intervals[b];
      int64_t lo = floor, hi = iv.first;  // at hi it fits where it is
      std::optional<uint64_t> where;
      while (lo < hi) {
        const int64_t mid = lo + (hi - lo) / 2;
        if (auto at = gap(b, mid, iv.last)) {
          hi = mid;
          where = at;
        } else {
          lo = mid + 1;
        }
      }
      if (where && hi < iv.first) {
        for (int64_t st = hi; st < iv.first; ++st) {
          live[static_cast<size_t>(st)] += AlignUp(iv.bytes, kArenaAlignment);
          bound = std::max(bound, live[static_cast<size_t>(st)]);
        }
        iv.first = hi;
        p.load_step[b] = hi;
        p.offsets.offsets[b] = *where;
        p.offsets.arena_bytes = std::max(p.offsets.arena_bytes, *where + AlignUp(iv.bytes, kArenaAlignment));
      }
      floor = p.load_step[b];
    }
    p.bound = LiveBytesLowerBound(p.intervals);
    // Moving weights into gaps one by one fragments the arena; packing the final intervals
    // afresh is usually tighter. Kept only when it is, and still fits.
    OffsetPlan repacked = PlanOffsets(p.intervals);
    if (repacked.arena_bytes < p.offsets.arena_bytes) p.offsets = std::move(repacked);
    return p;
  }

 private:
  const Liveness& lv_;
  std::vector<int> by_size_;
};

// The fitting plan `fits` (the k largest weights streamed at distance d with staging s) read
// ahead; with `timing`, the fastest predicted of it and of the plans at the same d and s that
// stream more of the largest weights, or the weights in HideableFirst order (from the fewest
// that fit). Counts of streamed weights are tried at growing gaps (k+1, k+2, k+3, k+4, k+6,
// ...) until a plan's reads alone would take longer than the best run so far.
Placement Fastest(const Placer& placer, Placement fits, int k, uint64_t budget,
                  const Liveness& lv, const PlacementTiming* timing) {
  if (!timing) return placer.LoadEarly(std::move(fits), budget, /*tight=*/true);
  const int d = fits.prefetch_distance, n = placer.candidates();
  const Staging staging = fits.staging;
  auto predict = [&](const Placement& p) {
    return PredictPlacement(lv, p.streamed, p.load_step, staging, *timing).total_s;
  };
  // Read ahead within a tightly packed arena, or fill the budget looser where that is predicted
  // faster. Filling gap by gap fragments the arena; a loose plan packed worse than
  // kPackingSlack x its own live-bytes bound is read ahead again under an arena limit of that
  // much (a few rounds, each limit lower), and kept only once it packs that well. Where gaps
  // open depends on where the resident buffers sit, so both are tried from the plan's packing
  // and from the largest-first packing of the same intervals (when that fits too).
  auto ahead = [&](const Placement& p) {
    std::vector<Placement> bases = {p};
    OffsetPlan by_size = PlanOffsetsInOrder(p.intervals, LargestFirst(p.intervals));
    if (by_size.offsets != p.offsets.offsets && by_size.arena_bytes + staging.Bytes() <= budget) {
      bases.push_back(p);
      bases.back().offsets = std::move(by_size);
    }
    std::pair<Placement, double> best_ahead;
    bool have = false;
    auto keep = [&](Placement q) {
      const double t = predict(q);
      if (!have || t < best_ahead.second) best_ahead = {std::move(q), t};
      have = true;
    };
    for (const Placement& base : bases) {
      keep(placer.LoadEarly(base, budget, /*tight=*/true));
      Placement loose = placer.LoadEarly(base, budget, /*tight=*/false);
      uint64_t last_limit = UINT64_MAX;
      for (int round = 0; round < kLooseRounds && !Packed(loose); ++round) {
        const auto limit = static_cast<uint64_t>(static_cast<double>(loose.bound.bytes) * kPackingSlack);
        // Stop when the limit would not move: the same limit gives the same plan.
        if (limit >= loose.offsets.arena_bytes || limit >= last_limit) break;
        last_limit = limit;
        loose = placer.LoadEarly(base, staging.Bytes() + limit, /*tight=*/false);
      }
      if (Packed(loose)) keep(std::move(loose));
    }
    return best_ahead;
  };
  // (Not a structured binding: clang before 16 cannot capture one in the lambda below.)
  std::pair<Placement, double> first = ahead(fits);
  Placement best = std::move(first.first);
  double best_s = first.second;
  auto consider = [&](Placement p) {
    auto [q, t] = ahead(p);
    if (t < best_s) {
      best_s = t;
      best = std::move(q);
    }
  };
  auto scan = [&](const std::vector<int>& order, int from) {
    for (int gap = 1, m = from + 1; m <= n; gap = std::max(gap + 1, gap * 3 / 2), m = from + gap) {
      Placement p = placer.Evaluate(m, d, staging, &order);
      // Reads alone bound the run from below, and they only grow with more weights streamed.
      if (StorageReadSeconds(p.streamed_bytes, timing->storage.whole_copies ? 0 : staging.chunk_bytes,
                             static_cast<int>(staging.depth),
                             timing->storage.bandwidth, timing->storage.latency_s) >= best_s) {
        break;
      }
      if (p.TotalBytes() <= budget) consider(std::move(p));
    }
  };
  scan(placer.by_size(), k);
  const std::vector<int> hideable = placer.HideableFirst(*timing);
  if (hideable == placer.by_size()) return best;
  // The fewest of this order that fit, by bisection (all streamed fits: it is the same set).
  int lo = 0, hi = n;
  while (hi - lo > 1) {
    const int mid = lo + (hi - lo) / 2;
    if (placer.Evaluate(mid, d, staging, &hideable).TotalBytes() <= budget) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  Placement fewest = placer.Evaluate(hi, d, staging, &hideable);
  if (fewest.TotalBytes() <= budget) consider(std::move(fewest));
  scan(hideable, hi);
  return best;
}

}  // namespace

Timeline PredictPlacement(const Liveness& lv, const std::vector<bool>& streamed,
                          const std::vector<int64_t>& load_step, const Staging& staging,
                          const PlacementTiming& timing) {
  // Loads in the order the program issues them: by load step, then first use.
  std::vector<StreamedLoad> loads;
  for (size_t b = 0; b < lv.buffers.size() && b < streamed.size(); ++b) {
    if (!streamed[b]) continue;
    const Buffer& buf = lv.buffers[b];
    loads.push_back({AlignUp(buf.bytes, kPage), load_step[b], buf.use.first});
  }
  std::stable_sort(loads.begin(), loads.end(), [](const StreamedLoad& a, const StreamedLoad& b) {
    return a.load_step != b.load_step ? a.load_step < b.load_step : a.first_use_step < b.first_use_step;
  });
  StorageLink storage = timing.storage;
  if (!storage.whole_copies) {
    storage.chunk_bytes = staging.chunk_bytes;
    storage.depth = static_cast<int>(std::max<uint32_t>(staging.depth, 1));
  }
  return PredictTimeline(timing.step_seconds, loads, storage);
}

StatusOr<Placement> PlaceWeights(const Liveness& lv, const std::vector<std::string>& step_names,
                                 uint64_t budget, uint64_t weight_file_bytes,
                                 const PlacementTiming* timing, Refusal* refused) {
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
      int best_k = n;
      while (hi - lo > 1) {
        int mid = lo + (hi - lo) / 2;
        Placement p = placer.Evaluate(mid, d, staging);
        if (p.TotalBytes() <= budget) {
          hi = mid;
          best = std::move(p);
          best_k = mid;
        } else {
          lo = mid;
        }
      }
      return Fastest(placer, std::move(best), best_k, budget, lv, timing);
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
        if (p.TotalBytes() <= budget) return Fastest(placer, std::move(p), k, budget, lv, timing);
        if (!least || p.TotalBytes() < least->TotalBytes()) least = std::move(p);
      }
    }
  }
  if (refused) *refused = {least->TotalBytes(), least->bound.step};
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
