// One error policy: what a failure is (ErrorKind) decides whether it is tried again, database
// exceptions get their kind from their SQLSTATE in one place, and retries wait with a backoff
// that doubles, jitters and starts over after a healthy attempt.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include <stdexcept>

#include "cutover/common/backoff.h"
#include "cutover/common/database_errors.h"
#include "cutover/common/result.h"

namespace cutover {
namespace {

using namespace std::chrono_literals;

TEST(ErrorPolicy, TheKindAloneDecidesWhetherAFailureIsTriedAgain) {
  EXPECT_TRUE(Status::of(ErrorKind::kConnectionLost, "x").is_retryable());
  EXPECT_TRUE(Status::of(ErrorKind::kBusy, "x").is_retryable());
  EXPECT_TRUE(Status::of(ErrorKind::kTimeout, "x").is_retryable());
  EXPECT_FALSE(Status::of(ErrorKind::kRefused, "x").is_retryable());
  EXPECT_FALSE(Status::of(ErrorKind::kBadInput, "x").is_retryable());
  EXPECT_FALSE(Status::of(ErrorKind::kBug, "x").is_retryable());
  EXPECT_FALSE(Status::ok().is_retryable());
  EXPECT_TRUE(Status::invalid("x").is_invalid());
  EXPECT_EQ(Status::invalid("x").with_context("plan").kind(), ErrorKind::kBadInput);
  EXPECT_EQ(Status::of(ErrorKind::kBusy, "x").with_context("doing").message(), "doing: x");
}

TEST(ErrorPolicy, ServerErrorsAreKindedBySqlstate) {
  EXPECT_EQ(kind_of_sqlstate("08006"), ErrorKind::kConnectionLost);  // connection failure
  EXPECT_EQ(kind_of_sqlstate("57P01"), ErrorKind::kConnectionLost);  // admin shutdown
  EXPECT_EQ(kind_of_sqlstate("57P03"), ErrorKind::kConnectionLost);  // cannot connect now
  EXPECT_EQ(kind_of_sqlstate("40001"), ErrorKind::kBusy);            // serialization failure
  EXPECT_EQ(kind_of_sqlstate("40P01"), ErrorKind::kBusy);            // deadlock
  EXPECT_EQ(kind_of_sqlstate("55006"), ErrorKind::kBusy);            // origin or slot in use
  EXPECT_EQ(kind_of_sqlstate("53300"), ErrorKind::kBusy);            // too many connections
  EXPECT_EQ(kind_of_sqlstate("57014"), ErrorKind::kTimeout);         // statement cancelled
  EXPECT_EQ(kind_of_sqlstate("42501"), ErrorKind::kRefused);         // insufficient privilege
  EXPECT_EQ(kind_of_sqlstate("23505"), ErrorKind::kRefused);         // unique violation
  EXPECT_EQ(kind_of_sqlstate("22003"), ErrorKind::kRefused);         // value out of range
  EXPECT_EQ(kind_of_sqlstate("XX000"), ErrorKind::kRefused);         // internal error
  EXPECT_EQ(kind_of_sqlstate(""), ErrorKind::kRefused);
}

TEST(ErrorPolicy, ExceptionsBecomeAStatusWithTheirContext) {
  const Status lost = status_of(pqxx::broken_connection("server closed the connection\n"), "green: commit");
  EXPECT_EQ(lost.kind(), ErrorKind::kConnectionLost);
  EXPECT_EQ(lost.message(), "green: commit: server closed the connection");
  EXPECT_EQ(status_of(pqxx::sql_error("deadlock detected", "UPDATE", "40P01"), "c").kind(), ErrorKind::kBusy);
  EXPECT_EQ(status_of(pqxx::sql_error("permission denied", "SELECT", "42501"), "c").kind(), ErrorKind::kRefused);
  EXPECT_EQ(status_of(pqxx::usage_error("two transactions"), "c").kind(), ErrorKind::kBug);
  EXPECT_EQ(status_of(std::runtime_error("other"), "c").kind(), ErrorKind::kRefused);
}

TEST(ErrorPolicy, BackoffDoublesWithJitterUpToItsMaximumAndStartsOverAfterAHealthyAttempt) {
  Backoff backoff({100ms, 800ms, 30s});
  for (const auto full : {100ms, 200ms, 400ms, 800ms, 800ms}) {
    const auto wait = backoff.next();
    EXPECT_GE(wait, full / 2);
    EXPECT_LE(wait, full);
  }
  backoff.attempt_ran(5s);  // failed soon again: keeps the long wait
  EXPECT_GE(backoff.next(), 400ms);
  backoff.attempt_ran(31s);
  EXPECT_LE(backoff.next(), 100ms);
}

}  // namespace
}  // namespace cutover
