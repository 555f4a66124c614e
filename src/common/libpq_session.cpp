#include "cutover/common/libpq_session.h"

#include "cutover/common/logging.h"
#include "cutover/common/postgres_connection.h"

namespace cutover {

std::string libpq_error(PGconn* connection) {
  std::string reason = PQerrorMessage(connection);
  while (!reason.empty() && (reason.back() == '\n' || reason.back() == ' ')) reason.pop_back();
  return reason;
}

Result<PgConnection> connect_libpq(const std::string& dsn, const std::string& role, SessionPins pins) {
  PgConnection connection(PQconnectdb(with_application_name(dsn).c_str()));
  if (PQstatus(connection.get()) != CONNECTION_OK) {
    return Status::retryable("cannot connect to " + role + " (" + redact_dsn(dsn) +
                             "): " + libpq_error(connection.get()));
  }
  if (pins == SessionPins::kPinned) {
    if (auto pinned = run_libpq(connection.get(), session_pins(), role + ": pinning the session's settings");
        !pinned) {
      return pinned;
    }
  }
  return connection;
}

Status run_libpq(PGconn* connection, const std::string& sql, const std::string& what) {
  auto result = query_libpq(connection, sql, what);
  return result ? Status::ok() : result.status();
}

Result<PgResult> query_libpq(PGconn* connection, const std::string& sql, const std::string& what) {
  PgResult result(PQexec(connection, sql.c_str()));
  const auto status = PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    const std::string reason = what + ": " + libpq_error(connection);
    if (PQstatus(connection) != CONNECTION_OK) return Status::retryable(reason);
    return Status::error(reason);
  }
  return result;
}

}  // namespace cutover
