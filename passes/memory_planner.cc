#include "passes/memory_planner.h"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <map>
#include <numeric>

namespace ts::passes {

std::string BytesString(uint64_t bytes) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%llu bytes (%.2f MiB)", static_cast<unsigned long long>(bytes),
                bytes / 1048576.0);
  return buf;
}

uint64_t AlignUp(uint64_t x, uint64_t alignment) {
  return (x + alignment - 1) / alignment * alignment;
}

namespace {
bool Overlaps(const Interval& a, const Interval& b) {
  return a.first <= b.last && b.first <= a.last;
}
}  // namespace

std::vector<size_t> LargestFirst(const std::vector<Interval>& intervals) {
  std::vector<size_t> order(intervals.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (intervals[a].bytes != intervals[b].bytes) return intervals[a].bytes > intervals[b].bytes;
    return intervals[a].first < intervals[b].first;
  });
  return order;
}

std::vector<size_t> BusiestStepFirst(const std::vector<Interval>& intervals, uint64_t alignment) {
  std::vector<size_t> order = LargestFirst(intervals);
  if (intervals.empty()) return order;
  int64_t lo = INT64_MAX, hi = INT64_MIN;
  for (const Interval& iv : intervals) {
    lo = std::min(lo, iv.first);
    hi = std::max(hi, iv.last);
  }
  if (hi < lo) return order;
  // Bytes live per step (a difference array, then its running sum) ...
  std::vector<uint64_t> live(static_cast<size_t>(hi - lo) + 2, 0);
  for (const Interval& iv : intervals) {
    if (iv.last < iv.first) continue;
    live[static_cast<size_t>(iv.first - lo)] += AlignUp(iv.bytes, alignment);
    live[static_cast<size_t>(iv.last - lo) + 1] -= AlignUp(iv.bytes, alignment);
  }
  for (size_t st = 1; st < live.size(); ++st) live[st] += live[st - 1];
  // ... and per buffer the most live at any of its steps, found with a sparse table.
  const size_t steps = live.size() - 1;
  std::vector<std::vector<uint64_t>> table{std::vector<uint64_t>(live.begin(), live.end() - 1)};
  for (size_t w = 1; 2 * w <= steps; w *= 2) {
    const std::vector<uint64_t>& prev = table.back();
    std::vector<uint64_t> next(steps - 2 * w + 1);
    for (size_t st = 0; st < next.size(); ++st) next[st] = std::max(prev[st], prev[st + w]);
    table.push_back(std::move(next));
  }
  auto busiest = [&](const Interval& iv) -> uint64_t {
    if (iv.last < iv.first) return 0;
    const size_t a = static_cast<size_t>(iv.first - lo), b = static_cast<size_t>(iv.last - lo) + 1;
    size_t level = 0;
    while ((size_t{2} << level) <= b - a) ++level;
    return std::max(table[level][a], table[level][b - (size_t{1} << level)]);
  };
  std::vector<uint64_t> key(intervals.size());
  for (size_t i = 0; i < intervals.size(); ++i) key[i] = busiest(intervals[i]);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return key[a] > key[b]; });
  return order;
}

OffsetPlan PlanOffsetsInOrder(const std::vector<Interval>& intervals, const std::vector<size_t>& order,
                              uint64_t alignment) {
  OffsetPlan plan;
  plan.offsets.assign(intervals.size(), 0);
  std::vector<size_t> placed;
  std::vector<std::pair<uint64_t, uint64_t>> busy;  // [offset, end) of time-overlapping buffers
  for (size_t i : order) {
    const uint64_t size = AlignUp(intervals[i].bytes, alignment);
    busy.clear();
    for (size_t j : placed) {
      if (Overlaps(intervals[i], intervals[j])) {
        busy.emplace_back(plan.offsets[j], plan.offsets[j] + AlignUp(intervals[j].bytes, alignment));
      }
    }
    std::sort(busy.begin(), busy.end());
    uint64_t best = UINT64_MAX, best_gap = UINT64_MAX, cursor = 0;
    for (const auto& [start, end] : busy) {
      if (start > cursor && start - cursor >= size && start - cursor < best_gap) {
        best = cursor;
        best_gap = start - cursor;
      }
      cursor = std::max(cursor, end);
    }
    plan.offsets[i] = best != UINT64_MAX ? best : cursor;
    plan.arena_bytes = std::max(plan.arena_bytes, plan.offsets[i] + size);
    placed.push_back(i);
  }
  return plan;
}

std::vector<size_t> LongestLivedFirst(const std::vector<Interval>& intervals) {
  std::vector<size_t> order = LargestFirst(intervals);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return intervals[a].last - intervals[a].first > intervals[b].last - intervals[b].first;
  });
  return order;
}

OffsetPlan PlanOffsets(const std::vector<Interval>& intervals, uint64_t alignment) {
  OffsetPlan best = PlanOffsetsInOrder(intervals, LargestFirst(intervals), alignment);
  for (const std::vector<size_t>& order : {BusiestStepFirst(intervals, alignment), LongestLivedFirst(intervals)}) {
    OffsetPlan p = PlanOffsetsInOrder(intervals, order, alignment);
    if (p.arena_bytes < best.arena_bytes) best = std::move(p);
  }
  return best;
}

LiveBound LiveBytesLowerBound(const std::vector<Interval>& intervals, uint64_t alignment) {
  // Sweep over interval starts and ends.
  std::map<int64_t, int64_t> delta;
  for (const Interval& iv : intervals) {
    delta[iv.first] += static_cast<int64_t>(AlignUp(iv.bytes, alignment));
    delta[iv.last + 1] -= static_cast<int64_t>(AlignUp(iv.bytes, alignment));
  }
  LiveBound bound;
  int64_t live = 0;
  for (const auto& [step, d] : delta) {
    live += d;
    if (live > static_cast<int64_t>(bound.bytes)) {
      bound.bytes = static_cast<uint64_t>(live);
      bound.step = step;
    }
  }
  return bound;
}

Status CheckNoOverlap(const std::vector<Interval>& intervals, const OffsetPlan& plan,
                      uint64_t alignment) {
  if (plan.offsets.size() != intervals.size()) return InternalError("plan size mismatch");
  for (size_t i = 0; i < intervals.size(); ++i) {
    if (plan.offsets[i] % alignment) {
      return InternalError("buffer " + std::to_string(i) + " misaligned at " +
                           std::to_string(plan.offsets[i]));
    }
    if (plan.offsets[i] + intervals[i].bytes > plan.arena_bytes) {
      return InternalError("buffer " + std::to_string(i) + " ends past the arena");
    }
    for (size_t j = i + 1; j < intervals.size(); ++j) {
      if (!Overlaps(intervals[i], intervals[j])) continue;
      if (intervals[i].bytes == 0 || intervals[j].bytes == 0) continue;
      uint64_t ai = plan.offsets[i], bi = ai + intervals[i].bytes;
      uint64_t aj = plan.offsets[j], bj = aj + intervals[j].bytes;
      if (ai < bj && aj < bi) {
        return InternalError("buffers " + std::to_string(i) + " and " + std::to_string(j) +
                             " overlap in time and space");
      }
    }
  }
  return OkStatus();
}

std::string DrawPlan(const std::vector<Interval>& intervals, const OffsetPlan& plan) {
  int64_t steps = 0;
  for (const Interval& iv : intervals) steps = std::max(steps, iv.last + 1);
  std::string out;
  for (size_t i = 0; i < intervals.size(); ++i) {
    char label[64];
    std::snprintf(label, sizeof label, "%4zu @%10llu %10llu |", i,
                  static_cast<unsigned long long>(plan.offsets[i]),
                  static_cast<unsigned long long>(intervals[i].bytes));
    out += label;
    for (int64_t s = 0; s < steps; ++s) {
      out += (s >= intervals[i].first && s <= intervals[i].last) ? '#' : '.';
    }
    out += "|\n";
  }
  return out;
}

}  // namespace ts::passes
