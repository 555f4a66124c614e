// The forward pipeline under an application's load (pgbench TPC-B on blue), through kills of
// cutover run and of green: after the load stops and the applier catches up, green holds
// exactly blue's rows, none lost and none doubled (pgbench_history has no key, so a doubled
// insert shows in its count).
#include <gtest/gtest.h>

#include <thread>

#include "fixtures/forward_harness.h"

namespace cutover::testing {
namespace {

using namespace std::chrono_literals;

void expect_pgbench_tables_equal(ForwardHarness& harness) {
  for (const char* table : {"pgbench_accounts", "pgbench_branches", "pgbench_tellers",
                            "pgbench_history"}) {
    const std::string query = std::string("SELECT * FROM ") + table;
    EXPECT_TRUE(harness.wait_until_equal(query, query, 180s)) << table;
  }
}

// pgbench's tables on blue and, empty, on green. pgbench_history has no key: publishing it
// needs a replica identity (capture refuses it otherwise, rather than break blue's UPDATEs).
void create_pgbench_tables(ForwardHarness& harness, int scale) {
  ASSERT_EQ(harness.pgbench({"-i", "-s", std::to_string(scale), "-q"}), 0);
  harness.blue().execute("ALTER TABLE pgbench_history REPLICA IDENTITY FULL");
  harness.create_pgbench_schema_on_green();
}

// pgbench for `seconds` on 4 clients, in the background.
std::thread pgbench_load(ForwardHarness& harness, int seconds) {
  return std::thread([&harness, seconds] {
    EXPECT_EQ(harness.pgbench({"-c", "4", "-j", "2", "-T", std::to_string(seconds), "-n"}), 0);
  });
}

TEST(ForwardLoad, PgbenchDuringSnapshotAndStreaming) {
  ForwardHarness harness;
  create_pgbench_tables(harness, 5);
  harness.write_plan(kPgbenchTables, "snapshot:\n  parallelism: 2\n  chunk_rows: 50000\n");
  auto load = pgbench_load(harness, 20);
  std::this_thread::sleep_for(2s);  // the snapshot starts while pgbench writes
  harness.start_run();
  load.join();
  expect_pgbench_tables_equal(harness);
  EXPECT_GT(harness.blue().query_number("SELECT count(*) FROM pgbench_history"), 100);
}

TEST(ForwardLoad, KillNineDuringSnapshotAndDuringStreaming) {
  ForwardHarness harness;
  create_pgbench_tables(harness, 10);
  // Small chunks and one worker make the copy long enough to be killed in the middle.
  harness.write_plan(kPgbenchTables, "snapshot:\n  parallelism: 1\n  chunk_rows: 20000\n");
  auto& first = harness.start_run(false);
  ASSERT_TRUE(first.wait_for_output("snapshot copy starting", 60s)) << first.standard_error();
  std::this_thread::sleep_for(1500ms);
  harness.kill_run();
  const long copied = harness.green().query_number("SELECT count(*) FROM pgbench_accounts");
  EXPECT_LT(copied, 1000000) << "the kill came after the copy; the test proves nothing";

  auto load = pgbench_load(harness, 25);
  harness.start_run();  // copies again from a fresh slot, then streams
  std::this_thread::sleep_for(8s);
  harness.kill_run();  // in the middle of streaming under load
  std::this_thread::sleep_for(2s);
  harness.start_run();
  load.join();
  expect_pgbench_tables_equal(harness);
}

TEST(ForwardLoad, GreenKilledWhileApplying) {
  ForwardHarness harness;
  create_pgbench_tables(harness, 2);
  harness.write_plan(kPgbenchTables);
  harness.start_run();
  auto load = pgbench_load(harness, 20);
  std::this_thread::sleep_for(6s);
  harness.green().kill9();
  std::this_thread::sleep_for(3s);
  harness.green().start();
  load.join();
  expect_pgbench_tables_equal(harness);
  EXPECT_TRUE(harness.run().running()) << harness.run().standard_error();
}

}  // namespace
}  // namespace cutover::testing
