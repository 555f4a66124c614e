// What a change-log topic's settings, as brokers describe them, mean for a plan: the settings
// that lose changes are refused, naming the topic, the setting and the fix.
#include "cutover/pipeline/topic_check.h"

#include <gtest/gtest.h>

namespace cutover {
namespace {

Plan plan_with(SlotAdvance advance) {
  Plan plan;
  plan.file = "plan.yaml";
  plan.name = "t";
  plan.kafka.brokers = "k1:9092";
  plan.replication.slot_advance = advance;
  return plan;
}

TopicDescription topic(int replicas, std::map<std::string, std::string> config) {
  TopicDescription described;
  described.partitions = 1;
  described.replication_factor = replicas;
  described.config = std::move(config);
  return described;
}

bool says(const std::vector<std::string>& lines, const std::string& text) {
  for (const auto& line : lines) {
    if (line.find(text) != std::string::npos) return true;
  }
  return false;
}

TEST(TopicCheck, ACompactedTopicIsRefusedWhateverTheSlotAdvance) {
  for (const auto advance : {SlotAdvance::kOnApply, SlotAdvance::kOnKafkaAck}) {
    const auto found = judge_topic(plan_with(advance), "cutover.t.changes",
                                   topic(3, {{"cleanup.policy", "compact,delete"}, {"min.insync.replicas", "2"}}));
    ASSERT_EQ(found.problems.size(), 1U);
    EXPECT_TRUE(says(found.problems, "plan.yaml: kafka: topic cutover.t.changes has cleanup.policy=compact,delete"))
        << found.problems[0];
  }
}

TEST(TopicCheck, OnKafkaAckNeedsTwoReplicasAndTwoInSync) {
  const Plan ack = plan_with(SlotAdvance::kOnKafkaAck);
  auto found = judge_topic(ack, "x", topic(1, {{"cleanup.policy", "delete"}, {"min.insync.replicas", "1"}}));
  EXPECT_TRUE(says(found.problems, "has 1 replica: with slot_advance: on_kafka_ack"));
  EXPECT_TRUE(says(found.problems, "has min.insync.replicas=1"));
  found = judge_topic(ack, "x", topic(3, {{"cleanup.policy", "delete"}, {"min.insync.replicas", "2"}}));
  EXPECT_TRUE(found.problems.empty()) << found.problems[0];
  // Brokers that do not describe settings: the replica count is still checked, the rest said.
  TopicDescription undescribed = topic(3, {});
  undescribed.config_error = "not supported";
  found = judge_topic(ack, "x", undescribed);
  EXPECT_TRUE(found.problems.empty());
  EXPECT_TRUE(says(found.warnings, "did not describe its settings (not supported)"));
  // on_apply: blue keeps every change until green has it, so one replica loses nothing.
  found = judge_topic(plan_with(SlotAdvance::kOnApply), "x", topic(1, {{"min.insync.replicas", "1"}}));
  EXPECT_TRUE(found.problems.empty());
}

TEST(TopicCheck, ASmallMessageLimitAndSeveralPartitionsAreWarnings) {
  TopicDescription described = topic(3, {{"cleanup.policy", "delete"}, {"max.message.bytes", "1048588"}});
  described.partitions = 4;
  const auto found = judge_topic(plan_with(SlotAdvance::kOnApply), "x", described);
  EXPECT_TRUE(found.problems.empty());
  EXPECT_TRUE(says(found.warnings, "takes messages of at most 1048588 bytes"));
  EXPECT_TRUE(says(found.warnings, "has 4 partitions"));
}

}  // namespace
}  // namespace cutover
