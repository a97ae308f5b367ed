#include "codegen/nvrtc.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <vector>

namespace ts::codegen {
namespace {

using NvrtcResult = int;  // nvrtcResult; NVRTC_SUCCESS is 0
struct NvrtcProgramSt;
using NvrtcProgram = NvrtcProgramSt*;

struct Api {
  const char* (*GetErrorString)(NvrtcResult);
  NvrtcResult (*Version)(int*, int*);
  NvrtcResult (*CreateProgram)(NvrtcProgram*, const char*, const char*, int, const char* const*,
                               const char* const*);
  NvrtcResult (*DestroyProgram)(NvrtcProgram*);
  NvrtcResult (*CompileProgram)(NvrtcProgram, int, const char* const*);
  NvrtcResult (*GetPTXSize)(NvrtcProgram, size_t*);
  NvrtcResult (*GetPTX)(NvrtcProgram, char*);
  NvrtcResult (*GetCUBINSize)(NvrtcProgram, size_t*);
  NvrtcResult (*GetCUBIN)(NvrtcProgram, char*);
  NvrtcResult (*GetProgramLogSize)(NvrtcProgram, size_t*);
  NvrtcResult (*GetProgramLog)(NvrtcProgram, char*);
};

template <typename Fn>
bool Resolve(void* lib, const char* name, Fn* out) {
  *out = reinterpret_cast<Fn>(dlsym(lib, name));
  return *out != nullptr;
}

// Loads NVRTC once per process; later calls return the same result.
const StatusOr<Api>& Load() {
  static const StatusOr<Api>* api = [] {
    std::vector<std::string> candidates;
    if (const char* env = std::getenv("TSC_NVRTC"); env && *env) candidates.push_back(env);
    candidates.insert(candidates.end(), {"libnvrtc.so.13", "/usr/local/cuda/lib64/libnvrtc.so.13",
                                         "/usr/local/cuda/lib64/libnvrtc.so"});
    std::string tried;
    void* lib = nullptr;
    for (const std::string& c : candidates) {
      lib = dlopen(c.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (lib) break;
      const char* err = dlerror();
      tried += (tried.empty() ? "" : "; ") + (err ? std::string(err) : c);
    }
    if (!lib) {
      return new StatusOr<Api>(IoError("NVRTC not found (" + tried +
                                       "); install the CUDA toolkit or set TSC_NVRTC to libnvrtc's path"));
    }
    Api a{};
    const bool ok = Resolve(lib, "nvrtcGetErrorString", &a.GetErrorString) &&
                    Resolve(lib, "nvrtcVersion", &a.Version) &&
                    Resolve(lib, "nvrtcCreateProgram", &a.CreateProgram) &&
                    Resolve(lib, "nvrtcDestroyProgram", &a.DestroyProgram) &&
                    Resolve(lib, "nvrtcCompileProgram", &a.CompileProgram) &&
                    Resolve(lib, "nvrtcGetPTXSize", &a.GetPTXSize) &&
                    Resolve(lib, "nvrtcGetPTX", &a.GetPTX) &&
                    Resolve(lib, "nvrtcGetCUBINSize", &a.GetCUBINSize) &&
                    Resolve(lib, "nvrtcGetCUBIN", &a.GetCUBIN) &&
                    Resolve(lib, "nvrtcGetProgramLogSize", &a.GetProgramLogSize) &&
                    Resolve(lib, "nvrtcGetProgramLog", &a.GetProgramLog);
    if (!ok) return new StatusOr<Api>(IoError("the NVRTC library found lacks an entry point; it is too old"));
    return new StatusOr<Api>(a);
  }();
  return *api;
}

// One compilation: the program's output for `option` ("--gpu-architecture=..."), cubin or PTX.
StatusOr<std::string> CompileOnce(const Api& api, const std::string& source, const std::string& name,
                                  const std::string& option, bool cubin) {
  NvrtcProgram prog = nullptr;
  if (NvrtcResult r = api.CreateProgram(&prog, source.c_str(), name.c_str(), 0, nullptr, nullptr); r != 0) {
    return InternalError("nvrtcCreateProgram: " + std::string(api.GetErrorString(r)));
  }
  struct Destroy {
    const Api& api;
    NvrtcProgram* p;
    ~Destroy() { api.DestroyProgram(p); }
  } destroy{api, &prog};
  const char* options[] = {option.c_str(), "--std=c++17"};
  if (NvrtcResult r = api.CompileProgram(prog, 2, options); r != 0) {
    size_t n = 0;
    api.GetProgramLogSize(prog, &n);
    std::string log(n, '\0');
    if (n) api.GetProgramLog(prog, log.data());
    // The first error, not a warning before it.
    size_t at = log.find(" error");
    at = at == std::string::npos ? 0 : log.rfind('\n', at) + 1;
    const std::string first = log.substr(at, std::min<size_t>(log.find('\n', at) - at, 300));
    return InternalError("NVRTC could not compile the generated " + name + " (" +
                         api.GetErrorString(r) + "): " + first);
  }
  size_t n = 0;
  std::string out;
  if (cubin) {
    if (api.GetCUBINSize(prog, &n) != 0 || n == 0) return InternalError("NVRTC produced no cubin");
    out.resize(n);
    api.GetCUBIN(prog, out.data());
  } else {
    if (api.GetPTXSize(prog, &n) != 0 || n == 0) return InternalError("NVRTC produced no PTX");
    out.resize(n);
    api.GetPTX(prog, out.data());
    while (!out.empty() && out.back() == '\0') out.pop_back();
  }
  return out;
}

}  // namespace

StatusOr<std::string> NvrtcVersion() {
  const StatusOr<Api>& api = Load();
  if (!api.ok()) return api.status();
  int major = 0, minor = 0;
  api->Version(&major, &minor);
  return std::to_string(major) + "." + std::to_string(minor);
}

StatusOr<CudaBinary> CompileCuda(const std::string& source, const std::string& name,
                                 const std::string& arch) {
  if (arch.size() < 4 || arch.rfind("sm_", 0) != 0 ||
      arch.find_first_not_of("0123456789a", 3) != std::string::npos) {
    return BadInputError("CUDA architecture '" + arch + "' is not of the form sm_XY (e.g. sm_90)");
  }
  const StatusOr<Api>& api = Load();
  if (!api.ok()) return api.status();
  CudaBinary out;
  out.arch = arch;
  api->Version(&out.nvrtc_major, &out.nvrtc_minor);
  ASSIGN_OR_RETURN(out.cubin, CompileOnce(*api, source, name, "--gpu-architecture=" + arch, true));
  std::string virt = "compute_" + arch.substr(3);
  ASSIGN_OR_RETURN(out.ptx, CompileOnce(*api, source, name, "--gpu-architecture=" + virt, false));
  return out;
}

}  // namespace ts::codegen
