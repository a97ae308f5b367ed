#include "passes/cost_model.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "ir/ops.h"
#include "runtime/ops/op.h"

namespace ts::passes {
namespace {

double Elements(const ir::Value& v) {
  double n = 1;
  for (int64_t d : v.shape) n *= static_cast<double>(d);
  return n;
}

double Bytes(const ir::Value& v) { return Elements(v) * static_cast<double>(DTypeSize(v.dtype)); }

// A Conv the runtime multiplies directly (no im2col): 1x1 window, stride 1, no padding.
bool IsPointwise(const ir::Node& n, const ir::Value& w) {
  for (size_t i = 2; i < w.shape.size(); ++i) {
    if (w.shape[i] != 1) return false;
  }
  auto all = [&](const char* key, int64_t value) {
    auto v = n.IntsAttr(key);
    return !v || std::all_of(v->begin(), v->end(), [&](int64_t x) { return x == value; });
  };
  return all("strides", 1) && all("pads", 0);
}

}  // namespace

OpCost EstimateOpCost(const ir::Graph& g, const ir::Node& n) {
  OpCost c;
  for (int v : n.inputs) {
    if (v >= 0) c.bytes += Bytes(g.values[v]);
  }
  for (int v : n.outputs) {
    if (v >= 0) c.bytes += Bytes(g.values[v]);
  }
  if (n.outputs.empty() || n.outputs[0] < 0) return c;
  const ir::Value& out = g.values[n.outputs[0]];
  if (n.op == ir::kElementwiseOp) {
    c.flops = static_cast<double>(n.IntAttrOr("ops", 1)) * Elements(out);
  } else if (n.op == "MatMul" || n.op == "Gemm") {
    // 2 x output elements x the contracted dimension, read from A's shape.
    const ir::Value& a = g.values[n.inputs[0]];
    const bool trans_a = n.op == "Gemm" && n.IntAttrOr("transA", 0) != 0;
    const double k = a.shape.empty() ? 1 : static_cast<double>(trans_a ? a.shape[0] : a.shape.back());
    c.flops = 2 * Elements(out) * k;
    c.math = a.dtype;
    if (n.op == "Gemm" && n.inputs.size() > 2 && n.inputs[2] >= 0) c.flops += Elements(out);
  } else if ((n.op == "Conv" || n.op == ir::kFusedConvOp || n.op == "ConvTranspose") && n.inputs.size() > 1 &&
             n.inputs[1] >= 0) {
    const bool conv = n.op != "ConvTranspose";
    // 2 x multiply-adds: each output element of a Conv (each input element of a ConvTranspose)
    // meets one weight slice of (channels per group x kernel window) values.
    const ir::Value& w = g.values[n.inputs[1]];
    const double slice = w.shape.empty() || w.shape[0] == 0 ? 0 : Elements(w) / static_cast<double>(w.shape[0]);
    const double per = conv ? Elements(out) : Elements(g.values[n.inputs[0]]);
    c.flops = 2 * per * slice;
    // The bias, and TsFusedConv's addend and ReLU.
    for (size_t i = 2; i < n.inputs.size(); ++i) {
      if (n.inputs[i] >= 0) c.flops += Elements(out);
    }
    if (n.op == ir::kFusedConvOp && !n.StringAttr("activation").value_or("").empty()) c.flops += Elements(out);
    if (conv && !IsPointwise(n, w)) {
      // The runtime gathers the image into columns (im2col), then the GEMM packs them: each
      // column element is written once and read once, in a pass of its own.
      const double group = static_cast<double>(std::max<int64_t>(n.IntAttrOr("group", 1), 1));
      const double out_channels = out.shape.size() > 1 ? static_cast<double>(out.shape[1]) : 1;
      const double columns = out_channels == 0 ? 0 : Elements(out) / out_channels * group * slice;
      c.copy_bytes = 2 * columns * static_cast<double>(DTypeSize(out.dtype));
    }
    const ir::Value& x = g.values[n.inputs[0]];
    if (conv && ops::ConvTakesDirectKernel(ops::AttrView(n.attrs), x.dtype, x.shape, w.shape)) {
      c.direct_conv = true;
      // The padded input, copied into its phase images and read back (1x1 unpadded: in place).
      if (!IsPointwise(n, w)) c.direct_copy_bytes = 2 * Bytes(x);
    }
  } else if (n.op == "Softmax") {
    c.flops = 5 * Elements(out);  // max, subtract, exp, sum, scale
  }
  return c;
}

double ComputeSeconds(const OpCost& cost, const HardwareProfile& p) {
  const double inf = std::numeric_limits<double>::infinity();
  const bool direct = cost.direct_conv && p.target == "cpu" && p.conv_flops_fp32 > 0;
  double rate = direct ? p.conv_flops_fp32 : p.peak_flops_fp32;
  if (cost.math == DType::kF16 && p.peak_flops_fp16 > 0) rate = p.peak_flops_fp16;
  if (cost.math == DType::kBF16 && p.peak_flops_bf16 > 0) rate = p.peak_flops_bf16;
  const double flop_s = cost.flops == 0 ? 0 : rate > 0 ? cost.flops / rate : inf;
  const double copy_bytes = direct ? cost.direct_copy_bytes : cost.copy_bytes;
  const double mem_s = cost.bytes == 0 ? 0
                       : p.device_memory_bandwidth > 0 ? cost.bytes / p.device_memory_bandwidth
                                                       : inf;
  const double copy_s = copy_bytes == 0 ? 0
                        : p.device_memory_bandwidth > 0 ? copy_bytes / p.device_memory_bandwidth
                                                        : inf;
  return std::max(flop_s, mem_s) + copy_s + p.kernel_launch_latency_s;
}

double TransferSeconds(uint64_t bytes, double bandwidth, double latency_s) {
  if (bytes == 0) return 0;
  if (bandwidth <= 0) return std::numeric_limits<double>::infinity();
  return latency_s + static_cast<double>(bytes) / bandwidth;
}

double StorageReadSeconds(uint64_t bytes, uint64_t chunk_bytes, int depth, double bandwidth,
                          double latency_s) {
  if (bytes == 0) return 0;
  if (bandwidth <= 0) return std::numeric_limits<double>::infinity();
  const uint64_t chunks = chunk_bytes ? (bytes + chunk_bytes - 1) / chunk_bytes : 1;
  const uint64_t rounds = (chunks + static_cast<uint64_t>(std::max(depth, 1)) - 1) /
                          static_cast<uint64_t>(std::max(depth, 1));
  return static_cast<double>(rounds) * latency_s + static_cast<double>(bytes) / bandwidth;
}

Timeline PredictTimeline(const std::vector<double>& step_seconds,
                         const std::vector<StreamedLoad>& loads, const StorageLink& storage) {
  Timeline t;
  double now = 0, storage_free = 0;
  std::vector<double> ready(loads.size(), 0);
  size_t next_load = 0;
  for (size_t s = 0; s < step_seconds.size(); ++s) {
    // Loads issued at this step's start queue on the storage stream in issue order.
    for (; next_load < loads.size() && loads[next_load].load_step <= static_cast<int64_t>(s);
         ++next_load) {
      const double d = StorageReadSeconds(loads[next_load].bytes, storage.chunk_bytes, storage.depth,
                                          storage.bandwidth, storage.latency_s);
      const double start = std::max(now, storage_free);
      storage_free = start + d;
      ready[next_load] = storage_free;
      t.transfer_s += d;
      const double host = static_cast<double>(loads[next_load].bytes) * storage.host_s_per_byte;
      t.host_copy_s += host;
      now += host;
    }
    for (size_t l = 0; l < next_load; ++l) {
      if (loads[l].first_use_step == static_cast<int64_t>(s) && ready[l] > now) {
        t.stall_s += ready[l] - now;
        now = ready[l];
      }
    }
    now += step_seconds[s];
    t.compute_s += step_seconds[s];
  }
  t.total_s = now;
  // An undescribed link (bandwidth 0) makes both infinite: nothing is hidden.
  t.hidden_fraction = t.transfer_s > 0 && std::isfinite(t.transfer_s) ? 1 - t.stall_s / t.transfer_s
                      : t.transfer_s > 0                                ? 0
                                                                        : 1;
  return t;
}

}  // namespace ts::passes
