#include "cutover/transport/transactional_stream.h"

#include <nlohmann/json.hpp>

#include "cutover/common/logging.h"

namespace cutover {

namespace {

// The brokers' transaction.max.timeout.ms (15 minutes by default) bounds
// transaction.timeout.ms; capture commits far more often than that, a big source transaction
// in pieces.
KafkaProperties transactional_defaults(const std::string& transactional_id) {
  KafkaProperties defaults = ordered_producer_defaults();
  defaults["transaction.timeout.ms"] = "600000";
  defaults["transactional.id"] = transactional_id;
  return defaults;
}

constexpr auto kCommitTimeout = std::chrono::seconds(60);

// A failed transactional call as a Status; the error is destroyed.
Status status_of(rd_kafka_error_t* error, const std::string& what) {
  const std::string reason = rd_kafka_error_string(error);
  const rd_kafka_resp_err_t code = rd_kafka_error_code(error);
  rd_kafka_error_destroy(error);
  if (code == RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED ||
      code == RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED || code == RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION ||
      code == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE) {
    return Status::error("Kafka transactions " + what + ": " + reason +
                         " (the brokers do not allow them to this client: grant the transactional ID, or set "
                         "kafka.debezium.exactly_once: false for at-least-once delivery)");
  }
  // Any other failure, a fenced or fatal producer's too, ends the session: the next one
  // opens a new producer, which aborts what this one left open.
  return Status::retryable("Kafka transactions " + what + ": " + reason);
}

}  // namespace

std::string StreamPosition::to_json() const {
  return nlohmann::json{{"commit_lsn", commit_lsn.to_string()},
                        {"end_lsn", end_lsn.to_string()},
                        {"partial_commit_lsn", partial_commit_lsn.to_string()},
                        {"partial_records", partial_records},
                     {"source", source}}
      .dump();
}

Result<StreamPosition> StreamPosition::parse(const std::string& json) {
  const auto value = nlohmann::json::parse(json, nullptr, false);
  auto lsn = [&value](const char* field) -> std::optional<Lsn> {
    if (!value.is_object() || !value.contains(field) || !value[field].is_string()) return std::nullopt;
    return Lsn::parse(value[field].get<std::string>());
  };
  const auto commit = lsn("commit_lsn");
  const auto end = lsn("end_lsn");
  const auto partial = lsn("partial_commit_lsn");
  if (!commit || !end || !partial || !value.contains("partial_records") ||
      !value["partial_records"].is_number_unsigned()) {
    return Status::error("the Debezium-form stream's position record is not cutover's: " + json.substr(0, 200));
  }
  // A position without its source is read as one of no known source: it guides nothing.
  std::string source;
  if (value.contains("source") && value["source"].is_string()) source = value["source"].get<std::string>();
  return StreamPosition{*commit, *end, *partial, value["partial_records"].get<std::uint64_t>(), source};
}

Result<StreamPosition> read_committed_position(const std::string& bootstrap, const KafkaProperties& properties,
                                               const std::string& topic, const std::string& key,
                                               std::chrono::milliseconds timeout) {
  auto client = create_kafka_client(RD_KAFKA_CONSUMER, bootstrap,
                                    {{"group.id", "cutover-position-reader"},
                                     {"enable.auto.commit", "false"},
                                     {"enable.partition.eof", "true"},
                                     {"isolation.level", "read_committed"},
                                     {"fetch.max.bytes", std::to_string(kMaxChangeEventBytes)}},
                                    properties);
  if (!client) return client.status();
  std::int64_t low = 0;
  std::int64_t high = 0;
  const auto watermarks = rd_kafka_query_watermark_offsets(client->get(), topic.c_str(), 0, &low, &high,
                                                           static_cast<int>(timeout.count()));
  if (watermarks != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::retryable("reading " + topic + ": " + rd_kafka_err2str(watermarks));
  }
  // Each transaction adds its position record and a commit marker: the last few offsets hold
  // the last committed position unless many transactions in a row were aborted, and then the
  // whole partition is read.
  for (std::int64_t window : {std::int64_t{64}, high - low}) {
    const std::int64_t start = std::max(low, high - window);
    std::optional<StreamPosition> found;
    rd_kafka_topic_partition_list_t* assignment = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(assignment, topic.c_str(), 0)->offset = start;
    const auto assigned = rd_kafka_assign(client->get(), assignment);
    rd_kafka_topic_partition_list_destroy(assignment);
    if (assigned != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status::retryable("reading " + topic + ": " + rd_kafka_err2str(assigned));
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    bool at_end = start >= high;
    while (!at_end) {
      if (std::chrono::steady_clock::now() > deadline) {
        return Status::retryable("reading " + topic + ": no end in " + std::to_string(timeout.count()) + " ms");
      }
      rd_kafka_message_t* message = rd_kafka_consumer_poll(client->get(), 200);
      if (!message) continue;
      if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        at_end = true;
      } else if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        const std::string reason = rd_kafka_message_errstr(message);
        rd_kafka_message_destroy(message);
        return Status::retryable("reading " + topic + ": " + reason);
      } else if (message->key_len == key.size() && std::string(static_cast<const char*>(message->key),
                                                                message->key_len) == key) {
        auto position = StreamPosition::parse(std::string(static_cast<const char*>(message->payload), message->len));
        if (!position) {
          rd_kafka_message_destroy(message);
          return position.status();
        }
        found = *position;
      }
      rd_kafka_message_destroy(message);
    }
    if (found || start == low) {
      rd_kafka_consumer_close(client->get());
      return found.value_or(StreamPosition{});
    }
  }
  rd_kafka_consumer_close(client->get());
  return StreamPosition{};
}

Result<std::unique_ptr<KafkaTransactionalStream>> KafkaTransactionalStream::open(
    const TransactionalStreamSettings& settings, std::chrono::milliseconds timeout) {
  std::unique_ptr<KafkaTransactionalStream> stream(new KafkaTransactionalStream());
  stream->settings_ = settings;
  auto handle = create_kafka_client(RD_KAFKA_PRODUCER, settings.bootstrap,
                                    transactional_defaults(settings.transactional_id), settings.properties);
  if (!handle) return handle.status();
  stream->handle_ = std::move(handle.value());
  if (rd_kafka_error_t* error = rd_kafka_init_transactions(stream->handle_.get(), static_cast<int>(timeout.count()))) {
    return status_of(error, "could not start for " + settings.transactional_id);
  }
  auto committed = read_committed_position(settings.bootstrap, settings.properties, settings.position_topic,
                                           settings.position_key, timeout);
  if (!committed) return committed.status();
  stream->committed_ = *committed;
  spdlog::info("debezium stream exactly once transactional_id={} committed_lsn={} partial_records={}",
               settings.transactional_id, committed->commit_lsn.to_string(), committed->partial_records);
  return stream;
}

KafkaTransactionalStream::~KafkaTransactionalStream() {
  if (handle_ && in_transaction_) {
    // What it held is sent again from blue's slot, in the next session's transaction.
    if (rd_kafka_error_t* error = rd_kafka_abort_transaction(handle_.get(), 5000)) rd_kafka_error_destroy(error);
  }
  for (auto& [name, topic] : topics_) rd_kafka_topic_destroy(topic);
}

rd_kafka_topic_t* KafkaTransactionalStream::topic(const std::string& name) {
  auto found = topics_.find(name);
  if (found != topics_.end()) return found->second;
  rd_kafka_topic_t* opened = rd_kafka_topic_new(handle_.get(), name.c_str(), nullptr);
  if (opened) topics_.emplace(name, opened);
  return opened;
}

Status KafkaTransactionalStream::counted(Status failure) const {
  if (settings_.errors) ++*settings_.errors;
  return failure;
}

Result<ChangeLogSink::Offer> KafkaTransactionalStream::offer(const ChangeRecord& record) {
  if (!in_transaction_) {
    if (rd_kafka_error_t* error = rd_kafka_begin_transaction(handle_.get())) return counted(status_of(error, "begin"));
    in_transaction_ = true;
  }
  rd_kafka_topic_t* to = topic(record.topic);
  if (!to) return counted(Status::error("cannot open Kafka topic " + record.topic));
  const bool accepted =
      rd_kafka_produce(to, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
                       record.value_null ? nullptr : const_cast<char*>(record.value.data()),
                       record.value_null ? 0 : record.value.size(), record.key_null ? nullptr : record.key.data(),
                       record.key_null ? 0 : record.key.size(), nullptr) == 0;
  if (accepted) {
    ++uncommitted_;
    return ChangeLogSink::Offer::kQueued;
  }
  const rd_kafka_resp_err_t produced = rd_kafka_last_error();
  if (produced == RD_KAFKA_RESP_ERR__QUEUE_FULL) return ChangeLogSink::Offer::kQueueFull;
  if (produced == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
    return counted(Status::error("a Debezium-form event of " + std::to_string(record.value.size()) +
                                 " bytes exceeds message.max.bytes (raise kafka.properties message.max.bytes "
                                 "and the topic's max.message.bytes)"));
  }
  return counted(Status::retryable("cannot produce to " + record.topic + ": " + rd_kafka_err2str(produced)));
}

void KafkaTransactionalStream::serve(std::chrono::milliseconds wait) {
  rd_kafka_poll(handle_.get(), static_cast<int>(wait.count()));
}

Status KafkaTransactionalStream::commit(const StreamPosition& position) {
  if (!in_transaction_) {
    if (rd_kafka_error_t* error = rd_kafka_begin_transaction(handle_.get())) return counted(status_of(error, "begin"));
    in_transaction_ = true;
  }
  const std::string value = position.to_json();
  rd_kafka_topic_t* to = topic(settings_.position_topic);
  if (!to) return counted(Status::error("cannot open Kafka topic " + settings_.position_topic));
  while (rd_kafka_produce(to, 0, RD_KAFKA_MSG_F_COPY, const_cast<char*>(value.data()), value.size(),
                          settings_.position_key.data(), settings_.position_key.size(), nullptr) != 0) {
    if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      return counted(Status::retryable("cannot produce to " + settings_.position_topic + ": " +
                                       rd_kafka_err2str(rd_kafka_last_error())));
    }
    rd_kafka_poll(handle_.get(), 20);
  }
  rd_kafka_error_t* error =
      rd_kafka_commit_transaction(handle_.get(), static_cast<int>(std::chrono::milliseconds(kCommitTimeout).count()));
  in_transaction_ = false;
  if (error) {
    if (rd_kafka_error_txn_requires_abort(error)) {
      if (rd_kafka_error_t* aborted = rd_kafka_abort_transaction(handle_.get(), 30000)) {
        rd_kafka_error_destroy(aborted);
      }
    }
    return counted(status_of(error, "commit"));
  }
  committed_ = position;
  uncommitted_ = 0;
  return Status::ok();
}

}  // namespace cutover
