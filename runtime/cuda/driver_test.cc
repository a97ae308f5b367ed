#include "runtime/cuda/driver.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace ts::runtime::cuda {
namespace {

bool OneLine(const std::string& s) { return !s.empty() && s.find('\n') == std::string::npos; }

TEST(DriverLoad, MissingLibraryIsOneLineNotFound) {
  auto d = Driver::Load("libtensorshunt-no-such-driver.so.1");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), Code::kIo);
  const std::string& m = d.status().message();
  EXPECT_EQ(m.rfind("no NVIDIA driver: libtensorshunt-no-such-driver.so.1 not found (", 0), 0u) << m;
  EXPECT_EQ(m.back(), ')') << m;
  EXPECT_TRUE(OneLine(m)) << m;
}

TEST(DriverLoad, LibraryWithoutTheDriverApiIsRefused) {
  // libm is on every glibc system and exports none of the cu* entry points.
  auto d = Driver::Load("libm.so.6");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), Code::kIo);
  const std::string& m = d.status().message();
  EXPECT_NE(m.find("libm.so.6 is not a usable NVIDIA driver: it lacks cuInit, "), std::string::npos) << m;
  EXPECT_NE(m.find("cuMemAlloc_v2"), std::string::npos) << m;
  EXPECT_TRUE(OneLine(m)) << m;
}

// The toolkit's link stub exports the whole API, but its cuInit refuses to run
// (CUDA_ERROR_STUB_LIBRARY): the "driver found, cuInit failed" path, testable without a GPU.
// It runs in a child process: once loaded, the stub's soname (libcuda.so.1) would stand in for
// the driver in every later test of this process.
TEST(DriverLoadDeathTest, CuInitFailureIsOneLine) {
  const std::string stub = "/usr/local/cuda/lib64/stubs/libcuda.so";
  if (access(stub.c_str(), R_OK) != 0) GTEST_SKIP() << "no CUDA toolkit stub at " << stub;
  EXPECT_EXIT(
      {
        auto d = Driver::Load(stub);
        const std::string m = d.ok() ? "loaded" : d.status().message();
        const bool good = !d.ok() && d.status().code() == Code::kIo && OneLine(m) &&
                          m.rfind("NVIDIA driver " + stub +
                                      " loaded but cuInit failed: CUDA_ERROR_STUB_LIBRARY (34): ",
                                  0) == 0;
        std::fprintf(stderr, "%s\n", m.c_str());
        std::_Exit(good ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "cuInit failed");
}

// On a machine without a GPU (the build machines) Load fails with a reason; with one it works.
// Either way it returns rather than crashing.
TEST(DriverLoad, DefaultLibraryReturnsAStatus) {
  auto d = Driver::Load();
  if (d.ok()) {
    EXPECT_GE((*d)->device_count(), 1);
    EXPECT_GT((*d)->version(), 0);
    EXPECT_EQ((*d)->library(), "libcuda.so.1");
  } else {
    EXPECT_TRUE(OneLine(d.status().message())) << d.status().message();
    EXPECT_EQ(d.status().code(), Code::kIo);
  }
}

TEST(CudaError, NamesFileLineExpressionAndError) {
  Status s = CudaError(2, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory", "cuMemAlloc(&p, n)",
                       "runtime/cuda/x.cc", 42);
  EXPECT_EQ(s.message(),
            "runtime/cuda/x.cc:42: cuMemAlloc(&p, n) failed: CUDA_ERROR_OUT_OF_MEMORY (2): out of memory");
  EXPECT_EQ(s.code(), Code::kDoesNotFit);
}

TEST(CudaError, CodesFollowTheCause) {
  EXPECT_EQ(CudaError(kErrorInvalidValue, "CUDA_ERROR_INVALID_VALUE", "", "f()", "a.cc", 1).code(),
            Code::kInternal);
  EXPECT_EQ(CudaError(kErrorInvalidPtx, "CUDA_ERROR_INVALID_PTX", "", "f()", "a.cc", 1).code(),
            Code::kInternal);
  EXPECT_EQ(CudaError(kErrorNoDevice, "CUDA_ERROR_NO_DEVICE", "", "f()", "a.cc", 1).code(), Code::kIo);
}

TEST(CudaError, UnknownCodeWithoutName) {
  Status s = CudaError(12345, "", "", "cuFoo()", "b.cc", 7);
  EXPECT_EQ(s.message(), "b.cc:7: cuFoo() failed: CUDA error 12345");
  EXPECT_EQ(s.code(), Code::kIo);
}

// CU_RETURN_IF_ERROR works with anything that has Driver::Check's signature; this stand-in
// names every error CUDA_ERROR_TEST.
struct FakeDriver {
  Status Check(CUresult r, const char* expr, const char* file, int line) const {
    if (r == kSuccess) return OkStatus();
    return CudaError(r, "CUDA_ERROR_TEST", "test error", expr, file, line);
  }
};

CUresult Returns(CUresult r) { return r; }

Status CallsTwice(const FakeDriver& d, CUresult second, int* line) {
  CU_RETURN_IF_ERROR(d, Returns(kSuccess));
  *line = __LINE__ + 1;
  CU_RETURN_IF_ERROR(d, Returns(second));
  return OkStatus();
}

TEST(CuReturnIfError, RecordsExpressionFileAndLine) {
  int line = 0;
  EXPECT_TRUE(CallsTwice(FakeDriver{}, kSuccess, &line).ok());
  Status s = CallsTwice(FakeDriver{}, 999, &line);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), std::string(__FILE__) + ":" + std::to_string(line) +
                             ": Returns(second) failed: CUDA_ERROR_TEST (999): test error");
}

TEST(DeviceInfo, ArchFromComputeCapability) {
  DeviceInfo i;
  i.cc_major = 9;
  i.cc_minor = 0;
  EXPECT_EQ(i.Arch(), "sm_90");
  i.cc_major = 12;
  EXPECT_EQ(i.Arch(), "sm_120");
}

// --- On a GPU --------------------------------------------------------------------------------

class OnDevice : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = Driver::Load();
    if (!d.ok()) GTEST_SKIP() << "no GPU here: " << d.status().message();
    driver_ = std::move(d).value();
    auto c = driver_->RetainPrimaryContext(0);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    context_ = std::move(c).value();
  }
  std::unique_ptr<Driver> driver_;
  PrimaryContext context_;
};

TEST_F(OnDevice, DescribesDeviceZero) {
  auto info = driver_->Describe(0);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_FALSE(info->name.empty());
  EXPECT_GE(info->cc_major, 5);
  EXPECT_GT(info->multiprocessors, 0);
  EXPECT_GT(info->total_memory, uint64_t{1} << 28);
  EXPECT_EQ(driver_->Describe(driver_->device_count()).status().code(), Code::kUsage);
}

TEST_F(OnDevice, CopiesRoundTrip) {
  const size_t n = 1 << 20;
  auto dev = driver_->AllocDevice(n);
  auto pinned = driver_->AllocPinned(n);
  auto stream = driver_->CreateStream();
  ASSERT_TRUE(dev.ok() && pinned.ok() && stream.ok());
  auto* p = static_cast<uint8_t*>(pinned->get());
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(i * 7);
  const DriverApi& cu = driver_->api();
  ASSERT_EQ(cu.cuMemcpyHtoDAsync(dev->get(), p, n, stream->get()), kSuccess);
  ASSERT_EQ(cu.cuStreamSynchronize(stream->get()), kSuccess);
  std::vector<uint8_t> back(n);
  ASSERT_EQ(cu.cuMemcpyDtoH(back.data(), dev->get(), n), kSuccess);
  EXPECT_EQ(std::memcmp(back.data(), p, n), 0);
}

TEST_F(OnDevice, OutOfMemoryIsDoesNotFitWithTheDriversName) {
  auto dev = driver_->AllocDevice(size_t{1} << 60);
  ASSERT_FALSE(dev.ok());
  EXPECT_EQ(dev.status().code(), Code::kDoesNotFit);
  EXPECT_NE(dev.status().message().find("runtime/cuda/driver.cc:"), std::string::npos);
  EXPECT_NE(dev.status().message().find("CUDA_ERROR_OUT_OF_MEMORY (2): "), std::string::npos)
      << dev.status().message();
}

TEST_F(OnDevice, LaunchesAKernelFromPtx) {
  auto info = driver_->Describe(0);
  ASSERT_TRUE(info.ok());
  const int sm = std::min(info->cc_major * 10 + info->cc_minor, 80);
  const std::string ptx = ".version 7.0\n.target sm_" + std::to_string(sm) +
                          "\n.address_size 64\n.visible .entry empty()\n{\n\tret;\n}\n";
  auto module = driver_->LoadModule(ptx);
  ASSERT_TRUE(module.ok()) << module.status().ToString();
  auto f = driver_->GetFunction(*module, "empty");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(driver_->GetFunction(*module, "missing").status().code(), Code::kIo);
  auto start = driver_->CreateEvent();
  auto end = driver_->CreateEvent();
  ASSERT_TRUE(start.ok() && end.ok());
  const DriverApi& cu = driver_->api();
  ASSERT_EQ(cu.cuEventRecord(start->get(), nullptr), kSuccess);
  ASSERT_EQ(cu.cuLaunchKernel(*f, 1, 1, 1, 32, 1, 1, 0, nullptr, nullptr, nullptr), kSuccess);
  ASSERT_EQ(cu.cuEventRecord(end->get(), nullptr), kSuccess);
  auto ms = driver_->ElapsedMs(*start, *end);
  ASSERT_TRUE(ms.ok()) << ms.status().ToString();
  EXPECT_GE(*ms, 0.0);
  EXPECT_EQ(cu.cuCtxSynchronize(), kSuccess);
}

}  // namespace
}  // namespace ts::runtime::cuda
