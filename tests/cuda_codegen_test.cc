// Generated CUDA C (codegen/cuda_c.h) through NVRTC (codegen/nvrtc.h) for sm_90: it compiles to
// cubin and PTX here (no GPU needed), ptxas accepts the PTX, and where a GPU is present the
// kernels run on it and match the scalar reference element by element. Parts that need what
// the machine lacks (NVRTC, ptxas, a GPU) are skipped with the reason.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "codegen/cuda_c.h"
#include "codegen/expr.h"
#include "codegen/nvrtc.h"
#include "runtime/cuda/driver.h"

namespace ts {
namespace {

struct Case {
  std::string program;
  std::vector<int64_t> out;
  std::vector<std::vector<int64_t>> ins;
};

const std::vector<Case>& Cases() {
  static const std::vector<Case> cases = {
      {"$0 $1 Add Relu", {1000}, {{1000}, {1000}}},
      {"$0 $1 Mul $2 Sub", {3, 4, 5}, {{3, 4, 5}, {5}, {3, 1, 1}}},
      {"$0 Tanh $0 Sigmoid Mul $1 Div", {2, 3, 7}, {{2, 3, 7}, {1}}},
      {"$0 Abs Sqrt Log Exp Neg", {4, 1, 6}, {{4, 1, 6}}},
      {"$0 $1 Add", {2, 3, 4, 5}, {{2, 1, 4, 1}, {3, 1, 5}}},
      {"$0 Erf $1 Mul", {70000}, {{70000}, {1}}},  // more elements than one block covers
      {"$0 $0 Mul", {}, {{}}},
  };
  return cases;
}

codegen::ElementwiseKernel Kernel(const Case& c, int index) {
  auto program = codegen::ParseExprProgram(c.program, static_cast<int>(c.ins.size()));
  EXPECT_TRUE(program.ok()) << program.status().ToString();
  return {"k" + std::to_string(index), *program, c.out, c.ins};
}

StatusOr<codegen::CudaBinary> CompileAll(std::string* source) {
  std::vector<codegen::ElementwiseKernel> kernels;
  for (size_t i = 0; i < Cases().size(); ++i) kernels.push_back(Kernel(Cases()[i], static_cast<int>(i)));
  ASSIGN_OR_RETURN(*source, codegen::EmitCudaSource(kernels));
  return codegen::CompileCuda(*source, "kernels.cu", "sm_90");
}

int64_t Count(const std::vector<int64_t>& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

int64_t BroadcastIndex(int64_t flat, const std::vector<int64_t>& out, const std::vector<int64_t>& in) {
  int64_t idx = 0, stride = 1;
  for (size_t d = out.size(); d-- > 0;) {
    const int64_t i = flat % out[d];
    flat /= out[d];
    const size_t off = out.size() - in.size();
    if (d >= off) {
      const int64_t dim = in[d - off];
      if (dim != 1) idx += i * stride;
      stride *= dim;
    }
  }
  return idx;
}

TEST(CudaCodegenTest, SourceNamesEveryKernel) {
  std::vector<codegen::ElementwiseKernel> kernels = {Kernel(Cases()[0], 0), Kernel(Cases()[1], 1)};
  auto src = codegen::EmitCudaSource(kernels);
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  EXPECT_NE(src->find("extern \"C\" __global__ void __launch_bounds__(256) k0(const float* __restrict__ in0, "
                      "const float* __restrict__ in1, float* __restrict__ out)"),
            std::string::npos)
      << *src;
  EXPECT_NE(src->find(" k1("), std::string::npos);
  kernels[0].in_shapes.pop_back();  // program and inputs disagree
  EXPECT_EQ(codegen::EmitCudaSource(kernels).status().code(), Code::kInternal);
}

TEST(CudaCodegenTest, CompilesToCubinAndPtxForSm90) {
  std::string source;
  auto bin = CompileAll(&source);
  if (!bin.ok() && bin.status().code() == Code::kIo) GTEST_SKIP() << bin.status().ToString();
  ASSERT_TRUE(bin.ok()) << bin.status().ToString() << "\n" << source;
  EXPECT_EQ(bin->cubin.substr(0, 4), std::string("\x7f" "ELF"));
  EXPECT_NE(bin->ptx.find(".target sm_90"), std::string::npos);
  for (size_t i = 0; i < Cases().size(); ++i) {
    EXPECT_NE(bin->ptx.find(".entry k" + std::to_string(i) + "("), std::string::npos) << i;
  }
  EXPECT_GE(bin->nvrtc_major, 12);
  EXPECT_EQ(codegen::CompileCuda(source, "kernels.cu", "sm9").status().code(), Code::kBadInput);
}

TEST(CudaCodegenTest, PtxasAcceptsThePtx) {
  const char* ptxas = "/usr/local/cuda/bin/ptxas";
  if (access(ptxas, X_OK) != 0) GTEST_SKIP() << "no ptxas at " << ptxas;
  std::string source;
  auto bin = CompileAll(&source);
  if (!bin.ok() && bin.status().code() == Code::kIo) GTEST_SKIP() << bin.status().ToString();
  ASSERT_TRUE(bin.ok()) << bin.status().ToString();
  const std::string dir = ::testing::TempDir();
  const std::string ptx = dir + "/kernels.ptx", out = dir + "/kernels.cubin";
  std::ofstream(ptx) << bin->ptx;
  const std::string cmd = std::string(ptxas) + " -arch=sm_90 " + ptx + " -o " + out + " 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

TEST(CudaCodegenTest, KernelsMatchTheScalarReferenceOnTheGpu) {
  auto driver = runtime::cuda::Driver::Load();
  if (!driver.ok()) GTEST_SKIP() << "no GPU: " << driver.status().ToString();
  std::string source;
  auto bin = CompileAll(&source);
  ASSERT_TRUE(bin.ok()) << bin.status().ToString();
  const runtime::cuda::Driver& d = **driver;
  auto ctx = d.RetainPrimaryContext(0);
  ASSERT_TRUE(ctx.ok()) << ctx.status().ToString();
  for (const std::string* image : {&bin->cubin, &bin->ptx}) {  // the PTX through the driver's JIT
    std::string text = *image;
    if (image == &bin->ptx) text.push_back('\0');
    auto module = d.LoadModule(text);
    ASSERT_TRUE(module.ok()) << module.status().ToString();
    std::mt19937 rng(42);
    std::uniform_real_distribution<float> dist(0.1f, 2.0f);
    for (size_t ci = 0; ci < Cases().size(); ++ci) {
      const Case& c = Cases()[ci];
      auto program = codegen::ParseExprProgram(c.program, static_cast<int>(c.ins.size()));
      std::vector<std::vector<float>> ins;
      std::vector<runtime::cuda::DeviceMemory> dev;
      std::vector<runtime::cuda::CUdeviceptr> ptrs;
      for (const auto& s : c.ins) {
        ins.emplace_back(Count(s));
        for (float& v : ins.back()) v = dist(rng) * (rng() % 2 ? 1.0f : -1.0f);
        auto m = d.AllocDevice(ins.back().size() * 4);
        ASSERT_TRUE(m.ok());
        ASSERT_EQ(d.api().cuMemcpyHtoD(m->get(), ins.back().data(), ins.back().size() * 4), 0);
        ptrs.push_back(m->get());
        dev.push_back(std::move(*m));
      }
      const int64_t n = Count(c.out);
      std::vector<float> out(n, NAN);
      auto y = d.AllocDevice(n * 4);
      ASSERT_TRUE(y.ok());
      ASSERT_EQ(d.api().cuMemcpyHtoD(y->get(), out.data(), n * 4), 0);  // poisoned with NaN
      ptrs.push_back(y->get());
      std::vector<void*> params;
      for (auto& p : ptrs) params.push_back(&p);
      auto fn = d.GetFunction(*module, ("k" + std::to_string(ci)).c_str());
      ASSERT_TRUE(fn.ok()) << fn.status().ToString();
      const unsigned grid = static_cast<unsigned>(std::min<int64_t>((n + 255) / 256, 64));
      ASSERT_EQ(d.api().cuLaunchKernel(*fn, grid, 1, 1, codegen::kCudaBlockSize, 1, 1, 0, nullptr,
                                       params.data(), nullptr), 0);
      ASSERT_EQ(d.api().cuCtxSynchronize(), 0);
      ASSERT_EQ(d.api().cuMemcpyDtoH(out.data(), y->get(), n * 4), 0);
      for (int64_t i = 0; i < n; ++i) {
        std::vector<float> scalars;
        for (size_t j = 0; j < ins.size(); ++j) scalars.push_back(ins[j][BroadcastIndex(i, c.out, c.ins[j])]);
        const float want = codegen::EvalExprScalar(*program, scalars);
        if (std::isnan(want)) {
          ASSERT_TRUE(std::isnan(out[i])) << c.program << " element " << i;
          continue;
        }
        ASSERT_LE(std::fabs(out[i] - want), 1e-6f + 2e-6f * std::fabs(want))
            << "program '" << c.program << "' element " << i << ": got " << out[i] << ", want " << want;
      }
    }
  }
}

}  // namespace
}  // namespace ts
