#include "cutover/transport/topic_admin.h"

#include <mutex>
#include <optional>

#include "cutover/common/logging.h"

namespace cutover {

namespace {

struct MetadataDeleter {
  void operator()(const rd_kafka_metadata_t* metadata) const { rd_kafka_metadata_destroy(metadata); }
};
using Metadata = std::unique_ptr<const rd_kafka_metadata_t, MetadataDeleter>;

// An admin client that keeps what librdkafka reported of its connections being refused:
// credentials or a TLS handshake show only there (the request itself fails as a "transport
// failure").
class AdminClient {
 public:
  static Result<AdminClient> open(const std::string& bootstrap, const KafkaProperties& properties) {
    AdminClient client;
    Refusal* kept = client.refusal_.get();
    // Metadata for all topics must not create any, so auto-creation stays off here.
    auto handle = create_kafka_client(RD_KAFKA_PRODUCER, bootstrap,
                                      {{"allow.auto.create.topics", "false"}, {"log_level", "3"}}, properties,
                                      [kept](rd_kafka_conf_t* config) {
                                        rd_kafka_conf_set_opaque(config, kept);
                                        rd_kafka_conf_set_error_cb(config, record_error);
                                      });
    if (!handle) return handle.status();
    client.handle_ = std::move(handle.value());
    return client;
  }
  rd_kafka_t* get() const { return handle_.get(); }
  // Why the brokers could not be asked, when a connection said so; empty otherwise.
  std::string refusal() const {
    std::lock_guard lock(refusal_->mutex);
    return refusal_->text;
  }

 private:
  struct Refusal {
    std::mutex mutex;
    std::string text;
  };
  // Keeps refusals only: "all brokers down" follows a refused login, and says less.
  static void record_error(rd_kafka_t*, int code, const char* reason, void* opaque) {
    const std::string said = reason ? reason : "";
    std::string refusal;
    if (code == RD_KAFKA_RESP_ERR__AUTHENTICATION || code == RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED ||
        said.find("SASL authentication error") != std::string::npos) {
      refusal = "refused cutover's credentials (" + said +
                "): check sasl.mechanisms, sasl.username and sasl.password in kafka.properties or kafka.properties_env";
    } else if (code == RD_KAFKA_RESP_ERR__SSL || said.find("SSL handshake failed") != std::string::npos) {
      refusal = "did not complete TLS (" + said + "): check security.protocol and ssl.ca.location in kafka.properties";
    }
    if (refusal.empty()) return;
    auto* kept = static_cast<Refusal*>(opaque);
    std::lock_guard lock(kept->mutex);
    kept->text = std::move(refusal);
  }

  std::unique_ptr<Refusal> refusal_ = std::make_unique<Refusal>();
  KafkaHandle handle_;
};

Result<Metadata> all_topics(const AdminClient& client, const std::string& bootstrap,
                            std::chrono::milliseconds timeout) {
  const rd_kafka_metadata_t* metadata = nullptr;
  const auto result =
      rd_kafka_metadata(client.get(), 1, nullptr, &metadata, static_cast<int>(timeout.count()));
  if (result == RD_KAFKA_RESP_ERR_NO_ERROR) return Metadata(metadata);
  rd_kafka_poll(client.get(), 0);  // serves the error callbacks the connections queued
  // Asking again gets the same answer: the plan (or the brokers' settings) must change.
  if (const std::string refused = client.refusal(); !refused.empty()) {
    return Status::error("the Kafka brokers at " + bootstrap + " " + refused);
  }
  return Status::retryable("cannot reach Kafka brokers at " + bootstrap + ": " + rd_kafka_err2str(result) +
                           " (check kafka.brokers and that the brokers are running)");
}

std::optional<int> partition_count(const rd_kafka_metadata_t& metadata, const std::string& topic) {
  for (int index = 0; index < metadata.topic_cnt; ++index) {
    const auto& entry = metadata.topics[index];
    if (topic == entry.topic && entry.err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      return entry.partition_cnt;
    }
  }
  return std::nullopt;
}

// The first error among an admin request's per-topic results, `expected` (the topic already
// there, or already gone) counting as success.
Status topic_results(const rd_kafka_topic_result_t** results, std::size_t count, rd_kafka_resp_err_t expected) {
  for (std::size_t index = 0; index < count; ++index) {
    const auto error = rd_kafka_topic_result_error(results[index]);
    if (error != RD_KAFKA_RESP_ERR_NO_ERROR && error != expected) {
      const char* text = rd_kafka_topic_result_error_string(results[index]);
      return Status::error(text ? text : rd_kafka_err2str(error));
    }
  }
  return Status::ok();
}

Status create_topic(rd_kafka_t* client, const std::string& topic, const TopicSettings& settings,
                    std::chrono::milliseconds timeout) {
  char reason[512];
  rd_kafka_NewTopic_t* new_topic = rd_kafka_NewTopic_new(
      topic.c_str(), 1, settings.replication_factor > 0 ? settings.replication_factor : -1, reason, sizeof reason);
  if (!new_topic) return Status::error(std::string("topic ") + topic + ": " + reason);
  // Never compacted: the applier needs every change, not the last one per key.
  std::map<std::string, std::string> config = {{"cleanup.policy", "delete"},
                                               {"max.message.bytes", std::to_string(kMaxChangeEventBytes)}};
  if (settings.min_insync_replicas > 0) config["min.insync.replicas"] = std::to_string(settings.min_insync_replicas);
  if (settings.retention_ms > 0) config["retention.ms"] = std::to_string(settings.retention_ms);
  for (const auto& [name, value] : config) {
    if (rd_kafka_NewTopic_set_config(new_topic, name.c_str(), value.c_str()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_NewTopic_destroy(new_topic);
      return Status::error("topic " + topic + ": cannot set " + name);
    }
  }
  rd_kafka_AdminOptions_t* options = rd_kafka_AdminOptions_new(client, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_request_timeout(options, static_cast<int>(timeout.count()), reason,
                                            sizeof reason);
  rd_kafka_queue_t* queue = rd_kafka_queue_new(client);
  rd_kafka_CreateTopics(client, &new_topic, 1, options, queue);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, static_cast<int>(timeout.count()) + 1000);
  Status status = Status::ok();
  if (!event) {
    status = Status::retryable("CreateTopics got no answer");
  } else if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    status = Status::error(rd_kafka_event_error_string(event));
  } else {
    std::size_t count = 0;
    const rd_kafka_topic_result_t** results =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count);
    status = topic_results(results, count, RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS);
  }
  if (event) rd_kafka_event_destroy(event);
  rd_kafka_queue_destroy(queue);
  rd_kafka_AdminOptions_destroy(options);
  rd_kafka_NewTopic_destroy(new_topic);
  return status;
}

}  // namespace

Status check_brokers_reachable(const std::string& bootstrap, const KafkaProperties& properties,
                               std::chrono::milliseconds timeout) {
  auto client = AdminClient::open(bootstrap, properties);
  if (!client) return client.status();
  return all_topics(*client, bootstrap, timeout).status();
}

Result<int> ensure_change_log_topic(const std::string& bootstrap, const KafkaProperties& properties,
                                    const std::string& topic, const TopicSettings& settings,
                                    std::chrono::milliseconds timeout) {
  auto client = AdminClient::open(bootstrap, properties);
  if (!client) return client.status();
  auto metadata = all_topics(*client, bootstrap, timeout);
  if (!metadata) return metadata.status();
  std::optional<int> partitions = partition_count(**metadata, topic);
  if (!partitions) {
    if (auto created = create_topic(client->get(), topic, settings, timeout); created) {
      spdlog::info("created Kafka topic topic={} partitions=1 replication_factor={} min_insync_replicas={} "
                   "retention_ms={} max_message_bytes={}",
                   topic, settings.replication_factor > 0 ? std::to_string(settings.replication_factor) : "default",
                   settings.min_insync_replicas > 0 ? std::to_string(settings.min_insync_replicas) : "default",
                   settings.retention_ms > 0 ? std::to_string(settings.retention_ms) : "default", kMaxChangeEventBytes);
    } else {
      // The embedded broker has no CreateTopics; it creates topics on first use instead.
      spdlog::warn("CreateTopics failed, relying on the broker's auto-creation topic={} reason=\"{}\"",
                   topic, created.message());
      const rd_kafka_metadata_t* raw = nullptr;
      auto producer = create_kafka_client(RD_KAFKA_PRODUCER, bootstrap,
                                          {{"allow.auto.create.topics", "true"}, {"log_level", "3"}},
                                          properties);
      if (!producer) return producer.status();
      rd_kafka_topic_t* creating = rd_kafka_topic_new(producer->get(), topic.c_str(), nullptr);
      rd_kafka_metadata(producer->get(), 0, creating, &raw, static_cast<int>(timeout.count()));
      if (raw) rd_kafka_metadata_destroy(raw);
      rd_kafka_topic_destroy(creating);
      metadata = all_topics(*client, bootstrap, timeout);
      if (!metadata) return metadata.status();
      partitions = partition_count(**metadata, topic);
      if (!partitions) {
        return Status::error("Kafka topic " + topic + " does not exist and cannot be created (" +
                             created.message() + "); create it with one partition");
      }
    }
  }
  if (*partitions > 1) {
    spdlog::warn("Kafka topic has several partitions; only partition 0 carries the change log "
                 "topic={} partitions={}", topic, *partitions);
  }
  return *partitions;
}

namespace {

// The topic's settings (DescribeConfigs); an error when the brokers do not describe them.
Result<std::map<std::string, std::string>> topic_config(rd_kafka_t* client, const std::string& topic,
                                                        std::chrono::milliseconds timeout) {
  rd_kafka_ConfigResource_t* resource = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
  rd_kafka_queue_t* queue = rd_kafka_queue_new(client);
  rd_kafka_DescribeConfigs(client, &resource, 1, nullptr, queue);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, static_cast<int>(timeout.count()) + 1000);
  std::map<std::string, std::string> config;
  Status status = Status::ok();
  if (!event) {
    status = Status::retryable("DescribeConfigs got no answer");
  } else if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    status = Status::error(rd_kafka_event_error_string(event));
  } else {
    std::size_t count = 0;
    const rd_kafka_ConfigResource_t** described =
        rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(event), &count);
    if (count != 1) {
      status = Status::error("DescribeConfigs answered for " + std::to_string(count) + " resources");
    } else if (rd_kafka_ConfigResource_error(described[0]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      status = Status::error(rd_kafka_ConfigResource_error_string(described[0]));
    } else {
      std::size_t entries = 0;
      const rd_kafka_ConfigEntry_t** list = rd_kafka_ConfigResource_configs(described[0], &entries);
      for (std::size_t index = 0; index < entries; ++index) {
        const char* value = rd_kafka_ConfigEntry_value(list[index]);
        config[rd_kafka_ConfigEntry_name(list[index])] = value ? value : "";
      }
    }
  }
  if (event) rd_kafka_event_destroy(event);
  rd_kafka_queue_destroy(queue);
  rd_kafka_ConfigResource_destroy(resource);
  if (!status) return status;
  return config;
}

}  // namespace

Result<std::optional<TopicDescription>> describe_topic(const std::string& bootstrap, const KafkaProperties& properties,
                                                       const std::string& topic, std::chrono::milliseconds timeout) {
  auto client = AdminClient::open(bootstrap, properties);
  if (!client) return client.status();
  auto metadata = all_topics(*client, bootstrap, timeout);
  if (!metadata) return metadata.status();
  std::optional<TopicDescription> described;
  for (int index = 0; index < (*metadata)->topic_cnt; ++index) {
    const auto& entry = (*metadata)->topics[index];
    if (topic != entry.topic || entry.err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
    described.emplace();
    described->partitions = entry.partition_cnt;
    for (int partition = 0; partition < entry.partition_cnt; ++partition) {
      if (entry.partitions[partition].id == 0) described->replication_factor = entry.partitions[partition].replica_cnt;
    }
  }
  if (!described) return described;
  auto config = topic_config(client->get(), topic, timeout);
  if (config) {
    described->config = std::move(config.value());
  } else {
    described->config_error = config.status().message();
  }
  return described;
}

Result<std::vector<std::string>> existing_topics(const std::string& bootstrap, const KafkaProperties& properties,
                                                 const std::vector<std::string>& topics,
                                                 std::chrono::milliseconds timeout) {
  auto client = AdminClient::open(bootstrap, properties);
  if (!client) return client.status();
  auto metadata = all_topics(*client, bootstrap, timeout);
  if (!metadata) return metadata.status();
  std::vector<std::string> found;
  for (const auto& topic : topics) {
    if (partition_count(**metadata, topic)) found.push_back(topic);
  }
  return found;
}

Status delete_topic(const std::string& bootstrap, const KafkaProperties& properties, const std::string& topic,
                    std::chrono::milliseconds timeout) {
  auto client = AdminClient::open(bootstrap, properties);
  if (!client) return client.status();
  char reason[512];
  rd_kafka_DeleteTopic_t* deleted = rd_kafka_DeleteTopic_new(topic.c_str());
  rd_kafka_AdminOptions_t* options = rd_kafka_AdminOptions_new(client->get(), RD_KAFKA_ADMIN_OP_DELETETOPICS);
  rd_kafka_AdminOptions_set_request_timeout(options, static_cast<int>(timeout.count()), reason, sizeof reason);
  rd_kafka_queue_t* queue = rd_kafka_queue_new(client->get());
  rd_kafka_DeleteTopics(client->get(), &deleted, 1, options, queue);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, static_cast<int>(timeout.count()) + 1000);
  Status status = Status::ok();
  if (!event) {
    status = Status::retryable("DeleteTopics got no answer");
  } else if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    status = Status::error(rd_kafka_event_error_string(event));
  } else {
    std::size_t count = 0;
    const rd_kafka_topic_result_t** results =
        rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(event), &count);
    status = topic_results(results, count, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
  }
  if (event) rd_kafka_event_destroy(event);
  rd_kafka_queue_destroy(queue);
  rd_kafka_AdminOptions_destroy(options);
  rd_kafka_DeleteTopic_destroy(deleted);
  return status.with_context("Kafka: deleting topic " + topic);
}

}  // namespace cutover
