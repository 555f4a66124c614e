#include "cutover/common/postgres_connection.h"

#include "cutover/common/database_errors.h"
#include "cutover/common/logging.h"

#include <iterator>
#include <mutex>

namespace cutover {

namespace {

// One text form of every value on both servers, whatever their configuration: what the
// snapshot's COPY carries, what pgoutput writes, what the applier parses and verification
// hashes. No statement timeout either: a database default must not cut a long copy short.
constexpr const char* kCanonicalSettings[] = {
    "SET DateStyle = 'ISO, YMD'",       "SET TimeZone = 'UTC'",
    "SET IntervalStyle = 'postgres'",   "SET extra_float_digits = 1",
    "SET bytea_output = 'hex'",         "SET lc_monetary = 'C'",
    "SET standard_conforming_strings = on", "SET client_encoding = 'UTF8'",
    "SET statement_timeout = 0"};

std::mutex expression_schemas_mutex;
std::vector<std::string> expression_schemas;

}  // namespace

void set_expression_schemas(std::vector<std::string> schemas) {
  std::lock_guard lock(expression_schemas_mutex);
  expression_schemas = std::move(schemas);
}

std::vector<std::string> session_pin_statements() {
  std::vector<std::string> statements(std::begin(kCanonicalSettings), std::end(kCanonicalSettings));
  // pg_catalog first and pg_temp last (never searched for functions and operators): a name the
  // plan does not qualify is a built-in, or lives in a schema the plan lists, never in one
  // that some role on either side could create it in ($user, public) unless the plan says so.
  std::string path = "pg_catalog";
  {
    std::lock_guard lock(expression_schemas_mutex);
    for (const auto& schema : expression_schemas) path += ", " + quote_identifier(schema);
  }
  statements.push_back("SET search_path = " + path + ", pg_temp");
  return statements;
}

std::string session_pins() {
  std::string joined;
  for (const auto& statement : session_pin_statements()) joined += (joined.empty() ? "" : "; ") + statement;
  return joined;
}

Result<std::unique_ptr<pqxx::connection>> open_postgres(const std::string& dsn,
                                                        const std::string& role, SessionPins pins) {
  std::unique_ptr<pqxx::connection> connection;
  try {
    connection = std::make_unique<pqxx::connection>(with_application_name(dsn));
  } catch (const std::exception& error) {
    return status_of(error, "cannot connect to " + role + " (" + redact_dsn(dsn) + ")");
  }
  if (pins == SessionPins::kNone) return connection;
  try {
    pqxx::nontransaction(*connection).exec(session_pins());
  } catch (const std::exception& error) {
    return status_of(error, role + ": pinning the session's settings");
  }
  return connection;
}

std::string with_application_name(const std::string& dsn) {
  const bool uri = dsn.rfind("postgresql://", 0) == 0 || dsn.rfind("postgres://", 0) == 0;
  if (!uri) return dsn + " fallback_application_name=cutover";
  return dsn + (dsn.find('?') == std::string::npos ? "?" : "&") + "fallback_application_name=cutover";
}

void allow_writes(pqxx::connection& connection) {
  pqxx::nontransaction session(connection);
  session.exec0("SET default_transaction_read_only = off");
}

Lsn replication_origin_position(pqxx::transaction_base& query, const std::string& origin) {
  const auto rows = query.exec_params(
      "SELECT s.remote_lsn::text FROM pg_replication_origin o "
      "JOIN pg_replication_origin_status s ON s.local_id = o.roident WHERE o.roname = $1",
      origin);
  if (rows.empty() || rows[0][0].is_null()) return Lsn();
  return Lsn::parse(rows[0][0].c_str()).value_or(Lsn());
}

std::string quote_identifier(const std::string& name) {
  std::string quoted = "\"";
  for (char character : name) {
    if (character == '"') quoted += '"';
    quoted += character;
  }
  return quoted + "\"";
}

std::string quote_literal(const std::string& text) {
  std::string quoted = "'";
  bool backslash = false;
  for (char character : text) {
    if (character == '\'' || character == '\\') quoted += character;
    backslash = backslash || character == '\\';
    quoted += character;
  }
  return (backslash ? "E" : "") + quoted + "'";
}

std::string text_array_literal(const std::vector<std::string>& items) {
  std::string list;
  for (const auto& item : items) {
    std::string quoted = "\"";
    for (const char character : item) {
      if (character == '"' || character == '\\') quoted += '\\';
      quoted += character;
    }
    list += (list.empty() ? "" : ",") + quoted + "\"";
  }
  return "{" + list + "}";
}

std::string QualifiedName::quoted() const {
  return quote_identifier(schema) + "." + quote_identifier(name);
}

QualifiedName parse_qualified_name(const std::string& text) {
  const auto dot = text.find('.');
  if (dot == std::string::npos) return {"public", text};
  return {text.substr(0, dot), text.substr(dot + 1)};
}

Result<std::string> read_system_identifier(const std::string& dsn, const std::string& role, SessionPins pins) {
  auto connection = open_postgres(dsn, role, pins);
  if (!connection) return connection.status();
  try {
    pqxx::nontransaction query(**connection);
    return std::string(query.exec("SELECT system_identifier::text FROM pg_control_system()")[0][0].c_str());
  } catch (const std::exception& error) {
    return status_of(error, role + ": reading the system identifier");
  }
}

}  // namespace cutover
