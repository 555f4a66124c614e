// Topic checks and creation for the change-log topics.
//
// Capture calls ensure_change_log_topic() before it streams: it proves the brokers are
// reachable (so a bad bootstrap list fails before anything is created on blue) and makes
// sure the topic exists with one partition. A topic that already has several partitions
// is accepted with a warning and only partition 0 is used (ARCHITECTURE.md: the embedded
// broker auto-creates topics with 4 partitions and has no CreateTopics).
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cutover/common/result.h"
#include "cutover/transport/kafka_config.h"

namespace cutover {

// How long the brokers get to answer a metadata request or create a topic before cutover
// calls them unreachable.
inline constexpr std::chrono::seconds kBrokerTimeout{10};

// Reachability alone: asks the cluster for its metadata.
Status check_brokers_reachable(const std::string& bootstrap, const KafkaProperties& properties,
                               std::chrono::milliseconds timeout);

// How cutover makes a change-log topic: one partition, cleanup.policy=delete, max.message.bytes
// fitting kMaxChangeEventBytes, and these (0: the brokers' default).
struct TopicSettings {
  int replication_factor = 0;
  int min_insync_replicas = 0;
  long retention_ms = 0;
};

// Returns the topic's partition count after making sure it exists.
Result<int> ensure_change_log_topic(const std::string& bootstrap, const KafkaProperties& properties,
                                    const std::string& topic, const TopicSettings& settings,
                                    std::chrono::milliseconds timeout);

// A topic as the brokers describe it.
struct TopicDescription {
  int partitions = 0;
  int replication_factor = 0;                 // of partition 0
  std::map<std::string, std::string> config;  // DescribeConfigs, defaults included; empty when refused
  std::string config_error;                   // why the brokers did not describe its settings
};

// The topic, or nothing when it does not exist.
Result<std::optional<TopicDescription>> describe_topic(const std::string& bootstrap, const KafkaProperties& properties,
                                                       const std::string& topic, std::chrono::milliseconds timeout);

// Which of `topics` exist on the brokers.
Result<std::vector<std::string>> existing_topics(const std::string& bootstrap, const KafkaProperties& properties,
                                                 const std::vector<std::string>& topics,
                                                 std::chrono::milliseconds timeout);

// Deletes `topic` (DeleteTopics); a topic already gone counts as deleted.
Status delete_topic(const std::string& bootstrap, const KafkaProperties& properties, const std::string& topic,
                    std::chrono::milliseconds timeout);

}  // namespace cutover
