#include "runtime/ops/families.h"

namespace ts::ops {

void AddShapeOps(std::vector<OpDef>* ops) { (void)ops; }

}  // namespace ts::ops
