// The code of a kernel module whose format is "cuda": what NVRTC made at plan time for one
// architecture, as bytes in the bundle's kernels section.
//
// Layout, little-endian: "TSCUDA1\n", then four length-prefixed (u64) strings: the architecture
// ("sm_90"), the NVRTC version ("13.0"), the cubin and the PTX. Decode treats the bytes as
// hostile: every length is checked against what remains, the architecture must read sm_<digits>,
// and nothing may follow the PTX.
#ifndef TENSORSHUNT_PLANFMT_CUDA_MODULE_H_
#define TENSORSHUNT_PLANFMT_CUDA_MODULE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "ir/status.h"

namespace ts::planfmt {

struct CudaModuleImage {
  std::string arch;
  std::string nvrtc_version;
  std::string cubin;
  std::string ptx;
  bool operator==(const CudaModuleImage&) const = default;
};

std::vector<uint8_t> EncodeCudaModule(const CudaModuleImage& image);
// kBadInput, naming what is wrong, when the bytes are not such an image.
StatusOr<CudaModuleImage> DecodeCudaModule(const std::vector<uint8_t>& code);

}  // namespace ts::planfmt

#endif  // TENSORSHUNT_PLANFMT_CUDA_MODULE_H_
