#include "passes/memory_planner.h"

#include <algorithm>
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

OffsetPlan PlanOffsets(const std::vector<Interval>& intervals, uint64_t alignment) {
  const size_t n = intervals.size();
  std::vector<size_t> by_size(n);
  std::iota(by_size.begin(), by_size.end(), 0);
  std::stable_sort(by_size.begin(), by_size.end(), [&](size_t a, size_t b) {
    if (intervals[a].bytes != intervals[b].bytes) return intervals[a].bytes > intervals[b].bytes;
    return intervals[a].first < intervals[b].first;
  });
  OffsetPlan plan;
  plan.offsets.assign(n, 0);
  std::vector<size_t> placed;
  std::vector<std::pair<uint64_t, uint64_t>> busy;  // [offset, end) of time-overlapping buffers
  for (size_t i : by_size) {
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
