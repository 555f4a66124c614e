#include "cutover/common/logging.h"

#include <gtest/gtest.h>

namespace cutover {
namespace {

TEST(RedactDsn, HidesKeywordPasswordsInEveryForm) {
  EXPECT_EQ(redact_dsn("host=a password=hunter2 user=b"), "host=a password=*** user=b");
  EXPECT_EQ(redact_dsn("host=a password = 'it\\'s secret' user=b"), "host=a password = *** user=b");
  EXPECT_EQ(redact_dsn("host=a PASSWORD=x"), "host=a PASSWORD=***");
}

TEST(RedactDsn, HidesUriPasswords) {
  EXPECT_EQ(redact_dsn("postgresql://app:hunter2@db:5432/app"), "postgresql://app:***@db:5432/app");
  EXPECT_EQ(redact_dsn("postgres://app@db/app"), "postgres://app@db/app");
}

TEST(RedactDsn, HidesAPasswordOfAnyLengthWithoutExhaustingTheStack) {
  const std::string password(60000, 'p');
  EXPECT_EQ(redact_dsn("host=a password=" + password + " user=b"), "host=a password=*** user=b");
  EXPECT_EQ(redact_dsn("postgres://app:" + password + "@db/app"), "postgres://app:***@db/app");
  EXPECT_EQ(redact_dsn("password='" + password), "password=***");  // never closed: all hidden
}

}  // namespace
}  // namespace cutover
