#include "passes/cost_model.h"

#include <gtest/gtest.h>

#include <cmath>

#include "ir/text.h"

namespace ts::passes {
namespace {

HardwareProfile Machine() {
  HardwareProfile p;
  p.peak_flops_fp32 = 1e12;           // 1 TFLOP/s
  p.device_memory_bandwidth = 100e9;  // 100 GB/s
  p.kernel_launch_latency_s = 2e-6;
  return p;
}

ir::Graph Parsed(const std::string& text) {
  auto g = ir::ParseGraph(text);
  EXPECT_TRUE(g.ok()) << g.status().ToString();
  return g.ok() ? *std::move(g) : ir::Graph();
}

// MatMul [64,128] x [128,256]: 2*64*256*128 = 4,194,304 FLOPs; in f32 A is 32 KiB, B 128 KiB,
// C 64 KiB: 229,376 bytes. At 1 TFLOP/s the FLOPs take 4.194 us, at 100 GB/s the bytes 2.294 us:
// compute-bound, 4.194 + 2 (launch) us.
TEST(CostModelTest, MatMulIsComputeBoundByHand) {
  ir::Graph g = Parsed(
      "tsir 1 opset 13\ninput \"a\" f32[64,128]\ninput \"b\" f32[128,256]\noutput \"c\" f32[64,256]\n"
      "node \"mm\" MatMul(\"a\", \"b\") -> (\"c\")\ninputs \"a\", \"b\"\noutputs \"c\"\n");
  OpCost c = EstimateOpCost(g, g.nodes[0]);
  EXPECT_DOUBLE_EQ(c.flops, 4194304);
  EXPECT_DOUBLE_EQ(c.bytes, 229376);
  EXPECT_NEAR(ComputeSeconds(c, Machine()), 4.194304e-6 + 2e-6, 1e-15);
}

// The same product on f16 operands with an f32 result (passes::HalfPrecisionProducts): A is
// 16 KiB, B 64 KiB, C 64 KiB = 147,456 bytes; the FLOPs go at the profile's f16 rate (8 TFLOP/s:
// 0.524 us) and the bytes (1.475 us at 100 GB/s) now bound it: 1.475 + 2 us. Without an f16
// rate in the profile the FLOPs go at the f32 rate.
TEST(CostModelTest, HalfPrecisionProductsGoAtTheF16Rate) {
  ir::Graph g = Parsed(
      "tsir 1 opset 13\ninput \"a\" f16[64,128]\ninput \"b\" f16[128,256]\noutput \"c\" f32[64,256]\n"
      "node \"mm\" MatMul(\"a\", \"b\") -> (\"c\") {out_dtype=i:1}\ninputs \"a\", \"b\"\noutputs \"c\"\n");
  OpCost c = EstimateOpCost(g, g.nodes[0]);
  EXPECT_DOUBLE_EQ(c.flops, 4194304);
  EXPECT_DOUBLE_EQ(c.bytes, 147456);
  EXPECT_EQ(c.math, DType::kF16);
  HardwareProfile p = Machine();
  EXPECT_NEAR(ComputeSeconds(c, p), 4.194304e-6 + 2e-6, 1e-15);  // no f16 rate: f32's
  p.peak_flops_fp16 = 8e12;
  EXPECT_NEAR(ComputeSeconds(c, p), 1.47456e-6 + 2e-6, 1e-15);
}

// A fused 3-op chain over 1M f32 elements with two inputs: 3 MFLOPs (3 us) against 12 MB of
// traffic (120 us): memory-bound, 120 + 2 us.
TEST(CostModelTest, ElementwiseChainIsMemoryBoundByHand) {
  ir::Graph g = Parsed(
      "tsir 1 opset 13\ninput \"a\" f32[1024,1024]\ninput \"b\" f32[1024,1024]\n"
      "output \"y\" f32[1024,1024]\n"
      "node \"f\" Elementwise(\"a\", \"b\") -> (\"y\") {ops=i:3, program=s:\"$0 $1 Add Relu Neg\"}\n"
      "inputs \"a\", \"b\"\noutputs \"y\"\n");
  OpCost c = EstimateOpCost(g, g.nodes[0]);
  EXPECT_DOUBLE_EQ(c.flops, 3 * 1048576.0);
  EXPECT_DOUBLE_EQ(c.bytes, 3 * 4 * 1048576.0);
  EXPECT_NEAR(ComputeSeconds(c, Machine()), 12582912 / 100e9 + 2e-6, 1e-15);
}

// Conv x[1,8,16,16] * w[16,8,3,3] (pads 1) + b[16] -> y[1,16,16,16]: each of the 4096 outputs
// takes 8*3*3 = 72 multiply-adds, 2*4096*72 = 589,824 FLOPs, plus 4096 bias adds.
// ConvTranspose x[1,16,8,8] * w[16,4,2,2] (stride 2) -> y[1,4,16,16]: each of the 1024 inputs
// meets 4*2*2 = 16 weights, 2*1024*16 = 32,768 FLOPs, no bias.
TEST(CostModelTest, ConvolutionFlopsByHand) {
  ir::Graph g = Parsed(
      "tsir 1 opset 13\ninput \"x\" f32[1,8,16,16]\ninput \"w\" f32[16,8,3,3]\ninput \"b\" f32[16]\n"
      "input \"u\" f32[1,16,8,8]\ninput \"v\" f32[16,4,2,2]\n"
      "output \"y\" f32[1,16,16,16]\noutput \"z\" f32[1,4,16,16]\n"
      "node \"c\" Conv(\"x\", \"w\", \"b\") -> (\"y\")\n"
      "node \"t\" ConvTranspose(\"u\", \"v\") -> (\"z\")\n"
      "inputs \"x\", \"w\", \"b\", \"u\", \"v\"\noutputs \"y\", \"z\"\n");
  EXPECT_DOUBLE_EQ(EstimateOpCost(g, g.nodes[0]).flops, 589824 + 4096);
  EXPECT_DOUBLE_EQ(EstimateOpCost(g, g.nodes[1]).flops, 32768);
  // The 3x3 Conv's im2col columns: 72 rows x 256 positions x 4 bytes, written and read once.
  EXPECT_DOUBLE_EQ(EstimateOpCost(g, g.nodes[0]).copy_bytes, 2 * 72 * 256 * 4.0);
  EXPECT_DOUBLE_EQ(EstimateOpCost(g, g.nodes[1]).copy_bytes, 0);
}

// A 1x1, stride-1, unpadded Conv is a direct product: no columns. Copies add their own pass at
// memory bandwidth: 100 kB at 100 GB/s is 1 us, plus the 2 us launch.
TEST(CostModelTest, PointwiseConvCopiesNothing) {
  ir::Graph g = Parsed(
      "tsir 1 opset 13\ninput \"x\" f32[1,8,16,16]\ninput \"w\" f32[16,8,1,1]\n"
      "output \"y\" f32[1,16,16,16]\n"
      "node \"c\" Conv(\"x\", \"w\") -> (\"y\")\n"
      "inputs \"x\", \"w\"\noutputs \"y\"\n");
  OpCost c = EstimateOpCost(g, g.nodes[0]);
  EXPECT_DOUBLE_EQ(c.flops, 2 * 4096 * 8.0);
  EXPECT_DOUBLE_EQ(c.copy_bytes, 0);
  OpCost copy;
  copy.copy_bytes = 1e5;
  EXPECT_NEAR(ComputeSeconds(copy, Machine()), 1e5 / 100e9 + 2e-6, 1e-15);
}

// On a cpu profile with a direct-convolution rate, a Conv the direct kernel takes goes at that
// rate and copies its input once into phase images (written and read back) instead of building
// im2col columns; a grouped one stays on im2col at the MatMul rate, and so does everything on a
// profile without the rate.
// The 3x3 Conv above: 593,920 FLOPs at 2 TFLOP/s = 0.29696 us; input 8*16*16*4 = 8192 bytes,
// copied: 16,384 bytes at 100 GB/s = 0.16384 us; bytes 8192 + 4608 + 64 + 16384 = 29,248 at
// 100 GB/s = 0.29248 us (below the FLOPs); plus the 2 us launch.
TEST(CostModelTest, DirectConvolutionsGoAtTheProfilesConvRate) {
  ir::Graph g = Parsed(
      "tsir 1 opset 13\ninput \"x\" f32[1,8,16,16]\ninput \"w\" f32[16,8,3,3]\ninput \"b\" f32[16]\n"
      "input \"gw\" f32[16,4,3,3]\n"
      "output \"y\" f32[1,16,16,16]\noutput \"z\" f32[1,16,16,16]\n"
      "node \"c\" Conv(\"x\", \"w\", \"b\") -> (\"y\") {pads=ints:[1,1,1,1]}\n"
      "node \"g\" Conv(\"x\", \"gw\") -> (\"z\") {group=i:2, pads=ints:[1,1,1,1]}\n"
      "inputs \"x\", \"w\", \"b\", \"gw\"\noutputs \"y\", \"z\"\n");
  const OpCost c = EstimateOpCost(g, g.nodes[0]);
  EXPECT_TRUE(c.direct_conv);
  EXPECT_DOUBLE_EQ(c.direct_copy_bytes, 2 * 8192.0);
  HardwareProfile cpu = Machine();
  cpu.target = "cpu";
  cpu.conv_flops_fp32 = 2e12;
  EXPECT_NEAR(ComputeSeconds(c, cpu), 593920 / 2e12 + 16384 / 100e9 + 2e-6, 1e-15);
  // Without the rate (or on a GPU profile): the MatMul rate and the im2col columns.
  const double im2col = 593920 / 1e12 + 2 * 72 * 256 * 4.0 / 100e9 + 2e-6;
  EXPECT_NEAR(ComputeSeconds(c, Machine()), im2col, 1e-15);
  HardwareProfile gpu = cpu;
  gpu.target = "cuda";
  EXPECT_NEAR(ComputeSeconds(c, gpu), im2col, 1e-15);
  EXPECT_FALSE(EstimateOpCost(g, g.nodes[1]).direct_conv) << "grouped";
}

// Three 1 ms steps; a 1 MB load issued at step 0, needed at step 2, read in 0.5 ms; the host
// handles each byte for 1 ns: 1 ms of compute time, taken in step 0. Nothing stalls:
// total 3 + 1 = 4 ms. Issued at step 2 instead, the 1 ms of copying overlaps the 0.5 ms read
// the step waits for anyway: 3 + 1 ms again, no stall counted.
TEST(CostModelTest, HostHandlingOfStreamedBytesTakesComputeTime) {
  StorageLink link{2e9, 0, 0, 1, 1e-9};
  Timeline early = PredictTimeline({1e-3, 1e-3, 1e-3}, {{1000000, 0, 2}}, link);
  EXPECT_NEAR(early.host_copy_s, 1e-3, 1e-12);
  EXPECT_NEAR(early.total_s, 4e-3, 1e-12);
  EXPECT_NEAR(early.stall_s, 0, 1e-12);
  Timeline late = PredictTimeline({1e-3, 1e-3, 1e-3}, {{1000000, 2, 2}}, link);
  EXPECT_NEAR(late.total_s, 4e-3, 1e-12);
  EXPECT_NEAR(late.stall_s, 0, 1e-12);
}

TEST(CostModelTest, TransferIsLatencyPlusBytesOverBandwidth) {
  EXPECT_DOUBLE_EQ(TransferSeconds(0, 1e9, 1e-3), 0);
  EXPECT_DOUBLE_EQ(TransferSeconds(1000000, 1e9, 1e-4), 1e-4 + 1e-3);
  EXPECT_TRUE(std::isinf(TransferSeconds(1, 0, 0)));
}

// Three 1 ms steps; one 2 ms load issued at step 0 and needed at step 1: it overlaps step 0 and
// stalls step 1 by 1 ms. Total 4 ms; half the transfer is hidden.
TEST(TimelineTest, LoadOverlapsThePreviousStepAndStallsTheRest) {
  Timeline t = PredictTimeline({1e-3, 1e-3, 1e-3}, {{2000000, 0, 1}}, {1e9, 0});
  EXPECT_NEAR(t.total_s, 4e-3, 1e-12);
  EXPECT_NEAR(t.stall_s, 1e-3, 1e-12);
  EXPECT_NEAR(t.transfer_s, 2e-3, 1e-12);
  EXPECT_NEAR(t.hidden_fraction, 0.5, 1e-9);
  EXPECT_NEAR(t.compute_s, 3e-3, 1e-12);
}

// Loads queue on one storage stream: the second starts when the first ends (at 1 ms, not at
// its issue step's start, 1 ms), is ready at 2 ms, needed at step 2 which starts at 2 ms.
TEST(TimelineTest, LoadsQueueOnTheStorageStream) {
  Timeline t = PredictTimeline({1e-3, 1e-3, 1e-3}, {{1000000, 0, 1}, {1000000, 0, 2}}, {1e9, 0});
  EXPECT_NEAR(t.stall_s, 0, 1e-12);
  EXPECT_NEAR(t.total_s, 3e-3, 1e-12);
  EXPECT_NEAR(t.hidden_fraction, 1, 1e-9);
  // Without prefetch (issued at the step that needs it) nothing is hidden.
  Timeline none = PredictTimeline({1e-3, 1e-3}, {{1000000, 1, 1}}, {1e9, 0});
  EXPECT_NEAR(none.stall_s, 1e-3, 1e-12);
  EXPECT_NEAR(none.hidden_fraction, 0, 1e-9);
}

// 16 KiB in 4 KiB chunks: depth 1 pays the latency 4 times, depth 4 once, depth 3 twice.
TEST(CostModelTest, StorageReadsPayLatencyPerRoundOfChunks) {
  EXPECT_DOUBLE_EQ(StorageReadSeconds(16384, 4096, 1, 1e9, 1e-4), 4e-4 + 16384e-9);
  EXPECT_DOUBLE_EQ(StorageReadSeconds(16384, 4096, 4, 1e9, 1e-4), 1e-4 + 16384e-9);
  EXPECT_DOUBLE_EQ(StorageReadSeconds(16384, 4096, 3, 1e9, 1e-4), 2e-4 + 16384e-9);
  EXPECT_DOUBLE_EQ(StorageReadSeconds(16384, 0, 1, 1e9, 1e-4), 1e-4 + 16384e-9);
  EXPECT_DOUBLE_EQ(StorageReadSeconds(0, 4096, 1, 1e9, 1e-4), 0);
}

TEST(TimelineTest, NothingStreamedIsAllCompute) {
  Timeline t = PredictTimeline({1e-3, 2e-3}, {}, {1e9, 0});
  EXPECT_NEAR(t.total_s, 3e-3, 1e-12);
  EXPECT_EQ(t.hidden_fraction, 1);
}

}  // namespace
}  // namespace ts::passes
