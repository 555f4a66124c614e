#include "cutover/debezium/snapshot_events.h"

#include <chrono>

#include "cutover/common/logging.h"
#include "cutover/common/postgres_connection.h"

namespace cutover::debezium {

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kFetchRows = 1000;
constexpr auto kProgressInterval = std::chrono::seconds(5);
constexpr auto kFlushTimeout = std::chrono::minutes(5);

// Debezium's marker: the snapshot's very last row wins over its first, which wins over a
// table's last, which wins over a table's first (so a table of one row is marked its first
// when it is the first table, else its last; the golden test holds a first table of one row).
EventEncoder::SnapshotMark mark_of(bool first_table, bool last_table, bool first_row, bool last_row) {
  using Mark = EventEncoder::SnapshotMark;
  if (last_table && last_row) return Mark::kLast;
  if (first_table && first_row) return Mark::kFirst;
  if (last_row) return Mark::kLastInTable;
  if (first_row) return Mark::kFirstInTable;
  return Mark::kOther;
}

// A string literal (the session has standard_conforming_strings on).
std::string sql_literal(const std::string& text) {
  std::string quoted = "'";
  for (char character : text) quoted += character == '\'' ? std::string("''") : std::string(1, character);
  return quoted + "'";
}

// Offers `record` with `sequence`, serving delivery reports while librdkafka's queue is full.
Status offer_all(ChangeLogSink& sink, const ChangeRecord& record, std::uint64_t sequence,
                 const std::atomic<bool>& stop) {
  while (true) {
    auto offered = sink.offer(record, sequence);
    if (!offered) return offered.status();
    if (*offered == ChangeLogSink::Offer::kQueued) return Status::ok();
    if (stop.load()) return Status::retryable("debezium snapshot: stopped");
    sink.serve(std::chrono::milliseconds(100));
    if (auto failed = sink.failure(); !failed) return failed;
  }
}

}  // namespace

Result<std::unique_ptr<PostgresSnapshotRows>> PostgresSnapshotRows::open(const std::string& dsn,
                                                                         const std::string& role,
                                                                         const std::string& snapshot_name) {
  auto connection = connect_libpq(dsn, role);
  if (!connection) return connection.status();
  // Not READ ONLY: txid_current(), which names the snapshot's transaction as Debezium's does,
  // gives it an ID.
  if (auto begun = run_libpq(connection->get(), "BEGIN ISOLATION LEVEL REPEATABLE READ", role); !begun) return begun;
  if (auto imported = run_libpq(connection->get(), "SET TRANSACTION SNAPSHOT '" + snapshot_name + "'",
                                role + ": importing the slot's snapshot for the Debezium-form snapshot");
      !imported) {
    return imported;
  }
  auto database = query_libpq(connection->get(), "SELECT current_database()", role);
  if (!database) return database.status();
  std::string name = PQgetvalue(database->get(), 0, 0);
  return std::unique_ptr<PostgresSnapshotRows>(
      new PostgresSnapshotRows(std::move(connection.value()), role, std::move(name)));
}

Result<EventEncoder::SnapshotPoint> PostgresSnapshotRows::point(Lsn consistent_point) {
  auto read = query_libpq(connection_.get(),
                          "SELECT txid_current(), (extract(epoch FROM clock_timestamp()) * 1000000)::bigint", role_);
  if (!read) return read.status();
  EventEncoder::SnapshotPoint point;
  point.xid = std::stoull(PQgetvalue(read->get(), 0, 0));
  point.unix_microseconds = std::stoll(PQgetvalue(read->get(), 0, 1));
  point.lsn = consistent_point;
  return point;
}

Result<pgoutput::Relation> PostgresSnapshotRows::describe(const std::string& schema, const std::string& table) {
  const std::string qualified = quote_identifier(schema) + "." + quote_identifier(table);
  // pgoutput's columns: not dropped, not generated (a publication leaves those out unless it
  // publishes generated columns, which cutover's does not), in attribute order.
  auto read = query_libpq(connection_.get(),
                          "SELECT c.oid, c.relreplident, a.attname, a.atttypid, a.atttypmod FROM pg_class c "
                          "JOIN pg_attribute a ON a.attrelid = c.oid WHERE c.oid = to_regclass(" +
                              sql_literal(qualified) + ") AND a.attnum > 0 AND NOT a.attisdropped "
                              "AND a.attgenerated = '' ORDER BY a.attnum",
                          role_ + ": describing " + schema + "." + table);
  if (!read) return read.status();
  PGresult* rows = read->get();
  if (PQntuples(rows) == 0) return Status::error(role_ + ": " + schema + "." + table + " has no columns to publish");
  pgoutput::Relation relation;
  relation.oid = static_cast<std::uint32_t>(std::stoul(PQgetvalue(rows, 0, 0)));
  relation.schema = schema;
  relation.name = table;
  relation.replica_identity = PQgetvalue(rows, 0, 1)[0];
  for (int row = 0; row < PQntuples(rows); ++row) {
    pgoutput::RelationColumn column;
    column.name = PQgetvalue(rows, row, 2);
    column.type_oid = static_cast<std::uint32_t>(std::stoul(PQgetvalue(rows, row, 3)));
    column.type_modifier = std::stoi(PQgetvalue(rows, row, 4));
    relation.columns.push_back(std::move(column));
  }
  return relation;
}

Status PostgresSnapshotRows::read(const pgoutput::Relation& table, const RowHandler& handle) {
  std::string columns;
  for (const auto& column : table.columns) columns += (columns.empty() ? "" : ", ") + quote_identifier(column.name);
  const std::string what = role_ + ": reading " + table.schema + "." + table.name + " for the Debezium-form snapshot";
  // Heap order, as Debezium's SELECT * reads it.
  if (auto declared = run_libpq(connection_.get(),
                                "DECLARE cutover_snapshot_events NO SCROLL CURSOR FOR SELECT " + columns + " FROM " +
                                    quote_identifier(table.schema) + "." + quote_identifier(table.name),
                                what);
      !declared) {
    return declared;
  }
  const std::string fetch = "FETCH " + std::to_string(kFetchRows) + " FROM cutover_snapshot_events";
  auto current = query_libpq(connection_.get(), fetch, what);
  if (!current) return current.status();
  pgoutput::Tuple tuple(table.columns.size());
  while (PQntuples(current->get()) > 0) {
    // The next batch is read before the current one's last row goes, to know it is the last.
    Result<PgResult> next = PgResult();
    if (PQntuples(current->get()) == kFetchRows) {
      next = query_libpq(connection_.get(), fetch, what);
      if (!next) return next.status();
    }
    const bool more = next->get() != nullptr && PQntuples(next->get()) > 0;
    PGresult* rows = current->get();
    const int count = PQntuples(rows);
    for (int row = 0; row < count; ++row) {
      for (int column = 0; column < static_cast<int>(tuple.size()); ++column) {
        if (PQgetisnull(rows, row, column)) {
          tuple[column] = {pgoutput::ValueKind::kNull, {}};
        } else {
          tuple[column] = {pgoutput::ValueKind::kText,
                           std::string_view(PQgetvalue(rows, row, column),
                                            static_cast<std::size_t>(PQgetlength(rows, row, column)))};
        }
      }
      if (auto handled = handle(tuple, !more && row == count - 1); !handled) return handled;
    }
    if (!more) break;
    current = std::move(next);
  }
  return run_libpq(connection_.get(), "CLOSE cutover_snapshot_events", what);
}

Status publish_snapshot_events(EventEncoder& encoder, SnapshotRows& rows, const std::vector<SnapshotTableName>& tables,
                               Lsn consistent_point, ChangeLogSink& sink, const std::atomic<bool>& stop,
                               SnapshotEventCounts& counts) {
  auto point = rows.point(consistent_point);
  if (!point) return point.status();
  std::uint64_t sequence = 0;
  std::vector<ChangeRecord> records;
  auto last_report = Clock::now();
  for (std::size_t index = 0; index < tables.size(); ++index) {
    const auto& name = tables[index];
    auto relation = rows.describe(name.schema, name.name);
    if (!relation) return relation.status();
    records.clear();
    if (auto described = encoder.encode(*relation, consistent_point, records); !described) return described;
    std::uint64_t table_rows = 0;
    const bool first_table = index == 0;
    const bool last_table = index + 1 == tables.size();
    auto publish = [&](const pgoutput::Tuple& row, bool last_row) -> Status {
      if (stop.load()) return Status::retryable("debezium snapshot: stopped");
      records.clear();
      const auto mark = mark_of(first_table, last_table, table_rows == 0, last_row);
      if (auto encoded = encoder.encode_snapshot_row(relation->oid, row, mark, *point, records); !encoded) {
        return encoded;
      }
      for (const auto& record : records) {
        if (auto offered = offer_all(sink, record, ++sequence, stop); !offered) return offered;
      }
      ++table_rows;
      ++counts.rows;
      sink.serve(std::chrono::milliseconds(0));
      if (Clock::now() - last_report >= kProgressInterval) {
        last_report = Clock::now();
        spdlog::info("debezium snapshot progress table={}.{} rows={} acknowledged={}", name.schema, name.name,
                     table_rows, sink.acknowledged_through());
      }
      return Status::ok();
    };
    if (auto read = rows.read(*relation, publish); !read) return read;
    ++counts.tables_done;
    spdlog::info("debezium snapshot table={}.{} rows={} topic={}", name.schema, name.name, table_rows,
                 table_topic(encoder.topic_prefix(), name.schema, name.name));
  }
  if (auto flushed = sink.flush(kFlushTimeout); !flushed) return flushed;
  if (auto failed = sink.failure(); !failed) return failed;
  if (sink.acknowledged_through() < sequence) {
    return Status::retryable("debezium snapshot: Kafka acknowledged " + std::to_string(sink.acknowledged_through()) +
                             " of " + std::to_string(sequence) + " records");
  }
  spdlog::info("debezium snapshot published rows={} records={} tables={}", counts.rows.load(), sequence,
               tables.size());
  return Status::ok();
}

}  // namespace cutover::debezium
