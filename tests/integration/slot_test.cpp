// What the plan's replication slot does to its source over a long migration: it must never
// hold WAL that cutover does not need, and a slot the source lost or dropped must stop the
// pipeline with the way out, never an endless retry.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <thread>

#include "fixtures/forward_harness.h"
#include "fixtures/metrics_samples.h"

namespace cutover::testing {
namespace {

using namespace std::chrono_literals;

// WAL bytes the plan's slot keeps on `cluster`: its current position less the slot's
// restart_lsn (-1 without the slot).
long retained_wal(PostgresCluster& cluster) {
  return cluster.query_number(
      "SELECT coalesce((SELECT pg_current_wal_lsn() - restart_lsn FROM pg_replication_slots "
      "WHERE slot_name = 'cutover_t'), -1)::bigint");
}

struct UnrelatedLoad {
  int major;
  const char* database;  // where pgbench writes: blue's own database, or another of its cluster
};

void PrintTo(const UnrelatedLoad& load, std::ostream* out) { *out << load.major << " " << load.database; }

class UnrelatedWrites : public ::testing::TestWithParam<UnrelatedLoad> {};

// Blue writes all the time, but nothing the plan copies: pgbench at full rate for a minute or more (more
// WAL than an hour of a quiet application) on tables outside the plan, or in another database
// of the same cluster (whose WAL the slot holds just the same). The slot must follow: the
// server moves restart_lsn at the running-xacts records it logs every 15 s, so a slot confirmed
// as far as it can be keeps about two of those intervals of WAL, and none once the writes stop.
TEST_P(UnrelatedWrites, LeaveTheSlotHoldingNoMoreThanTheServerMust) {
  const UnrelatedLoad load = GetParam();
  ForwardHarness harness(ClusterOptions{.major = load.major}, ClusterOptions{});
  harness.blue().execute("CREATE TABLE items (id int PRIMARY KEY, note text)");
  harness.green().execute("CREATE TABLE items (id int PRIMARY KEY, note text)");
  if (std::string(load.database) != "postgres") harness.blue().execute(std::string("CREATE DATABASE ") + load.database);
  auto pgbench = [&](std::vector<std::string> arguments) {
    std::vector<std::string> argv{postgres_bin_directory(15) + "/pgbench", "-h", "127.0.0.1", "-p",
                                  std::to_string(harness.blue().port()), "-U", "postgres"};
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    argv.push_back(load.database);
    ChildProcess child(argv, harness.work().path());
    return child.wait(std::chrono::seconds(300)).value_or(-1);
  };
  ASSERT_EQ(pgbench({"-i", "-s", "1", "-q"}), 0);
  harness.write_plan("  - source: items\n");
  harness.start_run();
  const std::string wal_before = harness.blue().query_value("SELECT pg_current_wal_lsn()");
  auto written_since_start = [&] {
    return harness.blue().query_number("SELECT (pg_current_wal_lsn() - '" + wal_before + "')::bigint");
  };
  // Full rate for a minute, and on until 128 MiB are written (a busy machine writes less in a
  // minute), for at most three minutes.
  std::atomic<bool> writing{true};
  std::thread writes([&] {
    const auto started = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - started < 60s ||
           (written_since_start() < (128L << 20) && std::chrono::steady_clock::now() - started < 180s)) {
      EXPECT_EQ(pgbench({"-c", "2", "-j", "2", "-T", "10", "-n"}), 0);
    }
    writing = false;
  });
  std::vector<long> during;
  while (writing) {
    std::this_thread::sleep_for(2s);
    if (writing) during.push_back(retained_wal(harness.blue()));
  }
  writes.join();
  const long written = written_since_start();
  std::vector<long> after;
  for (int sample = 0; sample < 25 && (after.empty() || after.back() >= (1L << 20)); ++sample) {
    std::this_thread::sleep_for(2s);
    after.push_back(retained_wal(harness.blue()));
  }
  std::string trace = "retained KiB every 2 s while blue wrote " + std::to_string(written >> 10) + " KiB:";
  for (const long sample : during) trace += " " + std::to_string(sample >> 10);
  trace += "; after:";
  for (const long sample : after) trace += " " + std::to_string(sample >> 10);
  ASSERT_GT(written, 64L << 20) << "the load wrote too little to tell; " << trace;
  ASSERT_GE(*std::min_element(during.begin(), during.end()), 0) << "the slot is gone; " << trace;
  // The slot moved on while the writes went on: some sample keeps less than one before it.
  bool moved_during_writes = false;
  for (std::size_t i = 1; i < during.size(); ++i) moved_during_writes |= during[i] < during[i - 1];
  EXPECT_TRUE(moved_during_writes) << trace;
  EXPECT_LT(*std::max_element(during.begin(), during.end()), written * 3 / 4) << trace;
  EXPECT_LT(after.back(), 1L << 20) << trace;
  // The plan's rows still arrive.
  harness.blue().execute("INSERT INTO items VALUES (1, 'after the load')");
  EXPECT_TRUE(harness.wait_until_equal("SELECT * FROM items", "SELECT * FROM items"));
}

// 13 sends the empty transactions of unrelated tables (15 leaves them out).
INSTANTIATE_TEST_SUITE_P(Load, UnrelatedWrites,
                         ::testing::Values(UnrelatedLoad{13, "postgres"}, UnrelatedLoad{15, "other"}),
                         [](const auto& load) {
                           return "PostgreSQL" + std::to_string(load.param.major) + "_" + load.param.database;
                         });

// A plan of one table, `items`, streaming.
// `cutover validate --connect` of the plan written last: its standard error.
std::string validate_connected(ForwardHarness& harness) {
  ChildProcess validate({CUTOVER_BINARY, "validate", harness.plan_path(), "--connect"}, harness.work().path());
  EXPECT_EQ(validate.wait(60s).value_or(-1), 0) << validate.standard_error();
  return validate.standard_error();
}

// A plan of one table, `items`, streaming; what `validate --connect` said of it first.
std::string start_streaming_items(ForwardHarness& harness, const std::string& extra = "") {
  ::setenv("CUTOVER_TOKEN", "slot-test-token", 1);
  harness.blue().execute("CREATE TABLE items (id int PRIMARY KEY, note text)");
  harness.green().execute("CREATE TABLE items (id int PRIMARY KEY, note text)");
  harness.write_plan("  - source: items\n", extra);
  std::string validated = validate_connected(harness);
  harness.start_run();
  return validated;
}

// The slot's stream ended for good: the pipeline halts (the run stays up to say so), names
// the slot and what was lost, says that green must be copied anew, and makes no new slot.
void expect_halted_for_the_slot(ForwardHarness& harness, const std::string& what_happened) {
  const auto halted = harness.wait_until_halted();
  const std::string reason = halted.value("halted", "");
  EXPECT_NE(reason.find("cutover_t"), std::string::npos) << reason;
  EXPECT_NE(reason.find(what_happened), std::string::npos) << reason;
  EXPECT_NE(reason.find("new snapshot"), std::string::npos) << reason;
  EXPECT_NE(reason.find("cutover cleanup PLAN"), std::string::npos) << reason;
  EXPECT_NE(harness.run().standard_error().find(what_happened), std::string::npos);
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(harness.cli({"status"}).output.value("phase", ""), "halted");
  // No slot that keeps WAL: none at all after a drop, the invalidated one (restart_lsn NULL)
  // after an invalidation. A slot cutover made again would have a restart_lsn.
  EXPECT_EQ(retained_wal(harness.blue()), -1) << "cutover made a slot again";
}

TEST(SlotLoss, SlotDroppedOnBlueHaltsThePipeline) {
  ForwardHarness harness;
  const std::string validated = start_streaming_items(harness);
  EXPECT_NE(validated.find("warning: blue: max_slot_wal_keep_size is -1 (unlimited)"), std::string::npos) << validated;
  harness.blue().execute("INSERT INTO items VALUES (1, 'before')");
  ASSERT_TRUE(harness.wait_until_equal("SELECT * FROM items", "SELECT * FROM items"));
  // Streaming, status and metrics show the slot as blue does.
  std::this_thread::sleep_for(2s);
  const auto slot = harness.cli({"status"}).output["slot"];
  ASSERT_TRUE(slot.is_object()) << harness.cli({"status"}).output.dump(2);
  EXPECT_EQ(slot.value("name", ""), "cutover_t");
  EXPECT_EQ(slot.value("wal_status", ""), harness.blue().query_value(
                                              "SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'cutover_t'"));
  EXPECT_TRUE(slot.value("active", false));
  EXPECT_TRUE(slot["safe_wal_bytes"].is_null()) << "max_slot_wal_keep_size is unlimited here";
  EXPECT_TRUE(slot["warning"].is_null());
  const auto metrics = scraped_samples(harness.control_url(), harness.work().path());
  const std::map<std::string, std::string> slot_labels = {
      {"plan", "t"}, {"direction", "forward"}, {"slot", "cutover_t"}};
  EXPECT_EQ(sample_value(metrics, "cutover_slot_active", slot_labels), 1) << metrics.dump();
  auto reserved = slot_labels;
  reserved["status"] = "reserved";
  EXPECT_EQ(sample_value(metrics, "cutover_slot_wal_status", reserved), 1) << metrics.dump();
  // Whole bytes as the parser read them (not 1.23457e+06), within what blue shows now.
  const double retained = sample_value(metrics, "cutover_slot_retained_wal_bytes", slot_labels);
  EXPECT_GT(retained, 0) << metrics.dump();
  EXPECT_EQ(retained, static_cast<double>(static_cast<long>(retained))) << metrics.dump();
  EXPECT_LE(retained, static_cast<double>(retained_wal(harness.blue()) + (1L << 20))) << metrics.dump();
  // Someone ends the walsender and drops the slot before capture connects again.
  bool dropped = false;
  for (int attempt = 0; attempt < 50 && !dropped; ++attempt) {
    harness.blue().execute(
        "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = 'cutover_t' "
        "AND active_pid IS NOT NULL");
    dropped = harness.blue().query_value(
                  "SELECT count(pg_drop_replication_slot(slot_name)) FROM pg_replication_slots "
                  "WHERE slot_name = 'cutover_t' AND NOT active") == "1";
  }
  ASSERT_TRUE(dropped);
  harness.blue().execute("INSERT INTO items VALUES (2, 'lost to cutover')");
  expect_halted_for_the_slot(harness, "was dropped");
}

TEST(SlotLoss, SlotInvalidatedByMaxSlotWalKeepSizeHaltsThePipeline) {
  ForwardHarness harness(ClusterOptions{.settings = {"max_slot_wal_keep_size = 48MB", "max_wal_size = 96MB"}},
                         ClusterOptions{});
  const std::string validated = start_streaming_items(harness, "replication:\n  retained_wal_warning: 8MB\n");
  EXPECT_NE(validated.find("note: blue: max_slot_wal_keep_size is 48MB"), std::string::npos) << validated;
  EXPECT_NE(validated.find("its WAL directory holds"), std::string::npos) << validated;
  // Paused, the applier confirms nothing, so the slot keeps what blue writes until the
  // server's limit takes it away.
  ASSERT_EQ(harness.cli({"pause"}).exit_code, 0);
  harness.blue().execute("INSERT INTO items VALUES (1, 'waiting')");
  // Past the plan's threshold first: a warning in status and the log, with the room left.
  harness.blue().execute("CREATE TABLE filler (v text); INSERT INTO filler SELECT repeat('x', 500) FROM generate_series(1, 40000)");
  nlohmann::json slot;
  for (int attempt = 0; attempt < 50 && !(slot.is_object() && slot["warning"].is_string()); ++attempt) {
    std::this_thread::sleep_for(200ms);
    slot = harness.cli({"status"}).output["slot"];
  }
  ASSERT_TRUE(slot.is_object() && slot["warning"].is_string()) << slot.dump(2);
  EXPECT_NE(slot["warning"].get<std::string>().find("retained_wal_warning"), std::string::npos) << slot.dump(2);
  EXPECT_TRUE(slot["safe_wal_bytes"].is_number()) << slot.dump(2);
  EXPECT_TRUE(harness.run().wait_for_output("slot health", 10s)) << harness.run().standard_error();
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  while (harness.blue().query_value("SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'cutover_t'") !=
             "lost" &&
         std::chrono::steady_clock::now() < deadline) {
    harness.blue().execute("INSERT INTO filler SELECT repeat('x', 500) FROM generate_series(1, 40000)");
    harness.blue().execute("SELECT pg_switch_wal()");
    harness.blue().execute("CHECKPOINT");
  }
  ASSERT_EQ(harness.blue().query_value("SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'cutover_t'"),
            "lost");
  expect_halted_for_the_slot(harness, "max_slot_wal_keep_size");
  // Started again, the run refuses at once, with the same words.
  harness.run().signal(SIGTERM);
  harness.run().wait(30s);
  auto& again = harness.start_run(false);
  EXPECT_NE(again.wait(60s).value_or(-1), 0);
  EXPECT_NE(again.standard_error().find("must be rebuilt from a new snapshot"), std::string::npos)
      << again.standard_error();
}

// Waits until `query` gives the same rows on `source` and green; the last digests otherwise.
::testing::AssertionResult wait_until_green_equals(ForwardHarness& harness, PostgresCluster& source,
                                                   const std::string& query) {
  std::string expected;
  std::string actual;
  for (int attempt = 0; attempt < 240; ++attempt) {
    expected = ForwardHarness::digest(source, query);
    actual = ForwardHarness::digest(harness.green(), query);
    if (expected == actual) return ::testing::AssertionSuccess();
    std::this_thread::sleep_for(500ms);
  }
  return ::testing::AssertionFailure() << "source " << expected << ", green " << actual << "\n"
                                       << harness.run().standard_error();
}

// Blue's primary is replaced by its physical standby, which never had the logical slot (before
// 17, slots are not copied to standbys): pointed at it, cutover says the slot is gone and that
// green must be rebuilt, instead of streaming from somewhere else.
TEST(BlueFailover, APromotedStandbyWithoutTheSlotIsRefusedWithTheRebuild) {
  ForwardHarness harness;
  auto standby = PostgresCluster::standby_of(harness.blue());
  start_streaming_items(harness);
  harness.blue().execute("INSERT INTO items SELECT g, 'before' FROM generate_series(1, 100) g");
  ASSERT_TRUE(harness.wait_until_equal("SELECT * FROM items", "SELECT * FROM items"));
  harness.blue().kill9();
  standby->promote();
  harness.run().signal(SIGTERM);
  ASSERT_TRUE(harness.run().wait(60s).has_value());
  harness.replace_in_plan(harness.blue().dsn(), standby->dsn());
  auto& again = harness.start_run(false);
  EXPECT_NE(again.wait(60s).value_or(0), 0) << again.standard_error();
  EXPECT_NE(again.standard_error().find("replication slot cutover_t was dropped"), std::string::npos)
      << again.standard_error();
  EXPECT_NE(again.standard_error().find("promoted standby"), std::string::npos) << again.standard_error();
  EXPECT_NE(again.standard_error().find("must be rebuilt from a new snapshot"), std::string::npos);
  EXPECT_EQ(standby->query_value("SELECT count(*) FROM pg_replication_slots"), "0") << "cutover made a slot";
}

// On 17, with replication.failover, blue's slot is synchronized to the standby
// (sync_replication_slots), and synchronized_standby_slots keeps cutover from receiving what the
// standby has not: after the primary dies and the standby is promoted, cutover goes on from the
// standby's copy of the slot, with nothing lost or doubled.
TEST(BlueFailover, OnSeventeenAFailoverSlotGoesOnFromThePromotedStandby) {
  ForwardHarness harness(ClusterOptions{.major = 17}, ClusterOptions{});
  ::setenv("CUTOVER_TOKEN", "slot-test-token", 1);
  harness.blue().execute("CREATE TABLE items (id int PRIMARY KEY, note text)");
  harness.green().execute("CREATE TABLE items (id int PRIMARY KEY, note text)");
  auto standby = PostgresCluster::standby_of(
      harness.blue(),
      {"sync_replication_slots = on", "hot_standby_feedback = on",
       "primary_conninfo = 'host=127.0.0.1 port=" + std::to_string(harness.blue().port()) +
           " user=postgres dbname=postgres'"},
      "standby1");
  harness.blue().execute("ALTER SYSTEM SET synchronized_standby_slots = 'standby1'");
  harness.blue().execute("SELECT pg_reload_conf()");
  harness.write_plan("  - source: items\n", "replication:\n  failover: true\n");
  const std::string validated = validate_connected(harness);
  EXPECT_EQ(validated.find("synchronized_standby_slots is empty"), std::string::npos) << validated;
  EXPECT_EQ(validated.find("no standby streams"), std::string::npos) << validated;
  harness.start_run();
  EXPECT_EQ(harness.blue().query_value("SELECT failover FROM pg_replication_slots WHERE slot_name = 'cutover_t'"), "t");
  harness.blue().execute("INSERT INTO items SELECT g, 'on the first primary' FROM generate_series(1, 200) g");
  ASSERT_TRUE(harness.wait_until_equal("SELECT * FROM items", "SELECT * FROM items"));
  // The standby's copy of the slot catches up with the primary's (the sync worker's pace).
  const std::string confirmed =
      harness.blue().query_value("SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'cutover_t'");
  bool synced = false;
  for (int attempt = 0; attempt < 180 && !synced; ++attempt) {
    synced = standby->query_value("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'cutover_t' "
                                  "AND synced AND confirmed_flush_lsn >= '" + confirmed + "'") == "1";
    if (!synced) std::this_thread::sleep_for(500ms);
  }
  ASSERT_TRUE(synced) << standby->query_value("SELECT string_agg(slot_name || ' ' || synced || ' ' || "
                                              "coalesce(confirmed_flush_lsn::text, '-'), ', ') FROM pg_replication_slots");
  harness.blue().kill9();
  standby->promote();
  harness.run().signal(SIGTERM);
  ASSERT_TRUE(harness.run().wait(60s).has_value());
  harness.replace_in_plan(harness.blue().dsn(), standby->dsn());
  harness.start_run();
  standby->execute("INSERT INTO items SELECT g, 'on the promoted standby' FROM generate_series(201, 300) g; "
                   "UPDATE items SET note = 'changed after the failover' WHERE id <= 50");
  EXPECT_TRUE(wait_until_green_equals(harness, *standby, "SELECT * FROM items"));
}

}  // namespace
}  // namespace cutover::testing
