#include "ir/status.h"
#include "ir/dtype.h"

#include <gtest/gtest.h>

namespace ts {
namespace {

StatusOr<int> Half(int x) {
  if (x % 2) return BadInputError("odd value " + std::to_string(x));
  return x / 2;
}

Status Chain(int x, int* out) {
  ASSIGN_OR_RETURN(int h, Half(x));
  RETURN_IF_ERROR_CTX(Half(h).status(), "second halving");
  *out = h / 2;
  return OkStatus();
}

TEST(StatusTest, OkIsDefault) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), Code::kOk);
  EXPECT_EQ(s.message(), "");
}

TEST(StatusTest, AnnotateAddsContextOutermostFirst) {
  int out = 0;
  Status s = Chain(6, &out);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kBadInput);
  EXPECT_EQ(s.message(), "second halving: odd value 3");
  EXPECT_TRUE(Chain(8, &out).ok());
  EXPECT_EQ(out, 2);
}

TEST(StatusTest, ErrnoErrorNamesTheErrno) {
  Status s = ErrnoError(2, "opening x");
  EXPECT_EQ(s.code(), Code::kIo);
  EXPECT_NE(s.message().find("errno 2"), std::string::npos);
}

TEST(DTypeTest, CheckedSizesRefuseOverflow) {
  EXPECT_EQ(CheckedByteSize(DType::kF32, {2, 3}).value(), 24);
  EXPECT_EQ(CheckedByteSize(DType::kF32, {}).value(), 4);
  EXPECT_FALSE(CheckedByteSize(DType::kF32, {int64_t{1} << 62}).has_value());
  EXPECT_FALSE(CheckedElementCount({-1, 2}).has_value());
  EXPECT_EQ(DTypeFromName("bf16"), DType::kBF16);
  EXPECT_FALSE(DTypeFromName("f33").has_value());
}

}  // namespace
}  // namespace ts
