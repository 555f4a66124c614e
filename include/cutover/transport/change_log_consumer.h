// ChangeLogConsumer: reads partition 0 of the change-log topic in offset order.
//
// The applier calls it. It assigns the partition explicitly (no consumer group: the applier
// keeps its offset in green, next to its applied position) and reports a gap, a missing
// offset or a start offset the broker no longer holds, as an error instead of skipping: a
// gap is a lost change unless blue's slot sends it again.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "cutover/common/result.h"
#include "cutover/transport/kafka_config.h"

namespace cutover {

struct ChangeLogMessage {
  std::int64_t offset = 0;
  std::string value;
};

class ChangeLogSource {
 public:
  virtual ~ChangeLogSource() = default;
  // The next message, or nothing when none arrived within `wait`.
  virtual Result<std::optional<ChangeLogMessage>> next(std::chrono::milliseconds wait) = 0;
  // Reads again from `offset`.
  virtual Status seek(std::int64_t offset) = 0;
};

struct ConsumerSettings {
  std::string bootstrap;
  std::string topic;
  KafkaProperties properties;  // the plan's kafka.properties
  // Counts, when set, each failed read (metrics); the end of the partition is none.
  std::atomic<std::uint64_t>* errors = nullptr;
};

class ChangeLogConsumer final : public ChangeLogSource {
 public:
  // Starts at `offset`; a negative offset means the beginning of what the partition holds.
  static Result<std::unique_ptr<ChangeLogConsumer>> create(const ConsumerSettings& settings,
                                                           std::int64_t offset);
  ~ChangeLogConsumer() override;

  Result<std::optional<ChangeLogMessage>> next(std::chrono::milliseconds wait) override;
  Status seek(std::int64_t offset) override;

 private:
  ChangeLogConsumer() = default;
  Status assign(std::int64_t offset);
  // Why the broker refused the expected offset, from the partition's watermarks: retention
  // (the log starts after it) or a log the brokers lost (it ends before it).
  std::string why_out_of_range();

  KafkaHandle handle_;
  std::string topic_;
  std::atomic<std::uint64_t>* errors_ = nullptr;
  std::optional<std::int64_t> expected_;  // the offset the next message must have
};

// The offset the next message appended to partition 0 of `topic` will get.
Result<std::int64_t> change_log_end_offset(const std::string& bootstrap, const std::string& topic,
                                           const KafkaProperties& properties);

}  // namespace cutover
