#include "cutover/transport/change_log_producer.h"

#include "cutover/common/logging.h"

namespace cutover {

KafkaProperties ordered_producer_defaults() {
  return {
      {"enable.idempotence", "true"},
      {"acks", "all"},
      {"linger.ms", "5"},
      {"batch.size", "1000000"},
      {"queue.buffering.max.messages", "100000"},
      {"queue.buffering.max.kbytes", "65536"},
      {"message.max.bytes", std::to_string(kMaxChangeEventBytes)},
      {"compression.codec", "none"},
      // Debezium-form topics are partitioned by key as Kafka's Java clients do it, so a key
      // lands where a consumer of Debezium's own topics expects it (the change log names
      // partition 0 itself).
      {"partitioner", "murmur2_random"},
  };
}

namespace {
// A change log must neither reorder nor lose nor give up: an infinite message timeout means a
// broker outage stalls capture instead of dropping changes. The gapless guarantee makes a
// record the brokers refuse for good (too large, say) stop the producer: without it, the
// records after it are still written, and the log has a hole.
KafkaProperties change_log_defaults() {
  KafkaProperties defaults = ordered_producer_defaults();
  defaults["enable.gapless.guarantee"] = "true";
  defaults["message.timeout.ms"] = "0";
  return defaults;
}
}  // namespace

Result<std::unique_ptr<ChangeLogProducer>> ChangeLogProducer::create(
    const ProducerSettings& settings) {
  std::unique_ptr<ChangeLogProducer> producer(new ChangeLogProducer());
  auto* self = producer.get();
  auto handle = create_kafka_client(RD_KAFKA_PRODUCER, settings.bootstrap, change_log_defaults(),
                                    settings.properties, [self](rd_kafka_conf_t* config) {
                                      rd_kafka_conf_set_dr_msg_cb(config, on_delivery);
                                      rd_kafka_conf_set_opaque(config, self);
                                    });
  if (!handle) return handle.status();
  producer->handle_ = std::move(handle.value());
  producer->topic_name_ = settings.topic;
  producer->errors_ = settings.errors;
  producer->topic_ = rd_kafka_topic_new(producer->handle_.get(), settings.topic.c_str(), nullptr);
  if (!producer->topic_) {
    return Status::error("cannot open Kafka topic " + settings.topic + ": " +
                         rd_kafka_err2str(rd_kafka_last_error()));
  }
  return producer;
}

ChangeLogProducer::~ChangeLogProducer() {
  if (topic_) rd_kafka_topic_destroy(topic_);
  for (auto& [name, topic] : other_topics_) rd_kafka_topic_destroy(topic);
  if (handle_) {
    // Whatever was not acknowledged is sent again from blue's slot on the next start.
    rd_kafka_purge(handle_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(handle_.get(), 0);
  }
}

void ChangeLogProducer::on_delivery(rd_kafka_t*, const rd_kafka_message_t* message,
                                    void* opaque) {
  auto* self = static_cast<ChangeLogProducer*>(opaque);
  if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    self->acknowledge(reinterpret_cast<std::uintptr_t>(message->_private));
    return;
  }
  if (message->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE ||
      message->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT) {
    return;
  }
  self->count_error();
  const std::string reason = rd_kafka_err2str(message->err);
  if (message->err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ||
      message->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED) {
    self->record_failure(Status::error("Kafka refused a change event of " +
                                       std::to_string(message->len) + " bytes for topic " +
                                       rd_kafka_topic_name(message->rkt) + ": " + reason));
  } else {
    self->record_failure(Status::retryable("Kafka delivery failed: " + reason));
  }
}

void ChangeLogProducer::acknowledge(std::uint64_t sequence) {
  std::lock_guard lock(mutex_);
  acknowledged_ahead_.insert(sequence);
  while (!acknowledged_ahead_.empty() && *acknowledged_ahead_.begin() == acknowledged_ + 1) {
    acknowledged_ = *acknowledged_ahead_.begin();
    acknowledged_ahead_.erase(acknowledged_ahead_.begin());
  }
}

std::uint64_t ChangeLogProducer::acknowledged_through() const {
  std::lock_guard lock(mutex_);
  return acknowledged_;
}

void ChangeLogProducer::count_error() const {
  if (errors_) ++*errors_;
}

void ChangeLogProducer::record_failure(Status status) {
  std::lock_guard lock(mutex_);
  if (failure_.is_ok()) failure_ = std::move(status);
}

Status ChangeLogProducer::failure() const {
  std::lock_guard lock(mutex_);
  return failure_;
}

Result<ChangeLogSink::Offer> ChangeLogProducer::offer(const ChangeRecord& record,
                                                      std::uint64_t sequence) {
  {
    // A replacement producer starts where capture's sequence numbers are now.
    std::lock_guard lock(mutex_);
    if (!offered_any_) {
      offered_any_ = true;
      acknowledged_ = sequence - 1;
    }
  }
  rd_kafka_topic_t* topic = topic_;
  std::int32_t partition = 0;
  if (!record.topic.empty()) {
    topic = other_topic(record.topic);
    if (!topic) {
      count_error();
      const Status status = Status::error("cannot open Kafka topic " + record.topic + ": " +
                                          rd_kafka_err2str(rd_kafka_last_error()));
      record_failure(status);
      return status;
    }
    partition = RD_KAFKA_PARTITION_UA;
  }
  // rd_kafka_produce rather than the producev macros, which are C casts underneath.
  const bool accepted =
      rd_kafka_produce(topic, partition, RD_KAFKA_MSG_F_COPY,
                       record.value_null ? nullptr : const_cast<char*>(record.value.data()),
                       record.value_null ? 0 : record.value.size(), record.key_null ? nullptr : record.key.data(),
                       record.key_null ? 0 : record.key.size(),
                       reinterpret_cast<void*>(static_cast<std::uintptr_t>(sequence))) == 0;
  const rd_kafka_resp_err_t produced =
      accepted ? RD_KAFKA_RESP_ERR_NO_ERROR : rd_kafka_last_error();
  if (produced == RD_KAFKA_RESP_ERR_NO_ERROR) return Offer::kQueued;
  if (produced == RD_KAFKA_RESP_ERR__QUEUE_FULL) return Offer::kQueueFull;
  count_error();
  const std::string reason = rd_kafka_err2str(produced);
  Status status = Status::retryable("cannot produce to " + (record.topic.empty() ? topic_name_ : record.topic) + ": " + reason);
  if (produced == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
    status = Status::error("a change event of " + std::to_string(record.value.size()) +
                           " bytes exceeds message.max.bytes: " + reason +
                           " (raise kafka.properties message.max.bytes and the topic's "
                           "max.message.bytes)");
  } else if (produced == RD_KAFKA_RESP_ERR__FATAL) {
    char fatal[512];
    rd_kafka_fatal_error(handle_.get(), fatal, sizeof fatal);
    status = Status::retryable(std::string("Kafka producer fatal error: ") + fatal);
  }
  // The sequence of a record that was never queued can never be acknowledged, so this
  // producer is done: capture replaces it and resumes from blue's slot.
  record_failure(status);
  return status;
}

rd_kafka_topic_t* ChangeLogProducer::other_topic(const std::string& name) {
  auto found = other_topics_.find(name);
  if (found != other_topics_.end()) return found->second;
  rd_kafka_topic_t* topic = rd_kafka_topic_new(handle_.get(), name.c_str(), nullptr);
  if (topic) other_topics_.emplace(name, topic);
  return topic;
}

void ChangeLogProducer::serve(std::chrono::milliseconds wait) {
  rd_kafka_poll(handle_.get(), static_cast<int>(wait.count()));
  char reason[512];
  if (rd_kafka_fatal_error(handle_.get(), reason, sizeof reason) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    record_failure(Status::retryable(std::string("Kafka producer fatal error: ") + reason));
  }
}

Status ChangeLogProducer::flush(std::chrono::milliseconds timeout) {
  const auto result = rd_kafka_flush(handle_.get(), static_cast<int>(timeout.count()));
  if (result != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::retryable(std::string("Kafka flush: ") + rd_kafka_err2str(result));
  }
  return failure();
}

}  // namespace cutover
