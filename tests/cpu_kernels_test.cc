// Generated CPU kernels (codegen/cpu_llvm) JIT-linked by the runtime (runtime/cpu_jit), and the
// runtime's builtins, each checked element by element against a plain reference.
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "codegen/cpu_llvm.h"
#include "codegen/expr.h"
#include "runtime/cpu_builtins.h"
#include "runtime/cpu_jit.h"

namespace ts {
namespace {

int64_t Count(const std::vector<int64_t>& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

// Index of output element `flat` in an input of shape `in` broadcast to `out`.
int64_t BroadcastIndex(int64_t flat, const std::vector<int64_t>& out, const std::vector<int64_t>& in) {
  int64_t idx = 0, stride = 1;
  for (size_t d = out.size(); d-- > 0;) {
    int64_t i = flat % out[d];
    flat /= out[d];
    size_t off = out.size() - in.size();
    if (d >= off) {
      int64_t dim = in[d - off];
      if (dim != 1) idx += i * stride;
      stride *= dim;
    }
  }
  return idx;
}

struct Case {
  std::string program;
  std::vector<int64_t> out;
  std::vector<std::vector<int64_t>> ins;
};

class ElementwiseKernelTest : public ::testing::TestWithParam<Case> {};

TEST_P(ElementwiseKernelTest, MatchesScalarReference) {
  const Case& c = GetParam();
  auto program = codegen::ParseExprProgram(c.program, static_cast<int>(c.ins.size()));
  ASSERT_TRUE(program.ok()) << program.status().ToString();
  codegen::ElementwiseKernel k{"k0", *program, c.out, c.ins};
  auto bitcode = codegen::EmitCpuModule({k});
  ASSERT_TRUE(bitcode.ok()) << bitcode.status().ToString();
  planfmt::KernelModule module{"llvm-bc", {"k0"}, *bitcode};
  auto kernels = runtime::CpuKernels::Load(module);
  ASSERT_TRUE(kernels.ok()) << kernels.status().ToString();
  auto fn = (*kernels)->Lookup("k0");
  ASSERT_TRUE(fn.ok());

  std::mt19937 rng(42);
  std::uniform_real_distribution<float> dist(0.1f, 2.0f);  // positive: Log and Sqrt stay real
  std::vector<std::vector<float>> ins;
  for (const auto& s : c.ins) {
    ins.emplace_back(Count(s));
    for (float& v : ins.back()) v = dist(rng) * (rng() % 2 ? 1.0f : -1.0f);
  }
  std::vector<float> out(Count(c.out), NAN);
  std::vector<void*> args;
  for (auto& v : ins) args.push_back(v.data());
  args.push_back(out.data());
  (*fn)(args.data());

  // Tolerance: the JIT may contract a*b+c into an FMA and uses its own exp/log.
  const float rtol = 1e-5f, atol = 1e-6f;
  for (int64_t i = 0; i < Count(c.out); ++i) {
    std::vector<float> scalars;
    for (size_t j = 0; j < ins.size(); ++j) scalars.push_back(ins[j][BroadcastIndex(i, c.out, c.ins[j])]);
    float want = codegen::EvalExprScalar(*program, scalars);
    if (std::isnan(want)) {
      ASSERT_TRUE(std::isnan(out[i])) << "element " << i;
      continue;
    }
    ASSERT_LE(std::fabs(out[i] - want), atol + rtol * std::fabs(want))
        << "program '" << c.program << "' element " << i << ": got " << out[i] << ", want " << want;
  }
}

// Exp, Tanh, Sigmoid and Erf are computed in vectorisable arithmetic rather than libm calls:
// check them over a dense sweep and the special values against the C library.
TEST(TranscendentalKernelTest, MatchLibmOverTheRangeAndSpecialValues) {
  std::vector<float> xs;
  for (float v = -110.0f; v <= 110.0f; v += 0.0173f) xs.push_back(v);
  for (float v = -2.0f; v <= 2.0f; v += 0.0001f) xs.push_back(v);
  for (float v : {0.0f, -0.0f, 1e-30f, -1e-30f, 1e-6f, 0.25f, -0.25f, 0.5f, -0.5f, 88.5f, 88.8f,
                  -87.4f, -104.0f, INFINITY, -INFINITY, NAN}) {
    xs.push_back(v);
  }
  const int64_t n = static_cast<int64_t>(xs.size());
  struct Fn {
    const char* op;
    double (*ref)(double);
    double rtol, atol;
  };
  const Fn fns[] = {
      {"Exp", [](double x) { return std::exp(x); }, 2e-6, 1.2e-38},
      {"Tanh", [](double x) { return std::tanh(x); }, 2e-6, 1e-7},
      {"Sigmoid", [](double x) { return 1 / (1 + std::exp(-x)); }, 2e-6, 1.2e-38},
      {"Erf", [](double x) { return std::erf(x); }, 2e-6, 2e-7},
  };
  for (const Fn& f : fns) {
    auto program = codegen::ParseExprProgram(std::string("$0 ") + f.op, 1);
    ASSERT_TRUE(program.ok()) << program.status().ToString();
    auto bitcode = codegen::EmitCpuModule({codegen::ElementwiseKernel{"k0", *program, {n}, {{n}}}});
    ASSERT_TRUE(bitcode.ok()) << bitcode.status().ToString();
    auto kernels = runtime::CpuKernels::Load(planfmt::KernelModule{"llvm-bc", {"k0"}, *bitcode});
    ASSERT_TRUE(kernels.ok()) << kernels.status().ToString();
    std::vector<float> out(xs.size(), -7.0f);
    void* args[] = {xs.data(), out.data()};
    (*(*kernels)->Lookup("k0"))(args);
    for (size_t i = 0; i < xs.size(); ++i) {
      const double want = static_cast<float>(f.ref(xs[i]));  // as a float result reads
      if (std::isnan(want)) {
        ASSERT_TRUE(std::isnan(out[i])) << f.op << "(" << xs[i] << ") = " << out[i];
      } else if (std::isinf(want)) {
        ASSERT_EQ(out[i], want) << f.op << "(" << xs[i] << ")";
      } else {
        ASSERT_LE(std::fabs(out[i] - want), f.atol + f.rtol * std::fabs(want))
            << f.op << "(" << xs[i] << ") = " << out[i] << ", want " << want;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, ElementwiseKernelTest,
    ::testing::Values(
        Case{"$0 $1 Add Relu", {1000}, {{1000}, {1000}}},
        Case{"$0 $1 Mul $2 Sub", {3, 4, 5}, {{3, 4, 5}, {5}, {3, 1, 1}}},
        Case{"$0 Tanh $0 Sigmoid Mul $1 Div", {2, 3, 7}, {{2, 3, 7}, {1}}},
        Case{"$0 Abs Sqrt Log Exp Neg", {4, 1, 6}, {{4, 1, 6}}},
        Case{"$0 $1 Add", {2, 3, 4, 5}, {{2, 1, 4, 1}, {3, 1, 5}}},
        Case{"$0 $1 Sub", {7, 9}, {{7, 1}, {1, 9}}},
        Case{"$0 $0 Mul", {}, {{}}},
        Case{"$0 Relu", {1, 1, 1}, {{1}}},
        Case{"$0 Erf $1 Mul Tanh $0 Sigmoid Add Exp", {3, 17}, {{3, 17}, {17}}}));

TEST(ExprProgramTest, RejectsMalformedPrograms) {
  EXPECT_FALSE(codegen::ParseExprProgram("$0 Add", 1).ok());
  EXPECT_FALSE(codegen::ParseExprProgram("$0 $1", 2).ok());
  EXPECT_FALSE(codegen::ParseExprProgram("$2 Relu", 2).ok());
  EXPECT_FALSE(codegen::ParseExprProgram("$0 Frobnicate", 1).ok());
  EXPECT_FALSE(codegen::ParseExprProgram("", 0).ok());
  EXPECT_TRUE(codegen::ParseExprProgram("$0 $1 Add $0 Mul", 2).ok());
}

TEST(LoopNestTest, MergesContiguousDimsAndKeepsBroadcast) {
  codegen::ElementwiseKernel same{"k", {}, {2, 3, 4}, {{2, 3, 4}, {2, 3, 4}}};
  auto n = codegen::BuildLoopNest(same);
  EXPECT_EQ(n.dims, (std::vector<int64_t>{24}));
  codegen::ElementwiseKernel bias{"k", {}, {2, 3, 4}, {{2, 3, 4}, {4}}};
  n = codegen::BuildLoopNest(bias);
  EXPECT_EQ(n.dims, (std::vector<int64_t>{6, 4}));
  EXPECT_EQ(n.in_strides[0], (std::vector<int64_t>{4, 1}));
  EXPECT_EQ(n.in_strides[1], (std::vector<int64_t>{0, 1}));
}

// A dimension of 0: the kernel must touch nothing (found by review: the loops tested their
// bound after the body). The guard values around the empty output must survive.
TEST(ElementwiseKernelTest, EmptyOutputTouchesNothing) {
  auto program = codegen::ParseExprProgram("$0 $1 Add", 2);
  ASSERT_TRUE(program.ok());
  codegen::ElementwiseKernel k{"k0", *program, {0, 3}, {{0, 3}, {3}}};
  auto bitcode = codegen::EmitCpuModule({k});
  ASSERT_TRUE(bitcode.ok());
  auto kernels = runtime::CpuKernels::Load({"llvm-bc", {"k0"}, *bitcode});
  ASSERT_TRUE(kernels.ok()) << kernels.status().ToString();
  float a = 1, b[3] = {1, 2, 3}, out[2] = {-7, -7};
  void* args[] = {&a, b, out};
  (*(*kernels)->Lookup("k0"))(args);
  EXPECT_EQ(out[0], -7);
  EXPECT_EQ(out[1], -7);
}

// Symbols resolve only to functions the bundle's module defines: naming a process function
// (found by review: the JIT searched the whole process) is refused at load.
TEST(CpuJitTest, SymbolsMustBeDefinedByTheModule) {
  auto program = codegen::ParseExprProgram("$0 Relu", 1);
  ASSERT_TRUE(program.ok());
  auto bitcode = codegen::EmitCpuModule({{"k0", *program, {4}, {{4}}}});
  ASSERT_TRUE(bitcode.ok());
  for (const char* name : {"free", "abort", "k0.body", "tanhf"}) {
    auto kernels = runtime::CpuKernels::Load({"llvm-bc", {"k0", name}, *bitcode});
    ASSERT_FALSE(kernels.ok()) << name;
    EXPECT_EQ(kernels.status().code(), Code::kBadInput);
    EXPECT_NE(kernels.status().message().find("is not defined by the bundle's kernel module"),
              std::string::npos) << kernels.status().message();
  }
  auto empty = runtime::CpuKernels::Load({"llvm-bc", {"free"}, {}});
  ASSERT_FALSE(empty.ok());
}

TEST(CpuJitTest, RefusesNonCpuKernelsAndBadBitcode) {
  auto wrong = runtime::CpuKernels::Load({"cubin", {}, {1, 2, 3}});
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), Code::kBadInput);
  auto garbage = runtime::CpuKernels::Load({"llvm-bc", {"k0"}, {'B', 'C', 0xC0, 0xDE, 1, 2}});
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.status().code(), Code::kBadInput);
}

// ---- builtins ----

planfmt::TensorRef Ref(const std::vector<int64_t>& shape, uint64_t offset) {
  return {"t", DType::kF32, shape, offset, static_cast<uint64_t>(Count(shape)) * 4};
}

struct Arena {
  std::vector<float> mem = std::vector<float>(1 << 16, 0.0f);
  uint8_t* base() { return reinterpret_cast<uint8_t*>(mem.data()); }
  float* at(const planfmt::TensorRef& r) { return mem.data() + r.offset / 4; }
  void Fill(const planfmt::TensorRef& r, int seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> d(-1, 1);
    for (int64_t i = 0; i < Count(r.shape); ++i) at(r)[i] = d(rng);
  }
};

TEST(BuiltinTest, GemmWithTransposesAlphaBetaAndRowBias) {
  Arena a;
  // A is [K=3, M=2] (transA), B is [N=4, K=3] (transB), C is [1, 4].
  auto A = Ref({3, 2}, 0), B = Ref({4, 3}, 64), C = Ref({1, 4}, 128), Y = Ref({2, 4}, 192);
  a.Fill(A, 1); a.Fill(B, 2); a.Fill(C, 3);
  planfmt::Step s;
  s.builtin = planfmt::Builtin::kGemm;
  s.iparams = {1, 1};
  s.fparams = {0.5, 2.0};
  s.num_inputs = 3;
  s.args = {A, B, C, Y};
  ASSERT_TRUE(runtime::CheckBuiltin(s).ok());
  runtime::RunBuiltin(s, a.base());
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 4; ++j) {
      float want = 2.0f * a.at(C)[j];
      for (int k = 0; k < 3; ++k) want += 0.5f * a.at(A)[k * 2 + i] * a.at(B)[j * 3 + k];
      EXPECT_NEAR(a.at(Y)[i * 4 + j], want, 1e-5) << i << "," << j;
    }
  }
}

TEST(BuiltinTest, MatMulBroadcastsBatch) {
  Arena a;
  auto A = Ref({2, 1, 3, 4}, 0), B = Ref({3, 4, 5}, 4096), Y = Ref({2, 3, 3, 5}, 8192);
  a.Fill(A, 4); a.Fill(B, 5);
  planfmt::Step s;
  s.builtin = planfmt::Builtin::kMatMul;
  s.num_inputs = 2;
  s.args = {A, B, Y};
  ASSERT_TRUE(runtime::CheckBuiltin(s).ok());
  runtime::RunBuiltin(s, a.base());
  for (int b0 = 0; b0 < 2; ++b0)
    for (int b1 = 0; b1 < 3; ++b1)
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 5; ++j) {
          float want = 0;
          for (int k = 0; k < 4; ++k) want += a.at(A)[(b0 * 3 + i) * 4 + k] * a.at(B)[(b1 * 4 + k) * 5 + j];
          EXPECT_NEAR(a.at(Y)[((b0 * 3 + b1) * 3 + i) * 5 + j], want, 1e-5);
        }
}

TEST(BuiltinTest, SoftmaxAlongMiddleAxisAndLegacy) {
  for (int legacy = 0; legacy <= 1; ++legacy) {
    Arena a;
    auto X = Ref({2, 3, 4}, 0), Y = Ref({2, 3, 4}, 256);
    a.Fill(X, 6);
    planfmt::Step s;
    s.builtin = planfmt::Builtin::kSoftmax;
    s.iparams = {1, legacy};
    s.num_inputs = 1;
    s.args = {X, Y};
    ASSERT_TRUE(runtime::CheckBuiltin(s).ok());
    runtime::RunBuiltin(s, a.base());
    // Sums over the normalised group: axis 1 (3 values, stride 4) or, legacy, all 12 of a row.
    for (int o = 0; o < 2; ++o) {
      if (legacy) {
        float sum = 0;
        for (int j = 0; j < 12; ++j) sum += a.at(Y)[o * 12 + j];
        EXPECT_NEAR(sum, 1.0f, 1e-5);
      } else {
        for (int i = 0; i < 4; ++i) {
          float sum = 0;
          for (int j = 0; j < 3; ++j) sum += a.at(Y)[o * 12 + j * 4 + i];
          EXPECT_NEAR(sum, 1.0f, 1e-5);
        }
      }
    }
  }
}

TEST(BuiltinTest, TransposeFourDims) {
  Arena a;
  auto X = Ref({2, 3, 4, 5}, 0), Y = Ref({4, 2, 5, 3}, 1024);
  a.Fill(X, 7);
  planfmt::Step s;
  s.builtin = planfmt::Builtin::kTranspose;
  s.iparams = {2, 0, 3, 1};
  s.num_inputs = 1;
  s.args = {X, Y};
  ASSERT_TRUE(runtime::CheckBuiltin(s).ok());
  runtime::RunBuiltin(s, a.base());
  for (int i0 = 0; i0 < 4; ++i0)
    for (int i1 = 0; i1 < 2; ++i1)
      for (int i2 = 0; i2 < 5; ++i2)
        for (int i3 = 0; i3 < 3; ++i3)
          ASSERT_EQ(a.at(Y)[((i0 * 2 + i1) * 5 + i2) * 3 + i3], a.at(X)[((i1 * 3 + i3) * 4 + i0) * 5 + i2]);
}

// Matrix products large enough to be split over threads: by columns (N >= 128, with and
// without trans_b), by rows (M >= 128, N small), and batched.
TEST(BuiltinTest, SplitMatMulsMatchAReference) {
  struct Shape3 {
    std::vector<int64_t> a, b;
    bool trans_b;
  };
  for (const Shape3& c : {Shape3{{70, 40}, {40, 300}, false}, Shape3{{70, 40}, {300, 40}, true},
                          Shape3{{300, 24}, {24, 20}, false}, Shape3{{3, 50, 16}, {16, 140}, false}}) {
    Arena a;
    a.mem.assign(1 << 17, 0.0f);
    const int64_t k = c.a.back(), n = c.trans_b ? c.b[0] : c.b.back();
    const int64_t m = c.a[c.a.size() - 2], batch = c.a.size() == 3 ? c.a[0] : 1;
    std::vector<int64_t> y_shape = c.a;
    y_shape.back() = n;
    auto A = Ref(c.a, 0), B = Ref(c.b, 4 * 40000), Y = Ref(y_shape, 4 * 60000);
    a.Fill(A, 11);
    a.Fill(B, 12);
    planfmt::Step s;
    s.builtin = planfmt::Builtin::kMatMul;
    s.num_inputs = 2;
    s.iparams = {c.trans_b ? 1 : 0};
    s.args = {A, B, Y};
    ASSERT_TRUE(runtime::CheckBuiltin(s).ok()) << runtime::CheckBuiltin(s).ToString();
    runtime::RunBuiltin(s, a.base());
    for (int64_t bi = 0; bi < batch; ++bi) {
      for (int64_t i = 0; i < m; ++i) {
        for (int64_t j = 0; j < n; ++j) {
          double want = 0;
          for (int64_t q = 0; q < k; ++q) {
            const float bv = c.trans_b ? a.at(B)[j * k + q] : a.at(B)[q * n + j];
            want += double(a.at(A)[(bi * m + i) * k + q]) * bv;
          }
          ASSERT_NEAR(a.at(Y)[(bi * m + i) * n + j], want, 1e-4) << bi << " " << i << " " << j;
        }
      }
    }
  }
}

// Rows along the last axis take the vectorised path: check it against double precision,
// with masked (-inf) entries, a wide range, and a row that is all -inf (NaN, as before).
TEST(BuiltinTest, SoftmaxRowsMatchDoublePrecision) {
  Arena a;
  auto X = Ref({4, 37}, 0), Y = Ref({4, 37}, 1024);
  a.Fill(X, 9);
  float* x = a.at(X);
  for (int j = 0; j < 37; ++j) x[j] *= 60.0f;              // row 0: spread over [-60, 60]
  for (int j = 0; j < 37; j += 3) x[37 + j] = -INFINITY;  // row 1: masked
  for (int j = 0; j < 37; ++j) x[74 + j] = -INFINITY;     // row 2: all masked
  planfmt::Step s;
  s.builtin = planfmt::Builtin::kSoftmax;
  s.iparams = {1, 0};
  s.num_inputs = 1;
  s.args = {X, Y};
  ASSERT_TRUE(runtime::CheckBuiltin(s).ok());
  runtime::RunBuiltin(s, a.base());
  for (int r = 0; r < 4; ++r) {
    if (r == 2) {
      for (int j = 0; j < 37; ++j) EXPECT_TRUE(std::isnan(a.at(Y)[74 + j]));
      continue;
    }
    double mx = -INFINITY, sum = 0;
    for (int j = 0; j < 37; ++j) mx = std::max(mx, double(x[r * 37 + j]));
    for (int j = 0; j < 37; ++j) sum += std::exp(double(x[r * 37 + j]) - mx);
    for (int j = 0; j < 37; ++j) {
      const double d = double(x[r * 37 + j]) - mx;
      if (std::isinf(d)) {
        ASSERT_EQ(a.at(Y)[r * 37 + j], 0.0f) << "a masked entry, row " << r << " col " << j;
        continue;
      }
      const double want = std::exp(d) / sum;
      // Float rounding of x - max alone moves e^(x - max) by |x - max| * 2^-24 relative.
      const double rel = 1.2e-7 * (4 + std::fabs(d));
      ASSERT_NEAR(a.at(Y)[r * 37 + j], want, rel * want + 1e-37) << "row " << r << " col " << j;
    }
  }
}

TEST(BuiltinTest, TransposeKeepingTheLastDimCopiesRows) {
  Arena a;
  auto X = Ref({2, 6, 5, 8}, 0), Y = Ref({2, 5, 6, 8}, 4096);
  a.Fill(X, 10);
  planfmt::Step s;
  s.builtin = planfmt::Builtin::kTranspose;
  s.iparams = {0, 2, 1, 3};
  s.num_inputs = 1;
  s.args = {X, Y};
  ASSERT_TRUE(runtime::CheckBuiltin(s).ok());
  runtime::RunBuiltin(s, a.base());
  for (int i0 = 0; i0 < 2; ++i0)
    for (int i1 = 0; i1 < 5; ++i1)
      for (int i2 = 0; i2 < 6; ++i2)
        for (int i3 = 0; i3 < 8; ++i3)
          ASSERT_EQ(a.at(Y)[((i0 * 5 + i1) * 6 + i2) * 8 + i3], a.at(X)[((i0 * 6 + i2) * 5 + i1) * 8 + i3]);
}

TEST(BuiltinTest, InconsistentStepsAreRefused) {
  planfmt::Step s;
  s.node = "bad";
  s.builtin = planfmt::Builtin::kMatMul;
  s.num_inputs = 2;
  s.args = {Ref({2, 3}, 0), Ref({4, 5}, 64), Ref({2, 5}, 256)};
  auto st = runtime::CheckBuiltin(s);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Code::kBadInput);
  EXPECT_NE(st.message().find("step 'bad'"), std::string::npos);
  // Consistent operands, an output with the right element count but the wrong shape.
  s.args = {Ref({2, 3}, 0), Ref({3, 5}, 64), Ref({5, 2}, 256)};
  EXPECT_FALSE(runtime::CheckBuiltin(s).ok());
  // Batch dims whose true product overflows 64 bits must not pass as a small output.
  s.args = {Ref({int64_t{1} << 32, 1, 1, 1}, 0), Ref({1, int64_t{1} << 32, 1, 1}, 64),
            Ref({0}, 256)};
  EXPECT_FALSE(runtime::CheckBuiltin(s).ok());
  s.builtin = planfmt::Builtin::kTranspose;
  s.iparams = {0, 0};
  s.num_inputs = 1;
  s.args = {Ref({2, 3}, 0), Ref({3, 2}, 64)};
  EXPECT_FALSE(runtime::CheckBuiltin(s).ok());
}

}  // namespace
}  // namespace ts
