// Cutover end to end: pgbench writes through a real PgBouncer (transaction pooling) while
// `cutover switch` freezes, drains, syncs sequences and points the pooler at green.
#include "fixtures/cutover_fixture.h"

namespace cutover::testing {
namespace {

TEST_F(CutoverTest, SwitchesToGreenUnderPgbenchWithNoFailedTransactionAndNothingLost) {
  h_.green().execute("ALTER TABLE pgbench_history REPLICA IDENTITY DEFAULT");
  h_.write_plan(kPgbenchTables + "  - source: events\n",
                plan_extra("  max_lag: 60s\n  freeze_timeout: 5s\n  drain_timeout: 10s\n"));
  h_.start_run();
  for (int i = 0; i < 5; ++i) through_pooler("INSERT INTO events (note) VALUES ('before') RETURNING id");
  EXPECT_EQ(system_reached(), system_of(h_.blue()));

  // Green's pgbench_history has no replica identity, so the reverse pipeline could not
  // capture it: rollback is impossible and a switch must be forced.
  const auto refused = h_.cli({"switch"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.errors.find("rollback_possible"), std::string::npos) << refused.errors;
  const auto dry = h_.cli({"switch", "--dry-run", "--force-without-rollback"});
  EXPECT_EQ(dry.exit_code, 0) << dry.errors << dry.output.dump(2);

  auto load = start_load(25);
  std::this_thread::sleep_for(std::chrono::seconds(5));
  const auto switched = h_.cli({"switch", "--force-without-rollback"});
  ASSERT_EQ(switched.exit_code, 0) << switched.errors << switched.output.dump(2) << h_.run().standard_error();
  EXPECT_EQ(switched.output["outcome"], "switched");
  EXPECT_EQ(switched.output["side"], "green");
  EXPECT_GT(switched.output["timings"]["pause_ms"].get<long>(), 0);
  std::cerr << "[ MEASURED ] cutover timings " << switched.output["timings"].dump() << "\n";

  const long processed = processed_without_failures(*load);

  // Clients now reach green, and every transaction is there exactly once.
  EXPECT_EQ(system_reached(), system_of(h_.green()));
  expect_every_transaction_in(h_.green(), processed);
  EXPECT_EQ(h_.green().query_value("SELECT sum(bbalance) FROM pgbench_branches"),
            h_.green().query_value("SELECT sum(delta) FROM pgbench_history"));
  EXPECT_LT(h_.blue().query_number("SELECT count(*) FROM pgbench_history"), processed)
      << "writes after the switch went to blue";
  // Green's sequence was set past blue's: a new row through the pooler gets a fresh id.
  EXPECT_GT(std::stol(through_pooler("INSERT INTO events (note) VALUES ('after') RETURNING id")),
            h_.blue().query_number("SELECT max(id) FROM events"));
}

TEST_F(CutoverTest, AFreezeThatCannotFinishAbortsAndResumesClientsOnBlue) {
  h_.write_plan(kPgbenchTables + "  - source: events\n",
                plan_extra("  max_lag: 60s\n  freeze_timeout: 1s\n  drain_timeout: 10s\n"));
  h_.start_run();
  auto load = start_load(20);
  // A read-only transaction through the pooler holds its server connection: PAUSE waits for it.
  pqxx::connection long_running(pooler_->app_dsn());
  pqxx::work transaction(long_running);
  transaction.exec("SELECT count(*) FROM pgbench_branches");
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const auto aborted = h_.cli({"switch", "--force-without-rollback"});
  EXPECT_EQ(aborted.exit_code, 1);
  ASSERT_TRUE(aborted.output.is_object()) << "refused rather than aborted: " << aborted.errors;
  EXPECT_EQ(aborted.output["outcome"], "aborted") << aborted.output.dump(2);
  EXPECT_NE(aborted.output.value("reason", std::string()).find("PAUSE app did not complete within 1000 ms"),
            std::string::npos)
      << aborted.output.dump(2);
  EXPECT_EQ(aborted.output["side"], "blue");
  transaction.commit();
  processed_without_failures(*load);
  EXPECT_EQ(system_reached(), system_of(h_.blue()));
  PgbouncerAdmin admin(pooler_->admin_dsn(), "app");
  EXPECT_FALSE(admin.paused().value());
}

TEST_F(CutoverTest, ADrainThatCannotFinishAbortsAndResumesClientsOnBlue) {
  h_.write_plan(kPgbenchTables + "  - source: events\n",
                plan_extra("  max_lag: 60s\n  freeze_timeout: 5s\n  drain_timeout: 2s\n", "none"));
  h_.start_run();
  ASSERT_EQ(h_.cli({"verify"}).exit_code, 0);
  auto load = start_load(20);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  // Hold the applier back: green's accounts table is locked, so apply cannot commit.
  pqxx::connection green(h_.green().dsn());
  pqxx::work lock(green);
  lock.exec("LOCK TABLE pgbench_accounts IN ACCESS EXCLUSIVE MODE");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const auto aborted = h_.cli({"switch", "--force-without-rollback"});
  EXPECT_EQ(aborted.exit_code, 1);
  ASSERT_TRUE(aborted.output.is_object()) << "refused rather than aborted: " << aborted.errors;
  EXPECT_EQ(aborted.output["outcome"], "aborted") << aborted.output.dump(2);
  EXPECT_NE(aborted.output.value("reason", std::string()).find("did not commit the marker within 2000 ms"),
            std::string::npos)
      << aborted.output.dump(2);
  lock.abort();
  processed_without_failures(*load);
  EXPECT_EQ(system_reached(), system_of(h_.blue()));
  // Streaming goes on: green catches up with everything blue got.
  EXPECT_TRUE(h_.wait_until_equal("SELECT * FROM pgbench_history", "SELECT * FROM pgbench_history"));
}

}  // namespace
}  // namespace cutover::testing

namespace cutover::testing {
namespace {

// kill -9 of `cutover run` at a named step of the switch; the restarted run must leave the
// pooler resumed on the right side with nothing lost.
class CutoverCrashTest : public CutoverTest, public ::testing::WithParamInterface<CrashCase> {};

TEST_P(CutoverCrashTest, KilledRunRecoversTheSwitchWhenItStartsAgain) {
  const CrashCase crash = GetParam();
  start_run_crashing_at(crash.point);
  ASSERT_EQ(h_.cli({"verify"}).exit_code, 0);
  auto load = start_load(20);
  std::this_thread::sleep_for(std::chrono::seconds(3));
  ASSERT_NO_FATAL_FAILURE(restart_after_kill_at(h_.cli({"switch", "--force-without-rollback"}), crash.point));
  const long processed = processed_without_failures(*load);

  const std::string side = crash.side_after_restart;
  PostgresCluster& expected = side == "green" ? h_.green() : h_.blue();
  EXPECT_EQ(system_reached(), system_of(expected));
  // The include file names that side too: a RELOAD, anyone's, leaves clients where they are
  // (after a crash between the rewrite and the RELOAD, the undo must write it back).
  ASSERT_TRUE(PgbouncerAdmin(pooler_->admin_dsn(), "app").reload());
  EXPECT_EQ(system_reached(), system_of(expected)) << "a RELOAD moved clients: the include file names the other side";
  // Every transaction is in the database clients reach, exactly once.
  expect_every_transaction_in(expected, processed);
  if (side == "blue") {
    // Still streaming: green catches up, and a verification is clean.
    EXPECT_TRUE(h_.wait_until_equal("SELECT * FROM pgbench_history", "SELECT * FROM pgbench_history"));
    const auto verified = h_.cli({"verify"});
    EXPECT_EQ(verified.exit_code, 0) << verified.errors;
  }
}

INSTANTIATE_TEST_SUITE_P(Steps, CutoverCrashTest,
                         ::testing::Values(CrashCase{"after_pause", "blue"}, CrashCase{"after_drain", "blue"},
                                           CrashCase{"after_include_rewritten", "blue"},
                                           CrashCase{"before_resume", "green"}),
                         [](const ::testing::TestParamInfo<CrashCase>& step) {
                           return std::string(step.param.point);
                         });

}  // namespace
}  // namespace cutover::testing
