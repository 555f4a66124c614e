// The pipeline on a real Apache Kafka cluster (tests/fixtures/kafka_cluster.h), not librdkafka's
// mock: topics made through the Admin API, changes through a broker's real log, and cleanup's
// DeleteTopics. Green is compared with blue by the test's own SQL; topics are described by the
// fixture's own admin calls.
#include <gtest/gtest.h>

#include <csignal>

#include "fixtures/forward_harness.h"
#include "fixtures/kafka_cluster.h"

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

const std::string kItems = "CREATE TABLE items (id int PRIMARY KEY, note text, amount numeric)";
const std::string kItemsQuery = "SELECT id, note, amount FROM items";

TEST(RealKafka, StreamsIntoGreenAndCleanupDeletesItsTopic) {
  KafkaCluster kafka;
  ForwardHarness harness;
  harness.blue().execute(kItems + "; INSERT INTO items SELECT g, 'row ' || g, g * 1.5 FROM generate_series(1, 2000) g");
  harness.green().execute(kItems);
  harness.write_plan("  - source: items\n", "", kafka_section(kafka));
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

}  // namespace
}  // namespace cutover::testing
