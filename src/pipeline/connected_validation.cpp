#include "cutover/pipeline/connected_validation.h"

#include <chrono>
#include <sstream>

#include "cutover/apply/apply_privileges.h"
#include "cutover/apply/green_writer.h"
#include "cutover/capture/preflight.h"
#include "cutover/plan/reverse_plan.h"
#include "cutover/transform/table_transform.h"

namespace cutover {

namespace {

void add_lines(const std::string& text, std::vector<std::string>& problems, const std::string& prefix = "") {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) problems.push_back(prefix + line);
  }
}

std::string table_entry(std::size_t index) { return "tables[" + std::to_string(index) + "]"; }

// The type each target expression has on blue, from a view created in a transaction that is
// rolled back. Reports expressions that do not evaluate.
void check_expressions(const Plan& plan, const std::vector<TableTransform>& transforms,
                       pqxx::connection& blue, pqxx::connection& green,
                       std::vector<std::string>& problems) {
  for (std::size_t index = 0; index < transforms.size(); ++index) {
    const TableTransform& transform = transforms[index];
    const std::string entry = table_entry(transform.plan_index);
    std::vector<std::string> expression_types;
    try {
      pqxx::work trial(blue);
      trial.exec("CREATE TEMP VIEW cutover_validate AS SELECT " + transform.projection() +
                 " FROM " + transform.source.quoted() + " AS " +
                 quote_identifier(transform.source.name) + " WHERE " + transform.filter());
      for (const auto& row : trial.exec(
               "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = "
               "'cutover_validate'::regclass AND attnum > 0 ORDER BY attnum")) {
        expression_types.push_back(row[0].c_str());
      }
      trial.abort();
    } catch (const std::exception& error) {
      std::string reason = error.what();
      while (!reason.empty() && reason.back() == '\n') reason.pop_back();
      problems.push_back(plan.file + ": " + entry + ".columns: the transform of " +
                         transform.source.text() + " does not run on blue: " + reason);
      continue;
    }
    for (std::size_t column = 0; column < transform.columns.size(); ++column) {
      const TargetColumn& target = transform.columns[column];
      try {
        pqxx::work trial(green);
        trial.exec("SELECT CAST(NULL::" + expression_types[column] + " AS " + target.sql_type + ")");
        trial.abort();
      } catch (const std::exception&) {
        problems.push_back(plan.file + ": " + entry + ".columns." + target.name + ": gives " +
                           expression_types[column] + ", which does not convert to green's " +
                           target.sql_type);
      }
    }
  }
}

void check_keys_and_identity(const Plan& plan, const std::vector<TableTransform>& transforms,
                             pqxx::connection& blue, pqxx::connection& green,
                             std::vector<std::string>& problems) {
  pqxx::nontransaction blue_query(blue);
  pqxx::nontransaction green_query(green);
  for (std::size_t index = 0; index < transforms.size(); ++index) {
    const TableTransform& transform = transforms[index];
    const std::string entry = plan.file + ": " + table_entry(transform.plan_index);
    const auto identity = blue_query.exec(
        "SELECT relreplident FROM pg_class WHERE oid = to_regclass(" +
        blue_query.quote(transform.source.quoted()) + ")");
    const std::string replica_identity = identity.empty() ? "" : identity[0][0].c_str();
    if (transform.key.empty()) {
      // A keyless target takes inserts, and updates and deletes matched on the whole old row.
      if (replica_identity == "f") continue;
      problems.push_back(entry + ".key: green's " + transform.target.text() +
                         " has no primary key; name the target key with key: [...], or set "
                         "REPLICA IDENTITY FULL on blue's " + transform.source.text());
      continue;
    }
    std::string key_array;
    for (const auto& key : transform.key) {
      key_array += (key_array.empty() ? "" : ",") + green_query.quote(key);
    }
    const auto unique = green_query.exec(
        "SELECT count(*) FROM pg_index i WHERE i.indrelid = to_regclass(" +
        green_query.quote(transform.target.quoted()) +
        ") AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL AND "
        "(SELECT array_agg(attname::text ORDER BY attname) FROM pg_attribute WHERE attrelid = "
        "i.indrelid AND attnum = ANY(i.indkey)) = (SELECT array_agg(k ORDER BY k) FROM "
        "unnest(ARRAY[" + key_array + "]::text[]) k)");
    if (unique[0][0].as<long>() == 0) {
      problems.push_back(entry + ".key: green's " + transform.target.text() +
                         " has no unique index on (" + key_array +
                         "), which the applier's upserts need");
    }
    if (replica_identity == "f") continue;
    // Deletes and key changes send only the identity columns of the old row: the target
    // key must be computable from them.
    std::set<std::string> identity_columns(transform.source_key.begin(), transform.source_key.end());
    for (const auto& key : transform.key) {
      for (const auto& column : transform.columns) {
        if (column.name != key) continue;
        for (const auto& used : referenced_identifiers(column.expression)) {
          bool is_source_column = false;
          for (const auto& source : transform.source_columns) is_source_column |= source.name == used;
          if (is_source_column && !identity_columns.count(used)) {
            problems.push_back(entry + ".key: target key " + key + " is computed from " + used +
                               ", which blue does not send for deletes (not in the replica "
                               "identity of " + transform.source.text() +
                               "); run ALTER TABLE " + transform.source.quoted() +
                               " REPLICA IDENTITY FULL");
          }
        }
      }
    }
  }
}

// The snapshot reads every source table, the switch every mapped sequence of blue; the
// applier writes green's targets, its position and origin, with triggers off.
void check_privileges(const Plan& plan, const std::vector<TableTransform>& transforms,
                      pqxx::connection& blue, pqxx::connection& green,
                      std::vector<std::string>& problems) {
  {
    pqxx::nontransaction blue_query(blue);
    auto may_read = [&](bool sequence, const QualifiedName& object, const std::string& field) {
      const std::string ask = sequence ? "has_sequence_privilege" : "has_table_privilege";
      // A sequence that is not there is check_sequences_exist's to report.
      const auto row = blue_query.exec_params(
          "SELECT to_regclass($1) IS NULL OR " + ask + "($1, 'SELECT')", object.quoted());
      if (row[0][0].as<bool>()) return;
      problems.push_back(plan.file + ": " + field + ": blue's role may not read " + object.text() +
                         " (GRANT SELECT ON " + (sequence ? "SEQUENCE " : "") + object.quoted() +
                         " TO <the plan's user>)");
    };
    for (const auto& transform : transforms) {
      may_read(false, transform.source, table_entry(transform.plan_index) + ".source");
    }
    for (std::size_t index = 0; index < plan.sequences.size(); ++index) {
      may_read(true, plan.sequences[index].source, "sequences[" + std::to_string(index) + "].source");
    }
  }
  for (const auto& missing : missing_apply_privileges(green, plan, transforms)) problems.push_back(missing);
}

// The switch sets each mapped sequence of the side clients move to from the side they leave.
void check_sequences_exist(const Plan& plan, pqxx::connection& blue, pqxx::connection& green,
                           std::vector<std::string>& problems) {
  pqxx::nontransaction blue_query(blue);
  pqxx::nontransaction green_query(green);
  const std::string is_sequence =
      "SELECT coalesce((SELECT relkind = 'S' FROM pg_class WHERE oid = to_regclass($1)), false)";
  for (std::size_t index = 0; index < plan.sequences.size(); ++index) {
    const std::string field = plan.file + ": sequences[" + std::to_string(index) + "]";
    const auto& sequence = plan.sequences[index];
    if (!blue_query.exec_params(is_sequence, sequence.source.quoted())[0][0].as<bool>()) {
      problems.push_back(field + ".source: blue has no sequence " + sequence.source.text());
    }
    if (!green_query.exec_params(is_sequence, sequence.target.quoted())[0][0].as<bool>()) {
      problems.push_back(field + ".target: green has no sequence " + sequence.target.text());
    }
  }
}

void check_green_empty(const Plan& plan, const std::vector<TableTransform>& transforms,
                       pqxx::connection& green, std::vector<std::string>& problems) {
  auto position = read_applied_position(green, plan);
  if (position && position->snapshot_complete) return;
  for (const auto& target : targets_holding_rows(green, transforms)) {
    problems.push_back("green: " + target.text() +
                       " already has rows; the snapshot copies into empty tables only");
  }
}

// What the roles lack to run the way back: blue's to apply there; green's to be captured
// (wal_level, REPLICATION, its publication) and to see its sessions for the rollback's
// guardrail. One line each, starting "rollback: ".
std::vector<std::string> roles_short_of_rollback(const Plan& reverse, const std::vector<TableTransform>& mapped,
                                                 pqxx::connection& green, pqxx::connection& blue) {
  std::vector<std::string> problems;
  try {
    for (const auto& missing : missing_apply_privileges(blue, reverse, mapped)) problems.push_back("rollback: " + missing);
    if (auto sees = check_sees_other_sessions(green, reverse.source_side()); !sees) {
      problems.push_back("rollback: " + sees.message());
    }
  } catch (const std::exception& error) {
    problems.push_back(std::string("rollback: checking privileges: ") + error.what());
  }
  if (auto capture = check_blue_for_capture(reverse, std::chrono::milliseconds(0)); !capture) {
    add_lines(capture.status().message(), problems, "rollback: ");
  }
  return problems;
}

// A plan with a way back (derived, or reverse.columns) must have one that maps, or the
// switch would find out too late. A plan without one (a split, a merge, a computed column
// without reverse.columns) is allowed: its switch needs --force-without-rollback. Whether the
// roles could run the way back is a warning: that can be fixed before the switch.
void check_reverse(const Plan& plan, pqxx::connection& blue, pqxx::connection& green, DatabaseCheck& check) {
  auto reverse = derive_reverse_plan(plan);
  if (!reverse) return;
  auto mapped = check_reverse_mapping(*reverse, green, blue);
  if (!mapped) {
    check.problems.push_back("rollback: " + mapped.status().message());
    return;
  }
  for (auto& problem : roles_short_of_rollback(*reverse, *mapped, green, blue)) check.warnings.push_back(std::move(problem));
}

}  // namespace

Status check_sees_other_sessions(pqxx::connection& connection, const std::string& side) {
  pqxx::nontransaction query(connection);
  const auto row = query.exec1(
      "SELECT current_user, rolsuper OR pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') "
      "FROM pg_roles WHERE rolname = current_user");
  if (row[1].as<bool>()) return Status::ok();
  const std::string role = row[0].as<std::string>();
  return Status::error(side + ": role " + role + " cannot see other roles' transactions in pg_stat_activity, "
                       "which the long_write_transactions guardrail reads before a freeze (GRANT "
                       "pg_read_all_stats TO " + quote_identifier(role) + ")");
}

Result<std::size_t> check_rollback_ready(const Plan& reverse, pqxx::connection& green, pqxx::connection& blue) {
  auto mapped = check_reverse_mapping(reverse, green, blue);
  if (!mapped) return mapped.status().with_context("rollback");
  const auto problems = roles_short_of_rollback(reverse, *mapped, green, blue);
  if (problems.empty()) return mapped->size();
  std::string message;
  for (const auto& problem : problems) message += (message.empty() ? "" : "\n") + problem;
  return Status::error(message);
}

DatabaseCheck check_plan_against_databases(const Plan& plan) {
  DatabaseCheck check;
  auto& problems = check.problems;
  if (!plan.green) {
    problems.push_back(plan.file + ": green: is required (dsn or dsn_env)");
    return check;
  }
  auto blue = open_postgres(plan.blue.dsn, "blue");
  if (!blue) problems.push_back(blue.status().message());
  auto green = open_postgres(plan.green->dsn, "green");
  if (!green) problems.push_back(green.status().message());
  if (!blue || !green) return check;

  // Capture's own checks: wal_level, encoding, REPLICATION, tables, keys, slots.
  if (auto capture = check_blue_for_capture(plan, std::chrono::milliseconds(0)); !capture) {
    add_lines(capture.status().message(), problems);
  }
  auto transforms = resolve_transforms(plan, **blue, **green, &problems);
  if (!transforms) {
    add_lines(transforms.status().message(), problems);
    return check;
  }
  try {
    check_expressions(plan, *transforms, **blue, **green, problems);
    check_keys_and_identity(plan, *transforms, **blue, **green, problems);
    check_sequences_exist(plan, **blue, **green, problems);
    check_privileges(plan, *transforms, **blue, **green, problems);
    check_green_empty(plan, *transforms, **green, problems);
    if (auto sees = check_sees_other_sessions(**blue, plan.source_side()); !sees) {
      check.warnings.push_back(sees.message());
    }
    // Only a plan that works forward is worth checking backward: its problems would repeat.
    if (problems.empty()) check_reverse(plan, **blue, **green, check);
  } catch (const std::exception& error) {
    problems.push_back(std::string("checking the plan against the databases: ") + error.what());
  }
  return check;
}

}  // namespace cutover
