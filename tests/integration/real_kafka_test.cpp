// The pipeline on a real Apache Kafka cluster (tests/fixtures/kafka_cluster.h), not librdkafka's
// mock: topics made through the Admin API, changes through a broker's real log, and cleanup's
// DeleteTopics. Green is compared with blue by the test's own SQL; topics are described by the
// fixture's own admin calls.
#include <gtest/gtest.h>

#include <csignal>
#include <thread>

#include "fixtures/forward_harness.h"
#include "fixtures/kafka_cluster.h"
#include "fixtures/metrics_samples.h"
#include "cutover/transport/change_log_consumer.h"

namespace cutover::testing {
namespace {

using namespace std::chrono_literals;

std::string kafka_section(const KafkaCluster& kafka, const std::string& more = "") {
  return "kafka:\n  brokers: \"" + kafka.bootstrap() + "\"\n" + more;
}

struct CommandOutcome {
  int exit_code;
  std::string output;
  std::string errors;
};

CommandOutcome run_cutover(ForwardHarness& harness, const std::vector<std::string>& arguments) {
  std::vector<std::string> argv{CUTOVER_BINARY};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  ChildProcess child(argv, harness.work().path());
  const int exit_code = child.wait(120s).value_or(-1);
  return {exit_code, child.standard_output(), child.standard_error()};
}

// pgbench's tables on blue (scale 1) and, empty, on green; a run streaming them through
// `kafka`'s three replicas, two in sync, confirming blue's slot on their acknowledgement.
void stream_pgbench_on_kafka_ack(ForwardHarness& harness, const KafkaCluster& kafka) {
  ASSERT_EQ(harness.pgbench({"-i", "-s", "1", "-q"}), 0);
  harness.blue().execute("ALTER TABLE pgbench_history REPLICA IDENTITY FULL");
  harness.create_pgbench_schema_on_green();
  harness.write_plan(kPgbenchTables, "replication:\n  slot_advance: on_kafka_ack\n",
                     kafka_section(kafka, "  replication_factor: 3\n  min_insync_replicas: 2\n"));
  ::setenv("CUTOVER_TOKEN", "real-kafka-test-token", 1);  // the run's and `cutover verify`'s
  harness.start_run();
}

// pgbench on 4 clients at 150 transactions a second for `seconds`, in the background.
std::thread paced_pgbench(ForwardHarness& harness, int seconds) {
  return std::thread([&harness, seconds] {
    EXPECT_EQ(harness.pgbench({"-c", "4", "-j", "2", "-T", std::to_string(seconds), "-R", "150", "-n"}), 0);
  });
}

// A change of a plan table written on blue now (pgbench may have ended on a slow machine, and a
// slot with nothing in flight is confirmed to the end of WAL, rightly): blue's WAL position after
// it. A history row of delta 0 keeps pgbench's sums equal.
std::string write_a_change(ForwardHarness& harness) {
  harness.blue().execute("INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 1, 1, 0, now())");
  return harness.blue().query_value("SELECT pg_current_wal_lsn()::text");
}

// Green holds blue's pgbench rows, none lost and none doubled, and the run rode it out and
// verifies clean.
void expect_green_holds_blues_pgbench_rows(ForwardHarness& harness) {
  EXPECT_GT(harness.blue().query_number("SELECT count(*) FROM pgbench_history"), 1000);
  for (const char* table : {"pgbench_accounts", "pgbench_branches", "pgbench_tellers", "pgbench_history"}) {
    const std::string query = std::string("SELECT * FROM ") + table;
    EXPECT_TRUE(harness.wait_until_equal(query, query, 180s)) << table;
  }
  EXPECT_EQ(harness.green().query_value("SELECT sum(abalance) FROM pgbench_accounts"),
            harness.green().query_value("SELECT sum(delta) FROM pgbench_history"));
  EXPECT_TRUE(harness.run().running()) << "the run did not ride out the broker faults:\n"
                                       << harness.run().standard_error();
  // And cutover's own verification agrees.
  const auto verified = harness.cli({"verify"});
  EXPECT_EQ(verified.exit_code, 0) << verified.output.dump(2) << verified.errors;
}

const std::string kItems = "CREATE TABLE items (id int PRIMARY KEY, note text, amount numeric)";
const std::string kItemsQuery = "SELECT id, note, amount FROM items";

// `items` on both sides (blue's filled by `blue_rows`), and a plan that moves it through `kafka`.
void plan_items(ForwardHarness& harness, const KafkaCluster& kafka, const std::string& extra = "",
                const std::string& kafka_more = "", const std::string& blue_rows = "") {
  harness.blue().execute(kItems + (blue_rows.empty() ? "" : "; " + blue_rows));
  harness.green().execute(kItems);
  harness.write_plan("  - source: items\n", extra, kafka_section(kafka, kafka_more));
}

TEST(RealKafka, StreamsIntoGreenAndCleanupDeletesItsTopic) {
  KafkaCluster kafka;
  ForwardHarness harness;
  plan_items(harness, kafka, "", "", "INSERT INTO items SELECT g, 'row ' || g, g * 1.5 FROM generate_series(1, 2000) g");
  harness.start_run();
  ASSERT_TRUE(harness.wait_until_equal(kItemsQuery, kItemsQuery));
  harness.blue().execute("INSERT INTO items SELECT g, 'late ' || g, g FROM generate_series(2001, 3000) g;"
                         "UPDATE items SET note = note || ' changed' WHERE id % 7 = 0;"
                         "DELETE FROM items WHERE id % 11 = 0");
  ASSERT_TRUE(harness.wait_until_equal(kItemsQuery, kItemsQuery));
  EXPECT_EQ(kafka.topic_layout("cutover.t.changes"), std::make_pair(1, 1));

  harness.run().signal(SIGTERM);
  ASSERT_TRUE(harness.run().wait(60s).has_value());
  const auto listed = run_cutover(harness, {"cleanup", harness.plan_path(), "--dry-run"});
  EXPECT_EQ(listed.exit_code, 0) << listed.output << listed.errors;
  EXPECT_NE(listed.output.find("topic cutover.t.changes"), std::string::npos) << listed.output;
  EXPECT_EQ(kafka.topic_layout("cutover.t.changes"), std::make_pair(1, 1)) << "a dry run deleted the topic";
  const auto cleaned = run_cutover(harness, {"cleanup", harness.plan_path()});
  EXPECT_EQ(cleaned.exit_code, 0) << cleaned.output << cleaned.errors;
  // Deletion is asynchronous on the brokers: the metadata stops listing the topic shortly after.
  auto layout = kafka.topic_layout("cutover.t.changes");
  for (int attempt = 0; attempt < 50 && layout.first != 0; ++attempt) {
    std::this_thread::sleep_for(200ms);
    layout = kafka.topic_layout("cutover.t.changes");
  }
  EXPECT_EQ(layout, std::make_pair(0, 0)) << "the topic is still there after cleanup: " << cleaned.output;
  EXPECT_EQ(harness.blue().query_value("SELECT count(*) FROM pg_replication_slots"), "0");
  // Green keeps its rows.
  EXPECT_EQ(harness.green().query_value("SELECT count(*) FROM items"),
            harness.blue().query_value("SELECT count(*) FROM items"));
}

// A row bigger than the broker's message.max.bytes (1 MB by default): cutover makes its topic
// with a limit that fits what its producer sends, so a 5 MB TOAST value arrives whole, and the
// rows after it too.
TEST(RealKafka, AFiveMegabyteValueArrivesThroughABrokerWithDefaultLimits) {
  KafkaCluster kafka;
  ForwardHarness harness;
  plan_items(harness, kafka);
  harness.start_run();
  harness.blue().execute("INSERT INTO items VALUES (1, 'small', 1);"
                         "INSERT INTO items SELECT 2, string_agg(md5(g::text), ''), 2 FROM generate_series(1, 160000) g;"
                         "INSERT INTO items VALUES (3, 'after', 3)");
  ASSERT_TRUE(harness.wait_until_equal(kItemsQuery, kItemsQuery, 120s));
  EXPECT_EQ(harness.green().query_value("SELECT length(note) FROM items WHERE id = 2"), "5120000");
  // The topic as cutover made it, described by the brokers.
  const auto config = kafka.topic_config("cutover.t.changes");
  EXPECT_EQ(config.at("cleanup.policy"), "delete");
  EXPECT_EQ(config.at("max.message.bytes"), "67108864");
  EXPECT_EQ(config.at("retention.ms"), "604800000");
}

// A row bigger than any message cutover sends (64 MiB of change event) stops capture with an
// error naming its size, and nothing of its transaction reaches green, not even the rows before
// it: the rows after it are never sent.
TEST(RealKafka, ARowTooBigForAnyMessageStopsCaptureAndNothingOfItsTransactionIsApplied) {
  KafkaCluster kafka;
  ForwardHarness harness;
  plan_items(harness, kafka);
  harness.start_run();
  harness.blue().execute("INSERT INTO items VALUES (1, 'before', 1)");
  ASSERT_TRUE(harness.wait_until_equal(kItemsQuery, kItemsQuery));
  harness.blue().execute("BEGIN; INSERT INTO items VALUES (2, 'small', 2);"
                         "INSERT INTO items SELECT 3, string_agg(md5(g::text), ''), 3 FROM generate_series(1, 2200000) g;"
                         "INSERT INTO items VALUES (4, 'after', 4); COMMIT");
  ASSERT_TRUE(harness.run().wait_for_output("exceeds message.max.bytes", 120s)) << harness.run().standard_error();
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(harness.green().query_value("SELECT string_agg(id::text, ',' ORDER BY id) FROM items"), "1");
  // The refused record is counted where an operator's alert looks for it.
  const auto metrics = scraped_samples(harness.control_url(), harness.work().path());
  EXPECT_GE(sample_value(metrics, "cutover_kafka_produce_errors_total", {{"direction", "forward"}}), 1) << metrics.dump();
}

// Topics made before cutover saw them, with settings that would lose changes, are refused by
// validate --connect and by a first run before anything is made on blue.
TEST(RealKafka, ATopicThatWouldLoseChangesIsRefusedBeforeAnythingIsMade) {
  KafkaCluster kafka;
  ForwardHarness harness;
  kafka.create_topic("cutover.t.changes", 1, 1, {{"cleanup.policy", "compact"}, {"max.message.bytes", "1048588"}});
  plan_items(harness, kafka, "replication:\n  slot_advance: on_kafka_ack\n");
  const auto validated = run_cutover(harness, {"validate", "--connect", harness.plan_path()});
  EXPECT_NE(validated.exit_code, 0);
  const std::string said = validated.output + validated.errors;
  EXPECT_NE(said.find("kafka: topic cutover.t.changes has cleanup.policy=compact"), std::string::npos) << said;
  EXPECT_NE(said.find("kafka: topic cutover.t.changes has 1 replica: with slot_advance: on_kafka_ack"),
            std::string::npos)
      << said;
  EXPECT_NE(said.find("takes messages of at most 1048588 bytes"), std::string::npos) << said;

  ChildProcess run({CUTOVER_BINARY, "run", harness.plan_path()}, harness.work().path());
  EXPECT_NE(run.wait(120s).value_or(0), 0);
  EXPECT_NE(run.standard_error().find("cleanup.policy=compact"), std::string::npos) << run.standard_error();
  EXPECT_EQ(harness.blue().query_value("SELECT count(*) FROM pg_replication_slots"), "0");
  EXPECT_EQ(harness.blue().query_value("SELECT count(*) FROM pg_publication"), "0");
  EXPECT_EQ(kafka.topic_layout("cutover.t.reverse"), std::make_pair(0, 0)) << "a topic was made";
}

// on_kafka_ack with the topic's replicas left to the brokers' defaults, on a broker whose default
// is one replica: the topic cutover just made is judged like one it found, and the run stops
// before it streams a change that one broker alone would hold. The snapshot has run by then, so
// the run stays up in phase failed with the refusal until it is stopped.
TEST(RealKafka, OnKafkaAckRefusesATopicMadeWithOneReplicaByDefault) {
  KafkaCluster kafka;
  ForwardHarness harness;
  plan_items(harness, kafka, "replication:\n  slot_advance: on_kafka_ack\n");
  ChildProcess run({CUTOVER_BINARY, "run", harness.plan_path()}, harness.work().path());
  ASSERT_TRUE(run.wait_for_output("pipeline failed reason=", 120s)) << run.standard_error();
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(60s).value_or(0), 2) << "a refused setting's exit code\n" << run.standard_error();
  EXPECT_NE(run.standard_error().find("kafka: topic cutover.t.changes has 1 replica"), std::string::npos)
      << run.standard_error();
  EXPECT_EQ(run.standard_error().find("streaming from blue"), std::string::npos) << run.standard_error();
}

// Retention that deletes changes the applier has not read, with blue's slot confirmed on the
// brokers' acknowledgement (three brokers, two in sync): nothing can send those changes again,
// so the run halts and says green must be rebuilt, instead of restarting forever.
TEST(RealKafka, RetentionAheadOfTheApplierHaltsTheRunAndAsksForARebuild) {
  KafkaCluster kafka(3);
  ForwardHarness harness;
  plan_items(harness, kafka, "replication:\n  slot_advance: on_kafka_ack\n",
             "  replication_factor: 3\n  min_insync_replicas: 2\n");
  harness.start_run();
  harness.blue().execute("INSERT INTO items SELECT g, 'n', g FROM generate_series(1, 100) g");
  ASSERT_TRUE(harness.wait_until_equal(kItemsQuery, kItemsQuery));
  EXPECT_EQ(kafka.topic_layout("cutover.t.changes"), std::make_pair(1, 3));
  EXPECT_EQ(kafka.topic_config("cutover.t.changes").at("min.insync.replicas"), "2");

  // Green stalls behind a lock while capture goes on and the brokers acknowledge; then the run
  // dies, and retention (DeleteRecords here) takes what green never applied.
  std::thread stall([&] { harness.green().execute("BEGIN; LOCK TABLE items; SELECT pg_sleep(6); COMMIT"); });
  std::this_thread::sleep_for(1s);
  harness.blue().execute("INSERT INTO items SELECT g, 'unread', g FROM generate_series(101, 200) g");
  std::this_thread::sleep_for(3s);
  harness.kill_run();
  stall.join();
  EXPECT_EQ(harness.green().query_value("SELECT count(*) FROM items"), "100");
  auto end = change_log_end_offset(kafka.bootstrap(), "cutover.t.changes", {});
  ASSERT_TRUE(end) << end.status().message();
  kafka.delete_records_before("cutover.t.changes", *end);

  harness.start_run(false);
  const auto halted = harness.wait_until_halted();
  const std::string reason = halted.value("halted", "");
  EXPECT_NE(reason.find("the change log no longer holds offset"), std::string::npos) << reason;
  EXPECT_NE(reason.find("green must be rebuilt from a new snapshot"), std::string::npos) << reason;
  EXPECT_EQ(harness.green().query_value("SELECT count(*) FROM items"), "100");
}

// Blue's slot confirmed on the brokers' acknowledgement (acks=all, idempotence), on three
// brokers with two in sync, under pgbench: the partition leader is killed (kill -9), then a
// second broker, which leaves one replica and no controller quorum: the producer blocks and the
// slot holds, since nothing is acknowledged that two brokers do not have. Both come back;
// green ends with blue's rows, none lost and none doubled (pgbench_history has no key, so a
// doubled insert shows), compared table by table by the test's own SQL.
TEST(RealKafka, OnKafkaAckLosesNothingWhenTheLeaderAndThenASecondBrokerDie) {
  KafkaCluster kafka(3);
  ForwardHarness harness;
  ASSERT_NO_FATAL_FAILURE(stream_pgbench_on_kafka_ack(harness, kafka));
  std::thread load = paced_pgbench(harness, 50);
  std::this_thread::sleep_for(8s);
  const int leader = kafka.leader_of("cutover.t.changes");
  kafka.kill(leader);
  std::this_thread::sleep_for(8s);
  const int second = leader % 3 + 1;
  kafka.kill(second);
  std::this_thread::sleep_for(3s);
  const std::string written = write_a_change(harness);
  std::this_thread::sleep_for(10s);
  EXPECT_EQ(harness.blue().query_value("SELECT confirmed_flush_lsn < '" + written +
                                       "'::pg_lsn FROM pg_replication_slots WHERE slot_name = 'cutover_t'"),
            "t")
      << "blue's slot was confirmed past changes only one broker could hold";
  kafka.start(leader);
  kafka.start(second);
  load.join();
  expect_green_holds_blues_pgbench_rows(harness);
}

// Under paced pgbench: a rolling restart of the whole cluster (each broker stopped cleanly and
// started again in turn), one broker down for 30 s, then every broker frozen for 15 s (SIGSTOP:
// connections open, nothing answered, as when the network to the brokers is cut).
TEST(RealKafka, OnKafkaAckLosesNothingThroughARollingRestartAnOutageAndACutNetwork) {
  KafkaCluster kafka(3);
  ForwardHarness harness;
  ASSERT_NO_FATAL_FAILURE(stream_pgbench_on_kafka_ack(harness, kafka));
  std::thread load = paced_pgbench(harness, 100);
  std::this_thread::sleep_for(5s);
  for (int broker = 1; broker <= 3; ++broker) {
    kafka.stop(broker);
    std::this_thread::sleep_for(3s);
    kafka.start(broker);
    std::this_thread::sleep_for(3s);
  }
  kafka.kill(2);
  std::this_thread::sleep_for(30s);
  kafka.start(2);
  std::this_thread::sleep_for(3s);
  kafka.freeze_all();
  std::this_thread::sleep_for(3s);
  const std::string written = write_a_change(harness);
  std::this_thread::sleep_for(12s);
  EXPECT_EQ(harness.blue().query_value("SELECT confirmed_flush_lsn < '" + written +
                                       "'::pg_lsn FROM pg_replication_slots WHERE slot_name = 'cutover_t'"),
            "t")
      << "blue's slot was confirmed while no broker answered";
  kafka.thaw_all();
  load.join();
  expect_green_holds_blues_pgbench_rows(harness);
}

// Production settings: the brokers take clients over TLS only (a certificate from a test CA),
// with a SASL PLAIN user and password (from the environment, kafka.properties_env). A wrong password is refused by
// validate --connect, saying why, before anything is made; the right one streams into green and
// cleanup deletes the topic through the same listener. The password shows in no output.
TEST(RealKafka, StreamsThroughTlsAndSaslAndNeverShowsThePassword) {
  KafkaCluster kafka(1, {}, KafkaCluster::Clients::kSaslSsl);
  ForwardHarness harness;
  // The password from the environment (kafka.properties_env), the rest in the plan.
  std::string properties = "  properties:\n";
  for (const auto& [key, value] : kafka.client_properties()) {
    if (key != "sasl.password") properties += "    " + key + ": \"" + value + "\"\n";
  }
  properties += "  properties_env:\n    sasl.password: CUTOVER_TEST_KAFKA_PASSWORD\n";
  plan_items(harness, kafka, "", properties, "INSERT INTO items SELECT g, 'n', g FROM generate_series(1, 500) g");
  const std::string password = KafkaCluster::kSaslPassword;

  ::setenv("CUTOVER_TEST_KAFKA_PASSWORD", ("not-" + password).c_str(), 1);
  const auto refused = run_cutover(harness, {"validate", "--connect", harness.plan_path()});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE((refused.output + refused.errors).find("kafka.brokers"), std::string::npos) << refused.errors;
  EXPECT_NE((refused.output + refused.errors).find("refused cutover's credentials"), std::string::npos)
      << refused.errors;
  EXPECT_EQ((refused.output + refused.errors).find(password), std::string::npos) << refused.errors;
  EXPECT_EQ(harness.blue().query_value("SELECT count(*) FROM pg_replication_slots"), "0");

  ::setenv("CUTOVER_TEST_KAFKA_PASSWORD", password.c_str(), 1);
  harness.start_run();
  harness.blue().execute("UPDATE items SET note = 'changed' WHERE id % 3 = 0");
  ASSERT_TRUE(harness.wait_until_equal(kItemsQuery, kItemsQuery));
  const auto status = harness.cli({"status"});
  EXPECT_EQ(status.exit_code, 0) << status.errors;
  EXPECT_EQ(status.output.dump().find(password), std::string::npos);
  harness.run().signal(SIGTERM);
  ASSERT_TRUE(harness.run().wait(60s).has_value());
  EXPECT_EQ(harness.run().standard_error().find(password), std::string::npos);
  const auto cleaned = run_cutover(harness, {"cleanup", harness.plan_path()});
  EXPECT_EQ(cleaned.exit_code, 0) << cleaned.output << cleaned.errors;
  EXPECT_NE(cleaned.output.find("topic cutover.t.changes"), std::string::npos) << cleaned.output;
  EXPECT_EQ((cleaned.output + cleaned.errors).find(password), std::string::npos);
}

// Capture and apply as separate processes (as on a host near blue and one near green), through
// a real broker: `cutover apply` killed (-9) under writes and started again, then `cutover
// capture` too. Green ends with blue's rows, none lost and none applied twice.
TEST(RealKafka, CaptureAndApplyAsSeparateProcessesSurviveKillNine) {
  KafkaCluster kafka;
  ForwardHarness harness;
  plan_items(harness, kafka);
  auto start = [&](const char* command, const char* streaming) {
    auto process = std::make_unique<ChildProcess>(
        std::vector<std::string>{CUTOVER_BINARY, command, harness.plan_path()}, harness.work().path());
    EXPECT_TRUE(process->wait_for_output(streaming, 60s)) << process->standard_error();
    return process;
  };
  auto capture = start("capture", "streaming from blue");
  auto apply = start("apply", "applying from");
  std::thread writer([&] {
    for (int batch = 0; batch < 40; ++batch) {
      harness.blue().execute("INSERT INTO items SELECT g, 'n', g FROM generate_series(" + std::to_string(batch * 100 + 1) +
                             ", " + std::to_string(batch * 100 + 100) + ") g; UPDATE items SET amount = amount + 1 "
                             "WHERE id % 9 = " + std::to_string(batch % 9));
      std::this_thread::sleep_for(100ms);
    }
  });
  std::this_thread::sleep_for(1500ms);
  apply->signal(SIGKILL);
  apply->wait(10s);
  apply = start("apply", "applying from");
  std::this_thread::sleep_for(1500ms);
  capture->signal(SIGKILL);
  capture->wait(10s);
  capture = start("capture", "streaming from blue");
  writer.join();
  EXPECT_TRUE(harness.wait_until_equal(kItemsQuery, kItemsQuery)) << apply->standard_error();
  EXPECT_EQ(harness.green().query_value("SELECT count(*) FROM items"), "4000");
}

}  // namespace
}  // namespace cutover::testing
