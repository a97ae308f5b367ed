#include "cli/common.h"

#include <gtest/gtest.h>

namespace ts::cli {
namespace {

TEST(OneLineTest, EscapesControlBytesAndUnicodeLineSeparators) {
  EXPECT_EQ(OneLine("plain é text"), "plain é text");
  EXPECT_EQ(OneLine("a\nb\rc\x0b" "d"), "a\\x0ab\\x0dc\\x0bd");
  EXPECT_EQ(OneLine("nel\xc2\x85" "end"), "nel\\xc2\\x85end");
  EXPECT_EQ(OneLine("ls\xe2\x80\xa8" "ps\xe2\x80\xa9"), "ls\\xe2\\x80\\xa8ps\\xe2\\x80\\xa9");
  EXPECT_EQ(OneLine("cut\xe2\x80"), "cut\xe2\x80");
  EXPECT_EQ(OneLine("csi\xc2\x9b" "2J"), "csi\\xc2\\x9b2J");
  EXPECT_EQ(OneLine("esc\x1b[2J"), "esc\\x1b[2J");
}

}  // namespace
}  // namespace ts::cli
