// Each family of ops adds its definitions to the library (op.cc collects them once).
#ifndef TENSORSHUNT_RUNTIME_OPS_FAMILIES_H_
#define TENSORSHUNT_RUNTIME_OPS_FAMILIES_H_

#include <vector>

#include "runtime/ops/op.h"

namespace ts::ops {

void AddElementwiseOps(std::vector<OpDef>* ops);  // elementwise.cc: unary, binary, Where, Clip, Cast
void AddReduceOps(std::vector<OpDef>* ops);       // reduce.cc: Reduce*, Arg*, softmaxes, CumSum, TopK, Einsum
void AddNnOps(std::vector<OpDef>* ops);           // nn.cc: Conv, ConvTranspose, pooling
void AddNormOps(std::vector<OpDef>* ops);         // norm.cc: normalizations, Resize
void AddShapeOps(std::vector<OpDef>* ops);        // shape.cc: data movement and shape ops

}  // namespace ts::ops

#endif  // TENSORSHUNT_RUNTIME_OPS_FAMILIES_H_
