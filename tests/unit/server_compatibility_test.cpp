#include "cutover/pipeline/server_compatibility.h"

#include <gtest/gtest.h>

namespace cutover {
namespace {

TEST(SupportedVersions, ThirteenToEighteenAreSupportedAndOthersNamed) {
  for (const int version : {130000, 130023, 140010, 150018, 160004, 170010, 180004}) {
    EXPECT_EQ(unsupported_version_problem(version, "blue"), "") << version;
  }
  EXPECT_EQ(unsupported_version_problem(120019, "blue"),
            "blue: PostgreSQL 12 is not supported; cutover supports PostgreSQL 13 to 18 "
            "(docs/supported-versions.md)");
  EXPECT_EQ(unsupported_version_problem(190000, "green"),
            "green: PostgreSQL 19 is not supported; cutover supports PostgreSQL 13 to 18 "
            "(docs/supported-versions.md)");
  EXPECT_NE(unsupported_version_problem(90624, "blue"), "");
}

}  // namespace
}  // namespace cutover
