#include "cutover/pipeline/topic_check.h"

#include "cutover/plan/reverse_plan.h"

namespace cutover {

namespace {

// A number the brokers describe, or nothing when they did not or it does not read.
std::optional<long> config_number(const TopicDescription& described, const std::string& name) {
  const auto found = described.config.find(name);
  if (found == described.config.end()) return std::nullopt;
  try {
    return std::stol(found->second);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace

TopicSettings topic_settings_of(const Plan& plan) {
  return {plan.kafka.replication_factor, plan.kafka.min_insync_replicas, plan.kafka.retention_ms};
}

TopicFindings judge_topic(const Plan& plan, const std::string& topic, const TopicDescription& described) {
  TopicFindings found;
  const std::string where = plan.file + ": kafka: topic " + topic;
  const auto policy = described.config.find("cleanup.policy");
  if (policy != described.config.end() && policy->second.find("compact") != std::string::npos) {
    found.problems.push_back(where + " has cleanup.policy=" + policy->second +
                             ": the brokers would keep only the last change of each key, and green would miss the "
                             "others. Set cleanup.policy=delete on it, or delete it and cutover makes it anew");
  }
  if (plan.replication.slot_advance == SlotAdvance::kOnKafkaAck) {
    if (described.replication_factor < 2) {
      found.problems.push_back(where + " has " + std::to_string(described.replication_factor) +
                               " replica: with slot_advance: on_kafka_ack, blue's slot would be confirmed for changes "
                               "one broker holds, and losing its disk would lose them. Make the topic with 3 replicas "
                               "and min.insync.replicas=2 (delete it and set kafka.replication_factor: 3, "
                               "kafka.min_insync_replicas: 2), or use slot_advance: on_apply");
    }
    const auto min_insync = config_number(described, "min.insync.replicas");
    if (!described.config_error.empty()) {
      found.warnings.push_back(where + ": the brokers did not describe its settings (" + described.config_error +
                               "): its min.insync.replicas, which slot_advance: on_kafka_ack relies on, is not checked");
    } else if (min_insync && *min_insync < 2) {
      found.problems.push_back(where + " has min.insync.replicas=" + std::to_string(*min_insync) +
                               ": with slot_advance: on_kafka_ack, one broker could acknowledge alone and blue's slot "
                               "move past changes only it holds. Set min.insync.replicas=2 on the topic, or use "
                               "slot_advance: on_apply");
    }
  }
  const auto max_message = config_number(described, "max.message.bytes");
  if (max_message && *max_message < kMaxChangeEventBytes) {
    found.warnings.push_back(where + " takes messages of at most " + std::to_string(*max_message) +
                             " bytes (max.message.bytes): a row whose change event is bigger stops capture before "
                             "anything after it is sent. Raise it to " + std::to_string(kMaxChangeEventBytes) +
                             ", as the topics cutover makes have");
  }
  if (described.partitions > 1) {
    found.warnings.push_back(where + " has " + std::to_string(described.partitions) +
                             " partitions: only partition 0 carries the change log");
  }
  return found;
}

Result<TopicFindings> check_change_log_topics(const Plan& plan) {
  TopicFindings found;
  if (plan.kafka.is_embedded()) return found;
  std::vector<std::string> topics = {plan.changes_topic()};
  if (plan.direction == Direction::kForward) {
    if (auto reverse = derive_reverse_plan(plan)) topics.push_back(reverse->changes_topic());
  }
  for (const auto& topic : topics) {
    auto described = describe_topic(plan.kafka.brokers, plan.kafka.properties, topic, kBrokerTimeout);
    if (!described) return described.status();
    if (!described->has_value()) continue;
    auto judged = judge_topic(plan, topic, **described);
    found.problems.insert(found.problems.end(), judged.problems.begin(), judged.problems.end());
    found.warnings.insert(found.warnings.end(), judged.warnings.begin(), judged.warnings.end());
  }
  return found;
}

}  // namespace cutover
