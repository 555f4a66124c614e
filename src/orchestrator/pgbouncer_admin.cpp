#include "cutover/orchestrator/pgbouncer_admin.h"

#include <poll.h>

#include "cutover/common/durable_file.h"
#include "cutover/common/logging.h"

namespace cutover {

namespace {

using Clock = std::chrono::steady_clock;

// The key=value pairs of a connection string, as libpq reads them.
std::map<std::string, std::string> conninfo(const std::string& dsn) {
  std::map<std::string, std::string> values;
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &error);
  if (error) PQfreemem(error);
  if (!options) return values;
  for (PQconninfoOption* option = options; option->keyword; ++option) {
    if (option->val) values[option->keyword] = option->val;
  }
  PQconninfoFree(options);
  return values;
}

// The admin console's parser takes plain words; anything else is refused before it is sent.
bool plain_word(const std::string& text) {
  if (text.empty()) return false;
  for (const char character : text) {
    if (!std::isalnum(static_cast<unsigned char>(character)) && character != '_' && character != '-' &&
        character != '.') {
      return false;
    }
  }
  return true;
}

// Waits for the pending command on `connection` until `deadline`; true when it completed.
Result<bool> wait_for_command(PGconn* connection, Clock::time_point deadline) {
  while (true) {
    if (!PQconsumeInput(connection)) return Status::retryable("pgbouncer: " + libpq_error(connection));
    if (!PQisBusy(connection)) return true;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd descriptor{PQsocket(connection), POLLIN, 0};
    ::poll(&descriptor, 1, static_cast<int>(std::min<long>(left.count(), 100)));
  }
}

}  // namespace

PgbouncerAdmin::PgbouncerAdmin(std::string admin_dsn, std::string database)
    : admin_dsn_(std::move(admin_dsn)), database_(std::move(database)) {}

Result<PgConnection> PgbouncerAdmin::open() const {
  if (!plain_word(database_)) {
    return Status::error("cutover.switch.pgbouncer.database: '" + database_ +
                         "' is not a plain database name");
  }
  return connect_libpq(admin_dsn_, "pgbouncer admin console", SessionPins::kNone);
}

Status PgbouncerAdmin::command(const std::string& text) const {
  auto connection = open();
  if (!connection) return connection.status();
  return run_libpq(connection->get(), text, "pgbouncer: " + text);
}

Status PgbouncerAdmin::check() const {
  auto shown = server();
  return shown ? Status::ok() : shown.status();
}

Status PgbouncerAdmin::pause(std::chrono::milliseconds timeout) const {
  auto connection = open();
  if (!connection) return connection.status();
  const std::string text = "PAUSE " + database_;
  if (!PQsendQuery(connection->get(), text.c_str())) {
    return Status::retryable("pgbouncer: " + libpq_error(connection->get()));
  }
  auto done = wait_for_command(connection->get(), Clock::now() + timeout);
  Status outcome = Status::ok();
  if (!done) {
    outcome = done.status();
  } else if (!*done) {
    outcome = Status::error("PAUSE " + database_ + " did not complete within " +
                            std::to_string(timeout.count()) +
                            " ms (a transaction through the pooler is still running)");
  } else {
    PgResult result(PQgetResult(connection->get()));
    if (PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
      outcome = Status::error("pgbouncer: " + text + ": " + libpq_error(connection->get()));
    }
    while (PgResult more{PQgetResult(connection->get())}) {
    }
  }
  if (outcome) return outcome;
  // The pausing session is dropped without waiting: after a RESUME it may never answer.
  connection->reset();
  if (auto resumed = resume(); !resumed) {
    return Status::error(outcome.message() + "; and resuming failed: " + resumed.message());
  }
  return outcome;
}

Status PgbouncerAdmin::resume() const {
  Status sent = command("RESUME " + database_);
  // "is not paused" is what a RESUME of a resumed database answers; SHOW DATABASES decides.
  auto still = paused();
  if (!still) return still.status();
  if (*still) {
    return Status::error("pgbouncer: database " + database_ + " is still paused after RESUME" +
                         (sent ? "" : ": " + sent.message()));
  }
  return Status::ok();
}

Status PgbouncerAdmin::reload() const { return command("RELOAD"); }

Result<std::map<std::string, std::string>> PgbouncerAdmin::database_row() const {
  auto connection = open();
  if (!connection) return connection.status();
  auto rows = query_libpq(connection->get(), "SHOW DATABASES", "pgbouncer: SHOW DATABASES");
  if (!rows) return rows.status();
  const int name = PQfnumber(rows->get(), "name");
  for (int row = 0; row < PQntuples(rows->get()); ++row) {
    if (database_ != PQgetvalue(rows->get(), row, name)) continue;
    std::map<std::string, std::string> values;
    for (int column = 0; column < PQnfields(rows->get()); ++column) {
      values[PQfname(rows->get(), column)] = PQgetvalue(rows->get(), row, column);
    }
    return values;
  }
  return Status::error("pgbouncer has no database " + database_ + " in SHOW DATABASES");
}

Result<bool> PgbouncerAdmin::paused() const {
  auto row = database_row();
  if (!row) return row.status();
  return (*row)["paused"] != "0";
}

Result<std::string> PgbouncerAdmin::server() const {
  auto row = database_row();
  if (!row) return row.status();
  return "host=" + (*row)["host"] + " port=" + (*row)["port"] + " dbname=" + (*row)["database"];
}

Result<std::vector<int>> PgbouncerAdmin::server_pids() const {
  auto connection = open();
  if (!connection) return connection.status();
  auto rows = query_libpq(connection->get(), "SHOW SERVERS", "pgbouncer: SHOW SERVERS");
  if (!rows) return rows.status();
  const int database = PQfnumber(rows->get(), "database");
  const int pid = PQfnumber(rows->get(), "remote_pid");
  if (database < 0 || pid < 0) return Status::error("pgbouncer: SHOW SERVERS has no remote_pid");
  std::vector<int> pids;
  for (int row = 0; row < PQntuples(rows->get()); ++row) {
    if (database_ == PQgetvalue(rows->get(), row, database)) {
      pids.push_back(std::atoi(PQgetvalue(rows->get(), row, pid)));
    }
  }
  return pids;
}

Status write_pgbouncer_include(const std::string& path, const std::string& database,
                               const std::string& server_dsn) {
  return write_file_atomically(path, "; written by cutover: the server of " + database +
                                         "\n[databases]\n" + database + " = " + server_dsn + "\n");
}

bool names_same_server(const std::string& shown, const std::string& dsn) {
  auto left = conninfo(shown);
  auto right = conninfo(dsn);
  if (right["port"].empty()) right["port"] = "5432";
  return left["host"] == right["host"] && left["port"] == right["port"] && left["dbname"] == right["dbname"];
}

std::string PgbouncerAdmin::client_dsn() const {
  std::string dsn;
  for (const auto& [key, value] : conninfo(admin_dsn_)) {
    if (key == "dbname") continue;
    std::string quoted;
    for (const char character : value) {
      if (character == '\'' || character == '\\') quoted += '\\';
      quoted += character;
    }
    dsn += key + "='" + quoted + "' ";
  }
  return dsn + "dbname='" + database_ + "'";
}

}  // namespace cutover
