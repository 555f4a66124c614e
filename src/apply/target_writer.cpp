#include "cutover/apply/target_writer.h"

#include <map>

#include "cutover/common/database_errors.h"

namespace cutover {

using nlohmann::json;

namespace {

// The source rows bound as parameter `$N`, typed as on blue (without length or precision
// modifiers, which an explicit cast would cut values to), named like the source table so
// that expressions may qualify columns with it.
std::string rows_from(const std::vector<SourceColumn>& columns, const std::string& alias,
                      int parameter) {
  std::string typed;
  std::string as_text;
  for (const auto& column : columns) {
    const std::string name = quote_identifier(column.name);
    if (!typed.empty()) {
      typed += ", ";
      as_text += ", ";
    }
    typed += "(r." + name + ")::" + column.unconstrained_type + " AS " + name;
    as_text += name + " text";
  }
  return "(SELECT " + typed + " FROM jsonb_to_recordset($" + std::to_string(parameter) +
         "::jsonb) AS r(" + as_text + ")) AS " + quote_identifier(alias);
}

std::string expression_of(const TableTransform& target, const std::string& column) {
  for (const auto& mapped : target.columns) {
    if (mapped.name == column) return mapped.typed_expression();
  }
  return "NULL";
}

std::string key_projection(const TableTransform& target) {
  std::string sql;
  for (const auto& key : target.key) {
    if (!sql.empty()) sql += ", ";
    sql += expression_of(target, key) + " AS " + quote_identifier(key);
  }
  return sql;
}

// The values to assign as they are (green's assignment converts them, refusing what does not
// fit), and the key columns in green's types, to compare with green's rows.
std::string projection_with_typed_keys(const TableTransform& target) {
  std::string sql;
  for (const auto& column : target.columns) {
    const bool key = std::find(target.key.begin(), target.key.end(), column.name) != target.key.end();
    sql += (sql.empty() ? "" : ", ") + (key ? column.typed_expression() : "(" + column.expression + ")") +
           " AS " + quote_identifier(column.name);
  }
  return sql;
}

std::string key_match(const TableTransform& target, const std::string& left,
                      const std::string& right) {
  std::string sql;
  for (const auto& key : target.key) {
    if (!sql.empty()) sql += " AND ";
    sql += left + "." + quote_identifier(key) + " = " + right + "." + quote_identifier(key);
  }
  return sql;
}

std::string column_list(const TableTransform& target) {
  std::string sql;
  for (const auto& column : target.columns) {
    if (!sql.empty()) sql += ", ";
    sql += quote_identifier(column.name);
  }
  return sql;
}

std::string upsert_sql(const TableTransform& target, const std::string& rows) {
  std::string sql = "INSERT INTO " + target.target.quoted() + " (" + column_list(target) +
                    ") SELECT " + target.projection() + " FROM " + rows + " WHERE " +
                    target.filter();
  if (target.key.empty()) return sql;
  std::string keys;
  std::string updates;
  for (const auto& key : target.key) keys += (keys.empty() ? "" : ", ") + quote_identifier(key);
  for (const auto& column : target.columns) {
    if (std::find(target.key.begin(), target.key.end(), column.name) != target.key.end()) continue;
    const std::string name = quote_identifier(column.name);
    updates += (updates.empty() ? "" : ", ") + name + " = EXCLUDED." + name;
  }
  sql += " ON CONFLICT (" + keys + ") DO " + (updates.empty() ? "NOTHING" : "UPDATE SET " + updates);
  return sql;
}

// The rows as one JSON array, their text as the change log carried it.
std::string json_array(const std::vector<const RowImage*>& rows) {
  std::size_t length = 2;
  for (const RowImage* row : rows) length += row->text().size() + 1;
  std::string text;
  text.reserve(length);
  text += '[';
  for (const RowImage* row : rows) {
    if (text.size() > 1) text += ',';
    text += row->text();
  }
  return text + "]";
}

void create_origin_if_missing(pqxx::transaction_base& work, const std::string& origin) {
  work.exec_params(
      "SELECT pg_replication_origin_create($1) WHERE NOT EXISTS "
      "(SELECT 1 FROM pg_replication_origin WHERE roname = $1)",
      origin);
}

// The plan's row of cutover.apply_position, written in the caller's transaction.
void write_position(pqxx::transaction_base& work, const std::string& plan_name, Lsn source_lsn,
                    std::int64_t next_offset, bool snapshot_complete) {
  work.exec_params(
      "INSERT INTO cutover.apply_position (plan, source_lsn, next_offset, snapshot_complete) "
      "VALUES ($1, $2::pg_lsn, $3, $4) ON CONFLICT (plan) DO UPDATE SET "
      "source_lsn = EXCLUDED.source_lsn, next_offset = EXCLUDED.next_offset, "
      "snapshot_complete = EXCLUDED.snapshot_complete, updated_at = now()",
      plan_name, source_lsn.to_string(), next_offset, snapshot_complete);
}

}  // namespace

std::string position_format_comment(int format) { return "cutover state format " + std::to_string(format); }

int position_format_of(const std::string& comment) {
  const std::string prefix = "cutover state format ";
  if (comment.rfind(prefix, 0) != 0) return 1;
  try {
    return std::stoi(comment.substr(prefix.size()));
  } catch (const std::exception&) {
    return 1;
  }
}

Status ensure_position_table(pqxx::connection& green) {
  try {
    pqxx::work work(green);
    work.exec(
        "CREATE SCHEMA IF NOT EXISTS cutover;"
        "CREATE TABLE IF NOT EXISTS cutover.apply_position ("
        "  plan text PRIMARY KEY,"
        "  source_lsn pg_lsn NOT NULL,"
        "  next_offset bigint NOT NULL,"
        "  snapshot_complete boolean NOT NULL,"
        "  updated_at timestamptz NOT NULL DEFAULT now());"
        // Added later; rows written before them have none.
        "ALTER TABLE cutover.apply_position ADD COLUMN IF NOT EXISTS source_system text;"
        "ALTER TABLE cutover.apply_position ADD COLUMN IF NOT EXISTS source_database text;"
        "ALTER TABLE cutover.apply_position ADD COLUMN IF NOT EXISTS tables text;"
        "ALTER TABLE cutover.apply_position ADD COLUMN IF NOT EXISTS relations text;"
        "COMMENT ON TABLE cutover.apply_position IS " + work.quote(position_format_comment(kPositionFormat)));
    work.commit();
    return Status::ok();
  } catch (const std::exception& error) {
    return status_of(error, "green: cannot create cutover.apply_position");
  }
}

namespace {

// The recorded relations: a JSON array of strings, or none in rows older than the column.
std::vector<std::string> relations_of(const pqxx::field& field) {
  std::vector<std::string> relations;
  if (field.is_null()) return relations;
  const json list = json::parse(field.c_str(), nullptr, false);
  if (!list.is_array()) return relations;
  for (const auto& relation : list) {
    if (relation.is_string()) relations.push_back(relation.get<std::string>());
  }
  return relations;
}

void write_owner(pqxx::transaction_base& work, const Plan& plan, const PositionOwner& owner) {
  work.exec_params(
      "UPDATE cutover.apply_position SET source_system = $2, source_database = $3, tables = $4, "
      "relations = $5 WHERE plan = $1",
      plan.name, owner.source_system, owner.source_database, owner.tables, json(owner.relations).dump());
}

}  // namespace

Status record_snapshot_started(pqxx::connection& green, const Plan& plan, const PositionOwner& owner) {
  try {
    pqxx::work work(green);
    write_position(work, plan.name, Lsn(), -1, false);
    write_owner(work, plan, owner);
    work.commit();
    return Status::ok();
  } catch (const std::exception& error) {
    return status_of(error, "green: recording the start of the snapshot");
  }
}

Status record_position_owner(pqxx::connection& green, const Plan& plan, const PositionOwner& owner) {
  try {
    pqxx::work work(green);
    write_owner(work, plan, owner);
    work.commit();
    return Status::ok();
  } catch (const std::exception& error) {
    return status_of(error, "green: recording the plan's tables");
  }
}

Status record_snapshot_complete(pqxx::connection& green, const Plan& plan, Lsn consistent_point) {
  try {
    pqxx::work work(green);
    create_origin_if_missing(work, plan.origin_name());
    work.exec_params("SELECT pg_replication_origin_advance($1, $2::pg_lsn)", plan.origin_name(),
                     consistent_point.to_string());
    write_position(work, plan.name, consistent_point, -1, true);
    work.commit();
    return Status::ok();
  } catch (const std::exception& error) {
    return status_of(error, "green: recording the end of the snapshot");
  }
}

Result<AppliedPosition> read_applied_position(pqxx::connection& green, const Plan& plan) {
  try {
    pqxx::nontransaction query(green);
    const auto exists = query.exec(
        "SELECT to_regclass('cutover.apply_position') IS NOT NULL, "
        "obj_description(to_regclass('cutover.apply_position'), 'pg_class')");
    AppliedPosition position;
    if (!exists[0][0].as<bool>()) return position;
    const int format = position_format_of(exists[0][1].is_null() ? "" : exists[0][1].c_str());
    if (format > kPositionFormat) {
      return Status::error("green's cutover.apply_position is of state format " + std::to_string(format) +
                           ", written by a newer cutover; this one reads format " + std::to_string(kPositionFormat) +
                           " and older. Run the cutover that wrote it (nothing was changed)");
    }
    // The owner's columns through to_jsonb: a table made by an older cutover lacks them.
    const auto rows = query.exec_params(
        "SELECT source_lsn::text, next_offset, snapshot_complete, to_jsonb(p) ->> 'source_system', "
        "to_jsonb(p) ->> 'source_database', to_jsonb(p) ->> 'tables', to_jsonb(p) ->> 'relations' "
        "FROM cutover.apply_position p WHERE plan = $1",
        plan.name);
    if (rows.empty()) return position;
    position.recorded = true;
    position.source_lsn = *Lsn::parse(rows[0][0].c_str());
    position.next_offset = rows[0][1].as<std::int64_t>();
    position.snapshot_complete = rows[0][2].as<bool>();
    if (!rows[0][3].is_null()) {
      position.owner = PositionOwner{rows[0][3].as<std::string>(),
                                     rows[0][4].is_null() ? "" : rows[0][4].as<std::string>(),
                                     rows[0][5].is_null() ? "" : rows[0][5].as<std::string>(),
                                     relations_of(rows[0][6])};
    }
    // The origin moves in the same transaction; it is the authority when both exist.
    position.source_lsn =
        std::max(position.source_lsn, replication_origin_position(query, plan.origin_name()));
    return position;
  } catch (const std::exception& error) {
    return status_of(error, "green: reading the applied position");
  }
}

Status forget_plan(pqxx::connection& green, const Plan& plan) {
  try {
    pqxx::work work(green);
    if (work.exec("SELECT to_regclass('cutover.apply_position') IS NOT NULL")[0][0].as<bool>()) {
      work.exec_params("DELETE FROM cutover.apply_position WHERE plan = $1", plan.name);
      const bool others = work.exec("SELECT EXISTS (SELECT 1 FROM cutover.apply_position)")[0][0].as<bool>();
      const bool only_position = work.exec(
          "SELECT count(*) = 1 FROM pg_class WHERE relnamespace = 'cutover'::regnamespace "
          "AND relkind IN ('r', 'v', 'm', 'p', 'f')")[0][0].as<bool>();
      if (!others && only_position) work.exec("DROP SCHEMA cutover CASCADE");
    }
    work.exec_params(
        "SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin WHERE roname = $1",
        plan.origin_name());
    work.commit();
    return Status::ok();
  } catch (const std::exception& error) {
    return status_of(error, "green: removing the record of the failed snapshot");
  }
}

Result<std::vector<std::string>> recorded_plans(pqxx::connection& green) {
  try {
    pqxx::nontransaction query(green);
    std::vector<std::string> plans;
    if (!query.exec("SELECT to_regclass('cutover.apply_position') IS NOT NULL")[0][0].as<bool>()) {
      return plans;
    }
    for (const auto& row : query.exec("SELECT plan FROM cutover.apply_position ORDER BY plan")) {
      plans.push_back(row[0].as<std::string>());
    }
    return plans;
  } catch (const std::exception& error) {
    return status_of(error, "green: reading the recorded plans");
  }
}

TargetWriter::TargetWriter(std::unique_ptr<pqxx::connection> green, const Plan& plan)
    : green_(std::move(green)), plan_name_(plan.name), origin_(plan.origin_name()) {}

TargetWriter::~TargetWriter() { rollback(); }

Status TargetWriter::open_session() {
  try {
    pqxx::nontransaction session(*green_);
    session.exec("SET session_replication_role = replica");
    session.exec("SET synchronous_commit = on");
    // The target may be fenced (after a switch, the reverse pipeline writes into blue).
    session.exec("SET default_transaction_read_only = off");
    create_origin_if_missing(session, origin_);
    session.exec_params("SELECT pg_replication_origin_session_setup($1)", origin_);
    return Status::ok();
  } catch (const std::exception& error) {
    // An origin still held by the session of an applier that just died (until green notices
    // the lost connection) is "object in use", retried like a lost connection.
    const Status failed = status_of(error, "green: preparing the apply session (replication origin " + origin_ + ")");
    if (failed.kind() != ErrorKind::kRefused) return failed;
    return Status::of(failed.kind(), failed.message() +
                                         " (`cutover validate --connect` names the privileges the role "
                                         "lacks; see docs/privileges.md)");
  }
}

pqxx::work& TargetWriter::transaction() {
  if (!transaction_) transaction_ = std::make_unique<pqxx::work>(*green_);
  return *transaction_;
}

void TargetWriter::rollback() {
  if (!transaction_) return;
  try {
    transaction_->abort();
  } catch (const std::exception&) {
    // The connection is gone; the server rolls the transaction back itself.
  }
  transaction_.reset();
}

Status TargetWriter::write(const TableTransform& target,
                          const std::vector<SourceColumn>& source_columns,
                          std::shared_ptr<const SourceBatch> batch) {
  try {
    if (batch->unkeyed().empty()) return write_keyed(target, source_columns, *batch);
    return write_unkeyed(target, source_columns, *batch);
  } catch (const std::exception& error) {
    rollback();
    return status_of(error, "green: applying changes of " + target.source.text() + " to " + target.target.text());
  }
}

Status TargetWriter::write_keyed(const TableTransform& target,
                                const std::vector<SourceColumn>& source_columns,
                                const SourceBatch& batch) {
  const std::string first_rows = rows_from(source_columns, target.source.name, 1);
  const std::string second_rows = rows_from(source_columns, target.source.name, 2);
  std::vector<const RowImage*> old_rows;
  std::vector<const RowImage*> current_rows;
  std::map<std::set<std::string>, std::vector<const RowImage*>> current_keeping;  // by unchanged set
  for (const auto& [key, pending] : batch.rows()) {
    if (pending.first_before) old_rows.push_back(&*pending.first_before);
    if (!pending.after) continue;
    if (pending.unchanged_toast.empty()) {
      current_rows.push_back(&*pending.after);
    } else {
      current_keeping[pending.unchanged_toast].push_back(&*pending.after);
    }
  }
  pqxx::work& work = transaction();
  if (!target.key.empty()) {
    // Rows that left: old keys no current row keeps, and current rows the filter rejects.
    std::vector<const RowImage*> all_current = current_rows;
    for (const auto& [unchanged, rows] : current_keeping) {
      all_current.insert(all_current.end(), rows.begin(), rows.end());
    }
    if (!old_rows.empty() || (!target.where.empty() && !all_current.empty())) {
      const std::string keys = key_projection(target);
      const std::string sql =
          "DELETE FROM " + target.target.quoted() + " AS t USING (SELECT " + keys + " FROM " +
          first_rows + " UNION ALL SELECT " + keys + " FROM " + second_rows + " WHERE " +
          target.filter() + " IS NOT TRUE EXCEPT SELECT " + keys + " FROM " + second_rows +
          " WHERE " + target.filter() + ") AS d WHERE " + key_match(target, "t", "d");
      work.exec_params(sql, json_array(old_rows), json_array(all_current));
    }
  }
  if (!current_rows.empty()) {
    work.exec_params(upsert_sql(target, first_rows), json_array(current_rows));
  }
  for (const auto& [unchanged, rows] : current_keeping) {
    // Green keeps the unchanged TOAST values: only the other columns are updated.
    const auto keep = target.columns_reading(unchanged);
    std::string assignments;
    for (const auto& column : target.columns) {
      // The applier completed every row a computed column needs (needs_complete_row), so
      // what reads an unchanged value here is a plain copy of it.
      if (keep.count(column.name)) continue;
      const std::string name = quote_identifier(column.name);
      assignments += (assignments.empty() ? "" : ", ") + name + " = d." + name;
    }
    if (assignments.empty() || target.key.empty()) continue;
    work.exec_params("UPDATE " + target.target.quoted() + " AS t SET " + assignments +
                         " FROM (SELECT " + projection_with_typed_keys(target) + " FROM " + first_rows +
                         " WHERE " + target.filter() + ") AS d WHERE " +
                         key_match(target, "t", "d"),
                     json_array(rows));
  }
  return Status::ok();
}

Status TargetWriter::write_unkeyed(const TableTransform& target,
                                  const std::vector<SourceColumn>& source_columns,
                                  const SourceBatch& batch) {
  const std::string rows = rows_from(source_columns, target.source.name, 1);
  pqxx::work& work = transaction();
  std::string matches;
  for (const auto& column : target.columns) {
    const std::string name = quote_identifier(column.name);
    matches += (matches.empty() ? "" : " AND ") + std::string("t.") + name +
               " IS NOT DISTINCT FROM d." + name;
  }
  const std::string delete_one =
      "DELETE FROM " + target.target.quoted() + " WHERE ctid = (SELECT t.ctid FROM " +
      target.target.quoted() + " AS t, (SELECT " + target.typed_projection() + " FROM " +
      rows + " WHERE " + target.filter() + ") AS d WHERE " + matches + " LIMIT 1)";
  const std::string insert = upsert_sql(target, rows);
  // Inserts in a row go in one statement; an update or delete ends the run.
  std::vector<const RowImage*> inserts;
  auto insert_run = [&] {
    if (!inserts.empty()) work.exec_params(insert, json_array(inserts));
    inserts.clear();
  };
  for (const auto& event : batch.unkeyed()) {
    if (event.op == 'c') {
      inserts.push_back(&*event.after);
      continue;
    }
    insert_run();
    if (!event.before) {
      return Status::error("green: " + target.source.text() +
                           " has no key, so its updates and deletes need REPLICA IDENTITY FULL "
                           "on blue (ALTER TABLE " + target.source.quoted() +
                           " REPLICA IDENTITY FULL)");
    }
    work.exec_params(delete_one, json_array({&*event.before}));
    if (event.op == 'u') work.exec_params(insert, json_array({&*event.after}));
  }
  insert_run();
  return Status::ok();
}

Status TargetWriter::truncate(const TableTransform& target) {
  try {
    transaction().exec("TRUNCATE " + target.target.quoted());
    return Status::ok();
  } catch (const std::exception& error) {
    rollback();
    return status_of(error, "green: truncating " + target.target.text());
  }
}

Status TargetWriter::commit(Lsn source_end, std::int64_t commit_ts_ms, std::int64_t next_offset) {
  try {
    pqxx::work& work = transaction();
    work.exec_params(
        "SELECT pg_replication_origin_xact_setup($1::pg_lsn, to_timestamp($2::double precision / 1000))",
        source_end.to_string(), commit_ts_ms);
    write_position(work, plan_name_, source_end, next_offset, true);
    work.commit();
    transaction_.reset();
    return Status::ok();
  } catch (const pqxx::in_doubt_error& error) {
    // Whether it committed shows in green's position, which the next session reads.
    transaction_.reset();
    return status_of(error, "green: commit outcome unknown");
  } catch (const std::exception& error) {
    rollback();
    return status_of(error, "green: commit");
  }
}

}  // namespace cutover
