#include "cutover/common/logging.h"

#include <gtest/gtest.h>

namespace cutover {
namespace {

TEST(LogLevel, NamesAreReadInAnyCaseAndAnUnknownOneIsRefused) {
  EXPECT_EQ(parse_log_level("INFO"), spdlog::level::info);
  EXPECT_EQ(parse_log_level("Debug"), spdlog::level::debug);
  EXPECT_EQ(parse_log_level("warn"), spdlog::level::warn);
  EXPECT_EQ(parse_log_level("WARNING"), spdlog::level::warn);
  EXPECT_EQ(parse_log_level("error"), spdlog::level::err);
  EXPECT_EQ(parse_log_level("off"), spdlog::level::off);
  EXPECT_FALSE(parse_log_level("verbose"));
  EXPECT_FALSE(parse_log_level(""));
  EXPECT_FALSE(parse_log_level("err"));
}

TEST(LogColours, NoColorSetToAnythingButEmptyTurnsThemOff) {
  EXPECT_EQ(color_mode_for(nullptr), spdlog::color_mode::automatic);
  EXPECT_EQ(color_mode_for(""), spdlog::color_mode::automatic);
  EXPECT_EQ(color_mode_for("1"), spdlog::color_mode::never);
  EXPECT_EQ(color_mode_for("0"), spdlog::color_mode::never);
}

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
