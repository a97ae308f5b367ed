// Helpers for the op library's tests: build host tensors, evaluate an op, compare results.
#ifndef TENSORSHUNT_RUNTIME_OPS_TEST_UTIL_H_
#define TENSORSHUNT_RUNTIME_OPS_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "runtime/ops/op.h"

namespace ts::ops::testing {

inline HostTensor F32(std::vector<int64_t> shape, const std::vector<float>& v) {
  return HostTensor::Of(DType::kF32, std::move(shape), v);
}
inline HostTensor I64(std::vector<int64_t> shape, const std::vector<int64_t>& v) {
  return HostTensor::Of(DType::kI64, std::move(shape), v);
}
inline HostTensor I32(std::vector<int64_t> shape, const std::vector<int32_t>& v) {
  return HostTensor::Of(DType::kI32, std::move(shape), v);
}
inline HostTensor U8(std::vector<int64_t> shape, const std::vector<uint8_t>& v) {
  return HostTensor::Of(DType::kU8, std::move(shape), v);
}
inline HostTensor Bool(std::vector<int64_t> shape, const std::vector<uint8_t>& v) {
  return HostTensor::Of(DType::kBool, std::move(shape), v);
}

// Evaluates op at `opset` and returns its only output; fails the test on an error.
inline HostTensor Eval1(const std::string& op, const ir::AttrMap& attrs,
                        const std::vector<HostTensor>& inputs, int64_t opset = 17) {
  auto out = EvaluateOp(op, opset, attrs, inputs, 1);
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  if (!out.ok() || out->size() != 1) return {};
  return std::move((*out)[0]);
}

// The error message of an evaluation expected to fail (empty when it succeeded).
inline std::string EvalError(const std::string& op, const ir::AttrMap& attrs,
                             const std::vector<HostTensor>& inputs, size_t num_outputs = 1,
                             int64_t opset = 17) {
  auto out = EvaluateOp(op, opset, attrs, inputs, num_outputs);
  return out.ok() ? std::string() : out.status().message();
}

inline void ExpectNear(const std::vector<float>& got, const std::vector<float>& want,
                       float tol = 1e-5f) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(want[i])) {
      EXPECT_TRUE(std::isnan(got[i])) << "element " << i;
    } else if (std::isinf(want[i])) {
      EXPECT_EQ(got[i], want[i]) << "element " << i;
    } else {
      EXPECT_NEAR(got[i], want[i], tol * std::max(1.0f, std::fabs(want[i]))) << "element " << i;
    }
  }
}

}  // namespace ts::ops::testing

#endif  // TENSORSHUNT_RUNTIME_OPS_TEST_UTIL_H_
