// libFuzzer target: the input file readers of tsr: .npy and ONNX TensorProto.
#include <cstddef>
#include <cstdint>

#include "runtime/tensor_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)ts::runtime::ParseNpy(data, size, "fuzz.npy").ok();
  (void)ts::runtime::ParseTensorProto(data, size, "fuzz.pb").ok();
  return 0;
}
