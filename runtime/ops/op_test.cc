#include "runtime/ops/op.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "runtime/ops/test_util.h"

namespace ts::ops {
namespace {

TEST(AttrViewTest, TypedReadsAndErrors) {
  ir::AttrMap m = {{"i", int64_t{3}}, {"f", 2.5}, {"s", std::string("x")},
                   {"is", std::vector<int64_t>{1, 2}}, {"fs", std::vector<double>{0.5}}};
  AttrView a(m);
  EXPECT_EQ(*a.Int("i"), 3);
  EXPECT_EQ(*a.Float("i"), 3.0);  // an int reads as a float
  EXPECT_EQ(*a.Float("f"), 2.5);
  EXPECT_EQ(*a.Str("s"), "x");
  EXPECT_EQ(*a.Floats("is"), (std::vector<double>{1, 2}));
  EXPECT_EQ(a.Int("f").status().message(), "attribute 'f' must be int, found float");
  EXPECT_EQ(a.Int("missing").status().message(), "attribute 'missing' is required");
  EXPECT_EQ(*a.Int("missing", 7), 7);
  EXPECT_EQ(a.IntOr("s", 9), 9);
  EXPECT_EQ(a.IntsOr("fs", {4}), (std::vector<int64_t>{4}));
}

TEST(HelpersTest, BroadcastAndStrides) {
  EXPECT_EQ(*Broadcast({2, 1, 3}, {4, 1}), (std::vector<int64_t>{2, 4, 3}));
  EXPECT_FALSE(Broadcast({2, 3}, {4, 3}));
  EXPECT_EQ(Strides({2, 3, 4}), (std::vector<int64_t>{12, 4, 1}));
  EXPECT_EQ(BroadcastStrides({3, 1}, {2, 3, 4}), (std::vector<int64_t>{0, 1, 0}));
  EXPECT_EQ(*NormalizeAxis(-1, 3), 2);
  EXPECT_FALSE(NormalizeAxis(3, 3));
  EXPECT_FALSE(SafeCount({int64_t{1} << 30, int64_t{1} << 30}));
}

TEST(HalfTest, ConversionsRoundTripAndRound) {
  for (float f : {0.0f, -0.0f, 1.0f, -2.5f, 65504.0f, 6.1035156e-05f, 5.9604645e-08f}) {
    EXPECT_EQ(HalfToFloat(FloatToHalf(f)), f) << f;
  }
  EXPECT_EQ(FloatToHalf(1.0f), 0x3C00);
  EXPECT_EQ(FloatToHalf(65520.0f), 0x7C00);  // rounds up to infinity
  EXPECT_EQ(FloatToHalf(1.0f + 1.0f / 2048), 0x3C00);  // a tie rounds to even
  EXPECT_TRUE(std::isnan(HalfToFloat(FloatToHalf(std::numeric_limits<float>::quiet_NaN()))));
  EXPECT_EQ(Bf16ToFloat(FloatToBf16(1.5f)), 1.5f);
  EXPECT_EQ(FloatToBf16(1.0f + 1.0f / 256), 0x3F80);  // tie to even
  EXPECT_TRUE(std::isnan(Bf16ToFloat(FloatToBf16(std::numeric_limits<float>::quiet_NaN()))));
}

TEST(LibraryTest, UnknownOpAndSortedNames) {
  EXPECT_EQ(FindOp("NoSuchOp"), nullptr);
  auto names = OpNames();
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  auto r = EvaluateOp("NoSuchOp", 17, {}, {});
  EXPECT_FALSE(r.ok());
}

}  // namespace
}  // namespace ts::ops
