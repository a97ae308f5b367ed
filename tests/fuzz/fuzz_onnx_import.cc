// libFuzzer target: ONNX import, then the compiler's passes on whatever imports.
#include <cstddef>
#include <cstdint>

#include "frontend/onnx_importer.h"
#include "passes/pipeline.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // No model folder: external data is refused, so the fuzzer never touches the file system.
  auto g = ts::frontend::ImportOnnxBytes(data, size, "fuzz.onnx", "", {});
  if (g.ok()) (void)ts::passes::RunPipeline(std::move(g).value(), {}).ok();
  return 0;
}
