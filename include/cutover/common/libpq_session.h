// Plain libpq sessions, for the work libpqxx 6 does not do well: COPY pipes and queries sent
// to blue and green at once (PQsendQuery on both, then both results).
//
// Errors read like open_postgres()'s: the database's role ("blue", "green"), the DSN with its
// password redacted, and libpq's reason.
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <string>

#include "cutover/common/result.h"

namespace cutover {

struct PgConnectionCloser {
  void operator()(PGconn* connection) const { PQfinish(connection); }
};
using PgConnection = std::unique_ptr<PGconn, PgConnectionCloser>;

struct PgResultClearer {
  void operator()(PGresult* result) const { PQclear(result); }
};
using PgResult = std::unique_ptr<PGresult, PgResultClearer>;

// libpq's last error on `connection`, without its trailing newline.
std::string libpq_error(PGconn* connection);

// A failed connection is retryable: the server may be restarting. A session on blue or green
// is pinned (session_pins); one to anything else (PgBouncer's console, a database through the
// pooler) is left as it is.
enum class SessionPins { kPinned, kNone };
Result<PgConnection> connect_libpq(const std::string& dsn, const std::string& role,
                                   SessionPins pins = SessionPins::kPinned);

// Runs `sql` and waits for it; an error names `what`.
Status run_libpq(PGconn* connection, const std::string& sql, const std::string& what);

// Runs `sql` and returns its rows; an error names `what`.
Result<PgResult> query_libpq(PGconn* connection, const std::string& sql, const std::string& what);

}  // namespace cutover
