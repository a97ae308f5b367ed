#include "passes/hardware_profile.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace ts::passes {
namespace {

// The smallest valid cuda profile; must-fail tests mutate one line of it. Line numbers:
//  1 name, 2 target, 3 cuda_arch, 4 device_memory, 5 compute, 6 fp32_tflops,
//  7 device_memory_bandwidth_gbps, 8 links, 9 h2d_pinned, 10 bandwidth_gbps.
constexpr char kMinimal[] = R"(name: test-gpu
target: cuda
cuda_arch: sm_90
device_memory: 80GiB
compute:
  fp32_tflops: 51
device_memory_bandwidth_gbps: 2000
links:
  h2d_pinned:
    bandwidth_gbps: 51
)";

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

// Parses `text`, expects kBadInput, and returns the message for further checks.
std::string ExpectBad(const std::string& text, const std::vector<std::string>& needles) {
  auto p = ParseHardwareProfile(text, "t.yaml");
  EXPECT_FALSE(p.ok()) << text;
  if (p.ok()) return "";
  EXPECT_EQ(p.status().code(), Code::kBadInput) << p.status().ToString();
  const std::string& msg = p.status().message();
  EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line: " << msg;
  EXPECT_TRUE(msg.starts_with("t.yaml")) << msg;
  for (const std::string& n : needles) EXPECT_NE(msg.find(n), std::string::npos) << "'" << n << "' in: " << msg;
  return msg;
}

HardwareProfile MustResolve(const std::string& name) {
  auto p = ResolveHardwareProfile(name);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return p.ok() ? *p : HardwareProfile{};
}

// ---- shipped profiles -------------------------------------------------------------------------

TEST(ShippedProfiles, NamesAreTheExampleFiles) {
  EXPECT_EQ(ShippedProfileNames(),
            (std::vector<std::string>{"cpu-host", "h100-pcie5", "rtx4070-pcie4"}));
}

TEST(ShippedProfiles, EveryOneParsesAndRoundTrips) {
  for (const std::string& name : ShippedProfileNames()) {
    SCOPED_TRACE(name);
    HardwareProfile p = MustResolve(name);
    EXPECT_EQ(p.name, name);
    std::string yaml = ProfileToYaml(p);
    auto again = ParseHardwareProfile(yaml, "canonical");
    ASSERT_TRUE(again.ok()) << again.status().ToString() << "\n" << yaml;
    EXPECT_EQ(*again, p) << yaml;
    EXPECT_EQ(ProfileToYaml(*again), yaml);
  }
}

TEST(ShippedProfiles, H100MatchesTheMeasuredMachine) {
  HardwareProfile p = MustResolve("h100-pcie5");
  EXPECT_EQ(p.target, "cuda");
  EXPECT_EQ(p.cuda_arch, "sm_90");
  EXPECT_EQ(p.device_memory_bytes, uint64_t{80} << 30);
  EXPECT_EQ(p.peak_flops_fp32, 51e12);
  EXPECT_EQ(p.peak_flops_fp16, 756e12);
  EXPECT_EQ(p.peak_flops_bf16, 756e12);
  EXPECT_EQ(p.peak_flops_tf32, 378e12);
  EXPECT_EQ(p.peak_ops_int8, 1513e12);
  EXPECT_EQ(p.device_memory_bandwidth, 2000e9);
  EXPECT_EQ(p.h2d_pinned.bandwidth, 51e9);
  EXPECT_EQ(p.h2d_pinned.latency_s, 10e-6);
  EXPECT_EQ(p.h2d_pageable.bandwidth, 8.6e9);
  EXPECT_EQ(p.d2h_pinned.bandwidth, 50e9);
  EXPECT_EQ(p.d2h_pageable.bandwidth, 8.6e9);
  EXPECT_EQ(p.nvme.read_bandwidth, 1.4e9);
  EXPECT_EQ(p.nvme.queue_depth, 32);
  EXPECT_EQ(p.cpu_cores, 16);
  EXPECT_EQ(p.simd_width_bits, 512);
  EXPECT_EQ(p.host_ram_bytes, uint64_t{125} << 30);
  EXPECT_EQ(p.kernel_launch_latency_s, 5e-6);
}

TEST(ShippedProfiles, Rtx4070) {
  HardwareProfile p = MustResolve("rtx4070-pcie4");
  EXPECT_EQ(p.cuda_arch, "sm_89");
  EXPECT_EQ(p.device_memory_bytes, uint64_t{12} << 30);
  EXPECT_EQ(p.peak_flops_fp32, 29.1e12);
  EXPECT_EQ(p.peak_flops_fp16, 116.6e12);
  EXPECT_EQ(p.device_memory_bandwidth, 504e9);
  EXPECT_EQ(p.h2d_pinned.bandwidth, 25e9);
}

TEST(ShippedProfiles, CpuHostHasNoLinks) {
  HardwareProfile p = MustResolve("cpu-host");
  EXPECT_EQ(p.target, "cpu");
  EXPECT_EQ(p.cuda_arch, "");
  EXPECT_EQ(p.device_memory_bytes, uint64_t{16} << 30);
  EXPECT_EQ(p.peak_flops_fp32, 0.1e12);
  EXPECT_EQ(p.device_memory_bandwidth, 20e9);
  EXPECT_EQ(p.h2d_pinned, HardwareProfile::Link{});
  EXPECT_EQ(p.d2h_pageable, HardwareProfile::Link{});
  EXPECT_EQ(p.nvme.read_bandwidth, 1.4e9);
  EXPECT_EQ(p.cpu_cores, 2);
  EXPECT_EQ(p.simd_width_bits, 512);
  EXPECT_EQ(p.host_ram_bytes, uint64_t{47} << 29);  // 23.5 GiB
}

// ---- valid input ------------------------------------------------------------------------------

TEST(ParseHardwareProfile, MinimalProfileLeavesOptionalFieldsZero) {
  auto p = ParseHardwareProfile(kMinimal, "t.yaml");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->name, "test-gpu");
  EXPECT_EQ(p->h2d_pinned.bandwidth, 51e9);
  EXPECT_EQ(p->h2d_pinned.latency_s, 0);
  EXPECT_EQ(p->peak_flops_fp16, 0);
  EXPECT_EQ(p->nvme, HardwareProfile::Storage{});
  EXPECT_EQ(p->cpu_cores, 0);
}

TEST(ParseHardwareProfile, SizesAcceptBytesAndUnits) {
  const std::pair<std::string, uint64_t> cases[] = {
      {"85899345920", uint64_t{80} << 30}, {"80GiB", uint64_t{80} << 30},
      {"80 GiB", uint64_t{80} << 30},      {"80GB", 80000000000},
      {"1.5GiB", uint64_t{3} << 29},       {"512MiB", uint64_t{512} << 20},
      {"2TB", 2000000000000},              {"4096B", 4096},
  };
  for (const auto& [text, bytes] : cases) {
    auto p = ParseHardwareProfile(Replace(kMinimal, "80GiB", text), "t.yaml");
    ASSERT_TRUE(p.ok()) << text << ": " << p.status().ToString();
    EXPECT_EQ(p->device_memory_bytes, bytes) << text;
  }
}

TEST(ParseHardwareProfile, FlowStyleAndQuotedStringsAreFine) {
  std::string text = Replace(kMinimal, "links:\n  h2d_pinned:\n    bandwidth_gbps: 51\n",
                             "links: {h2d_pinned: {bandwidth_gbps: 5.1e1, latency_us: 0.5}}\n");
  text = Replace(text, "name: test-gpu", "name: \"test-gpu\"");
  auto p = ParseHardwareProfile(text, "t.yaml");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->h2d_pinned.bandwidth, 51e9);
  EXPECT_EQ(p->h2d_pinned.latency_s, 0.5e-6);
}

// Any finite non-negative double survives ProfileToYaml -> ParseHardwareProfile bit for bit:
// the text is the shortest round-trip decimal with its point moved, and the parser rounds once.
TEST(ProfileToYaml, RoundTripsArbitraryDoublesExactly) {
  HardwareProfile p = MustResolve("h100-pcie5");
  std::mt19937_64 rng(12345);
  for (int i = 0; i < 2000; ++i) {
    double v;
    do {
      uint64_t bits = rng() & ~(uint64_t{1} << 63);
      std::memcpy(&v, &bits, sizeof v);
    } while (!std::isfinite(v) || v == 0);
    if (i % 2) v = std::ldexp(static_cast<double>(rng() % 100000 + 1), -static_cast<int>(rng() % 40));
    p.h2d_pinned.bandwidth = v;
    p.h2d_pinned.latency_s = v;
    p.peak_flops_fp16 = v;
    std::string yaml = ProfileToYaml(p);
    auto again = ParseHardwareProfile(yaml, "canonical");
    ASSERT_TRUE(again.ok()) << again.status().ToString() << "\n" << yaml;
    ASSERT_EQ(again->h2d_pinned.bandwidth, v) << yaml;
    ASSERT_EQ(again->h2d_pinned.latency_s, v) << yaml;
    ASSERT_EQ(again->peak_flops_fp16, v) << yaml;
  }
}

TEST(ProfileToYaml, WritesReadableUnits) {
  std::string yaml = ProfileToYaml(MustResolve("h100-pcie5"));
  EXPECT_NE(yaml.find("device_memory: 80GiB\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("    bandwidth_gbps: 51\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("    bandwidth_gbps: 8.6\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("  latency_us: 100\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("  ram: 125GiB\n"), std::string::npos) << yaml;
}

// ---- must-fail: each names the field and the line -------------------------------------------

TEST(ParseHardwareProfileErrors, UnknownKeySuggestsTheRightOne) {
  ExpectBad(Replace(kMinimal, "    bandwidth_gbps", "    bandwith_gbps"),
            {"line 10, column 5", "field 'links.h2d_pinned.bandwith_gbps'", "unknown key",
             "did you mean 'bandwidth_gbps'"});
  ExpectBad(Replace(kMinimal, "compute:", "computer: {}\ncompute:"),
            {"line 5, column 1", "field 'computer'", "unknown key", "did you mean 'compute'"});
}

TEST(ParseHardwareProfileErrors, MissingRequiredField) {
  ExpectBad(Replace(kMinimal, "  fp32_tflops: 51\n", "  fp16_tflops: 51\n"),
            {"line 5, column 1", "field 'compute.fp32_tflops'", "required field is missing"});
  ExpectBad(Replace(kMinimal, "name: test-gpu\n", ""),
            {"line 1, column 1", "field 'name'", "required field is missing"});
  ExpectBad(Replace(kMinimal, "cuda_arch: sm_90\n", ""),
            {"field 'cuda_arch'", "required field is missing"});
  ExpectBad(Replace(kMinimal, "  h2d_pinned:\n    bandwidth_gbps: 51\n", "  d2h_pinned:\n    bandwidth_gbps: 51\n"),
            {"line 8, column 1", "field 'links.h2d_pinned'", "required field is missing"});
  std::string no_links = kMinimal;
  no_links.resize(no_links.find("links:"));
  ExpectBad(no_links, {"field 'links'", "required field is missing"});
}

TEST(ParseHardwareProfileErrors, NegativeNanInfAndZero) {
  ExpectBad(Replace(kMinimal, "bandwidth_gbps: 51", "bandwidth_gbps: -3"),
            {"line 10, column 21", "field 'links.h2d_pinned.bandwidth_gbps'", "must be >= 0"});
  ExpectBad(Replace(kMinimal, "fp32_tflops: 51", "fp32_tflops: .nan"),
            {"line 6", "field 'compute.fp32_tflops'", "finite"});
  ExpectBad(Replace(kMinimal, "fp32_tflops: 51", "fp32_tflops: .inf"),
            {"line 6", "field 'compute.fp32_tflops'", "finite"});
  ExpectBad(Replace(kMinimal, "fp32_tflops: 51", "fp32_tflops: 1e400"),
            {"line 6", "field 'compute.fp32_tflops'", "out of range"});
  ExpectBad(Replace(kMinimal, "device_memory_bandwidth_gbps: 2000", "device_memory_bandwidth_gbps: 0"),
            {"line 7", "field 'device_memory_bandwidth_gbps'", "must be > 0"});
}

TEST(ParseHardwareProfileErrors, StringWhereANumberIsExpected) {
  ExpectBad(Replace(kMinimal, "fp32_tflops: 51", "fp32_tflops: fast"),
            {"line 6, column 16", "field 'compute.fp32_tflops'", "not a number"});
  ExpectBad(Replace(kMinimal, "fp32_tflops: 51", "fp32_tflops: \"51\""),
            {"line 6", "field 'compute.fp32_tflops'", "quoted string", "without quotes"});
  ExpectBad(Replace(kMinimal, "fp32_tflops: 51", "fp32_tflops: !!str 51"),
            {"line 6", "field 'compute.fp32_tflops'", "tagged"});
  ExpectBad(Replace(kMinimal, "fp32_tflops: 51", "fp32_tflops:"),
            {"line 6", "field 'compute.fp32_tflops'", "null"});
  ExpectBad(Replace(kMinimal, "fp32_tflops: 51", "fp32_tflops: 051"),
            {"line 6", "field 'compute.fp32_tflops'", "leading zeros"});
  ExpectBad(std::string(kMinimal) + "nvme:\n  read_bandwidth_gbps: 1\n  queue_depth: 4.5\n",
            {"line 13", "field 'nvme.queue_depth'", "not an integer"});
}

TEST(ParseHardwareProfileErrors, WrongTypesAndNestingDeeperThanTheSchema) {
  ExpectBad(Replace(kMinimal, "compute:\n  fp32_tflops: 51\n", "compute: 51\n"),
            {"line 5", "field 'compute'", "expected a mapping"});
  ExpectBad(Replace(kMinimal, "fp32_tflops: 51", "fp32_tflops: {value: 51}"),
            {"line 6", "field 'compute.fp32_tflops'", "found a mapping"});
  ExpectBad(Replace(kMinimal, "fp32_tflops: 51", "fp32_tflops: [51]"),
            {"line 6", "field 'compute.fp32_tflops'", "found a sequence"});
  ExpectBad(Replace(kMinimal, "target: cuda", "target: gpu"),
            {"line 2", "field 'target'", "cuda or cpu"});
  ExpectBad(Replace(kMinimal, "cuda_arch: sm_90", "cuda_arch: 90"),
            {"line 3", "field 'cuda_arch'", "sm_90"});
  ExpectBad(std::string(kMinimal) + "cpu: {simd_width_bits: 300}\n",
            {"line 11", "field 'cpu.simd_width_bits'", "not a SIMD register width"});
}

TEST(ParseHardwareProfileErrors, CpuTargetsHaveNoLinksOrArch) {
  ExpectBad(Replace(kMinimal, "target: cuda\ncuda_arch: sm_90\n", "target: cpu\n"),
            {"line 7", "field 'links'", "not allowed here"});
  ExpectBad(Replace(kMinimal, "target: cuda", "target: cpu"),
            {"line 3", "field 'cuda_arch'", "not allowed here"});
}

TEST(ParseHardwareProfileErrors, DuplicateKeys) {
  ExpectBad(std::string(kMinimal) + "name: other\n",
            {"line 11, column 1", "field 'name'", "duplicate key (first at line 1)"});
  ExpectBad(Replace(kMinimal, "  fp32_tflops: 51\n", "  fp32_tflops: 51\n  fp32_tflops: 52\n"),
            {"line 7, column 3", "field 'compute.fp32_tflops'", "duplicate key (first at line 6)"});
  ExpectBad(Replace(kMinimal, "links:\n  h2d_pinned:\n    bandwidth_gbps: 51\n",
                    "links: {h2d_pinned: {bandwidth_gbps: 51, bandwidth_gbps: 52}}\n"),
            {"line 8", "field 'links.h2d_pinned.bandwidth_gbps'", "duplicate key"});
}

TEST(ParseHardwareProfileErrors, DeepNestingIsRefusedBeforeYamlCpp) {
  ExpectBad(std::string(kMinimal) + "x: " + std::string(100000, '['),
            {"line 11, column 1", "nesting deeper than 64 levels"});
  ExpectBad(std::string(kMinimal) + "x: " + std::string(100, '{'),
            {"line 11", "nesting deeper than 64 levels"});
  std::string dashes;
  for (int i = 0; i < 70; ++i) dashes += "- ";
  ExpectBad(dashes + "x\n", {"line 1", "nesting deeper than 64 levels"});
  std::string block;
  for (int i = 0; i < 70; ++i) block += std::string(i, ' ') + "k:\n";
  ExpectBad(block, {"line 65", "nesting deeper than 64 levels"});
  // Brackets inside comments do not count.
  auto ok = ParseHardwareProfile(std::string(kMinimal) + "# " + std::string(100, '[') + "\n",
                                 "t.yaml");
  EXPECT_TRUE(ok.ok()) << ok.status().ToString();
}

TEST(ParseHardwareProfileErrors, OversizedDocumentIsRefusedBeforeParsing) {
  std::string big = std::string(kMinimal) + "#" + std::string(kMaxProfileBytes, 'x') + "\n";
  ExpectBad(big, {"over the 1 MiB limit"});
}

TEST(ParseHardwareProfileErrors, NotAMapping) {
  ExpectBad("- name: a\n- target: cuda\n", {"line 1, column 1", "a sequence, not a mapping"});
  ExpectBad("hello\n", {"line 1, column 1", "not a mapping"});
}

TEST(ParseHardwareProfileErrors, EmptyDocument) {
  ExpectBad("", {"line 1, column 1", "empty document"});
  ExpectBad("# only a comment\n\n", {"empty document"});
  ExpectBad("~\n", {"empty document"});
}

TEST(ParseHardwareProfileErrors, BadSizeString) {
  ExpectBad(Replace(kMinimal, "80GiB", "80G"),
            {"line 4, column 16", "field 'device_memory'", "unknown unit 'G'", "GiB"});
  ExpectBad(Replace(kMinimal, "80GiB", "80 gib"), {"line 4", "field 'device_memory'", "unknown unit"});
  ExpectBad(Replace(kMinimal, "80GiB", "1.5"), {"line 4", "field 'device_memory'", "whole number"});
  ExpectBad(Replace(kMinimal, "80GiB", "0.3B"), {"line 4", "field 'device_memory'", "whole number"});
  ExpectBad(Replace(kMinimal, "80GiB", "99999999TiB"), {"line 4", "field 'device_memory'", "too large"});
  ExpectBad(Replace(kMinimal, "80GiB", "0"), {"line 4", "field 'device_memory'", "must be > 0"});
  ExpectBad(Replace(kMinimal, "80GiB", "\"80GiB\""), {"line 4", "field 'device_memory'", "quoted"});
}

TEST(ParseHardwareProfileErrors, SyntaxErrorsAndOddDocuments) {
  ExpectBad(Replace(kMinimal, "fp32_tflops: 51", "fp32_tflops: [51"), {"line", "YAML syntax error"});
  ExpectBad(std::string(kMinimal) + "---\nname: second\n", {"line 11", "second YAML document"});
  ExpectBad(Replace(kMinimal, "test-gpu", std::string("te\0st", 5)), {"line 1, column 9", "control character 0x00"});
  ExpectBad(Replace(kMinimal, "name: test-gpu", "name: has space"), {"line 1", "field 'name'"});
  ExpectBad("[a, b]: 1\n", {"line 1", "a key is a sequence"});
}

// yaml-cpp 0.7's LoadAll never returns on these (jbeder/yaml-cpp#1040); found by fuzz_profile.
TEST(ParseHardwareProfileErrors, StrayCommaDoesNotHangYamlCpp) {
  ExpectBad(",\n", {"line 1, column 1", "YAML syntax error"});
  ExpectBad("  , a\ns: 1\n", {"line 1", "YAML syntax error"});
  ExpectBad("[a]\n,\n", {"line 2", "YAML syntax error"});
  ExpectBad("--- ,\n", {"line 1", "YAML syntax error"});
  ExpectBad("&x ,\n", {"line 1", "YAML syntax error"});
  ExpectBad(std::string(kMinimal) + "---\n,\n", {"line 11", "second YAML document"});
}

// ---- resolving --profile -----------------------------------------------------------------------

std::string TempPath(const std::string& leaf) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/" + leaf;
}

TEST(ResolveHardwareProfile, ShippedNameFilePathAndUnknown) {
  EXPECT_EQ(MustResolve("h100-pcie5").name, "h100-pcie5");

  std::string path = TempPath("mine.yaml");
  std::ofstream(path) << Replace(kMinimal, "test-gpu", "from-file");
  EXPECT_EQ(MustResolve(path).name, "from-file");

  auto unknown = ResolveHardwareProfile("h100");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), Code::kUsage);
  for (const std::string& n : ShippedProfileNames()) {
    EXPECT_NE(unknown.status().message().find(n), std::string::npos) << unknown.status().message();
  }
}

TEST(ResolveHardwareProfile, FileErrors) {
  std::string bad = TempPath("bad.yaml");
  std::ofstream(bad) << "name: [\n";
  auto p = ResolveHardwareProfile(bad);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), Code::kBadInput);
  EXPECT_TRUE(p.status().message().starts_with(bad + " line ")) << p.status().message();

  auto dir = ResolveHardwareProfile(TempPath(""));
  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(dir.status().code(), Code::kBadInput) << dir.status().ToString();

  auto missing = LoadHardwareProfile(TempPath("missing.yaml"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kIo) << missing.status().ToString();
}

// ---- hashing ------------------------------------------------------------------------------------

TEST(ProfileHash, EqualProfilesHashEqualAndOneFieldChangesIt) {
  HardwareProfile a = MustResolve("h100-pcie5");
  HardwareProfile b = *ParseHardwareProfile(ProfileToYaml(a), "copy");
  EXPECT_EQ(ProfileHash(a), ProfileHash(b));
  b.h2d_pinned.latency_s = 11e-6;
  EXPECT_NE(ProfileHash(a), ProfileHash(b));
  b = a;
  b.cpu_cores = 15;
  EXPECT_NE(ProfileHash(a), ProfileHash(b));
  EXPECT_NE(ProfileHash(a), ProfileHash(MustResolve("rtx4070-pcie4")));
}

// The hash goes into bundle metadata: it must not change between builds or platforms. If the
// canonical form changes on purpose, update this value and say so in the change.
TEST(ProfileHash, IsPinnedForAFixedProfile) {
  auto p = ParseHardwareProfile(kMinimal, "t.yaml");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(ProfileHash(*p), 0x6bf4f4b570dffb34ull) << std::hex << ProfileHash(*p);
}

}  // namespace
}  // namespace ts::passes
