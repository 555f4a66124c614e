#include "cutover/capture/preflight.h"

#include <pqxx/pqxx>

#include <thread>

#include "cutover/common/database_errors.h"
#include "cutover/common/logging.h"
#include "cutover/common/postgres_connection.h"

namespace cutover {

namespace {

std::string plan_field_of(const Plan& plan, const QualifiedName& table) {
  for (std::size_t index = 0; index < plan.tables.size(); ++index) {
    if (plan.tables[index].source == table) return "tables[" + std::to_string(index) + "].source";
  }
  return "tables";
}

void check_server(pqxx::transaction_base& query, const std::string& side,
                  std::vector<std::string>& problems) {
  const auto row = query.exec1(
      "SELECT current_setting('wal_level'), current_setting('server_encoding'), current_user, "
      "(SELECT rolsuper OR rolreplication FROM pg_roles WHERE rolname = current_user)");
  const std::string wal_level = row[0].as<std::string>();
  if (wal_level != "logical") {
    problems.push_back(side + ": wal_level is '" + wal_level +
                       "'; capture needs wal_level = logical (set it in postgresql.conf and "
                       "restart " + side + ")");
  }
  const std::string encoding = row[1].as<std::string>();
  if (encoding != "UTF8") {
    problems.push_back(side + ": server_encoding is " + encoding +
                       "; change events are JSON and need a UTF8 database");
  }
  if (!row[3].as<bool>(false)) {
    const std::string role = row[2].as<std::string>();
    problems.push_back(side + ": role " + role + " lacks the REPLICATION attribute (ALTER ROLE " +
                       quote_identifier(role) + " REPLICATION)");
  }
}

// Types whose values only mean something inside the source cluster: a row version's physical
// address, a transaction or command id, a large object's OID (logical replication does not
// carry large objects). Copied to the target they would silently point at nothing.
void check_column_types(const Plan& plan, pqxx::transaction_base& query, const QualifiedName& table,
                        const std::string& where, std::vector<std::string>& problems) {
  const auto columns = query.exec_params(
      "SELECT a.attname, format_type(a.atttypid, a.atttypmod) "
      "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
      "LEFT JOIN pg_type element ON element.oid = t.typelem AND t.typcategory = 'A' "
      "WHERE a.attrelid = format('%I.%I', $1::text, $2::text)::regclass AND a.attnum > 0 "
      "AND NOT a.attisdropped "
      "AND coalesce(element.typname, t.typname) IN ('tid', 'xid', 'xid8', 'cid', 'lo') "
      "ORDER BY a.attnum",
      table.schema, table.name);
  for (const auto& column : columns) {
    problems.push_back(where + plan.source_side() + "'s column " + table.text() + "." +
                       column[0].as<std::string>() + " has type " + column[1].as<std::string>() +
                       ", which cutover does not support: its values (row addresses, transaction "
                       "ids, large object references) mean nothing outside " +
                       plan.source_side() + ". Drop the column or change its type before the move");
  }
}

void check_tables(const Plan& plan, pqxx::transaction_base& query,
                  std::vector<std::string>& problems) {
  for (const auto& table : plan.source_tables()) {
    const auto rows = query.exec_params(
        "SELECT c.relkind, c.relreplident, "
        "EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary), "
        "c.relpersistence, (SELECT string_agg(i.inhrelid::regclass::text, ', ' ORDER BY i.inhrelid::regclass::text) "
        "  FROM pg_inherits i JOIN pg_class child ON child.oid = i.inhrelid "
        "  WHERE i.inhparent = c.oid AND c.relkind = 'r') "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = $1 AND c.relname = $2",
        table.schema, table.name);
    const std::string where = plan.file + ": " + plan_field_of(plan, table) + ": ";
    if (rows.empty()) {
      problems.push_back(where + plan.source_side() + " has no table " + table.text());
      continue;
    }
    const std::string kind = rows[0][0].as<std::string>();
    if (kind != "r" && kind != "p") {
      problems.push_back(where + plan.source_side() + "'s " + table.text() + " is not a table (relkind " + kind + ")");
      continue;
    }
    // Logical decoding reads WAL, which unlogged and temporary tables do not write: the
    // snapshot would copy their rows and every later change would be missing.
    const std::string persistence = rows[0][3].as<std::string>();
    if (persistence != "p") {
      problems.push_back(where + plan.source_side() + "'s " + table.text() + " is " +
                         (persistence == "u" ? "UNLOGGED" : "TEMPORARY") +
                         ": PostgreSQL does not replicate its changes, so they could not follow the "
                         "snapshot. " + (persistence == "u" ? "Run ALTER TABLE " + table.quoted() +
                         " SET LOGGED before the move, or leave the table out of the plan"
                         : std::string("Leave it out of the plan")));
      continue;
    }
    // Reading a parent reads its inheritance children's rows too, while their changes are
    // published under their own names: the snapshot would copy rows whose changes never follow.
    if (!rows[0][4].is_null()) {
      problems.push_back(where + plan.source_side() + "'s " + table.text() + " has inheritance children (" +
                         rows[0][4].as<std::string>() +
                         "): cutover does not move a table whose rows are partly its children's. Move the "
                         "children as tables of their own and turn the parent into one without children, "
                         "or make it a partitioned table");
      continue;
    }
    check_column_types(plan, query, table, where, problems);
    const std::string identity = rows[0][1].as<std::string>();
    const bool has_primary_key = rows[0][2].as<bool>();
    if (identity == "n" || (identity == "d" && !has_primary_key)) {
      problems.push_back(where + plan.source_side() + "'s " + table.text() +
                         " has no primary key and no replica identity: once published, its "
                         "UPDATEs and DELETEs would fail on " + plan.source_side() +
                         ". Add a primary key or run "
                         "ALTER TABLE " + table.quoted() + " REPLICA IDENTITY FULL");
    }
  }
}

struct SlotRow {
  std::string plugin;
  std::string database;
  std::optional<int> active_pid;
  Lsn confirmed;
};

std::optional<SlotRow> read_slot(pqxx::connection& connection, const std::string& slot) {
  pqxx::nontransaction query(connection);
  const auto rows = query.exec_params(
      "SELECT plugin, database, active_pid, confirmed_flush_lsn::text "
      "FROM pg_replication_slots WHERE slot_name = $1",
      slot);
  if (rows.empty()) return std::nullopt;
  SlotRow row;
  row.plugin = rows[0][0].is_null() ? "" : rows[0][0].as<std::string>();
  row.database = rows[0][1].is_null() ? "" : rows[0][1].as<std::string>();
  if (!rows[0][2].is_null()) row.active_pid = rows[0][2].as<int>();
  if (!rows[0][3].is_null()) row.confirmed = Lsn::parse(rows[0][3].c_str()).value_or(Lsn());
  return row;
}

void check_slot(const Plan& plan, pqxx::connection& connection, std::chrono::milliseconds wait,
                SourceState& state, std::vector<std::string>& problems) {
  const std::string slot = plan.slot_name();
  auto row = read_slot(connection, slot);
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (row && row->active_pid && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    row = read_slot(connection, slot);
  }
  if (!row) {
    pqxx::nontransaction query(connection);
    const auto counts = query.exec1(
        "SELECT (SELECT count(*) FROM pg_replication_slots), "
        "current_setting('max_replication_slots')::int");
    if (counts[0].as<long>() >= counts[1].as<long>()) {
      problems.push_back(plan.source_side() + ": all " + counts[1].as<std::string>() +
                         " replication slots are used (max_replication_slots); drop an unused "
                         "slot or raise the setting");
    }
    return;
  }
  state.slot_exists = true;
  state.slot_confirmed = row->confirmed;
  if (row->plugin != "pgoutput" || row->database != connection.dbname()) {
    problems.push_back(plan.source_side() + ": replication slot " + slot + " exists but is not a pgoutput slot of "
                       "database " + connection.dbname() + " (plugin " + row->plugin +
                       ", database " + row->database + "); it is not cutover's: rename the plan");
  } else if (row->active_pid) {
    problems.push_back(plan.source_side() + ": replication slot " + slot + " is in use by process " +
                       std::to_string(*row->active_pid) +
                       " (another cutover capture of this plan?); stop it first");
  }
}

bool has_partitioned_source(pqxx::transaction_base& query, const Plan& plan) {
  for (const auto& table : plan.source_tables()) {
    const auto kind = query.exec_params("SELECT relkind FROM pg_class WHERE oid = to_regclass($1)", table.quoted());
    if (!kind.empty() && kind[0][0].as<std::string>() == "p") return true;
  }
  return false;
}

}  // namespace

std::vector<std::string> publication_drift(pqxx::transaction_base& query, const Plan& plan, bool tables_too) {
  const std::string name = plan.publication_name();
  const std::string side = plan.source_side();
  std::vector<std::string> drift;
  const auto publication = query.exec_params(
      "SELECT pubinsert, pubupdate, pubdelete, pubtruncate, pubviaroot FROM pg_publication WHERE pubname = $1",
      name);
  if (publication.empty()) return drift;
  const auto& row = publication[0];
  std::string missing_operations;
  const char* operations[] = {"insert", "update", "delete", "truncate"};
  for (int i = 0; i < 4; ++i) {
    if (!row[i].as<bool>()) missing_operations += (missing_operations.empty() ? "" : ", ") + std::string(operations[i]);
  }
  if (!missing_operations.empty()) {
    drift.push_back(side + ": publication " + name + " does not publish " + missing_operations +
                    ": those changes would never reach green (ALTER PUBLICATION " + quote_identifier(name) +
                    " SET (publish = 'insert, update, delete, truncate'))");
  }
  if (!row[4].as<bool>() && has_partitioned_source(query, plan)) {
    drift.push_back(side + ": publication " + name + " publishes partitions under their own names, which the plan "
                    "does not map (ALTER PUBLICATION " + quote_identifier(name) +
                    " SET (publish_via_partition_root = true))");
  }
  // Row filters and column lists exist from PostgreSQL 15; to_jsonb reads them where they do.
  const auto tables = query.exec_params(
      "SELECT n.nspname, c.relname, (to_jsonb(r) ->> 'prqual') IS NOT NULL, (to_jsonb(r) ->> 'prattrs') IS NOT NULL "
      "FROM pg_publication_rel r JOIN pg_publication p ON p.oid = r.prpubid "
      "JOIN pg_class c ON c.oid = r.prrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE p.pubname = $1",
      name);
  for (const auto& source : plan.source_tables()) {
    for (const auto& table : tables) {
      if (table[0].as<std::string>() != source.schema || table[1].as<std::string>() != source.name) continue;
      if (table[2].as<bool>()) {
        drift.push_back(side + ": publication " + name + " has a row filter on " + source.text() +
                        ": rows outside it would never reach green (ALTER PUBLICATION " + quote_identifier(name) +
                        " SET TABLE ... without WHERE)");
      }
      if (table[3].as<bool>()) {
        drift.push_back(side + ": publication " + name + " has a column list on " + source.text() +
                        ": the other columns would never reach green (ALTER PUBLICATION " + quote_identifier(name) +
                        " SET TABLE ... without a column list)");
      }
    }
  }
  if (tables_too) {
    const auto published = query.exec_params(
        "SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1", name);
    for (const auto& source : plan.source_tables()) {
      bool found = false;
      for (const auto& table : published) {
        found = found || (table[0].as<std::string>() == source.schema && table[1].as<std::string>() == source.name);
      }
      if (!found) {
        drift.push_back(side + ": publication " + name + " no longer publishes " + source.text() +
                        ": its changes since then never reached green");
      }
    }
  }
  return drift;
}

namespace {

// Capture creates the publication, or adds the plan's tables to one made beforehand.
// PostgreSQL lets only a table's owner publish it: a role that owns none of them needs the
// publication made for it, and is told the statement.
void check_publication(const Plan& plan, pqxx::transaction_base& query, SourceState& state,
                       std::vector<std::string>& problems) {
  const std::string publication = plan.publication_name();
  state.publication_exists =
      !query.exec_params("SELECT 1 FROM pg_publication WHERE pubname = $1", publication).empty();
  for (auto& drift : publication_drift(query, plan, false)) problems.push_back(std::move(drift));
  std::vector<QualifiedName> to_publish = plan.source_tables();
  if (state.publication_exists) {
    const auto rows = query.exec_params(
        "SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1", publication);
    for (const auto& table : plan.source_tables()) {
      bool found = false;
      for (const auto& row : rows) {
        found = found || (row[0].as<std::string>() == table.schema &&
                          row[1].as<std::string>() == table.name);
      }
      if (!found) state.tables_missing_from_publication.push_back(table);
    }
    to_publish = state.tables_missing_from_publication;
  }
  if (to_publish.empty()) return;
  const auto role = query.exec1(
      "SELECT current_user, rolsuper, has_database_privilege(current_database(), 'CREATE') "
      "FROM pg_roles WHERE rolname = current_user");
  if (role[1].as<bool>()) return;
  std::string not_owned;
  for (const auto& table : to_publish) {
    const auto owned = query.exec_params(
        "SELECT pg_has_role(relowner, 'USAGE') FROM pg_class WHERE oid = to_regclass($1)", table.quoted());
    if (!owned.empty() && !owned[0][0].as<bool>()) not_owned += (not_owned.empty() ? "" : ", ") + table.text();
  }
  const bool may_create = state.publication_exists || role[2].as<bool>();
  if (not_owned.empty() && may_create) return;
  std::string listed;
  for (const auto& table : to_publish) listed += (listed.empty() ? "" : ", ") + table.quoted();
  const std::string statement =
      state.publication_exists
          ? "ALTER PUBLICATION " + quote_identifier(publication) + " ADD TABLE " + listed
          : "CREATE PUBLICATION " + quote_identifier(publication) + " FOR TABLE " + listed +
                " WITH (publish_via_partition_root = true)";
  problems.push_back(plan.source_side() + ": role " + role[0].as<std::string>() + " may not " +
                     (state.publication_exists ? "add tables to" : "create") + " the publication " +
                     publication + " (" + (not_owned.empty() ? "no CREATE on the database" : "it does not own " + not_owned) +
                     "); have the tables' owner run " + statement);
}

}  // namespace

Result<SourceState> check_source_for_capture(const Plan& plan, std::chrono::milliseconds slot_wait) {
  auto connection = open_postgres(plan.source().dsn, plan.source_side());
  if (!connection) return Status::error(connection.status().message());
  SourceState state;
  std::vector<std::string> problems;
  try {
    {
      pqxx::read_transaction query(**connection);
      check_server(query, plan.source_side(), problems);
      check_tables(plan, query, problems);
      check_publication(plan, query, state, problems);
    }
    check_slot(plan, **connection, slot_wait, state, problems);
  } catch (const std::exception& error) {
    return status_of(error, plan.source_side() + ": checking for capture");
  }
  if (!problems.empty()) {
    std::string message;
    for (const auto& problem : problems) message += (message.empty() ? "" : "\n") + problem;
    return Status::error(message);
  }
  return state;
}

}  // namespace cutover
