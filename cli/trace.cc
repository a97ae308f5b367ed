#include "cli/trace.h"

#include <nlohmann/json.hpp>

namespace ts::cli {
namespace {

constexpr int kComputeTrack = 1;
constexpr int kStorageTrack = 2;

nlohmann::json ThreadName(int tid, const char* name) {
  return {{"name", "thread_name"}, {"ph", "M"}, {"pid", 1}, {"tid", tid}, {"args", {{"name", name}}}};
}

}  // namespace

std::string StepCategory(const planfmt::Step& s) {
  if (!planfmt::IsPlanStep(s.kind)) return "";
  switch (s.kind) {
    case planfmt::StepKind::kJitKernel:
      return "kernel";
    case planfmt::StepKind::kOp:
      return "op:" + s.symbol;
    case planfmt::StepKind::kSpill:
      return "spill";
    case planfmt::StepKind::kFill:
      return "fill";
    default:
      return "builtin";
  }
}

RunProfile ProfileRun(const planfmt::PlanContents& plan, const runtime::RunTrace& trace) {
  RunProfile p;
  const auto& steps = plan.program.steps;
  p.step_ms.assign(steps.size(), -1);
  for (size_t i = 0; i < steps.size() && i < trace.step_begin_us.size(); ++i) {
    const double begin = trace.step_begin_us[i], end = trace.step_end_us[i];
    if (begin < 0 || end < begin) continue;
    const double ms = (end - begin) / 1000;
    if (planfmt::IsPlanStep(steps[i].kind)) {
      p.category_ms[StepCategory(steps[i])] += ms;
      p.step_ms[i] = ms;
    } else if (steps[i].kind == planfmt::StepKind::kWait) {
      p.category_ms["stall"] += ms;
    }
  }
  return p;
}

std::string ChromeTrace(const planfmt::PlanContents& plan, const runtime::RunTrace& trace) {
  nlohmann::json events = nlohmann::json::array();
  events.push_back(ThreadName(kComputeTrack, "compute"));
  events.push_back(ThreadName(kStorageTrack, "storage reads"));
  const auto& steps = plan.program.steps;
  uint32_t compute_step = 0;  // the memory plan's step index: loads and waits are not counted
  for (size_t i = 0; i < steps.size() && i < trace.step_begin_us.size(); ++i) {
    const planfmt::Step& s = steps[i];
    const double begin = trace.step_begin_us[i], end = trace.step_end_us[i];
    if (begin < 0 || end < begin) continue;
    if (planfmt::IsPlanStep(s.kind)) {
      // Planned live bytes while this step runs.
      uint64_t live = 0;
      for (const auto& b : plan.memory.buffers) {
        if (b.first_step <= compute_step && compute_step <= b.last_step) live += b.bytes;
      }
      events.push_back({{"name", "planned live arena bytes"}, {"ph", "C"}, {"pid", 1}, {"ts", begin},
                        {"args", {{"bytes", live}}}});
      events.push_back({{"name", s.node}, {"cat", StepCategory(s)},
                        {"ph", "X"}, {"pid", 1}, {"tid", kComputeTrack}, {"ts", begin}, {"dur", end - begin},
                        {"args", {{"step", i}, {"compute_step", compute_step}}}});
      ++compute_step;
    } else if (s.kind == planfmt::StepKind::kWait && end > begin) {
      events.push_back({{"name", s.node}, {"cat", "stall"}, {"ph", "X"}, {"pid", 1}, {"tid", kComputeTrack},
                        {"ts", begin}, {"dur", end - begin}});
    }
  }
  for (size_t w = 0; w < plan.weights.size() && w < trace.load_begin_us.size(); ++w) {
    const double begin = trace.load_begin_us[w], end = trace.load_end_us[w];
    if (begin < 0 || end < begin) continue;
    events.push_back({{"name", "read " + plan.weights[w].name}, {"cat", "storage"}, {"ph", "X"}, {"pid", 1},
                      {"tid", kStorageTrack}, {"ts", begin}, {"dur", end - begin},
                      {"args", {{"bytes", plan.weights[w].bytes}}}});
  }
  nlohmann::json doc = {{"traceEvents", events}, {"displayTimeUnit", "ms"}};
  return doc.dump(1) + "\n";
}

}  // namespace ts::cli
