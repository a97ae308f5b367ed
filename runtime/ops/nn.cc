#include "runtime/ops/families.h"

namespace ts::ops {

void AddNnOps(std::vector<OpDef>* ops) { (void)ops; }

}  // namespace ts::ops
