#include "runtime/cuda/driver.h"

#include <dlfcn.h>

#include <initializer_list>
#include <vector>

namespace ts::runtime::cuda {
namespace {

// dlerror() text for the last failed dl* call, never null.
std::string LastDlError() {
  const char* e = dlerror();
  return e ? e : "unknown dlerror";
}

}  // namespace

std::string ResultText(CUresult result, std::string_view name, std::string_view text) {
  std::string m = name.empty() ? "CUDA error " + std::to_string(result)
                               : std::string(name) + " (" + std::to_string(result) + ")";
  if (!text.empty()) m += ": " + std::string(text);
  return m;
}

Status CudaError(CUresult result, std::string_view name, std::string_view text,
                 std::string_view expr, std::string_view file, int line) {
  std::string m = std::string(file) + ":" + std::to_string(line) + ": " + std::string(expr) +
                  " failed: " + ResultText(result, name, text);
  switch (result) {
    case kErrorOutOfMemory:
      return DoesNotFitError(std::move(m));
    case kErrorInvalidValue:
    case kErrorInvalidContext:
    case kErrorInvalidPtx:
    case kErrorInvalidHandle:
    case kErrorIllegalAddress:
      return InternalError(std::move(m));
    default:
      return IoError(std::move(m));
  }
}

StatusOr<std::unique_ptr<Driver>> Driver::Load(const std::string& library) {
  dlerror();  // clear a stale error
  void* lib = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    return IoError("no NVIDIA driver: " + library + " not found (" + LastDlError() + ")");
  }
  std::unique_ptr<Driver> d(new Driver());
  d->library_ = library;
  DriverApi& a = d->api_;

  // The first name the library exports wins: the versioned ABI cuda.h selects, then the
  // original one (older drivers lack some _v2 entry points, e.g. cuEventElapsedTime_v2).
  std::vector<std::string> missing;
  auto bind = [&]<typename Fn>(Fn& slot, std::initializer_list<const char*> names) {
    for (const char* name : names) {
      if (void* sym = dlsym(lib, name)) {
        slot = reinterpret_cast<Fn>(sym);
        return;
      }
    }
    missing.emplace_back(*names.begin());
  };
  bind(a.cuInit, {"cuInit"});
  bind(a.cuDriverGetVersion, {"cuDriverGetVersion"});
  bind(a.cuGetErrorName, {"cuGetErrorName"});
  bind(a.cuGetErrorString, {"cuGetErrorString"});
  bind(a.cuDeviceGetCount, {"cuDeviceGetCount"});
  bind(a.cuDeviceGet, {"cuDeviceGet"});
  bind(a.cuDeviceGetName, {"cuDeviceGetName"});
  bind(a.cuDeviceGetAttribute, {"cuDeviceGetAttribute"});
  bind(a.cuDeviceTotalMem, {"cuDeviceTotalMem_v2"});
  bind(a.cuDevicePrimaryCtxRetain, {"cuDevicePrimaryCtxRetain"});
  bind(a.cuDevicePrimaryCtxRelease, {"cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxRelease"});
  bind(a.cuCtxSetCurrent, {"cuCtxSetCurrent"});
  bind(a.cuCtxSynchronize, {"cuCtxSynchronize"});
  bind(a.cuMemGetInfo, {"cuMemGetInfo_v2"});
  bind(a.cuMemAlloc, {"cuMemAlloc_v2"});
  bind(a.cuMemFree, {"cuMemFree_v2"});
  bind(a.cuMemAllocHost, {"cuMemAllocHost_v2"});
  bind(a.cuMemFreeHost, {"cuMemFreeHost"});
  bind(a.cuMemcpyHtoD, {"cuMemcpyHtoD_v2"});
  bind(a.cuMemcpyDtoH, {"cuMemcpyDtoH_v2"});
  bind(a.cuMemcpyDtoD, {"cuMemcpyDtoD_v2"});
  bind(a.cuMemcpyHtoDAsync, {"cuMemcpyHtoDAsync_v2"});
  bind(a.cuMemcpyDtoHAsync, {"cuMemcpyDtoHAsync_v2"});
  bind(a.cuMemcpyDtoDAsync, {"cuMemcpyDtoDAsync_v2"});
  bind(a.cuModuleLoadData, {"cuModuleLoadData"});
  bind(a.cuModuleUnload, {"cuModuleUnload"});
  bind(a.cuModuleGetFunction, {"cuModuleGetFunction"});
  bind(a.cuLaunchKernel, {"cuLaunchKernel"});
  bind(a.cuStreamCreate, {"cuStreamCreate"});
  bind(a.cuStreamDestroy, {"cuStreamDestroy_v2", "cuStreamDestroy"});
  bind(a.cuStreamSynchronize, {"cuStreamSynchronize"});
  bind(a.cuEventCreate, {"cuEventCreate"});
  bind(a.cuEventDestroy, {"cuEventDestroy_v2", "cuEventDestroy"});
  bind(a.cuEventRecord, {"cuEventRecord"});
  bind(a.cuStreamWaitEvent, {"cuStreamWaitEvent"});
  bind(a.cuEventSynchronize, {"cuEventSynchronize"});
  bind(a.cuEventElapsedTime, {"cuEventElapsedTime_v2", "cuEventElapsedTime"});
  if (!missing.empty()) {
    std::string list;
    for (const std::string& m : missing) list += (list.empty() ? "" : ", ") + m;
    // Nothing of it has run yet, so it can be unloaded.
    dlclose(lib);
    return IoError(library + " is not a usable NVIDIA driver: it lacks " + list +
                   " (TensorShunt needs a driver for CUDA 12 or newer)");
  }

  // From here on libcuda stays loaded (see the header).
  if (CUresult r = a.cuInit(0); r != kSuccess) {
    return IoError("NVIDIA driver " + library + " loaded but cuInit failed: " + d->ErrorText(r));
  }
  RETURN_IF_ERROR(d->Check(a.cuDriverGetVersion(&d->version_), "cuDriverGetVersion", __FILE__, __LINE__));
  RETURN_IF_ERROR(d->Check(a.cuDeviceGetCount(&d->device_count_), "cuDeviceGetCount", __FILE__, __LINE__));
  if (d->device_count_ <= 0) {
    return IoError("NVIDIA driver " + d->VersionString() + " loaded but it reports 0 CUDA devices");
  }
  return d;
}

std::string Driver::VersionString() const {
  return std::to_string(version_ / 1000) + "." + std::to_string(version_ % 1000 / 10);
}

std::pair<std::string, std::string> Driver::NameAndText(CUresult result) const {
  const char* name = nullptr;
  const char* text = nullptr;
  if (api_.cuGetErrorName(result, &name) != kSuccess) name = nullptr;
  if (api_.cuGetErrorString(result, &text) != kSuccess) text = nullptr;
  if (name == nullptr && result == kErrorStubLibrary) {
    // The stub cannot name its own error; it is found when a toolkit's stubs/ folder is on the
    // library path.
    return {"CUDA_ERROR_STUB_LIBRARY",
            "the CUDA toolkit's link stub was loaded instead of the driver (take its stubs/ "
            "folder off LD_LIBRARY_PATH)"};
  }
  return {name ? name : "", text ? text : ""};
}

std::string Driver::ErrorText(CUresult result) const {
  auto [name, text] = NameAndText(result);
  return ResultText(result, name, text);
}

Status Driver::Check(CUresult result, const char* expr, const char* file, int line) const {
  if (result == kSuccess) return OkStatus();
  auto [name, text] = NameAndText(result);
  return CudaError(result, name, text, expr, file, line);
}

std::string DeviceInfo::Arch() const {
  return "sm_" + std::to_string(cc_major) + std::to_string(cc_minor);
}

StatusOr<DeviceInfo> Driver::Describe(int ordinal) const {
  if (ordinal < 0 || ordinal >= device_count_) {
    return UsageError("CUDA device " + std::to_string(ordinal) + " does not exist; this machine has " +
                      std::to_string(device_count_) + " (0 to " + std::to_string(device_count_ - 1) + ")");
  }
  DeviceInfo info;
  info.ordinal = ordinal;
  CUdevice dev = 0;
  CU_RETURN_IF_ERROR(*this, api_.cuDeviceGet(&dev, ordinal));
  char name[256] = {};
  CU_RETURN_IF_ERROR(*this, api_.cuDeviceGetName(name, sizeof name - 1, dev));
  info.name = name;
  CU_RETURN_IF_ERROR(*this, api_.cuDeviceGetAttribute(&info.cc_major, kAttrComputeCapabilityMajor, dev));
  CU_RETURN_IF_ERROR(*this, api_.cuDeviceGetAttribute(&info.cc_minor, kAttrComputeCapabilityMinor, dev));
  CU_RETURN_IF_ERROR(*this, api_.cuDeviceGetAttribute(&info.multiprocessors, kAttrMultiprocessorCount, dev));
  CU_RETURN_IF_ERROR(*this, api_.cuDeviceGetAttribute(&info.max_threads_per_multiprocessor,
                                                      kAttrMaxThreadsPerMultiprocessor, dev));
  size_t total = 0;
  CU_RETURN_IF_ERROR(*this, api_.cuDeviceTotalMem(&total, dev));
  info.total_memory = total;
  return info;
}

PrimaryContext::PrimaryContext(PrimaryContext&& o) noexcept
    : driver_(o.driver_), device_(o.device_), context_(std::exchange(o.context_, nullptr)) {}

PrimaryContext& PrimaryContext::operator=(PrimaryContext&& o) noexcept {
  if (this != &o) {
    Release();
    driver_ = o.driver_;
    device_ = o.device_;
    context_ = std::exchange(o.context_, nullptr);
  }
  return *this;
}

PrimaryContext::~PrimaryContext() { Release(); }

void PrimaryContext::Release() {
  if (context_ == nullptr) return;
  (void)driver_->api().cuDevicePrimaryCtxRelease(device_);
  context_ = nullptr;
}

Status PrimaryContext::MakeCurrent() const {
  if (context_ == nullptr) return InternalError("PrimaryContext::MakeCurrent on an empty context");
  CU_RETURN_IF_ERROR(*driver_, driver_->api().cuCtxSetCurrent(context_));
  return OkStatus();
}

StatusOr<PrimaryContext> Driver::RetainPrimaryContext(int ordinal) const {
  ASSIGN_OR_RETURN(DeviceInfo info, Describe(ordinal));  // checks the ordinal
  (void)info;
  PrimaryContext c;
  c.driver_ = this;
  CU_RETURN_IF_ERROR(*this, api_.cuDeviceGet(&c.device_, ordinal));
  CU_RETURN_IF_ERROR(*this, api_.cuDevicePrimaryCtxRetain(&c.context_, c.device_));
  RETURN_IF_ERROR(c.MakeCurrent());
  return c;
}

StatusOr<DeviceMemory> Driver::AllocDevice(size_t bytes) const {
  CUdeviceptr p = 0;
  CU_RETURN_IF_ERROR(*this, api_.cuMemAlloc(&p, bytes));
  return DeviceMemory(this, p);
}

StatusOr<PinnedMemory> Driver::AllocPinned(size_t bytes) const {
  void* p = nullptr;
  CU_RETURN_IF_ERROR(*this, api_.cuMemAllocHost(&p, bytes));
  return PinnedMemory(this, p);
}

StatusOr<Stream> Driver::CreateStream(unsigned flags) const {
  CUstream s = nullptr;
  CU_RETURN_IF_ERROR(*this, api_.cuStreamCreate(&s, flags));
  return Stream(this, s);
}

StatusOr<Event> Driver::CreateEvent(unsigned flags) const {
  CUevent e = nullptr;
  CU_RETURN_IF_ERROR(*this, api_.cuEventCreate(&e, flags));
  return Event(this, e);
}

StatusOr<Module> Driver::LoadModule(const std::string& image) const {
  CUmodule m = nullptr;
  CU_RETURN_IF_ERROR(*this, api_.cuModuleLoadData(&m, image.c_str()));
  return Module(this, m);
}

StatusOr<CUfunction> Driver::GetFunction(const Module& module, const char* name) const {
  CUfunction f = nullptr;
  Status s = Check(api_.cuModuleGetFunction(&f, module.get(), name), "cuModuleGetFunction", __FILE__, __LINE__);
  if (!s.ok()) return s.Annotate(std::string("kernel '") + name + "'");
  return f;
}

StatusOr<double> Driver::ElapsedMs(const Event& start, const Event& end) const {
  CU_RETURN_IF_ERROR(*this, api_.cuEventSynchronize(end.get()));
  float ms = 0;
  CU_RETURN_IF_ERROR(*this, api_.cuEventElapsedTime(&ms, start.get(), end.get()));
  return static_cast<double>(ms);
}

}  // namespace ts::runtime::cuda
