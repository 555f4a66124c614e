// TransactionalStream: the Debezium-form records delivered exactly once (kafka.debezium
// exactly_once), through Kafka transactions tied to the source's position.
//
// Each Kafka transaction holds whole source transactions (or the first records of one too
// big to wait for) and, last, a record on the stream's position topic saying how far they
// reach. A consumer reading committed records (isolation.level=read_committed) sees a
// transaction all or nothing; a producer that died mid-way is fenced by the next one with the
// same transactional.id, and its open transaction aborted. Capture reads the committed
// position when a session starts and leaves out what Kafka already holds: blue's slot sends
// again from its confirmed position, which never passes the committed one.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "cutover/common/lsn.h"
#include "cutover/common/result.h"
#include "cutover/transport/change_log_producer.h"
#include "cutover/transport/change_record.h"
#include "cutover/transport/kafka_config.h"

namespace cutover {

// How far the records committed to Kafka reach in the source's transactions.
struct StreamPosition {
  Lsn commit_lsn;  // the last source transaction wholly committed: its commit record
  Lsn end_lsn;     // and its end, where blue's slot may be confirmed to
  Lsn partial_commit_lsn;  // a transaction after it whose first records are committed; 0: none
  std::uint64_t partial_records = 0;
  // Whose LSNs these are: the source's "<system identifier>/<timeline>/<database>"
  // (StreamSource::id); empty in a position without one.
  std::string source;

  std::string to_json() const;
  static Result<StreamPosition> parse(const std::string& json);
  bool operator==(const StreamPosition&) const = default;
};

class TransactionalStream {
 public:
  virtual ~TransactionalStream() = default;
  // What the stream's last committed transaction says; read when it was opened.
  virtual StreamPosition committed() const = 0;
  // Queues `record` in the open Kafka transaction (begun with the first).
  virtual Result<ChangeLogSink::Offer> offer(const ChangeRecord& record) = 0;
  virtual void serve(std::chrono::milliseconds wait) = 0;
  // Commits the open transaction with `position` as its last record; waits for the brokers.
  virtual Status commit(const StreamPosition& position) = 0;
  // Records queued since the last commit.
  virtual std::uint64_t uncommitted() const = 0;
};

struct TransactionalStreamSettings {
  std::string bootstrap;
  KafkaProperties properties;  // the plan's kafka.properties
  std::string transactional_id;
  std::string position_topic;
  std::string position_key;  // the plan and direction, so the topic says whose position it is
  // Counts, when set, each record or transaction the brokers refused or failed (metrics).
  std::atomic<std::uint64_t>* errors = nullptr;
};

class KafkaTransactionalStream final : public TransactionalStream {
 public:
  // Creates the producer, fences any earlier one of the same transactional.id (aborting its
  // open transaction), and reads the committed position. Retryable when the brokers cannot
  // be reached; an error when they do not support transactions.
  static Result<std::unique_ptr<KafkaTransactionalStream>> open(const TransactionalStreamSettings& settings,
                                                                std::chrono::milliseconds timeout);
  ~KafkaTransactionalStream() override;

  StreamPosition committed() const override { return committed_; }
  Result<ChangeLogSink::Offer> offer(const ChangeRecord& record) override;
  void serve(std::chrono::milliseconds wait) override;
  Status commit(const StreamPosition& position) override;
  std::uint64_t uncommitted() const override { return uncommitted_; }

 private:
  KafkaTransactionalStream() = default;
  rd_kafka_topic_t* topic(const std::string& name);
  // `failure`, counted in settings_.errors.
  Status counted(Status failure) const;

  TransactionalStreamSettings settings_;
  KafkaHandle handle_;
  std::map<std::string, rd_kafka_topic_t*> topics_;
  StreamPosition committed_;
  bool in_transaction_ = false;
  std::uint64_t uncommitted_ = 0;
};

// The last position committed on `topic` (partition 0) for `key`, read as a read_committed
// consumer; a default position when there is none.
Result<StreamPosition> read_committed_position(const std::string& bootstrap, const KafkaProperties& properties,
                                               const std::string& topic, const std::string& key,
                                               std::chrono::milliseconds timeout);

}  // namespace cutover
