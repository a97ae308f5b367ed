// `tsc inspect PLAN.tsplan --timeline FILE.svg`: a bundle's planned memory over its steps, drawn
// for a person to look at.
//
// The x axis is the memory plan's step index: the program's steps except kLoad and kWait
// (planfmt::IsPlanStep: kernels, builtins, ops, spills and fills), counted as BufferInfo
// intervals and MemoryPlan::peak_step count them. At each step the bytes the plan keeps live in the
// arena fall in three categories, all derived from MemoryPlan::buffers:
//   resident weights  buffers that are a WeightEntry with streamed == false
//   streamed weights  buffers that are a WeightEntry with streamed == true (live from the step at
//                     whose start the load is issued to the weight's last use)
//   activations       every other buffer
// A buffer is a weight when a WeightEntry has its name, arena offset and size. Bytes are the
// tensors' own sizes; the plan's lower bound rounds each buffer up to the arena alignment
// (passes/memory_planner.h), so it may exceed the drawn maximum by that padding. The runtime's I/O
// staging buffers (io_chunk_bytes x io_queue_depth) lie outside the arena and are allocated for
// the whole run: they are drawn as a fourth band on top, next to the streamed weights they serve.
//
// What the bundle does not say is not drawn: the budget is drawn only when the metadata records
// one (key "budget_bytes", a decimal byte count, which tsc compile --vram writes); a plan
// compiled without --vram has none, and the legend says so. Weights with no buffer, and buffers whose interval lies outside
// the program's steps (only a hand-made bundle has them), are left out and named in a note.
//
// Both functions are pure and total: they accept any PlanContents that ReadBundle returned (every
// size in range, intervals not checked against the step count) and never fail.
#ifndef TENSORSHUNT_CLI_TIMELINE_H_
#define TENSORSHUNT_CLI_TIMELINE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "planfmt/plan.h"

namespace ts::cli {

struct StepBytes {
  uint64_t resident_weights = 0;
  uint64_t streamed_weights = 0;
  uint64_t activations = 0;

  uint64_t Arena() const;  // the three together (saturating)
  bool operator==(const StepBytes&) const = default;
};

struct Timeline {
  std::vector<StepBytes> steps;         // one per compute step
  std::vector<std::string> step_nodes;  // the node of each compute step
  uint64_t staging_bytes = 0;           // I/O staging, outside the arena, live at every step
  uint64_t arena_bytes = 0;             // the planned peak: the report's peak_bytes
  uint64_t lower_bound_bytes = 0;       // as recorded: max over steps of the live arena bytes
  uint32_t peak_step = 0;               // as recorded
  std::string peak_node;
  bool bound_counts_padding = false;  // lower_bound_bytes is the drawn peak plus alignment padding
  std::optional<uint64_t> budget_bytes;  // only when the bundle records one
  std::vector<std::string> notes;        // what could not be derived, one sentence each

  uint64_t TotalBytes() const;  // arena + staging (saturating): the report's total_bytes
};

// Per-step category bytes of a loaded plan. O(steps + buffers + weights log weights).
Timeline ComputeTimeline(const planfmt::PlanContents& plan);

// A standalone SVG document: stacked per-step areas, the planned peak, arena + staging and budget
// lines, the peak step marked, MiB axes, a legend and `title` (any bytes; escaped).
std::string RenderTimelineSvg(const Timeline& t, std::string_view title);

// `text` as XML character data valid in text and attribute values: markup characters become
// entities, bytes that are not well-formed UTF-8 or not XML characters (controls, U+FFFE, ...)
// become "\xNN".
std::string XmlText(std::string_view text);

}  // namespace ts::cli

#endif  // TENSORSHUNT_CLI_TIMELINE_H_
