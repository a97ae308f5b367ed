// The cost model: how long each step and each transfer takes on a machine described by a
// hardware profile, and the timeline a plan will follow there.
//
// Per op, a roofline: max(FLOPs / peak FLOP/s, bytes moved / memory bandwidth), plus a separate
// pass over any copies the runtime makes first (a Conv's im2col columns), plus the launch
// latency. Per transfer: latency + bytes / bandwidth of its link. The timeline runs two streams,
// compute and storage reads, in program order: a load starts when both its load step has begun
// and the storage stream is free; a step that first uses a streamed weight waits for it.
#ifndef TENSORSHUNT_PASSES_COST_MODEL_H_
#define TENSORSHUNT_PASSES_COST_MODEL_H_

#include <cstdint>
#include <vector>

#include "ir/graph.h"
#include "passes/hardware_profile.h"

namespace ts::passes {

struct OpCost {
  double flops = 0;
  double bytes = 0;       // read + written
  double copy_bytes = 0;  // moved in a pass of its own before the arithmetic (im2col columns)
  // A Conv the CPU's direct kernel runs (ops::DirectConvApplies): on a profile with
  // conv_flops_fp32, its FLOPs go at that rate and direct_copy_bytes (the padded input copied
  // into phase images and read back) replace copy_bytes.
  bool direct_conv = false;
  double direct_copy_bytes = 0;
  // A matrix product's operand type: f16 and bf16 products go at the profile's rate for that
  // type where it gives one (HalfPrecisionProducts), the rest at the f32 rate.
  DType math = DType::kF32;
};

// FLOPs and bytes of one node (after fusion: "Elementwise" nodes count one FLOP per op of their
// program per output element; MatMul, Gemm, Conv and ConvTranspose two per multiply-add;
// Softmax five per element; other ops only move bytes). Needs: shapes inferred.
OpCost EstimateOpCost(const ir::Graph& g, const ir::Node& n);

// Roofline time of `cost` computed in f32 on `p`, in seconds: max(FLOPs / peak, bytes /
// bandwidth) + copy_bytes / bandwidth + launch latency (for a direct_conv on a cpu profile with
// conv_flops_fp32: that rate and direct_copy_bytes instead).
double ComputeSeconds(const OpCost& cost, const HardwareProfile& p);

// latency + bytes / bandwidth; 0 bytes cost nothing. A link with no bandwidth is infinitely slow.
double TransferSeconds(uint64_t bytes, double bandwidth, double latency_s);

// A read of `bytes` from storage in chunks of `chunk_bytes` with `depth` in flight (the
// runtime's staging): each round of `depth` chunks pays the latency once, the bytes pay the
// bandwidth. chunk_bytes 0 means one chunk.
double StorageReadSeconds(uint64_t bytes, uint64_t chunk_bytes, int depth, double bandwidth,
                          double latency_s);

// One streamed weight as the timeline sees it.
struct StreamedLoad {
  uint64_t bytes = 0;
  int64_t load_step = 0;       // the step at whose start the load is issued
  int64_t first_use_step = 0;  // the step that waits for it
};

struct Timeline {
  double total_s = 0;          // one run, first step to last
  double compute_s = 0;        // sum of step times
  double host_copy_s = 0;      // compute time taken by the host's handling of streamed bytes
  double transfer_s = 0;       // sum of load times on the storage stream
  double stall_s = 0;          // compute waiting for loads
  // Share of transfer time hidden behind compute: 1 - stall / transfer (1 when nothing moves).
  double hidden_fraction = 1;
};

struct StorageLink {
  double bandwidth = 0;  // bytes/s
  double latency_s = 0;
  uint64_t chunk_bytes = 0;  // staging chunk; 0: whole reads
  int depth = 1;             // chunks in flight
  // CPU time per streamed byte taken from the compute stream: on the CPU target the reader
  // thread copies each byte out of staging and hashes it on the cores the kernels use.
  double host_s_per_byte = 0;
  // Each load is one copy paying the latency once (the CUDA target's copies from pinned host
  // memory), whatever the plan's staging chunk.
  bool whole_copies = false;
};

// Simulates one run: `step_seconds[i]` per compute step, loads in issue order; a load's host
// handling (bytes x host_s_per_byte) lengthens the step during which it is issued.
Timeline PredictTimeline(const std::vector<double>& step_seconds,
                         const std::vector<StreamedLoad>& loads, const StorageLink& storage);

}  // namespace ts::passes

#endif  // TENSORSHUNT_PASSES_COST_MODEL_H_
