#include "cli/text_stream.h"

#include <gtest/gtest.h>

#include <string>

namespace ts::cli {
namespace {

const std::string R = "\xEF\xBF\xBD";

TEST(TextStreamerTest, WritesWhatExtendsTheTextPastThePrompt) {
  TextStreamer s("Hello");
  EXPECT_EQ(s.Update("Hello world", false), " world");
  EXPECT_EQ(s.Update("Hello world!", false), "!");
  EXPECT_EQ(s.Update("Hello world!", true), "");
  EXPECT_EQ(s.written(), " world!");
}

TEST(TextStreamerTest, HoldsBackEveryReplacementOfAnIncompleteCharacter) {
  // A byte-fallback decoder shows the first two bytes of U+20AC as two U+FFFD.
  TextStreamer s("a");
  EXPECT_EQ(s.Update("a " + R, false), " ");
  EXPECT_EQ(s.Update("a " + R + R, false), "");
  EXPECT_EQ(s.Update("a \xE2\x82\xAC", false), "\xE2\x82\xAC");
  EXPECT_EQ(s.Update("a \xE2\x82\xAC x", false), " x");
  EXPECT_EQ(s.written(), " \xE2\x82\xAC x");
}

TEST(TextStreamerTest, AtTheEndReplacementsAreWrittenAsTheyAre) {
  TextStreamer s("");
  EXPECT_EQ(s.Update("ok" + R, false), "ok");
  EXPECT_EQ(s.Update("ok" + R, true), R) << "bytes that never completed a character";
}

TEST(TextStreamerTest, HoldsTextThatNoLongerExtendsWhatWasWritten) {
  TextStreamer s("p");
  EXPECT_EQ(s.Update("p ab", false), " ab");
  EXPECT_EQ(s.Update("p ax", false), "") << "earlier output changed: nothing is rewritten";
  EXPECT_EQ(s.Update("p abc", false), "c");
  EXPECT_EQ(s.Update("q abc", true), "") << "the prompt's own text changed";
}

}  // namespace
}  // namespace ts::cli
