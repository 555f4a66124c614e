// ChangeLogProducer: writes change records to partition 0 of the change-log topic, and the
// Debezium-form stream's records to their own topics, all numbered in one sequence.
//
// Capture offers records in source order, each with the next sequence number, and learns
// from acknowledged_through() which of them Kafka holds durably (idempotent producer,
// acks=all). The answer is the unbroken run of acknowledged sequences: a report for a later
// record never covers an earlier one still waiting for a retry. Memory is bounded by librdkafka's queue:
// when it is full, offer() says so and capture waits, which in turn holds back blue's
// walsender through TCP; nothing buffers a whole transaction.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <map>
#include <set>
#include <string>

#include "cutover/transport/change_record.h"
#include "cutover/common/result.h"
#include "cutover/transport/kafka_config.h"

namespace cutover {

class ChangeLogSink {
 public:
  enum class Offer { kQueued, kQueueFull };
  virtual ~ChangeLogSink() = default;
  virtual Result<Offer> offer(const ChangeRecord& record, std::uint64_t sequence) = 0;
  // Serves delivery reports, waiting up to `wait` for one.
  virtual void serve(std::chrono::milliseconds wait) = 0;
  // Every record with a sequence at or below this one is durably in Kafka.
  virtual std::uint64_t acknowledged_through() const = 0;
  // The first delivery failure since creation; ok while none happened.
  virtual Status failure() const = 0;
  virtual Status flush(std::chrono::milliseconds timeout) = 0;
};

// What every producer of cutover's starts from: idempotent (order kept across retries), acks
// from every in-sync replica, batches as big as a change event may be, and Debezium-form keys
// partitioned as Kafka's Java clients do it. The change log and the exactly-once stream each
// add their own.
KafkaProperties ordered_producer_defaults();

struct ProducerSettings {
  std::string bootstrap;
  std::string topic;
  KafkaProperties properties;  // the plan's kafka.properties
  // Counts, when set, each record Kafka refused or failed to deliver (metrics).
  std::atomic<std::uint64_t>* errors = nullptr;
};

class ChangeLogProducer final : public ChangeLogSink {
 public:
  static Result<std::unique_ptr<ChangeLogProducer>> create(const ProducerSettings& settings);
  ~ChangeLogProducer() override;

  Result<Offer> offer(const ChangeRecord& record, std::uint64_t sequence) override;
  void serve(std::chrono::milliseconds wait) override;
  std::uint64_t acknowledged_through() const override;
  Status failure() const override;
  Status flush(std::chrono::milliseconds timeout) override;

 private:
  ChangeLogProducer() = default;
  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque);
  void record_failure(Status status);
  void count_error() const;
  void acknowledge(std::uint64_t sequence);
  // The handle of a Debezium-form topic, opened at its first record.
  rd_kafka_topic_t* other_topic(const std::string& name);

  KafkaHandle handle_;
  rd_kafka_topic_t* topic_ = nullptr;
  std::string topic_name_;
  std::atomic<std::uint64_t>* errors_ = nullptr;
  std::map<std::string, rd_kafka_topic_t*> other_topics_;
  mutable std::mutex mutex_;  // delivery reports come from librdkafka's thread
  bool offered_any_ = false;
  std::uint64_t acknowledged_ = 0;             // every sequence up to here is acknowledged
  std::set<std::uint64_t> acknowledged_ahead_;  // acknowledged beyond a gap
  Status failure_ = Status::ok();
};

}  // namespace cutover
