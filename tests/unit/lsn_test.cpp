#include "cutover/common/lsn.h"

#include <gtest/gtest.h>

namespace cutover {
namespace {

TEST(Lsn, ParsesAndPrintsPostgresForm) {
  const auto lsn = Lsn::parse("16/B374D848");
  ASSERT_TRUE(lsn);
  EXPECT_EQ(lsn->value(), (0x16ULL << 32) | 0xB374D848ULL);
  EXPECT_EQ(lsn->to_string(), "16/B374D848");
  EXPECT_EQ(Lsn().to_string(), "0/0");
}

TEST(Lsn, ComparesAsNumbersNotText) {
  EXPECT_LT(*Lsn::parse("9/0"), *Lsn::parse("10/0"));  // "9/0" > "10/0" as strings
  EXPECT_LT(*Lsn::parse("0/FFFFFFFF"), *Lsn::parse("1/0"));
}

TEST(Lsn, RejectsMalformedText) {
  EXPECT_FALSE(Lsn::parse(""));
  EXPECT_FALSE(Lsn::parse("16B374D848"));
  EXPECT_FALSE(Lsn::parse("16/"));
  EXPECT_FALSE(Lsn::parse("G/0"));
  EXPECT_FALSE(Lsn::parse("1/123456789"));
}

}  // namespace
}  // namespace cutover
