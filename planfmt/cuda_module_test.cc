#include "planfmt/cuda_module.h"

#include <gtest/gtest.h>

namespace ts::planfmt {
namespace {

TEST(CudaModuleTest, RoundTripsAndRefusesEveryTruncation) {
  const CudaModuleImage image{"sm_90", "13.0", std::string("\x7f" "ELF\x02\x01", 6), ".version 9.0\n.target sm_90\n"};
  const std::vector<uint8_t> bytes = EncodeCudaModule(image);
  auto back = DecodeCudaModule(bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, image);
  for (size_t n = 0; n < bytes.size(); ++n) {
    const std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + n);
    auto r = DecodeCudaModule(cut);
    ASSERT_FALSE(r.ok()) << "accepted " << n << " of " << bytes.size() << " bytes";
    EXPECT_EQ(r.status().code(), Code::kBadInput);
  }
  std::vector<uint8_t> longer = bytes;
  longer.push_back(0);
  EXPECT_EQ(DecodeCudaModule(longer).status().code(), Code::kBadInput);
}

TEST(CudaModuleTest, HugeLengthsAndBadFieldsAreRefused) {
  std::vector<uint8_t> bytes = EncodeCudaModule({"sm_90", "13.0", "\x7f" "ELF", "ptx"});
  std::vector<uint8_t> huge = bytes;
  for (int i = 0; i < 8; ++i) huge[8 + i] = 0xff;  // the architecture's length
  auto r = DecodeCudaModule(huge);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("claims"), std::string::npos) << r.status().message();
  EXPECT_EQ(DecodeCudaModule(EncodeCudaModule({"gfx90a", "13.0", "\x7f" "ELF", "p"})).status().code(), Code::kBadInput);
  EXPECT_EQ(DecodeCudaModule(EncodeCudaModule({"sm_90", "13.0", "MZ..", "p"})).status().code(), Code::kBadInput);
}

}  // namespace
}  // namespace ts::planfmt
