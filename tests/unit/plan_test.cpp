#include "cutover/plan/plan.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace cutover {
namespace {

const char* kMinimal = R"(name: accounts-v2
blue:
  dsn: "host=127.0.0.1 dbname=app"
tables:
  - source: public.users
    target: public.accounts
    key: [id]
    columns:
      id: id
      email_lower: lower(email)
  - source: orders
)";

std::string errors_of(const std::string& text) {
  auto plan = parse_plan(text, "plan.yaml");
  EXPECT_FALSE(plan);
  return plan ? "" : plan.status().message();
}

TEST(Plan, MinimalPlanGetsDefaults) {
  auto plan = parse_plan(kMinimal, "plan.yaml");
  ASSERT_TRUE(plan) << plan.status().message();
  EXPECT_EQ(plan->name, "accounts-v2");
  EXPECT_TRUE(plan->kafka.is_embedded());
  EXPECT_EQ(plan->changes_topic(), "cutover.accounts-v2.changes");
  EXPECT_EQ(plan->slot_name(), "cutover_accounts_v2");
  EXPECT_EQ(plan->replication.slot_advance, SlotAdvance::kOnApply);
  ASSERT_EQ(plan->tables.size(), 2u);
  EXPECT_EQ(plan->tables[0].target.text(), "public.accounts");
  EXPECT_EQ(plan->tables[0].columns[1].second, "lower(email)");
  EXPECT_EQ(plan->tables[1].source.text(), "public.orders");
  EXPECT_EQ(plan->control.listen, "127.0.0.1:7800") << "the control API must listen on loopback by default";
  EXPECT_EQ(plan->tables[1].target.text(), "public.orders");
  EXPECT_EQ(plan->state_dir, "./.cutover/accounts-v2");
}

TEST(Plan, UnknownKeyNamesLineColumnAndSuggestion) {
  const auto message = errors_of(std::string(kMinimal) + "    colums: {}\n");
  EXPECT_NE(message.find("plan.yaml:12:5: tables[1].colums: unknown key (did you mean 'columns'?)"),
            std::string::npos)
      << message;
}

TEST(Plan, EveryProblemIsReportedAtOnce) {
  const auto message = errors_of(R"(name: Bad Name
blue:
  dsn: x
kafka:
  brokers: embedded
replication:
  slot_advance: on_kafka_ack
snapshot:
  parallelism: zero
cutover:
  max_lag: 2 hours
tables:
  - source: "users; drop"
)");
  EXPECT_NE(message.find("plan.yaml:1:7: name: 'Bad Name' is not a valid plan name"), std::string::npos) << message;
  EXPECT_NE(message.find("replication.slot_advance: on_kafka_ack is refused with kafka.brokers: embedded"),
            std::string::npos) << message;
  EXPECT_NE(message.find("snapshot.parallelism: must be a whole number"), std::string::npos) << message;
  EXPECT_NE(message.find("cutover.max_lag: '2 hours' is not a duration"), std::string::npos) << message;
  EXPECT_NE(message.find("tables[0].source: 'users; drop' is not a table name"), std::string::npos) << message;
}

TEST(Plan, DsnFromEnvironmentAndMissingVariable) {
  const std::string text = R"(name: t
blue:
  dsn_env: CUTOVER_TEST_BLUE_DSN
tables:
  - source: t
)";
  ::unsetenv("CUTOVER_TEST_BLUE_DSN");
  EXPECT_NE(errors_of(text).find("blue.dsn_env: environment variable CUTOVER_TEST_BLUE_DSN is not set"),
            std::string::npos);
  ::setenv("CUTOVER_TEST_BLUE_DSN", "host=h dbname=d", 1);
  auto plan = parse_plan(text, "plan.yaml");
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->blue.dsn, "host=h dbname=d");
  ::unsetenv("CUTOVER_TEST_BLUE_DSN");
}

TEST(Plan, MalformedYamlNamesThePosition) {
  const auto message = errors_of("name: t\nblue: [unclosed\n");
  EXPECT_NE(message.find("plan.yaml:"), std::string::npos);
  EXPECT_NE(message.find("not valid YAML"), std::string::npos) << message;
}

TEST(Plan, MissingTablesAndBlue) {
  const auto message = errors_of("name: t\n");
  EXPECT_NE(message.find("blue: is required"), std::string::npos) << message;
  EXPECT_NE(message.find("tables: is required"), std::string::npos) << message;
}

}  // namespace
}  // namespace cutover

namespace cutover {
namespace {

TEST(Plan, ApplyBoundsAndTruncateAction) {
  auto plan = parse_plan(std::string(kMinimal) +
                             "    on_truncate: truncate_target\n"
                             "apply:\n  batch_rows: 500\n  batch_bytes: 65536\n  batch_interval: 50ms\n",
                         "plan.yaml");
  ASSERT_TRUE(plan) << plan.status().message();
  EXPECT_EQ(plan->apply.batch_rows, 500);
  EXPECT_EQ(plan->apply.batch_bytes, 65536);
  EXPECT_EQ(plan->apply.batch_interval, std::chrono::milliseconds(50));
  EXPECT_EQ(plan->tables[0].on_truncate, TruncateAction::kDefault);
  EXPECT_EQ(plan->tables[1].on_truncate, TruncateAction::kTruncateTarget);

  const auto message = errors_of(std::string(kMinimal) + "    on_truncate: maybe\n" +
                                 "apply:\n  batch_rows: 0\n");
  EXPECT_NE(message.find("tables[1].on_truncate: 'maybe' is not one of truncate_target, refuse"),
            std::string::npos) << message;
  EXPECT_NE(message.find("apply.batch_rows"), std::string::npos) << message;
}

TEST(Plan, SwitchIsPgbouncerOrACommandThatPgbouncerMayPause) {
  const std::string head = std::string(kMinimal) + "cutover:\n";
  auto pooled = parse_plan(head + "  switch:\n    command: [\"./switch.sh\", \"{to}\"]\n"
                           "    pgbouncer:\n      admin_dsn: \"host=127.0.0.1 dbname=pgbouncer\"\n"
                           "      database: app\n",
                           "plan.yaml");
  ASSERT_TRUE(pooled) << pooled.status().message();
  EXPECT_EQ(pooled->cutover.switch_command, (std::vector<std::string>{"./switch.sh", "{to}"}));
  EXPECT_EQ(pooled->cutover.pgbouncer->database, "app");
  EXPECT_TRUE(pooled->cutover.pgbouncer->include_file.empty());

  const std::string unfenced = errors_of(head + "  switch:\n    command: [\"./switch.sh\", \"{to}\"]\n");
  EXPECT_NE(unfenced.find("cutover.switch: a switch command without pgbouncer needs cutover.fence_blue: true"),
            std::string::npos) << unfenced;
  auto fenced = parse_plan(head + "  fence_blue: true\n  switch:\n    command: [\"./switch.sh\", \"{to}\"]\n",
                           "plan.yaml");
  EXPECT_TRUE(fenced) << fenced.status().message();

  const std::string sideless = errors_of(head + "  fence_blue: true\n  switch:\n    command: [\"./switch.sh\"]\n");
  EXPECT_NE(sideless.find("cutover.switch.command: no argument holds {to}"), std::string::npos) << sideless;
  const std::string incomplete = errors_of(head + "  switch:\n    pgbouncer:\n      admin_dsn: \"x\"\n"
                                           "      database: app\n");
  EXPECT_NE(incomplete.find("cutover.switch.pgbouncer.include_file"), std::string::npos) << incomplete;
  const std::string empty = errors_of(head + "  switch: {}\n");
  EXPECT_NE(empty.find("cutover.switch: give pgbouncer, command, or both"), std::string::npos) << empty;
}

}  // namespace
}  // namespace cutover

namespace cutover {
namespace {

// The topic settings: for a team's own brokers, and never weaker than on_kafka_ack needs.
TEST(Plan, TopicSettingsForOwnBrokersAndNeverTooWeakForOnKafkaAck) {
  auto plan = parse_plan(std::string(kMinimal) +
                             "kafka:\n  brokers: \"k1:9092\"\n  replication_factor: 3\n  min_insync_replicas: 2\n"
                             "  retention: 3d\nreplication:\n  slot_advance: on_kafka_ack\n",
                         "plan.yaml");
  ASSERT_TRUE(plan) << plan.status().message();
  EXPECT_EQ(plan->kafka.replication_factor, 3);
  EXPECT_EQ(plan->kafka.min_insync_replicas, 2);
  EXPECT_EQ(plan->kafka.retention_ms, 3L * 24 * 3600 * 1000);
  EXPECT_EQ(parse_plan(kMinimal, "plan.yaml")->kafka.retention_ms, 7L * 24 * 3600 * 1000);

  std::string message = errors_of(std::string(kMinimal) + "kafka:\n  replication_factor: 3\n");
  EXPECT_NE(message.find("plan.yaml:13:23: kafka.replication_factor: applies to topics on your own brokers"),
            std::string::npos)
      << message;
  message = errors_of(std::string(kMinimal) +
                      "kafka:\n  brokers: \"k1:9092\"\n  replication_factor: 2\n  min_insync_replicas: 3\n");
  EXPECT_NE(message.find("kafka.min_insync_replicas: is more than kafka.replication_factor"), std::string::npos)
      << message;
  message = errors_of(std::string(kMinimal) +
                      "kafka:\n  brokers: \"k1:9092\"\n  replication_factor: 1\n  min_insync_replicas: 1\n"
                      "replication:\n  slot_advance: on_kafka_ack\n");
  EXPECT_NE(message.find("kafka.replication_factor: 1 with slot_advance: on_kafka_ack"), std::string::npos) << message;
  EXPECT_NE(message.find("kafka.min_insync_replicas: 1 with slot_advance: on_kafka_ack"), std::string::npos)
      << message;
  // With on_apply, one replica loses nothing: blue keeps every change until green has it.
  EXPECT_TRUE(parse_plan(std::string(kMinimal) + "kafka:\n  brokers: \"k1:9092\"\n  replication_factor: 1\n",
                         "plan.yaml"));
}

}  // namespace
}  // namespace cutover

namespace cutover {
namespace {

// Kafka secrets from the environment, as dsn_env keeps database passwords out of the file.
TEST(Plan, KafkaPropertiesFromTheEnvironment) {
  ::setenv("CUTOVER_TEST_KAFKA_PASSWORD", "s3cret", 1);
  ::unsetenv("CUTOVER_TEST_UNSET");
  auto plan = parse_plan(std::string(kMinimal) +
                             "kafka:\n  brokers: \"k1:9092\"\n  properties:\n    sasl.username: cutover\n"
                             "  properties_env:\n    sasl.password: CUTOVER_TEST_KAFKA_PASSWORD\n",
                         "plan.yaml");
  ASSERT_TRUE(plan) << plan.status().message();
  EXPECT_EQ(plan->kafka.properties.at("sasl.password"), "s3cret");
  EXPECT_EQ(plan->kafka.properties.at("sasl.username"), "cutover");

  const std::string message = errors_of(std::string(kMinimal) +
                                        "kafka:\n  brokers: \"k1:9092\"\n  properties:\n    sasl.username: x\n"
                                        "  properties_env:\n    sasl.password: CUTOVER_TEST_UNSET\n"
                                        "    sasl.username: CUTOVER_TEST_KAFKA_PASSWORD\n    acks: CUTOVER_TEST_KAFKA_PASSWORD\n");
  EXPECT_NE(message.find("kafka.properties_env.sasl.password: environment variable CUTOVER_TEST_UNSET is not set"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("kafka.properties_env.sasl.username: is given in kafka.properties too"), std::string::npos)
      << message;
  EXPECT_NE(message.find("kafka.properties_env.acks: is set by cutover"), std::string::npos) << message;
  EXPECT_EQ(message.find("s3cret"), std::string::npos) << message;
}

}  // namespace
}  // namespace cutover
