// Rollback end to end: after a switch the reverse pipeline keeps blue current, and a
// rollback moves clients back with nothing lost, under pgbench through PgBouncer the whole
// time; then a second switch works as the first did.
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>

#include <sys/stat.h>

#include "cutover/control/http_client.h"
#include "fixtures/cutover_fixture.h"
#include "fixtures/metrics_samples.h"

namespace cutover::testing {
namespace {

class RollbackTest : public CutoverTest {
 protected:
  // A switch command that points the pooler at side $1 and reloads it, after `first` (shell).
  std::string write_switch_script(const std::string& first) {
    const std::string script = h_.work().path() + "/switch.sh";
    std::ofstream out(script);
    out << "#!/bin/sh\nset -e\n" << first << "case \"$1\" in\n"
        << "  blue) line='" << Pgbouncer::server_line(h_.blue()) << "' ;;\n"
        << "  green) line='" << Pgbouncer::server_line(h_.green()) << "' ;;\n"
        << "  *) echo \"switch.sh: no side $1\" >&2; exit 2 ;;\nesac\n"
        << "printf '[databases]\\napp = %s\\n' \"$line\" > " << pooler_->include_file() << ".new\n"
        << "mv " << pooler_->include_file() << ".new " << pooler_->include_file() << "\n"
        << kPostgresBin << "psql -X -q \"" << pooler_->admin_dsn() << "\" -c RELOAD\n";
    out.close();
    ::chmod(script.c_str(), 0755);
    return script;
  }
};

TEST_F(RollbackTest, SwitchRollbackAndSwitchAgainUnderPgbenchLoseNothing) {
  h_.write_plan(kPgbenchTables + "  - source: events\n",
                plan_extra("  max_lag: 60s\n  freeze_timeout: 5s\n  drain_timeout: 10s\n  fence_blue: true\n",
                           "none"));
  h_.start_run();
  expect_verification_clean("the snapshot");
  const auto dry = h_.cli({"switch", "--dry-run"});
  EXPECT_EQ(dry.exit_code, 0) << dry.output.dump(2);
  const auto too_early = h_.cli({"rollback"});
  EXPECT_EQ(too_early.exit_code, 1);
  EXPECT_NE(too_early.errors.find("side: clients on blue"), std::string::npos) << too_early.errors;

  auto load = start_load(70);
  std::this_thread::sleep_for(std::chrono::seconds(3));
  // A writer that bypasses the pooler, connected before the switch.
  pqxx::connection direct_writer(h_.blue().dsn());

  const auto switched = h_.cli({"switch"});
  ASSERT_EQ(switched.exit_code, 0) << switched.errors << switched.output.dump(2) << h_.run().standard_error();
  EXPECT_EQ(switched.output["side"], "green");
  EXPECT_EQ(switched.output["pipeline"], "reverse");
  std::cerr << "[ MEASURED ] switch timings " << switched.output["timings"].dump() << "\n";
  EXPECT_EQ(system_reached(), system_of(h_.green()));
  // The fence: the direct writer's session was ended, and new sessions on blue are read-only.
  EXPECT_THROW(pqxx::nontransaction(direct_writer).exec("INSERT INTO events (note) VALUES ('direct')"),
               pqxx::broken_connection);
  EXPECT_THROW(h_.blue().execute("INSERT INTO events (note) VALUES ('direct')"), std::exception);

  ASSERT_TRUE(wait_for_direction("reverse")) << h_.run().standard_error();
  std::this_thread::sleep_for(std::chrono::seconds(3));
  expect_verification_clean("the switch");

  const auto rolled_back = h_.cli({"rollback"});
  ASSERT_EQ(rolled_back.exit_code, 0) << rolled_back.errors << rolled_back.output.dump(2)
                                      << h_.run().standard_error();
  EXPECT_EQ(rolled_back.output["outcome"], "rolled_back");
  EXPECT_EQ(rolled_back.output["side"], "blue");
  EXPECT_EQ(rolled_back.output["pipeline"], "forward");
  std::cerr << "[ MEASURED ] rollback timings " << rolled_back.output["timings"].dump() << "\n";
  EXPECT_EQ(system_reached(), system_of(h_.blue()));
  // Blue takes writes again; green is fenced now.
  EXPECT_NO_THROW(h_.blue().execute("INSERT INTO events (note) VALUES ('direct after rollback')"));
  EXPECT_THROW(h_.green().execute("INSERT INTO events (note) VALUES ('direct')"), std::exception);

  ASSERT_TRUE(wait_for_direction("forward")) << h_.run().standard_error();
  std::this_thread::sleep_for(std::chrono::seconds(3));
  expect_verification_clean("the rollback");

  const auto again = h_.cli({"switch"});
  ASSERT_EQ(again.exit_code, 0) << again.errors << again.output.dump(2) << h_.run().standard_error();
  EXPECT_EQ(system_reached(), system_of(h_.green()));
  ASSERT_TRUE(wait_for_direction("reverse")) << h_.run().standard_error();
  expect_verification_clean("the second switch");

  const long processed = processed_without_failures(*load);
  expect_every_transaction_in(h_.green(), processed);
  // The reverse pipeline brings blue to the same rows.
  EXPECT_TRUE(h_.wait_until_equal("SELECT * FROM pgbench_history", "SELECT * FROM pgbench_history"));
  expect_every_transaction_in(h_.blue(), processed);
  expect_verification_clean("the load");
  // Sequences followed the clients both ways: a new row gets an id past both sides'.
  // (Read first: the reverse pipeline soon brings the new row to blue too.)
  const long highest_on_blue = h_.blue().query_number("SELECT max(id) FROM events");
  const long fresh = std::stol(through_pooler("INSERT INTO events (note) VALUES ('last') RETURNING id"));
  EXPECT_GT(fresh, highest_on_blue);
}

// The next direction's slot is made before the freeze, so until the drain the applier still
// writes into the side it is on: none of that may come back (its origin is left out), and
// every client write after the switch (or the rollback) must reach the other side. A client
// writes one row at a time through the pooler across a switch and a rollback; each row names
// the transaction that wrote it and the system it was written on. Oracle, in plain SQL: every
// row is on both sides, and on the side where a client wrote it a row still has the xmin of
// the client's own transaction (an echo applied back would have written a new version).
TEST_F(RollbackTest, NoAppliedRowComesBackAndEveryClientRowCrossesBothWays) {
  h_.write_plan(kPgbenchTables + "  - source: events\n",
                plan_extra("  max_lag: 60s\n  freeze_timeout: 5s\n  drain_timeout: 10s\n", "none"));
  h_.start_run();
  expect_verification_clean("the snapshot");
  std::atomic<bool> stop{false};
  std::atomic<long> written{0};
  std::string failure;
  std::thread client([&] {
    try {
      pqxx::connection connection(pooler_->app_dsn());
      while (!stop.load()) {
        pqxx::nontransaction(connection).exec(
            "INSERT INTO events (note) SELECT txid_current() % 4294967296 || ' ' || system_identifier "
            "FROM pg_control_system()");
        written++;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    } catch (const std::exception& error) {
      failure = error.what();
    }
  });
  struct Joined {
    std::atomic<bool>& stop;
    std::thread& thread;
    ~Joined() {
      stop = true;
      if (thread.joinable()) thread.join();
    }
  } joined{stop, client};
  auto rows_written_on = [&](PostgresCluster& side, PostgresCluster& on) {
    return side.query_number("SELECT count(*) FROM events WHERE split_part(note, ' ', 2) = '" + system_of(on) + "'");
  };
  // Rows a client wrote on `side` that no longer have the client transaction's xmin there.
  auto rewritten_on = [&](PostgresCluster& side) {
    return side.query_number("SELECT count(*) FROM events WHERE split_part(note, ' ', 2) = '" + system_of(side) +
                             "' AND xmin::text <> split_part(note, ' ', 1)");
  };

  std::this_thread::sleep_for(std::chrono::seconds(2));
  ASSERT_NO_FATAL_FAILURE(switch_to_green());
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const auto rolled_back = h_.cli({"rollback"});
  ASSERT_EQ(rolled_back.exit_code, 0) << rolled_back.errors << rolled_back.output.dump(2)
                                      << h_.run().standard_error();
  ASSERT_TRUE(wait_for_direction("forward")) << h_.run().standard_error();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  stop = true;
  client.join();
  EXPECT_EQ(failure, "");

  EXPECT_TRUE(h_.wait_until_equal("SELECT id, note FROM events", "SELECT id, note FROM events"));
  EXPECT_EQ(h_.blue().query_number("SELECT count(*) FROM events"), written.load());
  // The client wrote on both sides, and each side has the other's rows.
  EXPECT_GT(rows_written_on(h_.blue(), h_.green()), 0);
  EXPECT_GT(rows_written_on(h_.green(), h_.blue()), 0);
  EXPECT_EQ(rewritten_on(h_.blue()), 0) << "rows the forward applier wrote to green came back to blue";
  EXPECT_EQ(rewritten_on(h_.green()), 0) << "rows the reverse applier wrote to blue came back to green";
  expect_verification_clean("the switch and the rollback");
}

// The switch command instead of PgBouncer's include file: PgBouncer only pauses and resumes,
// and the operator's script moves clients (here: it rewrites the include file and RELOADs).
TEST_F(RollbackTest, TheSwitchCommandMovesClientsBothWays) {
  const std::string script = write_switch_script("echo \"$1\" >> " + h_.work().path() + "/switched\n");
  h_.write_plan(kPgbenchTables + "  - source: events\n",
                "state_dir: " + h_.work().path() + "/state\nverify:\n  before_switch: none\n"
                "cutover:\n  max_lag: 60s\n  switch:\n    command: [\"" + script + "\", \"{to}\"]\n"
                "    pgbouncer:\n      admin_dsn: \"" + pooler_->admin_dsn() + "\"\n      database: app\n");
  h_.start_run();
  expect_verification_clean("the snapshot");
  auto load = start_load(30);
  std::this_thread::sleep_for(std::chrono::seconds(3));

  const auto switched = h_.cli({"switch"});
  ASSERT_EQ(switched.exit_code, 0) << switched.errors << switched.output.dump(2) << h_.run().standard_error();
  EXPECT_EQ(system_reached(), system_of(h_.green()));
  // Each step printed as it happened, in the order the move took them.
  std::size_t at = 0;
  for (const char* step : {" guardrails done", " freeze done", " drain done", " switch done", " resume done"}) {
    const auto found = switched.errors.find(step, at);
    EXPECT_NE(found, std::string::npos) << step << " not printed in order: " << switched.errors;
    if (found != std::string::npos) at = found;
  }
  ASSERT_TRUE(wait_for_direction("reverse")) << h_.run().standard_error();
  std::this_thread::sleep_for(std::chrono::seconds(3));
  const auto rolled_back = h_.cli({"rollback"});
  ASSERT_EQ(rolled_back.exit_code, 0) << rolled_back.errors << rolled_back.output.dump(2)
                                      << h_.run().standard_error();
  EXPECT_EQ(system_reached(), system_of(h_.blue()));

  expect_every_transaction_in(h_.blue(), processed_without_failures(*load));
  EXPECT_TRUE(h_.wait_until_equal("SELECT * FROM pgbench_history", "SELECT * FROM pgbench_history"));
  std::ifstream calls(h_.work().path() + "/switched");
  std::stringstream called;
  called << calls.rdbuf();
  EXPECT_EQ(called.str(), "green\nblue\n");
}

// A move refuses what it cannot honour: a switch asked for while a verification runs (its own
// verification would be refused and the move aborted), and an abort once the switch step has
// begun (clients are being pointed at green: the move runs to its end).
TEST_F(RollbackTest, ASwitchDuringAVerificationAndAnAbortDuringTheSwitchStepAreRefused) {
  const std::string started = h_.work().path() + "/switch-started";
  const std::string script = write_switch_script("touch " + started + "\nsleep 4\n");
  h_.write_plan(kPgbenchTables + "  - source: events\n",
                "state_dir: " + h_.work().path() + "/state\nverify:\n  before_switch: none\n"
                "cutover:\n  max_lag: 60s\n  switch:\n    command: [\"" + script + "\", \"{to}\"]\n"
                "    pgbouncer:\n      admin_dsn: \"" + pooler_->admin_dsn() + "\"\n      database: app\n");
  h_.start_run();
  auto post = [&](const std::string& path) {
    auto answer = http_call(h_.control_url(), "POST", path, kToken);
    EXPECT_TRUE(answer) << path << ": " << answer.status().message();
    return answer ? *answer : HttpResponse{};
  };
  auto error_of = [](const HttpResponse& answer) {
    const auto body = nlohmann::json::parse(answer.body, nullptr, false);
    return body.is_object() ? body.value("error", std::string()) : std::string();
  };
  auto status = [&] { return h_.cli({"status"}).output; };

  ASSERT_EQ(post("/api/v1/verify").status, 202);
  const auto during_verification = post("/api/v1/switch");
  EXPECT_EQ(during_verification.status, 409);
  EXPECT_NE(error_of(during_verification).find("a verification is running"), std::string::npos)
      << during_verification.body;
  const auto verified_by = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (status()["last_verification"].value("state", "") == "running" && std::chrono::steady_clock::now() < verified_by) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(status()["last_verification"].value("state", ""), "clean");

  ASSERT_EQ(post("/api/v1/switch").status, 202);
  const auto step_by = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!std::filesystem::exists(started) && std::chrono::steady_clock::now() < step_by) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(std::filesystem::exists(started)) << h_.run().standard_error();
  const auto abort = post("/api/v1/abort");
  EXPECT_EQ(abort.status, 409);
  EXPECT_NE(error_of(abort).find("the switch step has begun"), std::string::npos) << abort.body;
  ASSERT_TRUE(wait_for_direction("reverse")) << h_.run().standard_error();
  EXPECT_EQ(status()["cutover"].value("outcome", ""), "switched") << status().dump(2);
  EXPECT_EQ(system_reached(), system_of(h_.green()));
}

// Blue keyed on (payment_date, payment_id), green on payment_id with REPLICA IDENTITY FULL:
// rows deleted and updated on green between the switch and the rollback are found on blue by
// blue's whole key, so after the rollback blue holds exactly green's rows.
TEST_F(RollbackTest, ReverseDeletesAndUpdatesFindBlueRowsByBluesOwnKey) {
  h_.blue().execute(
      "CREATE TABLE payment (payment_date date, payment_id int, amount numeric(8,2), "
      "PRIMARY KEY (payment_date, payment_id));"
      "INSERT INTO payment SELECT date '2024-01-01' + (i % 30), i, i / 10.0 FROM generate_series(1, 2000) i");
  h_.green().execute(
      "CREATE TABLE payment (payment_id bigint PRIMARY KEY, payment_date date NOT NULL, amount numeric(8,2));"
      "ALTER TABLE payment REPLICA IDENTITY FULL");
  h_.write_plan(kPgbenchTables + "  - source: events\n  - source: payment\n    key: [payment_id]\n",
                plan_extra("  max_lag: 60s\n  freeze_timeout: 5s\n  drain_timeout: 10s\n", "none"));
  h_.start_run();
  expect_verification_clean("the snapshot");
  ASSERT_NO_FATAL_FAILURE(switch_to_green());
  through_pooler("WITH gone AS (DELETE FROM payment WHERE payment_id % 7 = 0 RETURNING 1) SELECT count(*) FROM gone");
  through_pooler("WITH moved AS (UPDATE payment SET amount = amount + 1, payment_date = payment_date + 1 "
                 "WHERE payment_id % 11 = 0 RETURNING 1) SELECT count(*) FROM moved");
  const auto rolled_back = h_.cli({"rollback"});
  ASSERT_EQ(rolled_back.exit_code, 0) << rolled_back.errors << rolled_back.output.dump(2) << h_.run().standard_error();
  EXPECT_EQ(system_reached(), system_of(h_.blue()));
  EXPECT_EQ(h_.blue().query_number("SELECT count(*) FROM payment"), 2000 - 2000 / 7);
  EXPECT_TRUE(h_.wait_until_equal("SELECT payment_id::bigint, payment_date, amount FROM payment",
                                  "SELECT payment_id, payment_date, amount FROM payment"));
  ASSERT_TRUE(wait_for_direction("forward")) << h_.run().standard_error();
  expect_verification_clean("the rollback");
  // Metrics keep the directions apart: green's deletes (285) and updates of rows it kept
  // (156) are the reverse direction's; blue's table changed in neither.
  const auto samples = scraped_samples(h_.control_url(), h_.work().path());
  EXPECT_EQ(sample_value(samples, "cutover_table_rows_applied_total",
                         {{"direction", "reverse"}, {"table", "public.payment"}}),
            285.0 + 156.0);
  const double forward = sample_value(samples, "cutover_table_rows_applied_total",
                                      {{"direction", "forward"}, {"table", "public.payment"}});
  EXPECT_TRUE(std::isnan(forward) || forward == 0) << forward;
  EXPECT_EQ(sample_value(samples, "cutover_direction_reverse"), 0.0);
  // One switch and one rollback, each ended as asked, each pausing clients once.
  EXPECT_EQ(sample_value(samples, "cutover_moves_total", {{"operation", "switch"}, {"outcome", "switched"}}), 1.0);
  EXPECT_EQ(sample_value(samples, "cutover_moves_total", {{"operation", "rollback"}, {"outcome", "rolled_back"}}), 1.0);
  EXPECT_EQ(sample_value(samples, "cutover_moves_total", {{"operation", "switch"}, {"outcome", "aborted"}}), 0.0);
  EXPECT_EQ(sample_value(samples, "cutover_client_pause_seconds_count"), 2.0);
  const double last_pause = h_.cli({"status"}).output["cutover"]["timings"].value("pause_ms", 0.0) / 1000.0;
  EXPECT_GE(sample_value(samples, "cutover_client_pause_seconds_sum"), last_pause);
}

// After a switch green is the source: a schema change there that the reverse plan cannot map
// halts the reverse pipeline the same way (status names it), and a rollback is refused until
// the operator has dealt with it, instead of rolling back over rows blue never got.
TEST_F(RollbackTest, ASchemaChangeOnGreenAfterTheSwitchHaltsTheReversePipeline) {
  h_.write_plan(kPgbenchTables + "  - source: events\n",
                plan_extra("  max_lag: 60s\n  freeze_timeout: 5s\n  drain_timeout: 10s\n", "none"));
  h_.start_run();
  expect_verification_clean("the snapshot");
  ASSERT_NO_FATAL_FAILURE(switch_to_green());
  h_.green().execute("ALTER TABLE events RENAME COLUMN note TO remark");
  through_pooler("INSERT INTO events (remark) VALUES ('after the rename') RETURNING id");
  const nlohmann::json shown = h_.wait_until_halted();
  EXPECT_NE(shown.value("halted", "").find("column public.events.note, which the plan reads, is gone from the source"),
            std::string::npos)
      << shown.dump(2);
  const auto refused = h_.cli({"rollback"});
  EXPECT_EQ(refused.exit_code, 1) << refused.errors << refused.output.dump(2);
  EXPECT_EQ(system_reached(), system_of(h_.green()));
  EXPECT_EQ(h_.blue().query_value("SELECT count(*) FROM events WHERE note = 'after the rename'"), "0");
}

// kill -9 of `cutover run` during a rollback: the restarted run finishes or undoes it.
class RollbackCrashTest : public RollbackTest, public ::testing::WithParamInterface<CrashCase> {};

TEST_P(RollbackCrashTest, KilledRunRecoversTheRollbackWhenItStartsAgain) {
  const CrashCase crash = GetParam();
  start_run_crashing_at(crash.point);
  expect_verification_clean("the snapshot");
  auto load = start_load(30);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const auto switched = h_.cli({"switch"});
  ASSERT_EQ(switched.exit_code, 0) << switched.errors << h_.run().standard_error();
  ASSERT_TRUE(wait_for_direction("reverse")) << h_.run().standard_error();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  ASSERT_NO_FATAL_FAILURE(restart_after_kill_at(h_.cli({"rollback"}), crash.point));
  const std::string side = crash.side_after_restart;
  PostgresCluster& expected = side == "green" ? h_.green() : h_.blue();
  EXPECT_EQ(system_reached(), system_of(expected));
  ASSERT_TRUE(PgbouncerAdmin(pooler_->admin_dsn(), "app").reload());
  EXPECT_EQ(system_reached(), system_of(expected)) << "a RELOAD moved clients: the include file names the other side";
  ASSERT_TRUE(wait_for_direction(side == "green" ? "reverse" : "forward")) << h_.run().standard_error();

  expect_every_transaction_in(expected, processed_without_failures(*load));
  EXPECT_TRUE(h_.wait_until_equal("SELECT * FROM pgbench_history", "SELECT * FROM pgbench_history"));
  expect_verification_clean("the restart");
}

INSTANTIATE_TEST_SUITE_P(Steps, RollbackCrashTest,
                         ::testing::Values(CrashCase{"rollback_after_drain", "green"},
                                           CrashCase{"rollback_after_include_rewritten", "green"},
                                           CrashCase{"rollback_before_resume", "blue"}),
                         [](const ::testing::TestParamInfo<CrashCase>& step) {
                           return std::string(step.param.point);
                         });

}  // namespace
}  // namespace cutover::testing
