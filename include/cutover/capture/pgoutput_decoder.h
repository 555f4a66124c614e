// Decoder for PostgreSQL's pgoutput logical replication messages (protocol version 1).
//
// Capture hands it the payload of each XLogData frame; it returns one typed message.
// It is pure (no I/O, no state): the relation cache and the event encoder give the
// messages their meaning. Column values are views into the caller's buffer, so a decoded
// message is valid only while that buffer is.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "cutover/common/lsn.h"
#include "cutover/common/result.h"

namespace cutover::pgoutput {

// Microseconds since 2000-01-01 UTC, PostgreSQL's timestamp epoch.
using PgTimestamp = std::int64_t;
std::int64_t to_unix_milliseconds(PgTimestamp timestamp);

struct Begin {
  Lsn final_lsn;  // the LSN of the transaction's commit record
  PgTimestamp commit_time = 0;
  std::uint32_t xid = 0;
};

struct Commit {
  std::uint8_t flags = 0;
  Lsn commit_lsn;
  Lsn end_lsn;  // the end of the commit record: where a restart resumes after this transaction
  PgTimestamp commit_time = 0;
};

struct Origin {
  Lsn origin_lsn;
  std::string name;
};

struct RelationColumn {
  bool is_key = false;  // part of the replica identity
  std::string name;
  std::uint32_t type_oid = 0;
  std::int32_t type_modifier = -1;
};

struct Relation {
  std::uint32_t oid = 0;
  std::string schema;
  std::string name;
  char replica_identity = 'd';  // d default, n nothing, f full, i index
  std::vector<RelationColumn> columns;
};

struct Type {
  std::uint32_t oid = 0;
  std::string schema;
  std::string name;
};

enum class ValueKind : char { kNull = 'n', kUnchangedToast = 'u', kText = 't', kBinary = 'b' };

struct ColumnValue {
  ValueKind kind = ValueKind::kNull;
  std::string_view data;  // only for kText and kBinary
};

using Tuple = std::vector<ColumnValue>;

struct Insert {
  std::uint32_t relation = 0;
  Tuple new_tuple;
};

// old_kind: 'K' when the old tuple holds only the replica identity key, 'O' when it is the
// whole old row (REPLICA IDENTITY FULL), 0 when the server sent no old tuple (key unchanged).
struct Update {
  std::uint32_t relation = 0;
  char old_kind = 0;
  Tuple old_tuple;
  Tuple new_tuple;
};

struct Delete {
  std::uint32_t relation = 0;
  char old_kind = 'K';
  Tuple old_tuple;
};

struct Truncate {
  bool cascade = false;
  bool restart_identity = false;
  std::vector<std::uint32_t> relations;
};

struct LogicalMessage {
  bool transactional = false;
  Lsn lsn;
  std::string prefix;
  std::string content;
};

using Message = std::variant<Begin, Commit, Origin, Relation, Type, Insert, Update, Delete,
                             Truncate, LogicalMessage>;

// Decodes one pgoutput message. A malformed message is a non-retryable error naming the
// message type and what was wrong; it means a protocol mismatch, never bad user data.
Result<Message> decode(std::string_view bytes);

}  // namespace cutover::pgoutput
