// ChangeEvent: one change-log message as the applier needs it (see docs/change-events.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cutover/apply/row_image.h"
#include "cutover/common/lsn.h"
#include "cutover/common/postgres_connection.h"
#include "cutover/common/result.h"
#include "cutover/transform/table_transform.h"

namespace cutover {

struct ChangeEvent {
  enum class Kind { kBegin, kEnd, kRow, kSchema, kTruncate, kMessage };
  Kind kind = Kind::kRow;
  std::int64_t offset = 0;
  Lsn commit_lsn;
  Lsn end_lsn;              // kEnd only
  // kBegin: where the transaction before it in the log ended (source.previous_end_lsn);
  // absent from the first transaction a capture session writes, and from older logs.
  std::optional<Lsn> previous_end_lsn;
  std::int64_t commit_ts_ms = 0;
  QualifiedName table;      // kRow, kSchema, kTruncate
  char op = 0;              // kRow: 'c', 'u' or 'd'
  std::optional<RowImage> before;  // source row before (key columns only, or full)
  std::optional<RowImage> after;   // source row after
  std::vector<std::string> unchanged_toast;
  // kRow and kTruncate: the event's number in its source transaction (source.sequence), and
  // kEnd: how many such events the transaction has (event_count). Absent from a log written
  // before capture numbered them. The applier checks them to find a gap in the log.
  std::optional<std::uint64_t> sequence;
  std::optional<std::uint64_t> event_count;
  std::vector<SourceColumn> schema_columns;  // kSchema: the table's columns, as SQL types
  std::uint32_t relation_oid = 0;            // kSchema: the table's OID on the source; 0 unknown
  std::string message_prefix;     // kMessage
  std::string message_content;  // the bytes written, decoded from the event's hex
  std::size_t bytes = 0;
};

// Reads the envelope's fields without building a document (common/json_scan.h); the row
// images stay text. Schema and message events, rare, are read as documents.
Result<ChangeEvent> parse_change_event(std::string_view value, std::int64_t offset);

}  // namespace cutover
