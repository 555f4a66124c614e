// EventEncoder: the same decoded pgoutput messages capture turns into its change log, as
// Debezium's PostgreSQL connector publishes them: a topic per table
// (<prefix>.<schema>.<table>), the primary key's struct as the key, the envelope
// {before, after, source, transaction, op, ts_ms, ts_us, ts_ns} with the source block
// Debezium's documentation lists, a tombstone after each delete, a key change as delete,
// tombstone and create, and BEGIN/END records on <prefix>.transaction. With `schemas`, each
// key and value is wrapped as Kafka Connect's JsonConverter wraps it ({"schema", "payload"}).
//
// Capture calls encode() for every message in stream order, next to its ChangeEncoder; the
// records go through Kafka transactions of their own (exactly once, transport/
// transactional_stream.h), or with the change log (at least once), and blue's slot is
// confirmed past a transaction only once Kafka holds them.
// Transactions of cutover's own applier of the other direction (`echo_origin`) are left
// out, as in the change log. Truncates and logical messages are left out as Debezium's
// defaults leave them out (skipped.operations=t; no message topic).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "cutover/capture/pgoutput_decoder.h"
#include "cutover/common/lsn.h"
#include "cutover/common/result.h"
#include "cutover/debezium/stream_settings.h"
#include "cutover/debezium/table_catalog.h"
#include "cutover/transport/change_record.h"

namespace cutover::debezium {

// The topic of a table's events: Debezium's, with characters Kafka does not allow as '_'.
std::string table_topic(const std::string& prefix, const std::string& schema, const std::string& table);
std::string transaction_topic(const std::string& prefix);
// `entries` in the order a java.util.HashMap filled in their order iterates them.
std::vector<std::pair<std::string, std::uint64_t>> in_java_hash_map_order(
    const std::vector<std::pair<std::string, std::uint64_t>>& entries);

class EventEncoder {
 public:
  EventEncoder(StreamSettings settings, std::string database_name, TableCatalog& catalog,
               std::string echo_origin = "");

  // `message_lsn` is the XLogData start of the message. Appends 0..n records. An error is
  // retryable when the catalog could not be read, and final for a column Debezium's mapping
  // does not cover or a value the codec cannot read.
  Status encode(const pgoutput::Message& message, Lsn message_lsn, std::vector<ChangeRecord>& records);

  const std::string& topic_prefix() const { return settings_.topic_prefix; }

  // Forgets a transaction cut off by a lost connection; the server sends it again whole.
  void reset_transaction() { transaction_.reset(); }

  // Debezium's source.snapshot of a snapshot row: the first of the whole snapshot, the first
  // and the last of a table's, the last of the whole snapshot, or any other.
  enum class SnapshotMark { kFirst, kFirstInTable, kOther, kLastInTable, kLast };
  // Where the snapshot's rows come from: its transaction, the slot's consistent point, the
  // time it was read.
  struct SnapshotPoint {
    std::uint64_t xid = 0;
    Lsn lsn;
    std::int64_t unix_microseconds = 0;
  };
  // One row of the initial snapshot, as the `r` event Debezium's snapshot writes (no
  // transaction block, no transaction record). The table must have been described by a
  // Relation message given to encode().
  Status encode_snapshot_row(std::uint32_t relation_oid, const pgoutput::Tuple& row, SnapshotMark mark,
                             const SnapshotPoint& point, std::vector<ChangeRecord>& records);

 private:
  struct Column {
    std::string name;
    ColumnType type;
    std::string default_json;  // the schema's default; empty when none
    bool in_key = false;
  };
  // What one Relation message and the catalog say of a table, with its schemas written once.
  struct Table {
    std::string schema;
    std::string name;
    std::string topic;
    std::vector<Column> columns;        // pgoutput's columns, in its order
    std::vector<std::size_t> key;       // indexes into columns, in the primary key's order
    std::string key_schema;             // JSON
    std::string envelope_schema;        // JSON
  };
  struct Transaction {
    pgoutput::Begin begin;
    Lsn first_lsn;
    std::string origin;
    std::optional<Lsn> origin_lsn;
    bool echo = false;
    bool begin_written = false;
    std::uint64_t total_order = 0;
    std::vector<std::pair<std::string, std::uint64_t>> collections;  // "schema.table", events
  };
  enum class Op : char { kCreate = 'c', kUpdate = 'u', kDelete = 'd', kRead = 'r' };
  // A row image: the tuple, whether only its key columns are real ('K'), and the old row
  // that holds the values of unchanged TOAST columns, when the identity is FULL.
  struct Image {
    const pgoutput::Tuple* tuple = nullptr;
    bool key_only = false;
    const pgoutput::Tuple* old_full = nullptr;
  };

  // The source block's fields that differ from event to event.
  struct SourcePoint {
    std::int64_t unix_microseconds = 0;
    const char* snapshot = "false";
    std::string sequence;  // JSON text of Debezium's ["<last commit LSN>","<LSN>"]
    std::uint64_t xid = 0;
    Lsn lsn;
    const std::string* origin = nullptr;  // empty or null: none
    std::optional<Lsn> origin_lsn;
  };

  Status remember(const pgoutput::Relation& relation);
  Status row_event(const Table& table, Op op, const Image& before, const Image& after, Lsn lsn,
                   std::vector<ChangeRecord>& records);
  // `transaction_block` is the event's JSON transaction block, or empty for null.
  Status append_event(const Table& table, Op op, const Image& before, const Image& after, const SourcePoint& source,
                      const std::string& transaction_block, std::vector<ChangeRecord>& records) const;
  Status write_image(JsonWriter& out, const Table& table, const Image& image) const;
  Status write_key(std::string& key, const Table& table, const pgoutput::Tuple& tuple) const;
  void write_source(JsonWriter& out, const Table& table, const SourcePoint& source) const;
  void write_transaction_begin(std::vector<ChangeRecord>& records);
  void write_transaction_end(Lsn commit_lsn, std::vector<ChangeRecord>& records);
  std::string wrap(const std::string& schema, const std::string& payload) const;
  bool same_key(const Table& table, const pgoutput::Tuple& old_tuple, const pgoutput::Tuple& new_tuple) const;

  StreamSettings settings_;
  std::string database_name_;
  TableCatalog& catalog_;
  std::string echo_origin_;
  std::string source_schema_;  // the source block's schema, the same for every table
  std::unordered_map<std::uint32_t, Table> tables_;
  std::optional<Transaction> transaction_;
  std::optional<Lsn> last_commit_lsn_;  // the first of source.sequence
};

}  // namespace cutover::debezium
