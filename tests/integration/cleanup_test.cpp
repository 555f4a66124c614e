// `cutover cleanup PLAN` after each way a plan's run can end: what blue and green show of
// themselves (slots, publications, origins, schemas, relations, database settings), read by
// SQL of the test's own, is what it was before the plan; green's rows stay. While a run uses
// the plan, cleanup removes nothing.
#include <gtest/gtest.h>

#include <csignal>
#include <thread>

#include "fixtures/cutover_fixture.h"

namespace cutover::testing {
namespace {

using namespace std::chrono_literals;

// Everything a plan could leave in a database, one line each, sorted.
std::string fingerprint(PostgresCluster& cluster) {
  return cluster.query_value(
      "SELECT string_agg(x, E'\\n' ORDER BY x) FROM ("
      "  SELECT 'slot ' || slot_name FROM pg_replication_slots"
      "  UNION ALL SELECT 'publication ' || pubname FROM pg_publication"
      "  UNION ALL SELECT 'origin ' || roname FROM pg_replication_origin"
      "  UNION ALL SELECT 'schema ' || nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%'"
      "  UNION ALL SELECT 'setting ' || coalesce(setdatabase::text, '') || ' ' || array_to_string(setconfig, ',') "
      "    FROM pg_db_role_setting"
      "  UNION ALL SELECT 'relation ' || c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
      "    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'"
      ") s(x)");
}

struct CleanupOutcome {
  int exit_code;
  std::string output;
  std::string errors;
};

CleanupOutcome cleanup(ForwardHarness& harness, bool dry_run = false) {
  std::vector<std::string> argv{CUTOVER_BINARY, "cleanup", harness.plan_path()};
  if (dry_run) argv.push_back("--dry-run");
  ChildProcess child(argv, harness.work().path());
  const int exit_code = child.wait(120s).value_or(-1);
  return {exit_code, child.standard_output(), child.standard_error()};
}

enum class Ending { kKilledInSnapshot, kStoppedInSnapshot, kSnapshotFailed, kKilledStreaming, kHaltedSlotDropped };

struct EndingCase {
  Ending ending;
  const char* name;
};

void PrintTo(const EndingCase& ending, std::ostream* out) { *out << ending.name; }

class CleanupAfter : public ::testing::TestWithParam<EndingCase> {};

TEST_P(CleanupAfter, LeavesBothSidesAsTheyWereBeforeThePlan) {
  ForwardHarness harness;
  const Ending ending = GetParam().ending;
  harness.blue().execute("CREATE TABLE items (id int PRIMARY KEY, note text);"
                         "INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 1000000) g");
  harness.green().execute("CREATE TABLE items (id int PRIMARY KEY, note text CHECK (note <> 'refused'))");
  if (ending == Ending::kSnapshotFailed) harness.blue().execute("UPDATE items SET note = 'refused' WHERE id = 900000");
  const std::string blue_before = fingerprint(harness.blue());
  const std::string green_before = fingerprint(harness.green());
  harness.write_plan("  - source: items\n", "snapshot:\n  parallelism: 1\n  chunk_rows: 20000\nstate_dir: " +
                                                harness.work().path() + "/state\n");
  const bool in_snapshot = ending == Ending::kKilledInSnapshot || ending == Ending::kStoppedInSnapshot;
  auto& run = harness.start_run(!in_snapshot && ending != Ending::kSnapshotFailed);
  switch (ending) {
    case Ending::kKilledInSnapshot:
    case Ending::kStoppedInSnapshot: {
      ASSERT_TRUE(run.wait_for_output("snapshot copy starting", 60s)) << run.standard_error();
      std::this_thread::sleep_for(300ms);
      run.signal(ending == Ending::kKilledInSnapshot ? SIGKILL : SIGTERM);
      ASSERT_TRUE(run.wait(60s).has_value());
      ASSERT_EQ(run.standard_error().find("snapshot complete"), std::string::npos) << "the copy ended first";
      if (ending == Ending::kStoppedInSnapshot) {
        // A cancelled snapshot leaves no slot, and no session (with its exported snapshot) on blue.
        EXPECT_EQ(harness.blue().query_value("SELECT count(*) FROM pg_replication_slots"), "0") << run.standard_error();
        EXPECT_EQ(harness.blue().query_value(
                      "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'cutover'"), "0");
      }
      break;
    }
    case Ending::kSnapshotFailed: {
      // The run stays up with the error; the failed snapshot already left no slot.
      const nlohmann::json failed = harness.wait_until_phase("failed");
      EXPECT_NE(failed["failed"].value("message", "").find("items_note_check"), std::string::npos) << failed.dump(2);
      EXPECT_EQ(harness.blue().query_value("SELECT count(*) FROM pg_replication_slots"), "0") << run.standard_error();
      harness.stop_failed_run("items_note_check");
      EXPECT_EQ(harness.blue().query_value("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'cutover'"),
                "0");
      break;
    }
    case Ending::kKilledStreaming: {
      harness.blue().execute("INSERT INTO items VALUES (0, 'streamed')");
      ASSERT_TRUE(harness.wait_until_equal("SELECT * FROM items", "SELECT * FROM items"));
      // While the run streams, cleanup refuses and removes nothing.
      const std::string blue_running = fingerprint(harness.blue());
      const std::string green_running = fingerprint(harness.green());
      const auto refused = cleanup(harness);
      EXPECT_EQ(refused.exit_code, 1) << refused.output << refused.errors;
      EXPECT_NE(refused.errors.find("in use: a cutover run of plan t answers"), std::string::npos) << refused.errors;
      EXPECT_NE(refused.errors.find("in use: blue: replication slot cutover_t is in use"), std::string::npos)
          << refused.errors;
      EXPECT_NE(refused.errors.find("nothing was removed"), std::string::npos) << refused.errors;
      EXPECT_EQ(fingerprint(harness.blue()), blue_running);
      EXPECT_EQ(fingerprint(harness.green()), green_running);
      // `cutover status` lists what the plan holds on each side.
      nlohmann::json holds;
      for (int attempt = 0; attempt < 50 && !holds.is_object(); ++attempt) {
        std::this_thread::sleep_for(500ms);
        holds = harness.cli({"status"}).output["holds"];
      }
      ASSERT_TRUE(holds.is_object()) << harness.cli({"status"}).output.dump(2);
      EXPECT_EQ(holds["blue"].dump(), R"(["replication slot cutover_t","publication cutover_t"])") << holds.dump(2);
      EXPECT_NE(holds["green"].dump().find("replication origin cutover_t"), std::string::npos) << holds.dump(2);
      harness.kill_run();
      break;
    }
    case Ending::kHaltedSlotDropped: {
      harness.blue().execute(
          "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = 'cutover_t'");
      for (int attempt = 0; attempt < 50; ++attempt) {
        harness.blue().execute("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
                               "WHERE slot_name = 'cutover_t' AND active_pid IS NOT NULL");
        if (harness.blue().query_value("SELECT count(pg_drop_replication_slot(slot_name)) FROM pg_replication_slots "
                                       "WHERE slot_name = 'cutover_t' AND NOT active") == "1") {
          break;
        }
      }
      harness.wait_until_halted();
      run.signal(SIGTERM);
      ASSERT_TRUE(run.wait(60s).has_value());
      break;
    }
  }
  const long green_rows = harness.green().query_number("SELECT count(*) FROM items");
  const auto listed = cleanup(harness, true);
  EXPECT_EQ(listed.exit_code, 0) << listed.output << listed.errors;
  const auto cleaned = cleanup(harness);
  EXPECT_EQ(cleaned.exit_code, 0) << cleaned.output << cleaned.errors;
  EXPECT_EQ(fingerprint(harness.blue()), blue_before) << listed.output << cleaned.output << cleaned.errors;
  EXPECT_EQ(fingerprint(harness.green()), green_before) << listed.output << cleaned.output << cleaned.errors;
  EXPECT_EQ(harness.green().query_number("SELECT count(*) FROM items"), green_rows) << "cleanup touched green's rows";
  EXPECT_FALSE(std::filesystem::exists(harness.work().path() + "/state/cutover.json"));
  const auto again = cleanup(harness);
  EXPECT_EQ(again.exit_code, 0) << again.errors;
  EXPECT_NE(again.output.find("holds nothing on blue, green"), std::string::npos) << again.output;
}

INSTANTIATE_TEST_SUITE_P(Endings, CleanupAfter,
                         ::testing::Values(EndingCase{Ending::kKilledInSnapshot, "KilledInSnapshot"},
                                           EndingCase{Ending::kStoppedInSnapshot, "StoppedInSnapshot"},
                                           EndingCase{Ending::kSnapshotFailed, "SnapshotFailed"},
                                           EndingCase{Ending::kKilledStreaming, "KilledWhileStreaming"},
                                           EndingCase{Ending::kHaltedSlotDropped, "HaltedSlotDropped"}),
                         [](const auto& ending) { return std::string(ending.param.name); });

// A publication an operator made (a role without the right to create one needs it) is theirs:
// cleanup leaves it, and says so.
TEST(Cleanup, LeavesAPublicationItDidNotMake) {
  ForwardHarness harness;
  harness.blue().execute("CREATE TABLE items (id int PRIMARY KEY, note text); CREATE PUBLICATION cutover_t FOR TABLE items");
  harness.green().execute("CREATE TABLE items (id int PRIMARY KEY, note text)");
  harness.write_plan("  - source: items\n");
  harness.start_run();
  harness.kill_run();
  const auto cleaned = cleanup(harness);
  EXPECT_EQ(cleaned.exit_code, 0) << cleaned.output << cleaned.errors;
  EXPECT_NE(cleaned.output.find("left as it is: blue: publication cutover_t was not made by cutover"), std::string::npos)
      << cleaned.output;
  EXPECT_EQ(harness.blue().query_value("SELECT count(*) FROM pg_publication WHERE pubname = 'cutover_t'"), "1");
  EXPECT_EQ(harness.blue().query_value("SELECT count(*) FROM pg_replication_slots"), "0");
}

// A database its DBA made read-only is theirs: cleanup opens only a fence its journal shows
// the plan set.
TEST(Cleanup, LeavesAReadOnlyDatabaseItDidNotFence) {
  ForwardHarness harness;
  harness.blue().execute("CREATE TABLE items (id int PRIMARY KEY, note text)");
  harness.green().execute("CREATE TABLE items (id int PRIMARY KEY, note text)");
  harness.write_plan("  - source: items\n");
  harness.start_run();
  harness.kill_run();
  const std::string database = harness.blue().query_value("SELECT current_database()");
  harness.blue().execute("ALTER DATABASE " + database + " SET default_transaction_read_only = on");
  const auto cleaned = cleanup(harness);
  EXPECT_EQ(cleaned.exit_code, 0) << cleaned.output << cleaned.errors;
  EXPECT_NE(cleaned.output.find("left as it is: blue: database " + database + " is read-only"), std::string::npos)
      << cleaned.output;
  EXPECT_EQ(harness.blue().query_value("SELECT count(*) FROM pg_db_role_setting s JOIN pg_database d ON d.oid = "
                                       "s.setdatabase WHERE d.datname = current_database() AND "
                                       "'default_transaction_read_only=on' = ANY(s.setconfig)"),
            "1");
  EXPECT_EQ(harness.blue().query_value("SELECT count(*) FROM pg_replication_slots"), "0");
}

// After moves, the plan holds the most: the reverse slot and publication on green, origins and
// position rows on both sides, a fence on the side clients left, the journal.
class CleanupAfterMoves : public CutoverTest {
 protected:
  void expect_cleanup_restores(const std::string& blue_before, const std::string& green_before,
                               const std::vector<std::string>& listed_first) {
    h_.run().signal(SIGTERM);
    ASSERT_TRUE(h_.run().wait(60s).has_value());
    const auto listed = cleanup(h_, true);
    EXPECT_EQ(listed.exit_code, 0) << listed.output << listed.errors;
    for (const auto& held : listed_first) {
      EXPECT_NE(listed.output.find(held), std::string::npos) << held << " is not listed:\n" << listed.output;
    }
    const auto cleaned = cleanup(h_);
    EXPECT_EQ(cleaned.exit_code, 0) << cleaned.output << cleaned.errors;
    EXPECT_EQ(fingerprint(h_.blue()), blue_before) << cleaned.output << cleaned.errors;
    EXPECT_EQ(fingerprint(h_.green()), green_before) << cleaned.output << cleaned.errors;
  }
};

TEST_F(CleanupAfterMoves, ASwitchLeavesNothingAfterCleanup) {
  const std::string blue_before = fingerprint(h_.blue());
  const std::string green_before = fingerprint(h_.green());
  h_.write_plan(kPgbenchTables + "  - source: events\n",
                plan_extra("  max_lag: 60s\n  freeze_timeout: 5s\n  drain_timeout: 10s\n  fence_blue: true\n", "none"));
  h_.start_run();
  expect_verification_clean("the snapshot");
  ASSERT_NO_FATAL_FAILURE(switch_to_green());
  through_pooler("INSERT INTO events (note) VALUES ('on green') RETURNING id");
  EXPECT_NE(fingerprint(h_.green()), green_before);
  expect_cleanup_restores(blue_before, green_before,
                          {"green: replication slot cutover_t_reverse", "green: publication cutover_t_reverse",
                           "blue: the record of what was applied here: replication origin cutover_t_reverse",
                           "green: the record of what was applied here: replication origin cutover_t",
                           "blue: write fence", "clients were last sent to green"});
}

TEST_F(CleanupAfterMoves, ASwitchAndARollbackLeaveNothingAfterCleanup) {
  const std::string blue_before = fingerprint(h_.blue());
  const std::string green_before = fingerprint(h_.green());
  h_.write_plan(kPgbenchTables + "  - source: events\n",
                plan_extra("  max_lag: 60s\n  freeze_timeout: 5s\n  drain_timeout: 10s\n", "none"));
  h_.start_run();
  expect_verification_clean("the snapshot");
  ASSERT_NO_FATAL_FAILURE(switch_to_green());
  expect_verification_clean("the switch");
  const auto rolled_back = h_.cli({"rollback"});
  ASSERT_EQ(rolled_back.exit_code, 0) << rolled_back.errors << rolled_back.output.dump(2);
  ASSERT_TRUE(wait_for_direction("forward")) << h_.run().standard_error();
  expect_cleanup_restores(blue_before, green_before,
                          {"blue: replication slot cutover_t", "blue: publication cutover_t",
                           "blue: the record of what was applied here: replication origin cutover_t_reverse",
                           "clients were last sent to blue"});
}

}  // namespace
}  // namespace cutover::testing
