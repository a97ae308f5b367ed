// The CUDA driver API, loaded at run time.
//
// `tsc` and `tsr` must start, and run CPU plans, on machines with no GPU and no NVIDIA driver, so
// nothing links libcuda or libcudart: Driver::Load() dlopens libcuda.so.1, resolves the entry
// points below with dlsym (the `_v2` ABI where the driver exports one, as cuda.h's #defines would
// pick), calls cuInit(0) and counts the devices. Every failure on that path is one Status line
// ("no NVIDIA driver: libcuda.so.1 not found (...)", "cuInit failed: ...", "0 CUDA devices"), so
// callers can print it and carry on without a GPU.
//
// Types and constants are declared here rather than taken from cuda.h, so this library builds
// without the CUDA toolkit on the include path; their values are those of CUDA 13's cuda.h (the
// driver ABI keeps them stable). Do not mix these handle types with cuda.h's in one file.
//
// Errors: a CUresult becomes a Status at the call site with CU_RETURN_IF_ERROR, which records the
// expression, __FILE__ and __LINE__, the error's name and the driver's description:
//   "runtime/cuda/driver.cc:220: api_.cuMemAlloc(&p, bytes) failed: CUDA_ERROR_OUT_OF_MEMORY (2):
//    out of memory"
// Codes: out of memory is kDoesNotFit; invalid values, handles, contexts, PTX and illegal
// addresses are kInternal (TensorShunt passed or generated something wrong); anything else is
// kIo (the driver or the device refused).
//
// Ownership: a Driver owns nothing the process could give back: libcuda is never dlclosed once
// cuInit has run (it keeps threads and exit handlers). The RAII handles (DeviceMemory, Stream,
// ...) release what they own in their destructors and ignore errors there; they must not outlive
// the Driver or the context they were made in. Thread-safety: a Driver is immutable after Load
// and may be shared; the driver's own functions are thread-safe. A context is current per
// thread: call PrimaryContext::MakeCurrent on each thread that uses one.
#ifndef TENSORSHUNT_RUNTIME_CUDA_DRIVER_H_
#define TENSORSHUNT_RUNTIME_CUDA_DRIVER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "ir/status.h"

namespace ts::runtime::cuda {

// --- Types of cuda.h -------------------------------------------------------------------------
using CUresult = int;  // cudaError_enum
using CUdevice = int;
using CUdeviceptr = unsigned long long;  // CUdeviceptr_v2 on 64-bit hosts
struct CUctx_st;
struct CUmod_st;
struct CUfunc_st;
struct CUstream_st;
struct CUevent_st;
using CUcontext = CUctx_st*;
using CUmodule = CUmod_st*;
using CUfunction = CUfunc_st*;
using CUstream = CUstream_st*;
using CUevent = CUevent_st*;

// --- Constants of cuda.h (name in cuda.h after each) -----------------------------------------
inline constexpr CUresult kSuccess = 0;                   // CUDA_SUCCESS
inline constexpr CUresult kErrorInvalidValue = 1;         // CUDA_ERROR_INVALID_VALUE
inline constexpr CUresult kErrorOutOfMemory = 2;          // CUDA_ERROR_OUT_OF_MEMORY
inline constexpr CUresult kErrorStubLibrary = 34;         // CUDA_ERROR_STUB_LIBRARY
inline constexpr CUresult kErrorNoDevice = 100;           // CUDA_ERROR_NO_DEVICE
inline constexpr CUresult kErrorInvalidContext = 201;     // CUDA_ERROR_INVALID_CONTEXT
inline constexpr CUresult kErrorInvalidPtx = 218;         // CUDA_ERROR_INVALID_PTX
inline constexpr CUresult kErrorInvalidHandle = 400;      // CUDA_ERROR_INVALID_HANDLE
inline constexpr CUresult kErrorIllegalAddress = 700;     // CUDA_ERROR_ILLEGAL_ADDRESS

inline constexpr int kAttrMultiprocessorCount = 16;       // CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT
inline constexpr int kAttrMaxThreadsPerMultiprocessor = 39;  // ..._MAX_THREADS_PER_MULTIPROCESSOR
inline constexpr int kAttrComputeCapabilityMajor = 75;    // ..._COMPUTE_CAPABILITY_MAJOR
inline constexpr int kAttrComputeCapabilityMinor = 76;    // ..._COMPUTE_CAPABILITY_MINOR

inline constexpr unsigned kStreamDefault = 0;             // CU_STREAM_DEFAULT
inline constexpr unsigned kStreamNonBlocking = 1;         // CU_STREAM_NON_BLOCKING
inline constexpr unsigned kEventDefault = 0;              // CU_EVENT_DEFAULT (timing enabled)
inline constexpr unsigned kEventDisableTiming = 2;        // CU_EVENT_DISABLE_TIMING

inline constexpr const char* kDefaultLibrary = "libcuda.so.1";

// The entry points TensorShunt uses, named as in cuda.h (cuMemAlloc is cuMemAlloc_v2, ...).
// Every one is resolved by Load; none is null in a loaded Driver.
struct DriverApi {
  CUresult (*cuInit)(unsigned flags);
  CUresult (*cuDriverGetVersion)(int* version);
  CUresult (*cuGetErrorName)(CUresult error, const char** name);
  CUresult (*cuGetErrorString)(CUresult error, const char** text);

  CUresult (*cuDeviceGetCount)(int* count);
  CUresult (*cuDeviceGet)(CUdevice* device, int ordinal);
  CUresult (*cuDeviceGetName)(char* name, int len, CUdevice device);
  CUresult (*cuDeviceGetAttribute)(int* value, int attribute, CUdevice device);
  CUresult (*cuDeviceTotalMem)(size_t* bytes, CUdevice device);

  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext* context, CUdevice device);
  CUresult (*cuDevicePrimaryCtxRelease)(CUdevice device);
  CUresult (*cuCtxSetCurrent)(CUcontext context);
  CUresult (*cuCtxSynchronize)();

  CUresult (*cuMemGetInfo)(size_t* free_bytes, size_t* total_bytes);
  CUresult (*cuMemAlloc)(CUdeviceptr* ptr, size_t bytes);
  CUresult (*cuMemFree)(CUdeviceptr ptr);
  CUresult (*cuMemAllocHost)(void** ptr, size_t bytes);  // pinned (page-locked) host memory
  CUresult (*cuMemFreeHost)(void* ptr);
  CUresult (*cuMemcpyHtoD)(CUdeviceptr dst, const void* src, size_t bytes);
  CUresult (*cuMemcpyDtoH)(void* dst, CUdeviceptr src, size_t bytes);
  CUresult (*cuMemcpyDtoD)(CUdeviceptr dst, CUdeviceptr src, size_t bytes);
  CUresult (*cuMemcpyHtoDAsync)(CUdeviceptr dst, const void* src, size_t bytes, CUstream stream);
  CUresult (*cuMemcpyDtoHAsync)(void* dst, CUdeviceptr src, size_t bytes, CUstream stream);
  CUresult (*cuMemcpyDtoDAsync)(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream stream);

  CUresult (*cuModuleLoadData)(CUmodule* module, const void* image);  // cubin, or PTX text
  CUresult (*cuModuleUnload)(CUmodule module);
  CUresult (*cuModuleGetFunction)(CUfunction* function, CUmodule module, const char* name);
  CUresult (*cuLaunchKernel)(CUfunction function, unsigned grid_x, unsigned grid_y,
                             unsigned grid_z, unsigned block_x, unsigned block_y, unsigned block_z,
                             unsigned shared_bytes, CUstream stream, void** params, void** extra);

  CUresult (*cuStreamCreate)(CUstream* stream, unsigned flags);
  CUresult (*cuStreamDestroy)(CUstream stream);
  CUresult (*cuStreamSynchronize)(CUstream stream);
  CUresult (*cuEventCreate)(CUevent* event, unsigned flags);
  CUresult (*cuEventDestroy)(CUevent event);
  CUresult (*cuEventRecord)(CUevent event, CUstream stream);
  CUresult (*cuStreamWaitEvent)(CUstream stream, CUevent event, unsigned flags);
  CUresult (*cuEventSynchronize)(CUevent event);
  CUresult (*cuEventElapsedTime)(float* milliseconds, CUevent start, CUevent end);
};

// "NAME (CODE): TEXT"; an empty name (a code the driver does not know) reads "CUDA error CODE".
std::string ResultText(CUresult result, std::string_view name, std::string_view text);

// The Status for a failed driver call: "FILE:LINE: EXPR failed: " + ResultText. Status code as
// in the file comment.
Status CudaError(CUresult result, std::string_view name, std::string_view text,
                 std::string_view expr, std::string_view file, int line);

class Driver;

// An owned driver handle, released with `kRelease` (a member of DriverApi). Move-only.
template <typename Handle, auto kRelease>
class Owned {
 public:
  Owned() = default;
  Owned(const Driver* driver, Handle handle) : driver_(driver), handle_(handle) {}
  Owned(Owned&& o) noexcept : driver_(o.driver_), handle_(std::exchange(o.handle_, Handle{})) {}
  Owned& operator=(Owned&& o) noexcept {
    if (this != &o) {
      Reset();
      driver_ = o.driver_;
      handle_ = std::exchange(o.handle_, Handle{});
    }
    return *this;
  }
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
  ~Owned() { Reset(); }

  Handle get() const { return handle_; }
  explicit operator bool() const { return handle_ != Handle{}; }
  void Reset();

 private:
  const Driver* driver_ = nullptr;
  Handle handle_{};
};

using DeviceMemory = Owned<CUdeviceptr, &DriverApi::cuMemFree>;
using PinnedMemory = Owned<void*, &DriverApi::cuMemFreeHost>;
using Stream = Owned<CUstream, &DriverApi::cuStreamDestroy>;
using Event = Owned<CUevent, &DriverApi::cuEventDestroy>;
using Module = Owned<CUmodule, &DriverApi::cuModuleUnload>;

// A device's primary context (the one the CUDA runtime and cuBLAS share), retained and made
// current on the creating thread. Released on destruction.
class PrimaryContext {
 public:
  PrimaryContext() = default;
  PrimaryContext(PrimaryContext&& o) noexcept;
  PrimaryContext& operator=(PrimaryContext&& o) noexcept;
  PrimaryContext(const PrimaryContext&) = delete;
  PrimaryContext& operator=(const PrimaryContext&) = delete;
  ~PrimaryContext();

  CUcontext get() const { return context_; }
  CUdevice device() const { return device_; }
  // Makes this context current on the calling thread.
  Status MakeCurrent() const;

 private:
  friend class Driver;
  void Release();

  const Driver* driver_ = nullptr;
  CUdevice device_ = 0;
  CUcontext context_ = nullptr;
};

struct DeviceInfo {
  int ordinal = 0;
  std::string name;          // "NVIDIA H100 PCIe"
  int cc_major = 0, cc_minor = 0;
  int multiprocessors = 0;
  int max_threads_per_multiprocessor = 0;  // resident threads per SM (2048 on H100)
  uint64_t total_memory = 0;  // bytes
  std::string Arch() const;   // "sm_90"
};

class Driver {
 public:
  // dlopens `library`, resolves DriverApi, runs cuInit(0) and counts devices. Errors (kIo), one
  // line each: the library is missing ("no NVIDIA driver: LIB not found (DLERROR)"), lacks an
  // entry point (too old, or not libcuda), cuInit fails, or there is no device.
  static StatusOr<std::unique_ptr<Driver>> Load(const std::string& library = kDefaultLibrary);

  Driver(const Driver&) = delete;
  Driver& operator=(const Driver&) = delete;

  const DriverApi& api() const { return api_; }
  int version() const { return version_; }          // cuDriverGetVersion: 13000 = CUDA 13.0
  std::string VersionString() const;                // "13.0"
  int device_count() const { return device_count_; }
  const std::string& library() const { return library_; }

  // OK for kSuccess; else CudaError with the driver's name and description of `result`.
  Status Check(CUresult result, const char* expr, const char* file, int line) const;
  // ResultText with the driver's name and description of `result`.
  std::string ErrorText(CUresult result) const;

  StatusOr<DeviceInfo> Describe(int ordinal) const;
  StatusOr<PrimaryContext> RetainPrimaryContext(int ordinal) const;  // and makes it current
  // These need a current context.
  StatusOr<DeviceMemory> AllocDevice(size_t bytes) const;
  StatusOr<PinnedMemory> AllocPinned(size_t bytes) const;
  StatusOr<Stream> CreateStream(unsigned flags = kStreamNonBlocking) const;
  StatusOr<Event> CreateEvent(unsigned flags = kEventDefault) const;
  // `image` is a cubin or NUL-terminated PTX text (the driver JIT-compiles PTX for the device).
  StatusOr<Module> LoadModule(const std::string& image) const;
  StatusOr<CUfunction> GetFunction(const Module& module, const char* name) const;
  // Milliseconds between two recorded events; waits for `end`.
  StatusOr<double> ElapsedMs(const Event& start, const Event& end) const;

 private:
  Driver() = default;
  std::pair<std::string, std::string> NameAndText(CUresult result) const;

  DriverApi api_{};
  std::string library_;
  int version_ = 0;
  int device_count_ = 0;
};

template <typename Handle, auto kRelease>
void Owned<Handle, kRelease>::Reset() {
  if (handle_ != Handle{}) (void)(driver_->api().*kRelease)(handle_);
  handle_ = Handle{};
}

}  // namespace ts::runtime::cuda

// Returns from the enclosing function with a Status when the driver call `expr` does not return
// CUDA_SUCCESS. `driver` is a Driver (anything with Driver::Check's signature).
#define CU_RETURN_IF_ERROR(driver, expr) \
  RETURN_IF_ERROR((driver).Check((expr), #expr, __FILE__, __LINE__))

#endif  // TENSORSHUNT_RUNTIME_CUDA_DRIVER_H_
