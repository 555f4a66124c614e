#include "cutover/transport/change_log_consumer.h"

namespace cutover {

namespace {
const KafkaProperties kConsumerDefaults = {
    // Required by librdkafka for a consumer handle; no group is joined (explicit assignment).
    {"group.id", "cutover-applier"},
    {"enable.auto.commit", "false"},
    {"enable.auto.offset.store", "false"},
    // A start offset the broker no longer holds is an error, never a silent jump.
    {"auto.offset.reset", "error"},
    {"fetch.max.bytes", std::to_string(kMaxChangeEventBytes)},
    {"message.max.bytes", std::to_string(kMaxChangeEventBytes)},
    // Bounded read-ahead: the applier's memory does not grow with the log.
    {"queued.max.messages.kbytes", "65536"},
    {"fetch.wait.max.ms", "10"},
};
}  // namespace

Result<std::unique_ptr<ChangeLogConsumer>> ChangeLogConsumer::create(
    const ConsumerSettings& settings, std::int64_t offset) {
  std::unique_ptr<ChangeLogConsumer> consumer(new ChangeLogConsumer());
  auto handle = create_kafka_client(RD_KAFKA_CONSUMER, settings.bootstrap, kConsumerDefaults,
                                    settings.properties);
  if (!handle) return handle.status();
  consumer->handle_ = std::move(handle.value());
  consumer->topic_ = settings.topic;
  consumer->errors_ = settings.errors;
  if (auto assigned = consumer->assign(offset); !assigned) return assigned;
  return consumer;
}

ChangeLogConsumer::~ChangeLogConsumer() {
  if (handle_) rd_kafka_consumer_close(handle_.get());
}

Status ChangeLogConsumer::assign(std::int64_t offset) {
  rd_kafka_topic_partition_list_t* partitions = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(partitions, topic_.c_str(), 0)->offset =
      offset < 0 ? RD_KAFKA_OFFSET_BEGINNING : offset;
  const rd_kafka_resp_err_t result = rd_kafka_assign(handle_.get(), partitions);
  rd_kafka_topic_partition_list_destroy(partitions);
  if (result != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::retryable("cannot read " + topic_ + " partition 0: " + rd_kafka_err2str(result));
  }
  expected_ = offset < 0 ? std::nullopt : std::optional<std::int64_t>(offset);
  return Status::ok();
}

Status ChangeLogConsumer::seek(std::int64_t offset) { return assign(offset); }

Result<std::optional<ChangeLogMessage>> ChangeLogConsumer::next(std::chrono::milliseconds wait) {
  rd_kafka_message_t* message =
      rd_kafka_consumer_poll(handle_.get(), static_cast<int>(wait.count()));
  if (!message) return std::optional<ChangeLogMessage>();
  const rd_kafka_resp_err_t error = message->err;
  const std::int64_t offset = message->offset;
  ChangeLogMessage result;
  if (error == RD_KAFKA_RESP_ERR_NO_ERROR) {
    result.offset = offset;
    result.value.assign(static_cast<const char*>(message->payload), message->len);
  }
  const std::string reason = error ? rd_kafka_message_errstr(message) : "";
  rd_kafka_message_destroy(message);

  if (error == RD_KAFKA_RESP_ERR__PARTITION_EOF) return std::optional<ChangeLogMessage>();
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR && errors_) ++*errors_;
  if (error == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET || error == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
    return Status::of(ErrorKind::kLogGap, "the change log no longer holds offset " +
                             std::to_string(expected_.value_or(-1)) + " of " + topic_ + " (" +
                             why_out_of_range() + "): " + reason);
  }
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::retryable("reading " + topic_ + ": " + reason);
  }
  if (expected_ && result.offset != *expected_) {
    return Status::of(ErrorKind::kLogGap, "the change log skips from offset " + std::to_string(*expected_) +
                             " to " + std::to_string(result.offset) + " in " + topic_ +
                             " (retention dropped changes before they were applied)");
  }
  expected_ = result.offset + 1;
  return std::optional<ChangeLogMessage>(std::move(result));
}

std::string ChangeLogConsumer::why_out_of_range() {
  std::int64_t low = 0;
  std::int64_t high = 0;
  if (!expected_ ||
      rd_kafka_query_watermark_offsets(handle_.get(), topic_.c_str(), 0, &low, &high, 5000) !=
          RD_KAFKA_RESP_ERR_NO_ERROR) {
    return "retention dropped it before it was applied, or the brokers lost the log";
  }
  if (high < *expected_) {
    return "the log now ends at offset " + std::to_string(high) +
           ", before what was read already: the brokers lost it (restarted without their data, the "
           "topic deleted and made again, or another cluster)";
  }
  return "the log now starts at offset " + std::to_string(low) + ": retention dropped it before it was applied";
}

Result<std::int64_t> change_log_end_offset(const std::string& bootstrap, const std::string& topic,
                                           const KafkaProperties& properties) {
  auto client = create_kafka_client(RD_KAFKA_CONSUMER, bootstrap, kConsumerDefaults, properties);
  if (!client) return client.status();
  std::int64_t low = 0;
  std::int64_t high = 0;
  const rd_kafka_resp_err_t result =
      rd_kafka_query_watermark_offsets(client->get(), topic.c_str(), 0, &low, &high, 10000);
  if (result != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::retryable("cannot read the end of " + topic + ": " + rd_kafka_err2str(result));
  }
  return high;
}

}  // namespace cutover
