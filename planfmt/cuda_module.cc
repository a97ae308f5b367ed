#include "planfmt/cuda_module.h"

#include <cstring>

namespace ts::planfmt {
namespace {

constexpr char kMagic[] = "TSCUDA1\n";
constexpr size_t kMagicBytes = sizeof(kMagic) - 1;

void Put(std::vector<uint8_t>* out, const std::string& s) {
  const uint64_t n = s.size();
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<uint8_t>(n >> (8 * i)));
  out->insert(out->end(), s.begin(), s.end());
}

}  // namespace

std::vector<uint8_t> EncodeCudaModule(const CudaModuleImage& image) {
  std::vector<uint8_t> out(kMagic, kMagic + kMagicBytes);
  for (const std::string* s : {&image.arch, &image.nvrtc_version, &image.cubin, &image.ptx}) {
    Put(&out, *s);
  }
  return out;
}

StatusOr<CudaModuleImage> DecodeCudaModule(const std::vector<uint8_t>& code) {
  const std::string what = "kernels section (cuda): ";
  if (code.size() < kMagicBytes || std::memcmp(code.data(), kMagic, kMagicBytes) != 0) {
    return BadInputError(what + "does not start with the CUDA module tag; the bundle is corrupt, recompile it");
  }
  size_t pos = kMagicBytes;
  CudaModuleImage image;
  const char* names[] = {"architecture", "NVRTC version", "cubin", "PTX"};
  std::string* fields[] = {&image.arch, &image.nvrtc_version, &image.cubin, &image.ptx};
  for (int f = 0; f < 4; ++f) {
    if (code.size() - pos < 8) {
      return BadInputError(what + "ends before the length of the " + names[f] + "; the bundle is corrupt, recompile it");
    }
    uint64_t n = 0;
    for (int i = 0; i < 8; ++i) n |= uint64_t{code[pos + i]} << (8 * i);
    pos += 8;
    if (n > code.size() - pos) {
      return BadInputError(what + "the " + std::string(names[f]) + " claims " + std::to_string(n) +
                           " bytes but " + std::to_string(code.size() - pos) +
                           " remain; the bundle is corrupt, recompile it");
    }
    fields[f]->assign(reinterpret_cast<const char*>(code.data() + pos), n);
    pos += n;
  }
  if (pos != code.size()) {
    return BadInputError(what + std::to_string(code.size() - pos) + " bytes follow the PTX; the bundle is corrupt, recompile it");
  }
  if (image.arch.size() < 4 || image.arch.rfind("sm_", 0) != 0 ||
      image.arch.find_first_not_of("0123456789a", 3) != std::string::npos) {
    return BadInputError(what + "architecture '" + image.arch.substr(0, 16) + "' is not of the form sm_XY");
  }
  if (image.cubin.size() < 4 || image.cubin.compare(0, 4, "\x7f" "ELF") != 0) {
    return BadInputError(what + "the cubin is not an ELF image; the bundle is corrupt, recompile it");
  }
  return image;
}

}  // namespace ts::planfmt
