// The Debezium-form stream's snapshot (`kafka.debezium.snapshot_events`): every row of the
// plan's source tables as of the slot's consistent point, as Debezium's initial snapshot
// publishes it (`op: r`, `source.snapshot` first ... last), on each table's topic.
//
// `cutover run` publishes them during green's snapshot, under the same exported snapshot,
// and waits for Kafka to hold them all before streaming starts: so on every topic a row's
// `r` comes before any change of it, and a consumer that upserts by key ends equal to blue.
// A snapshot that fails is made again from the start, and publishes its rows again (as
// Debezium's does): a consumer may read a row's `r` twice, never after a later change.
//
// SnapshotRows is the seam to blue: PostgresSnapshotRows reads it; tests hand in a fake.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cutover/capture/pgoutput_decoder.h"
#include "cutover/common/libpq_session.h"
#include "cutover/common/result.h"
#include "cutover/debezium/event_encoder.h"
#include "cutover/transport/change_log_producer.h"

namespace cutover::debezium {

// What the publisher reads: one table after the other, each row once, in the table's order.
class SnapshotRows {
 public:
  // A row's text values, and whether no other row of its table follows it.
  using RowHandler = std::function<Status(const pgoutput::Tuple& row, bool last_of_table)>;
  virtual ~SnapshotRows() = default;
  virtual std::string database_name() const = 0;
  // The snapshot's transaction and when it was read; `consistent_point` is the slot's.
  virtual Result<EventEncoder::SnapshotPoint> point(Lsn consistent_point) = 0;
  // The table's published columns as a Relation message would describe them.
  virtual Result<pgoutput::Relation> describe(const std::string& schema, const std::string& table) = 0;
  virtual Status read(const pgoutput::Relation& table, const RowHandler& row) = 0;
};

// Blue's rows in the exported snapshot `snapshot_name`, in the text forms pgoutput sends
// (the session is pinned as capture's is), fetched through a cursor in batches.
class PostgresSnapshotRows final : public SnapshotRows {
 public:
  static Result<std::unique_ptr<PostgresSnapshotRows>> open(const std::string& dsn, const std::string& role,
                                                            const std::string& snapshot_name);
  std::string database_name() const override { return database_; }
  Result<EventEncoder::SnapshotPoint> point(Lsn consistent_point) override;
  Result<pgoutput::Relation> describe(const std::string& schema, const std::string& table) override;
  Status read(const pgoutput::Relation& table, const RowHandler& row) override;

 private:
  PostgresSnapshotRows(PgConnection connection, std::string role, std::string database)
      : connection_(std::move(connection)), role_(std::move(role)), database_(std::move(database)) {}
  PgConnection connection_;
  std::string role_;
  std::string database_;
};

struct SnapshotTableName {
  std::string schema;
  std::string name;
};

struct SnapshotEventCounts {
  std::atomic<std::uint64_t> rows{0};
  std::atomic<std::uint64_t> tables_done{0};
};

// Publishes every row of `tables`, in their order, and returns once Kafka acknowledged all
// of them (or at the first error; a stop is retryable).
Status publish_snapshot_events(EventEncoder& encoder, SnapshotRows& rows, const std::vector<SnapshotTableName>& tables,
                               Lsn consistent_point, ChangeLogSink& sink, const std::atomic<bool>& stop,
                               SnapshotEventCounts& counts);

}  // namespace cutover::debezium
