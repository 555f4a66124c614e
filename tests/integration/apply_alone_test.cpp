// `cutover apply` alone, reading the change log that a separate `cutover capture` writes to
// a broker (as when capture runs near blue and apply near green). Killed in the middle of a
// load, it resumes from the position green holds: nothing lost, nothing applied twice.
#include <gtest/gtest.h>

#include <thread>

#include "fixtures/capture_harness.h"
#include "cutover/transport/embedded_broker.h"
#include "fixtures/forward_harness.h"

namespace cutover::testing {
namespace {

using namespace std::chrono_literals;

TEST(ApplyAlone, ResumesAfterKillNineWithoutLossOrDuplicates) {
  CaptureHarness harness;
  PostgresCluster green;
  harness.blue().execute("CREATE TABLE ledger (id bigint PRIMARY KEY, amount numeric, note text)");
  green.execute("CREATE TABLE ledger (id bigint PRIMARY KEY, amount_cents bigint, note text, "
                "applied_at timestamptz DEFAULT now())");
  harness.write_plan(
      "  - source: ledger\n    columns:\n      id: id\n      amount_cents: (amount * 100)::bigint\n"
      "      note: note\n",
      "green:\n  dsn: \"" + green.dsn() + "\"\n", "on_apply");
  harness.start_capture();
  auto start_apply = [&] {
    auto apply = std::make_unique<ChildProcess>(
        std::vector<std::string>{CUTOVER_BINARY, "apply", harness.work().path() + "/plan.yaml"},
        harness.work().path());
    EXPECT_TRUE(apply->wait_for_output("applying from", 60s)) << apply->standard_error();
    return apply;
  };
  auto apply = start_apply();
  std::thread writer([&] {
    for (int batch = 0; batch < 60; ++batch) {
      harness.blue().execute("INSERT INTO ledger SELECT g, g * 0.25, 'n' FROM generate_series(" +
                             std::to_string(batch * 100 + 1) + ", " +
                             std::to_string(batch * 100 + 100) + ") g;"
                             "UPDATE ledger SET note = 'updated' WHERE id % 7 = " +
                             std::to_string(batch % 7));
      std::this_thread::sleep_for(100ms);
    }
  });
  std::this_thread::sleep_for(2s);
  apply->signal(SIGKILL);
  apply->wait(10s);
  std::this_thread::sleep_for(1s);
  apply = start_apply();
  writer.join();

  const std::string blue_rows = "SELECT id, (amount * 100)::bigint, note FROM ledger";
  const std::string green_rows = "SELECT id, amount_cents, note FROM ledger";
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  while (ForwardHarness::digest(harness.blue(), blue_rows) != ForwardHarness::digest(green, green_rows) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(500ms);
  }
  EXPECT_EQ(ForwardHarness::digest(green, green_rows), ForwardHarness::digest(harness.blue(), blue_rows))
      << apply->standard_error();
  // The origin in green is where blue's slot may be confirmed to (on_apply).
  EXPECT_NE(green.query_value("SELECT remote_lsn::text FROM pg_replication_origin_status"), "0/0");
}

// cutover run on a broker outside the process, with the slot confirmed on Kafka's
// acknowledgement: after a kill -9 the slot may be ahead of green, so the applier must resume
// from the offset green recorded rather than from what capture sends again.
TEST(ApplyAlone, RunOnKafkaAckResumesFromGreensOffsetAfterKillNine) {
  // Three brokers: on_kafka_ack is refused on a topic with fewer than two replicas.
  auto broker = EmbeddedBroker::start(3);
  ASSERT_TRUE(broker) << broker.status().message();
  ASSERT_TRUE((*broker)->create_topic("cutover.t.changes", 1));
  ForwardHarness harness;
  harness.blue().execute("CREATE TABLE ledger (id bigint PRIMARY KEY, note text)");
  harness.green().execute("CREATE TABLE ledger (id bigint PRIMARY KEY, note text)");
  harness.write_plan("  - source: ledger\n", "replication:\n  slot_advance: on_kafka_ack\n",
                     "kafka:\n  brokers: \"" + (*broker)->bootstrap() +
                         "\"\n  properties:\n    max.in.flight.requests.per.connection: 1\n");
  harness.start_run();
  std::thread writer([&] {
    for (int batch = 0; batch < 50; ++batch) {
      harness.blue().execute("INSERT INTO ledger SELECT g, 'n' FROM generate_series(" +
                             std::to_string(batch * 100 + 1) + ", " +
                             std::to_string(batch * 100 + 100) + ") g");
      std::this_thread::sleep_for(100ms);
    }
  });
  // Green stalls (a lock) while capture goes on and Kafka acknowledges: blue's slot moves
  // past what green holds. Then cutover run dies.
  std::thread stall([&] {
    harness.green().execute("BEGIN; LOCK TABLE ledger; SELECT pg_sleep(5); COMMIT");
  });
  std::this_thread::sleep_for(4s);
  const std::string slot = harness.blue().query_value(
      "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = 'cutover_t'");
  const std::string applied =
      harness.green().query_value("SELECT remote_lsn::text FROM pg_replication_origin_status");
  EXPECT_EQ(harness.blue().query_value("SELECT '" + slot + "'::pg_lsn > '" + applied + "'::pg_lsn"), "t")
      << "the slot (" << slot << ") did not get ahead of green (" << applied << ")";
  harness.kill_run();
  stall.join();
  harness.start_run();
  writer.join();
  EXPECT_TRUE(harness.wait_until_equal("SELECT * FROM ledger", "SELECT * FROM ledger"));
}

}  // namespace
}  // namespace cutover::testing
