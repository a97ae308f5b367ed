// NVRTC, loaded at run time: CUDA C to PTX and cubin at plan time, on machines without a GPU.
//
// `tsc` must start without the CUDA toolkit, so nothing links libnvrtc: the library is dlopened
// on first use ($TSC_NVRTC if set, else libnvrtc.so.13 from the loader's path, else
// /usr/local/cuda/lib64). Types are declared here, with their values from CUDA 13's nvrtc.h.
//
// Errors: NVRTC missing or unusable is kIo ("NVRTC not found (...); install the
// CUDA toolkit or set TSC_NVRTC"); a program that does not compile is kInternal (tsc generated
// it), with the first lines of NVRTC's log.
#ifndef TENSORSHUNT_CODEGEN_NVRTC_H_
#define TENSORSHUNT_CODEGEN_NVRTC_H_

#include <string>

#include "ir/status.h"

namespace ts::codegen {

struct CudaBinary {
  std::string arch;   // "sm_90"
  std::string cubin;  // ELF for `arch`
  std::string ptx;    // for compute_XY of `arch`: what the driver JIT-compiles on newer GPUs
  int nvrtc_major = 0, nvrtc_minor = 0;
};

// Compiles `source` (named `name` in messages) for `arch` ("sm_80", "sm_90", ...): once for the
// real architecture (cubin), once for the virtual one (PTX).
StatusOr<CudaBinary> CompileCuda(const std::string& source, const std::string& name,
                                 const std::string& arch);

// NVRTC's version as "13.0", or the reason it cannot be loaded.
StatusOr<std::string> NvrtcVersion();

}  // namespace ts::codegen

#endif  // TENSORSHUNT_CODEGEN_NVRTC_H_
