// Faults around a move that the other tests do not cover: the pooler restarted during the
// freeze, green unreachable for 30 s while blue takes writes, and a state directory cutover
// cannot write. Each checks, independently of cutover, that every confirmed write reached
// green and that green holds exactly blue's rows.
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "fixtures/cutover_fixture.h"

namespace cutover::testing {
namespace {

using namespace std::chrono_literals;

// The application for these tests: inserts into `events` through `dsn` as fast as it can,
// reconnecting after any error, and keeps the ids whose commit it saw confirmed.
class ConfirmedWriter {
 public:
  explicit ConfirmedWriter(std::string dsn) : dsn_(std::move(dsn)), thread_([this] { write(); }) {}
  ~ConfirmedWriter() { stop(); }

  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::set<long> confirmed() const {
    std::lock_guard lock(mutex_);
    return confirmed_;
  }

 private:
  void write() {
    while (!stop_.load()) {
      try {
        pqxx::connection connection(dsn_ + " connect_timeout=2");
        while (!stop_.load()) {
          pqxx::nontransaction insert(connection);
          const long id = insert.exec1("INSERT INTO events (note) VALUES ('writer') RETURNING id")[0].as<long>();
          std::lock_guard lock(mutex_);
          confirmed_.insert(id);
        }
      } catch (const std::exception&) {
        std::this_thread::sleep_for(100ms);
      }
    }
  }

  std::string dsn_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::set<long> confirmed_;
  std::thread thread_;
};

class FaultMatrixTest : public CutoverTest {
 protected:
  // Every id the writer saw committed is in green's events, and the events of blue and
  // green are the same rows: counted and summed by SQL, not by cutover.
  void expect_events_complete(const std::set<long>& confirmed) {
    ASSERT_FALSE(confirmed.empty());
    ASSERT_TRUE(h_.wait_until_equal("SELECT * FROM events", "SELECT * FROM events"));
    const std::string counted = "SELECT count(*) || ':' || sum(id) FROM events";
    EXPECT_EQ(h_.green().query_value(counted), h_.blue().query_value(counted));
    std::string ids;
    for (long id : confirmed) ids += (ids.empty() ? "" : ",") + std::to_string(id);
    EXPECT_EQ(h_.green().query_number("SELECT count(*) FROM unnest('{" + ids + "}'::int[]) AS c(id) "
                                      "WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = c.id)"),
              0)
        << "ids the writer saw committed are missing in green";
    const auto verified = h_.cli({"verify"});
    EXPECT_EQ(verified.exit_code, 0) << verified.output.dump(2) << verified.errors;
  }
};

// PgBouncer killed and started again while the switch is frozen: it comes back resumed on
// blue, and clients write there after the drain marker. The switch must not go ahead (those
// writes would stay behind on blue); it aborts, clients stay on blue, and the pipeline carries
// their writes to green. No fence here: the check must hold without one.
TEST_F(FaultMatrixTest, APoolerRestartedDuringTheFreezeAbortsTheSwitchAndLosesNothing) {
  h_.write_plan(kPgbenchTables + "  - source: events\n",
                plan_extra("  max_lag: 60s\n  freeze_timeout: 5s\n  drain_timeout: 30s\n", "none"));
  h_.start_run();
  ASSERT_EQ(h_.cli({"verify"}).exit_code, 0);
  ConfirmedWriter writer(pooler_->app_dsn());
  std::this_thread::sleep_for(1s);
  // Hold the drain: green's events table is locked, so the applier cannot commit past it.
  pqxx::connection green(h_.green().dsn());
  pqxx::work lock(green);
  lock.exec("LOCK TABLE events IN ACCESS EXCLUSIVE MODE");
  auto switching = std::async(std::launch::async, [this] { return h_.cli({"switch", "--force-without-rollback"}); });
  PgbouncerAdmin admin(pooler_->admin_dsn(), "app");
  bool paused = false;
  for (int poll = 0; poll < 200 && !paused; ++poll) {
    std::this_thread::sleep_for(100ms);
    const auto state = admin.paused();
    paused = state && *state;
  }
  ASSERT_TRUE(paused) << "the switch never paused the pooler";
  pooler_->restart();
  const std::size_t before_restart = writer.confirmed().size();
  std::this_thread::sleep_for(3s);
  EXPECT_GT(writer.confirmed().size(), before_restart) << "no write reached blue after the restart";
  lock.abort();
  const auto aborted = switching.get();
  EXPECT_EQ(aborted.exit_code, 1) << aborted.errors;
  ASSERT_TRUE(aborted.output.is_object()) << aborted.errors;
  EXPECT_EQ(aborted.output["outcome"], "aborted") << aborted.output.dump(2);
  EXPECT_NE(aborted.output.value("reason", std::string()).find("is no longer paused"), std::string::npos)
      << aborted.output.dump(2);
  EXPECT_EQ(aborted.output["side"], "blue");
  std::this_thread::sleep_for(1s);
  writer.stop();
  EXPECT_EQ(system_reached(), system_of(h_.blue()));
  EXPECT_FALSE(admin.paused().value());
  expect_events_complete(writer.confirmed());
}

// Green down for 30 s while blue takes writes: the pipeline waits and retries by itself, the
// lag grows meanwhile, and once green is back everything drains with nothing lost.
TEST_F(FaultMatrixTest, GreenUnreachableForThirtySecondsThenDrains) {
  h_.write_plan(kPgbenchTables + "  - source: events\n", plan_extra("  max_lag: 60s\n", "none"));
  h_.start_run();
  ConfirmedWriter writer(h_.blue().dsn());
  std::this_thread::sleep_for(2s);
  h_.green().stop_fast();
  std::this_thread::sleep_for(5s);
  const auto early = h_.cli({"status"});
  std::this_thread::sleep_for(25s);
  const auto late = h_.cli({"status"});
  ASSERT_TRUE(early.output.is_object() && late.output.is_object()) << early.errors << late.errors;
  EXPECT_GT(late.output["lag_bytes"].get<long>(), early.output["lag_bytes"].get<long>())
      << "the lag did not grow while green was down";
  h_.green().start();
  std::this_thread::sleep_for(3s);
  writer.stop();
  expect_events_complete(writer.confirmed());
  EXPECT_TRUE(h_.run().running()) << "the run did not ride out green's absence:\n" << h_.run().standard_error();
  const auto after = h_.cli({"status"});
  EXPECT_EQ(after.output.value("phase", std::string()), "streaming") << after.output.dump(2);
}

// A state directory cutover cannot write: a move that could not journal its steps must not
// start, so the switch is refused by a guardrail that says why, with clients untouched and
// streaming going on. `cutover run` runs as the postgres user here, since root writes anywhere.
TEST_F(FaultMatrixTest, AnUnwritableStateDirectoryRefusesTheSwitchAndChangesNothing) {
  h_.write_plan(kPgbenchTables + "  - source: events\n", plan_extra("  max_lag: 60s\n", "none"));
  const std::string state = h_.work().path() + "/state";
  std::filesystem::create_directories(state);
  ::chmod(h_.work().path().c_str(), 0755);
  if (running_as_root()) {
    ASSERT_EQ(run_command({"chown", "-R", "postgres", state}, false), 0);
  }
  ChildProcess run({CUTOVER_BINARY, "run", h_.plan_path()}, h_.work().path(), true);
  ASSERT_TRUE(run.wait_for_output("applying from", 300s)) << run.standard_error();
  ASSERT_EQ(h_.cli({"verify"}).exit_code, 0);
  if (running_as_root()) {
    ASSERT_EQ(run_command({"chown", "-R", "root", state}, false), 0);
  }
  ::chmod(state.c_str(), 0555);
  ConfirmedWriter writer(pooler_->app_dsn());
  std::this_thread::sleep_for(1s);
  const auto refused = h_.cli({"switch", "--force-without-rollback"});
  EXPECT_EQ(refused.exit_code, 1) << refused.errors;
  const std::string said = refused.output.dump() + refused.errors;
  EXPECT_NE(said.find("journal_writable"), std::string::npos) << said;
  EXPECT_NE(said.find("Permission denied"), std::string::npos) << said;
  writer.stop();
  EXPECT_EQ(system_reached(), system_of(h_.blue()));
  PgbouncerAdmin admin(pooler_->admin_dsn(), "app");
  EXPECT_FALSE(admin.paused().value());
  ::chmod(state.c_str(), 0755);
  expect_events_complete(writer.confirmed());
  EXPECT_TRUE(run.running()) << run.standard_error();
}

// kill -9 of `cutover run` at a named point of the pipeline, with a writer on blue: between
// Kafka's acknowledgement and the slot's confirmation, and inside a green batch (rows written,
// position not committed). The run started again must end with every confirmed write in green
// and green equal to blue.
class PipelineCrashTest : public FaultMatrixTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(PipelineCrashTest, KilledRunLosesNothingAfterARestart) {
  h_.write_plan(kPgbenchTables + "  - source: events\n", plan_extra("  max_lag: 60s\n", "none"));
  ConfirmedWriter writer(h_.blue().dsn());
  ::setenv("CUTOVER_CRASH_AT", GetParam(), 1);
  h_.start_run(false);
  ::unsetenv("CUTOVER_CRASH_AT");
  ASSERT_EQ(h_.run().wait(180s).value_or(-1), 128 + SIGKILL) << h_.run().standard_error();
  EXPECT_NE(h_.run().standard_error().find(std::string("crash point ") + GetParam()), std::string::npos);
  h_.start_run();
  std::this_thread::sleep_for(2s);
  writer.stop();
  expect_events_complete(writer.confirmed());
}

INSTANTIATE_TEST_SUITE_P(NamedPoints, PipelineCrashTest,
                         ::testing::Values("capture_after_kafka_ack", "apply_inside_batch"),
                         [](const auto& point) { return std::string(point.param); });

}  // namespace
}  // namespace cutover::testing
