#include "cli/args.h"

#include <gtest/gtest.h>

namespace ts::cli {
namespace {

TEST(ParseSizeTest, Good) {
  const std::pair<const char*, uint64_t> cases[] = {
      {"1", 1},
      {"0", 0},
      {"1024", 1024},
      {"100B", 100},
      {"100b", 100},
      {"64K", 65536},
      {"0.5K", 512},
      {"1k", 1024},
      {"1KB", 1024},
      {"1KiB", 1024},
      {"1kib", 1024},
      {"512M", 536870912},
      {"512mb", 536870912},
      {"3.5G", 3758096384},
      {"1.5GiB", 1610612736},
      {"1.5 GiB", 1610612736},
      {"2g", 2147483648},
      {"2T", 2199023255552},
      {"0.3", 0},                 // rounded down to whole bytes
      {"1.9", 1},
      {"1.0001K", 1024},          // 1024.1024 bytes
      {"0.0000000000009094947017729282379150390625T", 1},  // exactly 2^-40 TiB, no float error
      {"0.00000000000090949470177292823791503906249T", 0},  // a hair below it
      {"007M", 7340032},
      {"9223372036854775807", 9223372036854775807ull},  // 2^63 - 1
      {"8388607.999999999999999T", 9223372036854775807ull},  // floors to 2^63 - 1
  };
  for (auto [text, want] : cases) {
    auto got = ParseSize(text);
    ASSERT_TRUE(got.ok()) << text << ": " << got.status().ToString();
    EXPECT_EQ(*got, want) << text;
  }
}

TEST(ParseSizeTest, Bad) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "empty"},
      {"-1", "negative"},
      {"-1G", "negative"},
      {"+1G", "expected a number"},
      {"abc", "expected a number"},
      {"G", "expected a number"},
      {".5G", "expected a number"},
      {"5.G", "expected digits after '.'"},
      {"1.5.2G", "unknown unit \".2G\""},
      {"12X", "unknown unit \"X\""},
      {"1GG", "unknown unit \"GG\""},
      {"1Gi", "unknown unit \"Gi\""},
      {"1P", "unknown unit \"P\""},
      {"5 ", "unknown unit"},
      {" 5", "expected a number"},
      {"1e9", "unknown unit \"e9\""},
      {"0x10", "unknown unit \"x10\""},
      {"nan", "expected a number"},
      {"inf", "expected a number"},
      {"9223372036854775808", "too large"},   // 2^63
      {"8388608T", "too large"},              // 2^23 * 2^40 = 2^63
      {"99999999999999999999999", "too large"},
      {"18446744073709551616", "too large"},  // 2^64 wraps a naive parser to 0
  };
  for (auto [text, part] : cases) {
    auto got = ParseSize(text);
    ASSERT_FALSE(got.ok()) << "accepted \"" << text << "\"";
    EXPECT_EQ(got.status().code(), Code::kUsage) << text;
    const std::string& msg = got.status().message();
    EXPECT_NE(msg.find(part), std::string::npos) << msg;
    EXPECT_NE(msg.find("\"" + std::string(text) + "\""), std::string::npos) << msg;
  }
}

TEST(FormatSizeTest, Examples) {
  EXPECT_EQ(FormatSize(0), "0 bytes");
  EXPECT_EQ(FormatSize(1), "1 byte");
  EXPECT_EQ(FormatSize(1023), "1023 bytes");
  EXPECT_EQ(FormatSize(1024), "1 KiB (1024 bytes)");
  EXPECT_EQ(FormatSize(1610612736), "1.5 GiB (1610612736 bytes)");
  EXPECT_EQ(FormatSize(3758096384), "3.5 GiB (3758096384 bytes)");
  EXPECT_EQ(FormatSize(536870912), "512 MiB (536870912 bytes)");
  EXPECT_EQ(FormatSize(1073741823), "1023.99 MiB (1073741823 bytes)");  // never rounds up
  EXPECT_EQ(FormatSize(1288490188), "1.19 GiB (1288490188 bytes)");     // 1.1999999 GiB
  EXPECT_EQ(FormatSize(1127428916), "1.05 GiB (1127428916 bytes)");
  EXPECT_EQ(FormatSize(2199023255552), "2 TiB (2199023255552 bytes)");
  EXPECT_EQ(FormatSize(UINT64_MAX), "15.99 EiB (18446744073709551615 bytes)");
}

TEST(FormatSizeTest, ParsesBackToAtMostTheValue) {
  for (uint64_t v : {uint64_t{1} << 20, uint64_t{3758096384}, uint64_t{123456789012},
                     uint64_t{1073741823}}) {
    std::string text = FormatSize(v);
    auto back = ParseSize(text.substr(0, text.find(" (")));
    ASSERT_TRUE(back.ok()) << text;
    EXPECT_LE(*back, v) << text;
  }
}

TEST(ParseShapeArgTest, Good) {
  auto a = ParseShapeArg("input=1x3x224x224");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->first, "input");
  EXPECT_EQ(a->second, (std::vector<int64_t>{1, 3, 224, 224}));

  auto b = ParseShapeArg("ids=7");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->second, std::vector<int64_t>{7});

  auto c = ParseShapeArg("a=b:0=2x4");  // names may contain '='; dims never do
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->first, "a=b:0");
  EXPECT_EQ(c->second, (std::vector<int64_t>{2, 4}));
}

TEST(ParseShapeArgTest, Bad) {
  const std::pair<const char*, const char*> cases[] = {
      {"input", "missing '='"},
      {"=1x3", "empty input name"},
      {"x=", "no dimensions"},
      {"x=1xx3", "bad dimension \"\""},
      {"x=1x3x", "bad dimension \"\""},
      {"x=0x3", "must be >= 1"},
      {"x=-1x3", "bad dimension \"-1\""},
      {"x=+1x3", "bad dimension \"+1\""},
      {"x=1X3", "bad dimension \"1X3\""},
      {"x=1,3", "bad dimension \"1,3\""},
      {"x=1.5", "bad dimension \"1.5\""},
      {"x=99999999999999999999", "bad dimension"},
      {"x=4611686018427387904x4", "overflows"},
  };
  for (auto [text, part] : cases) {
    auto got = ParseShapeArg(text);
    ASSERT_FALSE(got.ok()) << "accepted \"" << text << "\"";
    EXPECT_EQ(got.status().code(), Code::kUsage) << text;
    const std::string& msg = got.status().message();
    EXPECT_NE(msg.find(part), std::string::npos) << msg;
    EXPECT_NE(msg.find("\"" + std::string(text) + "\""), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace ts::cli
