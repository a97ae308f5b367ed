#include "runtime/ops/families.h"

namespace ts::ops {

void AddNormOps(std::vector<OpDef>* ops) { (void)ops; }

}  // namespace ts::ops
