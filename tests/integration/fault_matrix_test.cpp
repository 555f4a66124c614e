// The fault matrix of the whole pipeline, `cutover run` under pgbench and a writer that keeps
// the ids it saw committed: blue restarted, green killed and restarted, green unreachable for
// 30 s, the broker down, broker request errors, the pooler restarted during the freeze, a state
// directory cutover cannot write, and kill -9 at named points of the pipeline. Each checks by
// SQL, independently of cutover, that nothing was lost or doubled, and that the verifier agrees.
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "cutover/transport/embedded_broker.h"
#include "cutover/transport/tcp_forwarder.h"
#include "fixtures/cutover_fixture.h"
#include "fixtures/metrics_samples.h"

namespace cutover::testing {
namespace {

using namespace std::chrono_literals;

// The application for these tests: inserts into `events` through `dsn`, as fast as it can or
// pausing `pause` after each, reconnecting after any error, and keeps the ids whose commit
// it saw confirmed.
class ConfirmedWriter {
 public:
  ConfirmedWriter(std::string dsn, std::chrono::milliseconds pause)
      : dsn_(std::move(dsn)), pause_(pause), thread_([this] { write(); }) {}
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
          {
            std::lock_guard lock(mutex_);
            confirmed_.insert(id);
          }
          if (pause_.count() > 0) std::this_thread::sleep_for(pause_);
        }
      } catch (const std::exception&) {
        std::this_thread::sleep_for(100ms);
      }
    }
  }

  std::string dsn_;
  std::chrono::milliseconds pause_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::set<long> confirmed_;
  std::thread thread_;
};

// A broker that comes back without its log, as `cutover broker` restarted does, or a cluster
// rebuilt, or the topic deleted and made again: the mock cluster of `cutover broker --port`,
// in this process, behind a port that stays the same. It comes back with no topics at all.
class ForgetfulBroker {
 public:
  ForgetfulBroker() { start(0); }
  void restart() {
    const int port = forwarder_->port();
    forwarder_.reset();
    cluster_.reset();
    start(port);
  }
  std::string bootstrap() const { return "127.0.0.1:" + std::to_string(forwarder_->port()); }

 private:
  void start(int port) {
    auto started = EmbeddedBroker::start(3);
    if (!started) throw std::runtime_error(started.status().message());
    cluster_ = std::move(*started);
    const std::string all = cluster_->bootstrap();
    auto forwarding = TcpForwarder::start(port, all.substr(0, all.find(',')));
    if (!forwarding) throw std::runtime_error(forwarding.status().message());
    forwarder_ = std::move(*forwarding);
  }

  std::unique_ptr<EmbeddedBroker> cluster_;
  std::unique_ptr<TcpForwarder> forwarder_;
};

class FaultMatrixTest : public CutoverTest {
 protected:
  // The application during a fault: pgbench's TPC-B through the pooler for `seconds`, and the
  // writer on `writer_dsn`. Both ride out what they can; pgbench's clients may be cut off.
  // Full speed, unless the broker is this test's own: the mock keeps about 5 MiB of log, which
  // full-rate writes outran after a 10 s outage (a real cluster's retention is what must
  // cover a backlog), so there pgbench runs at 50 transactions a second and the writer
  // pauses 10 ms after each insert.
  void start_application(int seconds, const std::string& writer_dsn) {
    const bool paced = broker_ != nullptr || forgetful_ != nullptr;
    pgbench_ = start_load(seconds, paced ? 50 : 0);
    writer_ = std::make_unique<ConfirmedWriter>(writer_dsn, std::chrono::milliseconds(paced ? 10 : 0));
  }
  // Waits for pgbench to end and stops the writer.
  void stop_application() {
    pgbench_->wait(std::chrono::seconds(300));
    writer_->stop();
  }
  std::size_t confirmed_writes() const { return writer_->confirmed().size(); }

  // Nothing lost or doubled, counted and summed by SQL rather than by cutover: every id the
  // writer saw committed is in green; green's events and pgbench tables hold blue's rows;
  // pgbench_history, which has no key, has blue's count and sum of deltas, and TPC-B's
  // balances add up to them. Then cutover's own verification must be clean too.
  void expect_nothing_lost_or_doubled() {
    const std::set<long> confirmed = writer_->confirmed();
    ASSERT_FALSE(confirmed.empty());
    EXPECT_GT(h_.blue().query_number("SELECT count(*) FROM pgbench_history"), 0) << pgbench_->standard_error();
    ASSERT_TRUE(h_.wait_until_equal("SELECT * FROM events", "SELECT * FROM events"));
    for (const char* table : {"pgbench_history", "pgbench_accounts", "pgbench_tellers", "pgbench_branches"}) {
      EXPECT_TRUE(h_.wait_until_equal(std::string("SELECT * FROM ") + table, std::string("SELECT * FROM ") + table));
    }
    for (const char* counted : {"SELECT count(*) || ':' || sum(id) FROM events",
                                "SELECT count(*) || ':' || coalesce(sum(delta), 0) FROM pgbench_history"}) {
      EXPECT_EQ(h_.green().query_value(counted), h_.blue().query_value(counted)) << counted;
    }
    EXPECT_EQ(h_.green().query_value("SELECT sum(abalance) FROM pgbench_accounts"),
              h_.green().query_value("SELECT sum(delta) FROM pgbench_history"));
    std::string ids;
    for (long id : confirmed) ids += (ids.empty() ? "" : ",") + std::to_string(id);
    EXPECT_EQ(h_.green().query_number("SELECT count(*) FROM unnest('{" + ids + "}'::int[]) AS c(id) "
                                      "WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = c.id)"),
              0)
        << "ids the writer saw committed are missing in green";
    const auto verified = h_.cli({"verify"});
    EXPECT_EQ(verified.exit_code, 0) << verified.output.dump(2) << verified.errors;
  }

  void expect_run_rode_it_out() {
    EXPECT_TRUE(h_.run().running()) << "the run did not ride out the fault:\n" << h_.run().standard_error();
    const auto status = h_.cli({"status"});
    EXPECT_EQ(status.output.value("phase", std::string()), "streaming") << status.output.dump(2);
  }

  std::string streaming_plan_extra() { return plan_extra("  max_lag: 60s\n", "none"); }

  // Whether the target applies, within two minutes, past where `source`'s WAL is now: the
  // whole pipeline streams again (under load, new transactions keep coming).
  bool applies_past_now(PostgresCluster& source) {
    const std::string written = source.query_value("SELECT pg_current_wal_lsn()::text");
    const auto deadline = std::chrono::steady_clock::now() + 120s;
    while (std::chrono::steady_clock::now() < deadline) {
      const auto status = h_.cli({"status"});
      const std::string applied = status.output.is_object() ? status.output.value("applied_lsn", "0/0") : "0/0";
      if (source.query_value("SELECT '" + applied + "'::pg_lsn > '" + written + "'::pg_lsn") == "t") return true;
      std::this_thread::sleep_for(500ms);
    }
    return false;
  }

  // Starts a broker in this process instead of the run's embedded one, so that the test can
  // fail it and it outlives a killed run; returns the plan's kafka section for it. One request in flight, as the
  // embedded broker's producers keep (see EmbeddedBroker).
  std::string start_broker_outside_the_run() {
    auto started = EmbeddedBroker::start(3);  // three replicas, as on_kafka_ack asks of a topic
    if (!started) throw std::runtime_error(started.status().message());
    broker_ = std::move(*started);
    // One partition, as cutover's Admin API request makes it on a real cluster: the 2.0 mock
    // does not answer CreateTopics and would auto-create four.
    if (auto created = broker_->create_topic("cutover.t.changes", 1); !created) {
      throw std::runtime_error(created.message());
    }
    return "kafka:\n  brokers: \"" + broker_->bootstrap() +
           "\"\n  properties:\n    max.in.flight.requests.per.connection: 1\n";
  }

  // The plan's kafka section for a ForgetfulBroker this test restarts.
  std::string start_forgetful_broker() {
    forgetful_ = std::make_unique<ForgetfulBroker>();
    return "kafka:\n  brokers: \"" + forgetful_->bootstrap() +
           "\"\n  properties:\n    max.in.flight.requests.per.connection: 1\n";
  }

  static inline const std::string kEvents = kPgbenchTables + "  - source: events\n";
  // Blue's slot confirmed on Kafka's acknowledgement, the mode where a broker fault matters.
  static inline const std::string kOnKafkaAck = "replication:\n  slot_advance: on_kafka_ack\n";

  std::unique_ptr<EmbeddedBroker> broker_;
  std::unique_ptr<ForgetfulBroker> forgetful_;
  std::unique_ptr<ChildProcess> pgbench_;
  std::unique_ptr<ConfirmedWriter> writer_;
};

// PgBouncer killed and started again while the switch is frozen: it comes back resumed on
// blue, and clients write there after the drain marker. The switch must not go ahead (those
// writes would stay behind on blue); it aborts, clients stay on blue, and the pipeline carries
// their writes to green. No fence here: the check must hold without one.
TEST_F(FaultMatrixTest, APoolerRestartedDuringTheFreezeAbortsTheSwitchAndLosesNothing) {
  h_.write_plan(kEvents, plan_extra("  max_lag: 60s\n  freeze_timeout: 5s\n  drain_timeout: 30s\n", "none"));
  h_.start_run();
  ASSERT_EQ(h_.cli({"verify"}).exit_code, 0);
  start_application(15, pooler_->app_dsn());
  std::this_thread::sleep_for(1s);
  // Hold the drain: green's events table is locked, so the applier cannot commit past it.
  pqxx::connection green(h_.green().dsn());
  pqxx::work lock(green);
  lock.exec("LOCK TABLE events IN ACCESS EXCLUSIVE MODE");
  auto switching = std::async(std::launch::async, [this] { return h_.cli({"switch", "--force-without-rollback"}); });
  PgbouncerAdmin admin(pooler_->admin_dsn(), "app");
  // The freeze is done (PAUSE answered, not only asked: SHOW DATABASES shows a PAUSE still
  // waiting for transactions as paused already) once the move drains.
  bool draining = false;
  for (int poll = 0; poll < 200 && !draining; ++poll) {
    std::this_thread::sleep_for(100ms);
    const auto status = h_.cli({"status"});
    draining = status.output.is_object() && status.output.value("phase", "") == "draining";
  }
  ASSERT_TRUE(draining) << "the switch never reached the drain";
  ASSERT_TRUE(admin.paused().value());
  pooler_->restart();
  const std::size_t before_restart = confirmed_writes();
  std::this_thread::sleep_for(3s);
  EXPECT_GT(confirmed_writes(), before_restart) << "no write reached blue after the restart";
  lock.abort();
  const auto aborted = switching.get();
  EXPECT_EQ(aborted.exit_code, 1) << aborted.errors;
  ASSERT_TRUE(aborted.output.is_object()) << aborted.errors;
  EXPECT_EQ(aborted.output["outcome"], "aborted") << aborted.output.dump(2);
  EXPECT_NE(aborted.output.value("reason", std::string()).find("is no longer paused"), std::string::npos)
      << aborted.output.dump(2);
  EXPECT_EQ(aborted.output["side"], "blue");
  stop_application();
  EXPECT_EQ(system_reached(), system_of(h_.blue()));
  EXPECT_FALSE(admin.paused().value());
  expect_nothing_lost_or_doubled();
}

// Green down for 30 s while blue takes writes: the pipeline waits and retries by itself, the
// lag grows meanwhile, and once green is back everything drains with nothing lost.
TEST_F(FaultMatrixTest, GreenUnreachableForThirtySecondsThenDrains) {
  h_.write_plan(kEvents, streaming_plan_extra());
  h_.start_run();
  start_application(36, h_.blue().dsn());
  std::this_thread::sleep_for(2s);
  h_.green().stop_fast();
  std::this_thread::sleep_for(5s);
  const auto early = h_.cli({"status"});
  std::this_thread::sleep_for(25s);
  const auto late = h_.cli({"status"});
  ASSERT_TRUE(early.output.is_object() && late.output.is_object()) << early.errors << late.errors << "\n" << h_.run().standard_error();
  EXPECT_GT(late.output["lag_bytes"].get<long>(), early.output["lag_bytes"].get<long>())
      << "the lag did not grow while green was down";
  h_.green().start();
  stop_application();
  expect_nothing_lost_or_doubled();
  expect_run_rode_it_out();
}

// The broker down for 10 s under writes, with blue's slot confirmed on Kafka's
// acknowledgement: nothing produced in the outage is acknowledged, so the slot holds, and
// capture sends it all once the broker is back.
TEST_F(FaultMatrixTest, BrokerDownForTenSecondsUnderWrites) {
  h_.write_plan(kEvents, streaming_plan_extra() + kOnKafkaAck, start_broker_outside_the_run());
  h_.start_run();
  start_application(20, pooler_->app_dsn());
  std::this_thread::sleep_for(3s);
  for (int id = 1; id <= 3; ++id) broker_->set_broker_down(id);  // the whole cluster
  std::this_thread::sleep_for(2s);
  const std::string written = h_.blue().query_value("SELECT pg_current_wal_lsn()::text");
  std::this_thread::sleep_for(8s);
  EXPECT_EQ(h_.blue().query_value("SELECT confirmed_flush_lsn < '" + written +
                                  "'::pg_lsn FROM pg_replication_slots WHERE slot_name = 'cutover_t'"),
            "t")
      << "blue's slot was confirmed past changes the broker never took";
  for (int id = 1; id <= 3; ++id) broker_->set_broker_up(id);
  stop_application();
  expect_nothing_lost_or_doubled();
  expect_run_rode_it_out();
}

// The broker restarted without its log under writes, streaming forward and again after the
// switch: blue's slot (green's after the switch) is confirmed only as far as the target
// applied (on_apply), so capture sends the rest again and the target ends up with every row.
TEST_F(FaultMatrixTest, ABrokerBackWithoutItsLogIsFilledAgainFromTheSlotInBothDirections) {
  h_.write_plan(kEvents, streaming_plan_extra(), start_forgetful_broker());
  h_.start_run();
  ASSERT_EQ(h_.cli({"verify"}).exit_code, 0);
  start_application(30, pooler_->app_dsn());
  std::this_thread::sleep_for(4s);
  forgetful_->restart();
  ASSERT_TRUE(applies_past_now(h_.blue())) << h_.run().standard_error();
  // The applier's read past the end of the forgotten log failed, and metrics count it.
  const auto metrics = scraped_samples(h_.control_url(), h_.work().path());
  EXPECT_GE(sample_value(metrics, "cutover_kafka_consume_errors_total", {{"direction", "forward"}}), 1) << metrics.dump();
  ASSERT_NO_FATAL_FAILURE(switch_to_green());
  std::this_thread::sleep_for(3s);
  forgetful_->restart();
  ASSERT_TRUE(applies_past_now(h_.green())) << h_.run().standard_error();
  stop_application();
  expect_nothing_lost_or_doubled();
  EXPECT_TRUE(h_.run().running()) << h_.run().standard_error();
  const auto status = h_.cli({"status"});
  EXPECT_EQ(status.output.value("direction", std::string()), "reverse") << status.output.dump(2);
  EXPECT_EQ(status.output.value("phase", std::string()), "switched") << status.output.dump(2);
}

// The broker back without its log, with blue's slot confirmed on Kafka's acknowledgement and
// green held behind it: what Kafka had acknowledged (so blue let go of it) and green had not
// applied is gone. The run halts and stays up, says that the brokers lost the log and that
// green must be rebuilt, and green holds no row blue does not.
TEST_F(FaultMatrixTest, ABrokerBackWithoutItsLogHaltsWhereTheSlotWasConfirmedPastGreen) {
  h_.write_plan(kEvents, streaming_plan_extra() + kOnKafkaAck, start_forgetful_broker());
  h_.start_run();
  start_application(12, h_.blue().dsn());
  std::this_thread::sleep_for(2s);
  {
    pqxx::connection green(h_.green().dsn());
    pqxx::work lock(green);
    lock.exec("LOCK TABLE events IN ACCESS EXCLUSIVE MODE");
    std::this_thread::sleep_for(3s);
    const std::string slot = "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'cutover_t'";
    ASSERT_EQ(h_.blue().query_value("SELECT (" + slot + ") > '" +
                                    h_.green().query_value("SELECT source_lsn::text FROM cutover.apply_position") +
                                    "'::pg_lsn"),
              "t")
        << "the slot should be confirmed past green";
    forgetful_->restart();
    std::this_thread::sleep_for(2s);
  }
  const auto halted = h_.wait_until_halted();
  const std::string reason = halted.value("halted", "");
  EXPECT_NE(reason.find("the brokers lost"), std::string::npos) << reason;
  EXPECT_NE(reason.find("green must be rebuilt from a new snapshot"), std::string::npos) << reason;
  stop_application();
  EXPECT_TRUE(h_.run().running()) << h_.run().standard_error();
  EXPECT_EQ(h_.green().query_number("SELECT count(*) FROM events WHERE id > " +
                                    h_.blue().query_value("SELECT coalesce(max(id), 0) FROM events")),
            0);
  EXPECT_EQ(h_.blue().query_number("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'cutover_t'"), 1)
      << "the slot is kept for whoever rebuilds green";
}

// Produce and fetch requests refused by the broker under writes: the producer retries, and
// the applier's consumer fetches again, without a change lost or applied twice.
TEST_F(FaultMatrixTest, BrokerRequestErrorsUnderWrites) {
  h_.write_plan(kEvents, streaming_plan_extra() + kOnKafkaAck, start_broker_outside_the_run());
  h_.start_run();
  start_application(15, pooler_->app_dsn());
  std::this_thread::sleep_for(2s);
  for (int round = 0; round < 3; ++round) {
    broker_->push_request_errors(0 /* Produce */, {RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                                   RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                                                   RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                                                   RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE});
    broker_->push_request_errors(1 /* Fetch */, {RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                                 RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                                                 RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART});
    std::this_thread::sleep_for(3s);
  }
  stop_application();
  expect_nothing_lost_or_doubled();
  expect_run_rode_it_out();
}

// A state directory cutover cannot write: a move that could not journal its steps must not
// start, so the switch is refused by a guardrail that says why, with clients untouched and
// streaming going on. `cutover run` runs as the postgres user here, since root writes anywhere.
TEST_F(FaultMatrixTest, AnUnwritableStateDirectoryRefusesTheSwitchAndChangesNothing) {
  h_.write_plan(kEvents, streaming_plan_extra());
  const std::string state = h_.work().path() + "/state";
  std::filesystem::create_directories(state);
  ::chmod(h_.work().path().c_str(), 0755);
  if (running_as_root()) {
    ASSERT_EQ(run_command({"chown", "-R", "postgres", state}, false), 0);
  }
  ChildProcess run({CUTOVER_BINARY, "run", h_.plan_path()}, h_.work().path(), true);
  ASSERT_TRUE(run.wait_for_output("applying from", 300s)) << run.standard_error();
  ASSERT_EQ(h_.cli({"verify"}).exit_code, 0);
  // Still cutover's own directory (another owner is refused for another reason), but read-only.
  ::chmod(state.c_str(), 0555);
  start_application(5, pooler_->app_dsn());
  std::this_thread::sleep_for(1s);
  const auto refused = h_.cli({"switch", "--force-without-rollback"});
  EXPECT_EQ(refused.exit_code, 1) << refused.errors;
  const std::string said = refused.output.dump() + refused.errors;
  EXPECT_NE(said.find("journal_writable"), std::string::npos) << said;
  EXPECT_NE(said.find("Permission denied"), std::string::npos) << said;
  stop_application();
  EXPECT_EQ(system_reached(), system_of(h_.blue()));
  PgbouncerAdmin admin(pooler_->admin_dsn(), "app");
  EXPECT_FALSE(admin.paused().value());
  ::chmod(state.c_str(), 0755);
  expect_nothing_lost_or_doubled();
  EXPECT_TRUE(run.running()) << run.standard_error();
}

// Blue or green killed with -9 and started again under writes. Blue: capture reconnects to
// its slot and carries on from what it confirmed. Green: crash recovery rolls back the batch
// being applied together with its position, and the applier retries from there.
class KilledDatabaseTest : public FaultMatrixTest, public ::testing::WithParamInterface<const char*> {
 protected:
  PostgresCluster& killed() { return GetParam() == std::string("blue") ? h_.blue() : h_.green(); }
};

TEST_P(KilledDatabaseTest, KilledAndRestartedUnderWrites) {
  h_.write_plan(kEvents, streaming_plan_extra());
  h_.start_run();
  start_application(15, pooler_->app_dsn());
  std::this_thread::sleep_for(3s);
  killed().kill9();
  std::this_thread::sleep_for(1s);
  killed().start();
  stop_application();
  expect_nothing_lost_or_doubled();
  expect_run_rode_it_out();
}

INSTANTIATE_TEST_SUITE_P(Databases, KilledDatabaseTest, ::testing::Values("blue", "green"),
                         [](const auto& side) { return std::string(side.param); });

// kill -9 of `cutover run` at a named point of the pipeline, under writes: between Kafka's
// acknowledgement and the slot's confirmation (the broker outside the run, so that Kafka
// keeps what the slot has not confirmed, and capture sends it again), and inside a green
// batch (rows written, position not committed). The run started again must end with nothing
// lost or doubled.
struct PipelineCrash {
  const char* point;
  bool kafka_outside_the_run;
};
void PrintTo(const PipelineCrash& crash, std::ostream* out) { *out << crash.point; }

class PipelineCrashTest : public FaultMatrixTest, public ::testing::WithParamInterface<PipelineCrash> {};

TEST_P(PipelineCrashTest, KilledRunLosesNothingAfterARestart) {
  if (GetParam().kafka_outside_the_run) {
    h_.write_plan(kEvents, streaming_plan_extra() + kOnKafkaAck, start_broker_outside_the_run());
  } else {
    h_.write_plan(kEvents, streaming_plan_extra());
  }
  start_application(15, h_.blue().dsn());
  ::setenv("CUTOVER_CRASH_AT", GetParam().point, 1);
  h_.start_run(false);
  ::unsetenv("CUTOVER_CRASH_AT");
  ASSERT_EQ(h_.run().wait(180s).value_or(-1), 128 + SIGKILL) << h_.run().standard_error();
  EXPECT_NE(h_.run().standard_error().find(std::string("crash point ") + GetParam().point), std::string::npos);
  h_.start_run();
  stop_application();
  expect_nothing_lost_or_doubled();
}

INSTANTIATE_TEST_SUITE_P(NamedPoints, PipelineCrashTest,
                         ::testing::Values(PipelineCrash{"capture_after_kafka_ack", true},
                                           PipelineCrash{"apply_inside_batch", false}),
                         [](const auto& crash) { return std::string(crash.param.point); });

}  // namespace
}  // namespace cutover::testing
