// What the plan's replication slot does to its source over a long migration: it must never
// hold WAL that cutover does not need, and a slot the source lost or dropped must stop the
// pipeline with the way out, never an endless retry.
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "fixtures/forward_harness.h"

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

// Blue writes all the time, but nothing the plan copies: pgbench at full rate for a minute (more
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
  std::thread writes([&] { EXPECT_EQ(pgbench({"-c", "2", "-j", "2", "-T", "60", "-n"}), 0); });
  std::vector<long> during;
  const auto until = std::chrono::steady_clock::now() + 58s;
  while (std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(2s);
    during.push_back(retained_wal(harness.blue()));
  }
  writes.join();
  const long written =
      harness.blue().query_number("SELECT (pg_current_wal_lsn() - '" + wal_before + "')::bigint");
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

}  // namespace
}  // namespace cutover::testing
