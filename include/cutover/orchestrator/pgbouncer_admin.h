// PgbouncerAdmin: the commands cutover sends to PgBouncer's admin console (PAUSE, RESUME,
// RELOAD, SHOW DATABASES), and the include file that names the database's server.
//
// PgBouncer's PAUSE waits for in-flight transactions and has no timeout of its own; a RESUME
// sent while a PAUSE is pending resumes the database but leaves the PAUSE's session hanging
// for good (pgbouncer/pgbouncer#715). So a PAUSE runs on a session of its own, bounded by a
// deadline; when the deadline passes, RESUME goes on another session, the pausing session is
// abandoned, and SHOW DATABASES proves the database is no longer paused.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "cutover/common/libpq_session.h"
#include "cutover/common/result.h"

namespace cutover {

class PgbouncerAdmin {
 public:
  // `admin_dsn` reaches the admin console (dbname=pgbouncer); `database` is the [databases]
  // entry clients use.
  PgbouncerAdmin(std::string admin_dsn, std::string database);

  // Opens and closes one admin session: the console is reachable and knows the database.
  Status check() const;
  // PAUSE, bounded by `timeout`. On timeout or error the database is resumed and the error
  // says why; it is never left paused by this call.
  Status pause(std::chrono::milliseconds timeout) const;
  // RESUME; a database that is not paused counts as resumed. Checked with SHOW DATABASES.
  Status resume() const;
  Status reload() const;
  // Whether SHOW DATABASES shows the database paused.
  Result<bool> paused() const;
  // host, port and dbname that SHOW DATABASES shows for the database now.
  Result<std::string> server() const;
  // The server processes (backend pids) of the pooler's connections for the database.
  Result<std::vector<int>> server_pids() const;
  // A connection string for the database's clients through the pooler: the admin console's,
  // with the database's name.
  std::string client_dsn() const;

 private:
  Result<PgConnection> open() const;
  // The database's row of SHOW DATABASES, by column name.
  Result<std::map<std::string, std::string>> database_row() const;
  Status command(const std::string& text) const;

  std::string admin_dsn_;
  std::string database_;
};

// Whether SHOW DATABASES's "host=H port=P dbname=D" names the server of `dsn`.
bool names_same_server(const std::string& shown, const std::string& dsn);

// Replaces the include file with `[databases]` and one line naming `server_dsn` for
// `database`, atomically and durably.
Status write_pgbouncer_include(const std::string& path, const std::string& database,
                               const std::string& server_dsn);

}  // namespace cutover
