// Bad input to `cutover capture`: each a clear message, a non-zero exit, and nothing left
// behind on blue (no slot, no publication).
#include <gtest/gtest.h>

#include "fixtures/capture_harness.h"

namespace cutover::testing {
namespace {

using namespace std::chrono_literals;

struct Outcome {
  int code;
  std::string error;
};

Outcome run_capture(CaptureHarness& harness, const std::string& plan) {
  ChildProcess capture({CUTOVER_BINARY, "capture", plan}, harness.work().path());
  const auto code = capture.wait(60s);
  return {code.value_or(-1), capture.standard_error()};
}

void expect_nothing_created(CaptureHarness& harness) {
  EXPECT_EQ(harness.slot_count(), 0);
  EXPECT_EQ(harness.publication_count(), 0);
}

TEST(CaptureBadInput, UnreachableBlue) {
  CaptureHarness harness;
  const int closed_port = free_loopback_port();
  const std::string plan = harness.work().write_file(
      "plan.yaml", "name: t\nblue:\n  dsn: \"host=127.0.0.1 port=" + std::to_string(closed_port) +
                       " dbname=postgres user=postgres password=s3cret-word connect_timeout=2\"\n"
                       "kafka:\n  brokers: \"" + harness.broker().bootstrap() +
                       "\"\nreplication:\n  slot_advance: on_kafka_ack\ntables:\n  - source: t\n");
  const auto outcome = run_capture(harness, plan);
  EXPECT_EQ(outcome.code, 1);
  EXPECT_NE(outcome.error.find("cannot connect to blue"), std::string::npos) << outcome.error;
  EXPECT_EQ(outcome.error.find("s3cret-word"), std::string::npos) << "the password leaked";
  EXPECT_NE(outcome.error.find("password=***"), std::string::npos) << outcome.error;
}

TEST(CaptureBadInput, WalLevelNotLogical) {
  CaptureHarness harness;
  PostgresCluster replica_level({"wal_level = replica"});
  replica_level.execute("CREATE TABLE t (id int PRIMARY KEY)");
  const std::string plan = harness.work().write_file(
      "plan.yaml", "name: t\nblue:\n  dsn: \"" + replica_level.dsn() + "\"\nkafka:\n  brokers: \"" +
                       harness.broker().bootstrap() +
                       "\"\nreplication:\n  slot_advance: on_kafka_ack\ntables:\n  - source: t\n");
  const auto outcome = run_capture(harness, plan);
  EXPECT_EQ(outcome.code, 1);
  EXPECT_NE(outcome.error.find("wal_level is 'replica'"), std::string::npos) << outcome.error;
  EXPECT_EQ(replica_level.query_number("SELECT count(*) FROM pg_replication_slots"), 0);
  EXPECT_EQ(replica_level.query_number("SELECT count(*) FROM pg_publication"), 0);
}

TEST(CaptureBadInput, RoleWithoutReplicationAndMissingTableReportedTogether) {
  CaptureHarness harness;
  harness.blue().execute("CREATE ROLE plain LOGIN; CREATE TABLE t (id int PRIMARY KEY);");
  const std::string plan = harness.work().write_file(
      "plan.yaml", "name: t\nblue:\n  dsn: \"" + harness.blue().dsn("plain") +
                       "\"\nkafka:\n  brokers: \"" + harness.broker().bootstrap() +
                       "\"\nreplication:\n  slot_advance: on_kafka_ack\ntables:\n"
                       "  - source: t\n  - source: public.missing\n");
  const auto outcome = run_capture(harness, plan);
  EXPECT_EQ(outcome.code, 1);
  EXPECT_NE(outcome.error.find("role plain lacks the REPLICATION attribute"), std::string::npos)
      << outcome.error;
  EXPECT_NE(outcome.error.find("tables[1].source: blue has no table public.missing"),
            std::string::npos)
      << outcome.error;
  expect_nothing_created(harness);
}

TEST(CaptureBadInput, TableWithoutKeyOrReplicaIdentity) {
  CaptureHarness harness;
  harness.blue().execute("CREATE TABLE heap (v text)");
  const auto outcome = run_capture(harness, harness.write_plan("  - source: heap\n"));
  EXPECT_EQ(outcome.code, 1);
  EXPECT_NE(outcome.error.find("public.heap has no primary key and no replica identity"),
            std::string::npos)
      << outcome.error;
  EXPECT_NE(outcome.error.find("REPLICA IDENTITY FULL"), std::string::npos);
  expect_nothing_created(harness);
  // And blue's application is unharmed: UPDATE still works because nothing was published.
  harness.blue().execute("INSERT INTO heap VALUES ('a'); UPDATE heap SET v = 'b'");
}

TEST(CaptureBadInput, UnreachableBroker) {
  CaptureHarness harness;
  harness.blue().execute("CREATE TABLE t (id int PRIMARY KEY)");
  const std::string closed = "127.0.0.1:" + std::to_string(free_loopback_port());
  const auto outcome = run_capture(harness, harness.write_plan("  - source: t\n", "", "on_kafka_ack", closed));
  EXPECT_EQ(outcome.code, 1);
  EXPECT_NE(outcome.error.find("cannot reach Kafka brokers at " + closed), std::string::npos)
      << outcome.error;
  expect_nothing_created(harness);
}

TEST(CaptureBadInput, SlotInUseByAnotherCapture) {
  CaptureHarness harness;
  harness.blue().execute("CREATE TABLE t (id int PRIMARY KEY)");
  harness.write_plan("  - source: t\n");
  harness.start_capture();
  const auto outcome = run_capture(harness, harness.write_plan("  - source: t\n"));
  EXPECT_EQ(outcome.code, 1);
  EXPECT_NE(outcome.error.find("replication slot cutover_t is in use by process"),
            std::string::npos)
      << outcome.error;
  EXPECT_TRUE(harness.capture().running()) << "the first capture must be untouched";
}

TEST(CaptureBadInput, MalformedPlanExitsTwo) {
  CaptureHarness harness;
  const std::string plan = harness.work().write_file(
      "plan.yaml", "name: t\nblue:\n  dns: \"host=127.0.0.1\"\ntables:\n  - source: t\n");
  const auto outcome = run_capture(harness, plan);
  EXPECT_EQ(outcome.code, 2);
  EXPECT_NE(outcome.error.find("plan.yaml:3:3: blue.dns: unknown key (did you mean 'dsn'?)"),
            std::string::npos)
      << outcome.error;
  expect_nothing_created(harness);
}

// ARCHITECTURE.md: a topic that already has several partitions is used, with a warning, and
// only its partition 0 carries the change log, so commit order holds across tables.
TEST(CaptureBadInput, TopicWithSeveralPartitionsIsWarnedAboutAndOnlyPartitionZeroCarriesTheLog) {
  CaptureHarness harness;
  const std::string topic = "cutover.wide.changes";
  ASSERT_TRUE(harness.broker().create_topic(topic, 3));
  harness.blue().execute("CREATE TABLE t (id int PRIMARY KEY)");
  const std::string plan = harness.work().write_file(
      "wide.yaml", "name: t\nblue:\n  dsn: \"" + harness.blue().dsn() + "\"\nkafka:\n  brokers: \"" +
                       harness.broker().bootstrap() + "\"\n  topic_prefix: cutover.wide\n"
                       "replication:\n  slot_advance: on_kafka_ack\ntables:\n  - source: t\n");
  ChildProcess capture({CUTOVER_BINARY, "capture", plan}, harness.work().path());
  ASSERT_TRUE(capture.wait_for_output("streaming from blue", 60s)) << capture.standard_error();
  EXPECT_NE(capture.standard_error().find("Kafka topic has several partitions; only partition 0 "
                                          "carries the change log topic=cutover.wide.changes "
                                          "partitions=3"),
            std::string::npos)
      << capture.standard_error();
  harness.blue().execute("INSERT INTO t SELECT generate_series(1, 20)");
  ChangeLogReader reader(harness.broker().bootstrap(), topic);
  EXPECT_TRUE(reader.wait_until(
      [](const auto& events) { return row_events(events, "t").size() == 20; }, 60s));
  auto client = create_kafka_client(RD_KAFKA_PRODUCER, harness.broker().bootstrap(), {}, {});
  ASSERT_TRUE(client) << client.status().message();
  for (int partition : {1, 2}) {
    std::int64_t low = -1;
    std::int64_t high = -1;
    ASSERT_EQ(rd_kafka_query_watermark_offsets(client->get(), topic.c_str(), partition, &low,
                                               &high, 10000),
              RD_KAFKA_RESP_ERR_NO_ERROR);
    EXPECT_EQ(high, 0) << "partition " << partition << " holds events";
  }
}

TEST(CaptureBadInput, DropSlotRemovesWhatCaptureCreated) {
  CaptureHarness harness;
  harness.blue().execute("CREATE TABLE t (id int PRIMARY KEY)");
  const std::string plan = harness.write_plan("  - source: t\n");
  harness.start_capture();
  EXPECT_EQ(harness.slot_count(), 1);
  EXPECT_EQ(harness.publication_count(), 1);
  harness.capture().signal(SIGTERM);
  ASSERT_EQ(harness.capture().wait(30s), 0) << harness.capture().standard_error();
  ChildProcess drop({CUTOVER_BINARY, "capture", "--drop-slot", plan}, harness.work().path());
  ASSERT_EQ(drop.wait(30s), 0) << drop.standard_error();
  expect_nothing_created(harness);
}

}  // namespace
}  // namespace cutover::testing
