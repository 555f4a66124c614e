// Ordinary (non-replication) PostgreSQL sessions, opened with libpqxx.
//
// Every module that runs SQL on blue or green opens its session here, so that connection
// failures read the same everywhere: which database ("blue", "green"), the DSN with its
// password redacted, and libpq's reason. Callers catch pqxx exceptions at their own edge.
#pragma once

#include <pqxx/pqxx>

#include <memory>
#include <string>
#include <vector>

#include "cutover/common/libpq_session.h"
#include "cutover/common/lsn.h"
#include "cutover/common/result.h"

namespace cutover {

// What every session cutover opens on blue or green sets first (open_postgres, connect_libpq
// and the replication connection do it): the settings that change a value's text form
// (DateStyle, IntervalStyle, TimeZone, extra_float_digits, bytea_output, client_encoding,
// standard_conforming_strings, lc_monetary), no statement timeout, and a search_path of
// pg_catalog, the plan's `search_path` schemas, then pg_temp. One statement each.
std::vector<std::string> session_pin_statements();
// The same, as one string of statements.
std::string session_pins();
// The plan's `search_path`: set once, after the plan is loaded, before any session opens.
void set_expression_schemas(std::vector<std::string> schemas);

// `role` names the database in messages: "blue" or "green". The session is pinned
// (session_pins), but never one through a pooler (SessionPins::kNone): a transaction pooler
// hands the server session, with every SET made in it, to the application's next client.
Result<std::unique_ptr<pqxx::connection>> open_postgres(const std::string& dsn,
                                                        const std::string& role,
                                                        SessionPins pins = SessionPins::kPinned);

// The server's system identifier (pg_control_system()), which names a cluster whatever
// address reaches it: how a move proves where a connection landed.
Result<std::string> read_system_identifier(const std::string& dsn, const std::string& role,
                                           SessionPins pins = SessionPins::kPinned);

// The connection string with libpq's fallback_application_name=cutover, so that cutover's
// sessions are known by name (the write fence spares them); an application_name the string
// gives itself wins.
std::string with_application_name(const std::string& dsn);

// Makes the session's transactions read-write even where the database defaults them to
// read-only (a write fence): for cutover's own writes only. Throws what libpqxx throws.
void allow_writes(pqxx::connection& connection);

// How far the replication origin `origin` says its source was applied: 0/0 when the origin
// does not exist or has no progress yet. Throws what libpqxx throws.
Lsn replication_origin_position(pqxx::transaction_base& query, const std::string& origin);

// Quotes an identifier the way PostgreSQL's quote_ident() does.
std::string quote_identifier(const std::string& name);

// Quotes a string literal the way PostgreSQL's quote_literal() does (E'...' when it holds a
// backslash), whatever standard_conforming_strings is.
std::string quote_literal(const std::string& text);

// A text[] literal `{"a","b"}` of `items`, each quoted, to bind as one parameter ($1::text[]).
std::string text_array_literal(const std::vector<std::string>& items);

// A qualified name "schema.table" split and quoted: "public"."users".
struct QualifiedName {
  std::string schema;
  std::string name;
  std::string quoted() const;
  std::string text() const { return schema + "." + name; }
  friend bool operator==(const QualifiedName&, const QualifiedName&) = default;
};

// "users" is public.users; "app.users" is app.users. Names are taken as written (no case
// folding), as they appear in pg_class.
QualifiedName parse_qualified_name(const std::string& text);

}  // namespace cutover
