#include "cli/profile_probe.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "passes/hardware_profile.h"
#include "runtime/ops/conv_direct.h"

namespace ts::cli {
namespace {

using passes::HardwareProfile;
using passes::ParseHardwareProfile;
using passes::ProfileToYaml;

// What the CPU probe leaves for a GPU machine to overwrite, with awkward measured doubles.
HardwareProfile CpuProbed() {
  HardwareProfile p;
  p.name = "probed";
  p.target = "cpu";
  p.device_memory_bytes = 120ull << 30;
  p.peak_flops_fp32 = 1.234567e11;
  p.device_memory_bandwidth = 1.9876543e10;
  p.nvme = {1.3999e9, 8.7e-5, 32};
  p.cpu_cores = 16;
  p.simd_width_bits = 512;
  p.host_ram_bytes = 134213464064;
  p.kernel_launch_latency_s = 3.1e-8;
  return p;
}

GpuFigures H100Like() {
  GpuFigures g;
  g.device_name = "NVIDIA H100 PCIe";
  g.cuda_arch = "sm_90";
  g.memory_bytes = 85029158912;  // what cuDeviceTotalMem says: not a whole GiB
  g.h2d_pinned = {2.0 * (256 << 20) / 5.123e-3, 9.87e-6};
  g.h2d_pageable = {8.61e9 / 3, 1.1e-5};
  g.d2h_pinned = {5.2e10 + 0.1, 1.0e-5 / 3};
  g.d2h_pageable = {7.7e9, 2.2e-5};
  g.memory_bandwidth = 1.6e12 / 7;
  g.fp32_flops = 4.8e13 + 1.0 / 3;
  g.launch_latency_s = 2.3456e-6;
  return g;
}

TEST(ApplyGpuFigures, MakesACudaProfileThatReadsBackExactly) {
  HardwareProfile p = CpuProbed();
  ApplyGpuFigures(H100Like(), &p);
  EXPECT_EQ(p.target, "cuda");
  EXPECT_EQ(p.cuda_arch, "sm_90");
  EXPECT_EQ(p.device_memory_bytes, 85029158912u);
  EXPECT_EQ(p.peak_flops_fp16, 0);  // tensor-core rates: unknown
  EXPECT_EQ(p.nvme.queue_depth, 32);  // host figures kept
  EXPECT_EQ(p.cpu_cores, 16);
  const std::string yaml = ProfileToYaml(p);
  EXPECT_NE(yaml.find("links:\n  h2d_pinned:\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("  d2h_pageable:\n"), std::string::npos) << yaml;
  auto back = ParseHardwareProfile(yaml, "probed.yaml");
  ASSERT_TRUE(back.ok()) << back.status().ToString() << "\n" << yaml;
  EXPECT_TRUE(*back == p) << yaml;
  EXPECT_EQ(ProfileToYaml(*back), yaml);
}

// Small sizes: this is about what the probe reports, not about its figures.
ProbeOptions Tiny(std::vector<std::string>* lines) {
  ProbeOptions o;
  const char* tmp = std::getenv("TEST_TMPDIR");
  o.scratch_dir = tmp ? tmp : "/tmp";
  o.io_bytes = 1 << 20;
  o.memory_bytes = 1 << 20;
  o.gemm_n = 16;
  o.repeats = 1;
  o.gpu_copy_bytes = 16 << 20;
  o.gpu_copies = 2;
  o.progress = [lines](const std::string& l) { lines->push_back(l); };
  return o;
}

// Runs on every machine: without a GPU the last line gives the reason and the profile is a cpu
// one; with one, the profile is a cuda one. Either way it must read back as written.
TEST(ProbeThisMachine, DescribesTheGpuOrSaysWhyNot) {
  std::vector<std::string> lines;
  auto p = ProbeThisMachine(Tiny(&lines));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_FALSE(lines.empty());
  if (p->target == "cpu") {
    EXPECT_EQ(lines.back().rfind("GPU: none (", 0), 0u) << lines.back();
    EXPECT_EQ(lines.back().back(), ')');
    EXPECT_TRUE(p->cuda_arch.empty());
    EXPECT_EQ(p->h2d_pinned.bandwidth, 0);
  } else {
    EXPECT_EQ(p->target, "cuda");
    EXPECT_EQ(p->cuda_arch.rfind("sm_", 0), 0u);
    EXPECT_GT(p->h2d_pinned.bandwidth, 0);
    EXPECT_GT(p->d2h_pageable.latency_s, 0);
    EXPECT_GT(p->peak_flops_fp32, 0);
    EXPECT_GT(p->kernel_launch_latency_s, 0);
    EXPECT_EQ(lines.back().rfind("GEMM TFLOP/s: not measured", 0), 0u) << lines.back();
  }
  auto back = ParseHardwareProfile(ProfileToYaml(*p), "probed.yaml");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(*back == *p);
}

TEST(ProbeThisMachine, CpuOnlyWhenAsked) {
  std::vector<std::string> lines;
  ProbeOptions o = Tiny(&lines);
  o.probe_gpu = false;
  auto p = ProbeThisMachine(o);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->target, "cpu");
  EXPECT_EQ(lines.back(), "GPU: not probed (a CPU profile was asked for)");
  // The direct convolution kernel's rate, where this CPU has it; it reads back from the YAML.
  if (ops::DirectConvAvailable()) {
    EXPECT_GT(p->conv_flops_fp32, 0);
  } else {
    EXPECT_EQ(p->conv_flops_fp32, 0);
  }
  auto back = ParseHardwareProfile(ProfileToYaml(*p), "probed.yaml");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(*back == *p);
}

}  // namespace
}  // namespace ts::cli
