#include "cutover/capture/replication_stream.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "cutover/common/logging.h"
#include "cutover/common/postgres_connection.h"

namespace cutover {

namespace {

constexpr std::int64_t kPostgresEpochOffsetMicroseconds = 946684800000000LL;

std::uint64_t read_big_endian(const char* bytes) {
  std::uint64_t value = 0;
  for (int index = 0; index < 8; ++index) value = (value << 8) | static_cast<std::uint8_t>(bytes[index]);
  return value;
}

void write_big_endian(char* bytes, std::uint64_t value) {
  for (int index = 7; index >= 0; --index) {
    bytes[index] = static_cast<char>(value & 0xFF);
    value >>= 8;
  }
}

std::int64_t postgres_now_microseconds() {
  const auto now = std::chrono::duration_cast<std::chrono::microseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  return now - kPostgresEpochOffsetMicroseconds;
}

std::string trimmed(const char* text) {
  std::string value = text ? text : "";
  while (!value.empty() && (value.back() == '\n' || value.back() == ' ')) value.pop_back();
  return value;
}

}  // namespace

Result<std::unique_ptr<ReplicationConnection>> ReplicationConnection::open(const std::string& dsn) {
  // expand_dbname makes libpq read the whole DSN from "dbname"; the later keywords win.
  const char* keywords[] = {"dbname", "replication", "fallback_application_name", nullptr};
  const char* values[] = {dsn.c_str(), "database", "cutover", nullptr};
  PGconn* connection = PQconnectdbParams(keywords, values, 1);
  if (PQstatus(connection) != CONNECTION_OK) {
    std::string reason = trimmed(PQerrorMessage(connection));
    PQfinish(connection);
    return Status::retryable("cannot open a replication connection to blue (" + redact_dsn(dsn) +
                             "): " + reason);
  }
  // pgoutput writes values as text under the walsender's settings: pinned, so that a date or
  // an interval reads the same on green whatever blue's defaults are (a logical walsender runs
  // plain SQL before START_REPLICATION, one statement at a time).
  for (const auto& statement : session_pin_statements()) {
    PGresult* result = PQexec(connection, statement.c_str());
    const bool set = PQresultStatus(result) == PGRES_COMMAND_OK;
    PQclear(result);
    if (!set) {
      std::string reason = trimmed(PQerrorMessage(connection));
      PQfinish(connection);
      return Status::retryable("blue: pinning the replication session's settings (" + statement + "): " + reason);
    }
  }
  std::unique_ptr<ReplicationConnection> opened(new ReplicationConnection(connection));
  auto identified = opened->run_command("IDENTIFY_SYSTEM");
  if (!identified) return identified.status();
  const auto& rows = *identified;
  const auto wal_end = rows.empty() || rows[0].size() < 4 ? std::nullopt : Lsn::parse(rows[0][2]);
  if (!wal_end) return Status::error("blue: IDENTIFY_SYSTEM answered without a system, timeline and WAL position");
  const auto timeline = static_cast<std::uint32_t>(std::strtoul(rows[0][1].c_str(), nullptr, 10));
  opened->source_ = {rows[0][0], timeline, rows[0][3], *wal_end};
  return opened;
}

std::string StreamSource::id() const {
  return system_identifier + "/" + std::to_string(timeline) + "/" + database;
}

ReplicationConnection::~ReplicationConnection() {
  release_buffer();
  PQfinish(connection_);
}

void ReplicationConnection::release_buffer() {
  if (buffer_) PQfreemem(buffer_);
  buffer_ = nullptr;
}

Status ReplicationConnection::connection_error(const std::string& what) const {
  const std::string reason = trimmed(PQerrorMessage(connection_));
  if (PQstatus(connection_) != CONNECTION_OK) {
    return Status::retryable(what + ": connection to blue lost: " + reason);
  }
  return Status::error(what + ": " + reason);
}

std::string ReplicationConnection::database_name() const { return PQdb(connection_); }

bool ReplicationConnection::carries_messages() const {
  return PQserverVersion(connection_) >= kFirstVersionWithMessages;
}

Result<std::vector<std::vector<std::string>>> ReplicationConnection::run_command(
    const std::string& command) {
  PGresult* result = PQexec(connection_, command.c_str());
  const auto status = PQresultStatus(result);
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    std::string reason = trimmed(PQresultErrorMessage(result));
    PQclear(result);
    if (PQstatus(connection_) != CONNECTION_OK) return Status::retryable(reason);
    return Status::error(reason);
  }
  std::vector<std::vector<std::string>> rows;
  for (int row = 0; row < PQntuples(result); ++row) {
    std::vector<std::string> fields;
    for (int column = 0; column < PQnfields(result); ++column) {
      fields.emplace_back(PQgetvalue(result, row, column));
    }
    rows.push_back(std::move(fields));
  }
  PQclear(result);
  return rows;
}

Status ReplicationConnection::start(const std::string& slot, const std::string& publication,
                                    Lsn from) {
  char* escaped = PQescapeIdentifier(connection_, slot.c_str(), slot.size());
  const std::string slot_identifier = escaped ? escaped : slot;
  PQfreemem(escaped);
  // Publication names go in a string literal; plan names are restricted to [a-z0-9_-].
  // Logical messages (the drain's marker) came to pgoutput in PostgreSQL 14; before it the
  // capture writes the marker into the change log itself (drain_markers.h).
  const std::string messages = carries_messages() ? ", messages 'true'" : "";
  const std::string command = "START_REPLICATION SLOT " + slot_identifier + " LOGICAL " +
                              from.to_string() + " (proto_version '1', publication_names '" +
                              publication + "'" + messages + ")";
  PGresult* result = PQexec(connection_, command.c_str());
  const bool started = PQresultStatus(result) == PGRES_COPY_BOTH;
  std::string reason = trimmed(PQresultErrorMessage(result));
  PQclear(result);
  if (!started) {
    if (PQstatus(connection_) != CONNECTION_OK) return Status::retryable(reason);
    return Status::error("START_REPLICATION on slot " + slot + " failed: " + reason);
  }
  return Status::ok();
}

Result<std::optional<StreamFrame>> ReplicationConnection::next(std::chrono::milliseconds timeout) {
  release_buffer();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int length = 0;
  while ((length = PQgetCopyData(connection_, &buffer_, 1)) == 0) {
    const auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (remaining.count() <= 0) return std::optional<StreamFrame>();
    pollfd descriptor{PQsocket(connection_), POLLIN, 0};
    const int ready = ::poll(&descriptor, 1, static_cast<int>(remaining.count()));
    if (ready < 0 && errno != EINTR) {
      return Status::retryable(std::string("waiting for blue: ") + std::strerror(errno));
    }
    if (ready > 0 && PQconsumeInput(connection_) == 0) {
      return connection_error("reading the replication stream");
    }
  }
  if (length == -1) {
    PGresult* result = PQgetResult(connection_);
    std::string reason = trimmed(PQresultErrorMessage(result));
    PQclear(result);
    return Status::retryable("blue ended the replication stream" +
                             (reason.empty() ? std::string() : ": " + reason));
  }
  if (length < 0) return connection_error("reading the replication stream");

  // XLogData: 'w', start LSN, WAL end, send time (8 bytes each), then the message.
  // Keepalive: 'k', WAL end, send time, reply-requested flag.
  const char* data = buffer_;
  StreamFrame frame;
  if (data[0] == 'w' && length >= 25) {
    frame.kind = StreamFrame::Kind::kData;
    frame.start_lsn = Lsn(read_big_endian(data + 1));
    frame.wal_end = Lsn(read_big_endian(data + 9));
    frame.payload = std::string_view(data + 25, static_cast<std::size_t>(length - 25));
    return std::optional<StreamFrame>(frame);
  }
  if (data[0] == 'k' && length >= 18) {
    frame.kind = StreamFrame::Kind::kKeepalive;
    frame.wal_end = Lsn(read_big_endian(data + 1));
    frame.reply_requested = data[17] != 0;
    return std::optional<StreamFrame>(frame);
  }
  return Status::error(std::string("unexpected replication frame '") + data[0] + "' of " +
                       std::to_string(length) + " bytes");
}

Status ReplicationConnection::send_status(Lsn received, Lsn confirmed) {
  char message[34];
  message[0] = 'r';
  write_big_endian(message + 1, received.value());
  write_big_endian(message + 9, confirmed.value());
  write_big_endian(message + 17, confirmed.value());
  write_big_endian(message + 25, static_cast<std::uint64_t>(postgres_now_microseconds()));
  message[33] = 0;
  if (PQputCopyData(connection_, message, sizeof message) != 1 || PQflush(connection_) != 0) {
    return connection_error("sending a status update to blue");
  }
  return Status::ok();
}

}  // namespace cutover
