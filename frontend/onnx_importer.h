// ONNX import: an onnx ModelProto (with initializers, Constant nodes and external data) into an
// ir::Graph with graph-input shapes fixed and activation shapes left for passes/shape_inference.
//
// The model is hostile input: sizes are bounded, external data paths are confined to the model's
// folder, and every unsupported operator in the model is listed in one error.
#ifndef TENSORSHUNT_FRONTEND_ONNX_IMPORTER_H_
#define TENSORSHUNT_FRONTEND_ONNX_IMPORTER_H_

#include <map>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "ir/status.h"

namespace ts::frontend {

struct ImportOptions {
  // --shape NAME=dims: fixes dynamic dimensions of graph inputs (static ones must agree).
  std::map<std::string, std::vector<int64_t>> input_shapes;
  // --bind NAME=FILE: graph inputs whose values are fixed at compile time; they become
  // constants (so shape parameters such as Reshape's target shape can be computed from them).
  struct Bound {
    DType dtype = DType::kF32;
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;
  };
  std::map<std::string, Bound> bound_inputs;
};

// Ops this importer accepts (ONNX default domain): the op library and the compiler's own.
// Sorted.
const std::vector<std::string>& SupportedOps();

StatusOr<ir::Graph> ImportOnnx(const std::string& path, const ImportOptions& options);

// The same from bytes already in memory; `model_dir` confines external data ("" forbids it).
StatusOr<ir::Graph> ImportOnnxBytes(const void* data, size_t size, const std::string& where,
                                    const std::string& model_dir, const ImportOptions& options);

}  // namespace ts::frontend

#endif  // TENSORSHUNT_FRONTEND_ONNX_IMPORTER_H_
