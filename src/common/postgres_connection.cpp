#include "cutover/common/postgres_connection.h"

#include "cutover/common/logging.h"

namespace cutover {

const char* const kCanonicalSettings =
    "SET DateStyle = 'ISO, YMD'; SET TimeZone = 'UTC'; SET IntervalStyle = 'postgres'; "
    "SET extra_float_digits = 1; SET bytea_output = 'hex'; SET lc_monetary = 'C'; "
    "SET standard_conforming_strings = on; SET client_encoding = 'UTF8'; SET statement_timeout = 0";

Result<std::unique_ptr<pqxx::connection>> open_postgres(const std::string& dsn,
                                                        const std::string& role) {
  try {
    return std::make_unique<pqxx::connection>(with_application_name(dsn));
  } catch (const pqxx::broken_connection& error) {
    std::string reason = error.what();
    while (!reason.empty() && (reason.back() == '\n' || reason.back() == ' ')) reason.pop_back();
    return Status::retryable("cannot connect to " + role + " (" + redact_dsn(dsn) +
                             "): " + reason);
  } catch (const std::exception& error) {
    return Status::error("cannot connect to " + role + " (" + redact_dsn(dsn) +
                         "): " + error.what());
  }
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

std::string QualifiedName::quoted() const {
  return quote_identifier(schema) + "." + quote_identifier(name);
}

QualifiedName parse_qualified_name(const std::string& text) {
  const auto dot = text.find('.');
  if (dot == std::string::npos) return {"public", text};
  return {text.substr(0, dot), text.substr(dot + 1)};
}

}  // namespace cutover
