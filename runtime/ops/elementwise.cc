#include "runtime/ops/families.h"

namespace ts::ops {

void AddElementwiseOps(std::vector<OpDef>* ops) { (void)ops; }

}  // namespace ts::ops
