// Capture under faults: kill -9 and restart, blue restarted, the broker down, broker request
// errors, and the slot positions that make these safe. Every test checks that each committed
// transaction reached Kafka whole, and that the slot never moved past what Kafka (or green)
// holds. The same faults against the whole pipeline, checked in green, are in
// fault_matrix_test.cpp.
#include <gtest/gtest.h>

#include <functional>
#include <thread>

#include "cutover/common/lsn.h"
#include "cutover/transport/change_log_consumer.h"
#include "fixtures/capture_harness.h"

namespace cutover::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// The ids of `table` that arrived as inserts in Kafka, with how often each arrived.
std::map<long, int> inserted_ids(const std::vector<ChangeLogEvent>& events, const std::string& table) {
  std::map<long, int> ids;
  for (const auto& event : row_events(events, table)) {
    if (event.value["op"] == "c") ids[event.value["after"]["id"].get<long>()]++;
  }
  return ids;
}

std::string missing_ids(const std::vector<ChangeLogEvent>& events, long count) {
  const auto ids = inserted_ids(events, "load");
  std::string missing;
  for (long id = 1; id <= count; ++id) {
    if (!ids.count(id)) missing += std::to_string(id) + " ";
  }
  return missing;
}

bool all_ids_arrived(const std::vector<ChangeLogEvent>& events, long count) {
  const auto ids = inserted_ids(events, "load");
  if (static_cast<long>(ids.size()) != count) return false;
  return ids.begin()->first == 1 && ids.rbegin()->first == count;
}

// Writes `transactions` single-row transactions (ids from `first`) in a background thread.
std::thread write_load(PostgresCluster& blue, long first, long transactions) {
  return std::thread([&blue, first, transactions] {
    for (long id = first; id < first + transactions; ++id) {
      for (int attempt = 0;; ++attempt) {
        try {
          // A commit may land just before blue dies, unanswered: the retry must not fail on it.
          blue.execute("INSERT INTO load VALUES (" + std::to_string(id) + ", 'x') ON CONFLICT DO NOTHING");
          break;
        } catch (const std::exception&) {
          if (attempt > 200) throw;
          std::this_thread::sleep_for(100ms);  // blue is restarting
        }
      }
    }
  });
}

std::string slot_confirmed(PostgresCluster& blue) {
  return blue.query_value(
      "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = 'cutover_t'");
}

bool lsn_at_least(PostgresCluster& blue, const std::string& lsn, const std::string& floor) {
  return blue.query_value("SELECT '" + lsn + "'::pg_lsn >= '" + floor + "'::pg_lsn") == "t";
}

// Waits until blue's slot is confirmed at or past `lsn`; runs `nudge` between looks.
bool wait_for_slot_past(PostgresCluster& blue, const std::string& lsn,
                        std::chrono::seconds timeout, const std::function<void()>& nudge = {}) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!lsn_at_least(blue, slot_confirmed(blue), lsn)) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (nudge) nudge();
    std::this_thread::sleep_for(200ms);
  }
  return true;
}

TEST(CaptureFaults, KillDashNineMidStreamThenRestartLosesNothing) {
  CaptureHarness harness;
  harness.blue().execute("CREATE TABLE load (id bigint PRIMARY KEY, v text)");
  harness.write_plan("  - source: load\n");
  harness.start_capture();
  auto& reader = harness.reader();

  auto writer = write_load(harness.blue(), 1, 3000);
  ASSERT_TRUE(reader.wait_until([](const auto& events) { return events.size() > 1500; }, 60s));
  harness.capture().signal(SIGKILL);
  harness.capture().wait(10s);
  // The highest commit Kafka holds at the moment of the kill: duplicates may only come
  // from at or below it. The reader first reads up to the log's end as it was at the kill.
  const auto end = change_log_end_offset(harness.broker().bootstrap(), harness.topic(), {});
  ASSERT_TRUE(end) << end.status().message();
  ASSERT_TRUE(reader.wait_until(
      [end = *end](const auto& events) { return !events.empty() && events.back().offset >= end - 1; }, 60s));
  std::uint64_t highest_before_kill = 0;
  for (const auto& event : reader.events()) {
    if (event.value.value("status", "") == "END") {
      highest_before_kill = std::max(highest_before_kill,
                                     event.value["source"]["commit_lsn"].get<std::uint64_t>());
    }
  }
  const std::size_t events_before_restart = reader.events().size();
  harness.start_capture();
  writer.join();
  ASSERT_TRUE(reader.wait_until([](const auto& events) { return all_ids_arrived(events, 3000); },
                                120s))
      << harness.capture().standard_error();

  const auto events = reader.events();
  for (const auto& [id, times] : inserted_ids(events, "load")) {
    EXPECT_LE(times, 2) << "id " << id;
  }
  const auto before_restart = inserted_ids(
      std::vector<ChangeLogEvent>(events.begin(),
                                  events.begin() + static_cast<long>(events_before_restart)),
      "load");
  for (std::size_t index = events_before_restart; index < events.size(); ++index) {
    const auto& value = events[index].value;
    if (value.value("op", "") != "c") continue;
    if (before_restart.count(value["after"]["id"].get<long>())) {
      EXPECT_LE(value["source"]["commit_lsn"].get<std::uint64_t>(), highest_before_kill)
          << "a duplicate above the last acknowledged position";
    }
  }
}

TEST(CaptureFaults, BlueRestartedWhileStreaming) {
  CaptureHarness harness;
  harness.blue().execute("CREATE TABLE load (id bigint PRIMARY KEY, v text)");
  harness.write_plan("  - source: load\n");
  harness.start_capture();
  auto& reader = harness.reader();
  auto writer = write_load(harness.blue(), 1, 2000);
  ASSERT_TRUE(reader.wait_until([](const auto& events) { return events.size() > 600; }, 60s));
  harness.blue().kill9();
  std::this_thread::sleep_for(1s);
  harness.blue().start();
  writer.join();
  EXPECT_TRUE(reader.wait_until([](const auto& events) { return all_ids_arrived(events, 2000); },
                                120s))
      << harness.capture().standard_error();
  EXPECT_TRUE(harness.capture().running());
}

TEST(CaptureFaults, BrokerDownTenSecondsHoldsTheSlotThenRecovers) {
  CaptureHarness harness;
  harness.blue().execute("CREATE TABLE load (id bigint PRIMARY KEY, v text)");
  harness.write_plan("  - source: load\n");
  harness.start_capture();
  auto& reader = harness.reader();
  auto first = write_load(harness.blue(), 1, 200);
  first.join();
  ASSERT_TRUE(reader.wait_until([](const auto& events) { return all_ids_arrived(events, 200); }, 60s));

  for (int id = 1; id <= 3; ++id) harness.broker().set_broker_down(id);  // the whole cluster
  auto during = write_load(harness.blue(), 201, 300);
  during.join();
  const std::string written = harness.blue().query_value("SELECT pg_current_wal_lsn()::text");
  std::this_thread::sleep_for(10s);
  // Nothing of the outage reached Kafka, so the slot must still be below it.
  EXPECT_FALSE(lsn_at_least(harness.blue(), slot_confirmed(harness.blue()), written))
      << "slot confirmed past changes Kafka never acknowledged";
  for (int id = 1; id <= 3; ++id) harness.broker().set_broker_up(id);

  EXPECT_TRUE(reader.wait_until([](const auto& events) { return all_ids_arrived(events, 500); }, 120s))
      << harness.capture().standard_error();
  // Once Kafka has it all, the slot catches up.
  EXPECT_TRUE(wait_for_slot_past(harness.blue(), written, 30s));
}

// Leader and timeout errors on produce requests: every record still reaches the partition,
// and the slot never moves past one that did not.
TEST(CaptureFaults, ProduceRequestErrorsAreRetriedWithoutLoss) {
  CaptureHarness harness;
  harness.blue().execute("CREATE TABLE load (id bigint PRIMARY KEY, v text)");
  // One request in flight: librdkafka 2.0's mock broker checks idempotent sequence numbers
  // only for transactional producers, so it appends a pipelined batch whose predecessor it
  // just refused, and the producer then counts the refused batch as implicitly acknowledged
  // (its log says "implicitly acked by subsequent batch success"). Real Kafka refuses that
  // batch with OUT_OF_ORDER_SEQUENCE_NUMBER, which keeps the inference sound there.
  harness.set_kafka_properties("max.in.flight.requests.per.connection: 1");
  harness.write_plan("  - source: load\n");
  harness.start_capture();
  harness.broker().push_request_errors(
      0 /* Produce */, {RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE});
  auto writer = write_load(harness.blue(), 1, 500);
  writer.join();
  const std::string written = harness.blue().query_value("SELECT pg_current_wal_lsn()::text");
  // The slot moves only on Kafka's acknowledgement: once it is past the workload, everything
  // must be in the partition, read from its beginning by a fresh consumer.
  ASSERT_TRUE(wait_for_slot_past(harness.blue(), written, 120s))
      << harness.capture().standard_error();
  ChangeLogReader fresh(harness.broker().bootstrap(), harness.topic());
  EXPECT_TRUE(fresh.wait_until([](const auto& events) { return all_ids_arrived(events, 500); }, 60s))
      << "ids missing: " << missing_ids(fresh.events(), 500) << "\n"
      << harness.capture().standard_error();
}

TEST(CaptureFaults, IdleDatabaseStillAdvancesTheSlot) {
  CaptureHarness harness;
  harness.blue().execute("CREATE TABLE load (id bigint PRIMARY KEY, v text); CREATE TABLE unrelated (v int)");
  harness.write_plan("  - source: load\n");
  harness.start_capture();
  // WAL that capture has no event for: only keepalives tell it how far blue is.
  harness.blue().execute("INSERT INTO unrelated SELECT generate_series(1, 1000)");
  const std::string written = harness.blue().query_value("SELECT pg_current_wal_lsn()::text");
  // pg_switch_wal() nudges the walsender into sending a keepalive.
  EXPECT_TRUE(wait_for_slot_past(harness.blue(), written, 60s,
                                 [&] { harness.blue().execute("SELECT pg_switch_wal()"); }))
      << "slot " << slot_confirmed(harness.blue()) << " < " << written;
}

TEST(CaptureFaults, OnApplyConfirmsOnlyWhatGreenApplied) {
  CaptureHarness harness;
  PostgresCluster green;
  harness.blue().execute("CREATE TABLE load (id bigint PRIMARY KEY, v text)");
  harness.write_plan("  - source: load\n", "green:\n  dsn: \"" + green.dsn() + "\"\n", "on_apply");
  harness.start_capture();
  auto& reader = harness.reader();
  const std::string start = slot_confirmed(harness.blue());
  auto writer = write_load(harness.blue(), 1, 100);
  writer.join();
  ASSERT_TRUE(reader.wait_until([](const auto& events) { return all_ids_arrived(events, 100); }, 60s));
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(slot_confirmed(harness.blue()), start) << "nothing is applied in green yet";

  // Stand in for the applier: green's origin says the 50th transaction is applied.
  std::uint64_t fiftieth_end = 0;
  int ends = 0;
  for (const auto& event : reader.events()) {
    if (event.value.value("status", "") == "END" && ++ends == 50) {
      fiftieth_end = event.value["source"]["end_lsn"];
    }
  }
  const std::string applied = Lsn(fiftieth_end).to_string();
  green.execute("SELECT pg_replication_origin_create('cutover_t');"
                "SELECT pg_replication_origin_advance('cutover_t', '" + applied + "')");
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (slot_confirmed(harness.blue()) != applied && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_EQ(slot_confirmed(harness.blue()), applied);
}
// Capture alone, its slot dropped between two runs: a new slot would begin after the changes
// made meanwhile, and the change log would show no gap. The second run refuses, and makes no slot.
TEST(CaptureFaults, ASlotDroppedBetweenRunsIsNotMadeAgainOverAWrittenLog) {
  CaptureHarness harness;
  harness.blue().execute("CREATE TABLE load (id bigint PRIMARY KEY, v text)");
  harness.write_plan("  - source: load\n");
  harness.start_capture();
  auto writer = write_load(harness.blue(), 1, 20);
  writer.join();
  ASSERT_TRUE(harness.wait_for_transactions(20, 60s));
  harness.stop_capture();
  harness.blue().execute("SELECT pg_drop_replication_slot('cutover_t')");
  harness.blue().execute("INSERT INTO load VALUES (1000, 'made while no slot kept it')");
  ChildProcess again({CUTOVER_BINARY, "capture", harness.write_plan("  - source: load\n")}, "/tmp");
  EXPECT_EQ(again.wait(60s).value_or(-1), 1) << again.standard_error();
  EXPECT_NE(again.standard_error().find("replication slot cutover_t was dropped"), std::string::npos)
      << again.standard_error();
  EXPECT_NE(again.standard_error().find("already holds"), std::string::npos) << again.standard_error();
  EXPECT_EQ(harness.slot_count(), 0);
}

}  // namespace
}  // namespace cutover::testing
