// The runtime's object cache (runtime/cpu_jit.h): a second load of the same kernels on the same
// host takes machine code from the cache and computes the same results; a torn or edited cache
// file is ignored and rewritten; a cache that cannot be written never fails a load.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "codegen/cpu_llvm.h"
#include "codegen/expr.h"
#include "runtime/cpu_jit.h"

namespace ts {
namespace {

namespace fs = std::filesystem;
using Mode = runtime::JitCacheOptions::Mode;

planfmt::KernelModule Module(const std::string& program) {
  auto p = codegen::ParseExprProgram(program, 2);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  codegen::ElementwiseKernel k{"k0", *p, {64}, {{64}, {64}}};
  auto bitcode = codegen::EmitCpuModule({k});
  EXPECT_TRUE(bitcode.ok()) << bitcode.status().ToString();
  return planfmt::KernelModule{"llvm-bc", {"k0"}, *bitcode};
}

// Runs k0 on fixed inputs.
std::vector<float> RunK0(const runtime::CpuKernels& kernels) {
  std::vector<float> a(64), b(64), out(64, -1.0f);
  for (int i = 0; i < 64; ++i) {
    a[i] = 0.25f * static_cast<float>(i) - 3.0f;
    b[i] = 1.5f - 0.125f * static_cast<float>(i);
  }
  auto fn = kernels.Lookup("k0");
  EXPECT_TRUE(fn.ok());
  void* args[] = {a.data(), b.data(), out.data()};
  (*fn)(args);
  return out;
}

std::vector<fs::path> CacheFiles(const fs::path& dir) {
  std::vector<fs::path> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path());
  return out;
}

class JitCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("jit_cache_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
  }
  runtime::JitCacheOptions Options(Mode mode) const { return {mode, dir_.string()}; }
  fs::path dir_;
};

TEST_F(JitCacheTest, SecondLoadHitsAndComputesTheSame) {
  const auto module = Module("$0 $1 Mul $0 Add Tanh");
  auto first = runtime::CpuKernels::Load(module, Options(Mode::kReadWrite));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ((*first)->cache_state(), "miss");
  ASSERT_EQ(CacheFiles(dir_).size(), 1u);
  auto second = runtime::CpuKernels::Load(module, Options(Mode::kReadWrite));
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ((*second)->cache_state(), "hit");
  EXPECT_EQ(RunK0(**first), RunK0(**second));
  // A symbol the module does not define stays unresolvable from cached code too.
  EXPECT_FALSE((*second)->Lookup("k1").ok());
  EXPECT_FALSE((*second)->Lookup("tanhf").ok());
}

TEST_F(JitCacheTest, KeyedByTheKernels) {
  ASSERT_TRUE(runtime::CpuKernels::Load(Module("$0 $1 Add"), Options(Mode::kReadWrite)).ok());
  auto other = runtime::CpuKernels::Load(Module("$0 $1 Sub"), Options(Mode::kReadWrite));
  ASSERT_TRUE(other.ok());
  EXPECT_EQ((*other)->cache_state(), "miss");
  EXPECT_EQ(CacheFiles(dir_).size(), 2u);
  const std::vector<float> got = RunK0(**other);
  EXPECT_EQ(got[0], -3.0f - 1.5f);  // Sub, not the cached Add
}

TEST_F(JitCacheTest, WriteOnlyCompilesEvenWhenCached) {
  const auto module = Module("$0 $1 Mul Neg");
  ASSERT_TRUE(runtime::CpuKernels::Load(module, Options(Mode::kReadWrite)).ok());
  auto again = runtime::CpuKernels::Load(module, Options(Mode::kWriteOnly));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->cache_state(), "miss");
}

TEST_F(JitCacheTest, CorruptOrTruncatedFilesAreRecompiledAndRewritten) {
  const auto module = Module("$0 $1 Add Sigmoid");
  auto clean = runtime::CpuKernels::Load(module, Options(Mode::kReadWrite));
  ASSERT_TRUE(clean.ok());
  const std::vector<float> want = RunK0(**clean);
  const fs::path file = CacheFiles(dir_).at(0);
  const auto size = fs::file_size(file);
  for (int variant = 0; variant < 3; ++variant) {
    std::string bytes;
    {
      std::ifstream in(file, std::ios::binary);
      bytes.assign(std::istreambuf_iterator<char>(in), {});
    }
    ASSERT_EQ(bytes.size(), size);
    if (variant == 0) bytes[bytes.size() / 2] ^= 0x40;  // a flipped bit in the object
    if (variant == 1) bytes.resize(bytes.size() / 3);   // torn
    if (variant == 2) bytes = "garbage";
    std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
    auto reloaded = runtime::CpuKernels::Load(module, Options(Mode::kReadWrite));
    ASSERT_TRUE(reloaded.ok()) << reloaded.status().ToString();
    EXPECT_EQ((*reloaded)->cache_state(), "miss") << "variant " << variant;
    EXPECT_EQ(RunK0(**reloaded), want);
    EXPECT_EQ(fs::file_size(file), size);  // rewritten whole
    auto hit = runtime::CpuKernels::Load(module, Options(Mode::kReadWrite));
    ASSERT_TRUE(hit.ok());
    EXPECT_EQ((*hit)->cache_state(), "hit");
  }
}

TEST_F(JitCacheTest, AnUnwritableCacheNeverFailsALoad) {
  fs::create_directories(dir_);
  const fs::path blocker = dir_ / "not_a_folder";
  std::ofstream(blocker) << "a file where the cache folder would be";
  auto loaded = runtime::CpuKernels::Load(Module("$0 $1 Add"), {Mode::kReadWrite, blocker.string()});
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ((*loaded)->cache_state().rfind("miss (not stored: cannot create ", 0), 0u)
      << (*loaded)->cache_state();
  EXPECT_EQ(RunK0(**loaded)[0], -3.0f + 1.5f);
}

TEST_F(JitCacheTest, OffStoresNothing) {
  auto loaded = runtime::CpuKernels::Load(Module("$0 $1 Add"), Options(Mode::kOff));
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ((*loaded)->cache_state(), "off");
  EXPECT_TRUE(CacheFiles(dir_).empty());
}

}  // namespace
}  // namespace ts
