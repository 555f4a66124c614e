#include "cutover/pipeline/connected_validation.h"

#include <chrono>
#include <sstream>

#include "cutover/apply/green_writer.h"
#include "cutover/capture/preflight.h"
#include "cutover/plan/reverse_plan.h"
#include "cutover/transform/table_transform.h"

namespace cutover {

namespace {

void add_lines(const std::string& text, std::vector<std::string>& problems) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) problems.push_back(line);
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

// The snapshot reads every source table; the applier needs superuser on green for
// session_replication_role and replication origins.
void check_privileges(const Plan& plan, const std::vector<TableTransform>& transforms,
                      pqxx::connection& blue, pqxx::connection& green,
                      std::vector<std::string>& problems) {
  pqxx::nontransaction blue_query(blue);
  for (const auto& transform : transforms) {
    const auto allowed = blue_query.exec(
        "SELECT has_table_privilege(" + blue_query.quote(transform.source.quoted()) + ", 'SELECT')");
    if (!allowed[0][0].as<bool>()) {
      problems.push_back(plan.file + ": " + table_entry(transform.plan_index) +
                         ".source: blue's role may not read " + transform.source.text() +
                         " (GRANT SELECT ON " + transform.source.quoted() + " TO <the plan's user>)");
    }
  }
  pqxx::nontransaction green_query(green);
  const auto role = green_query.exec("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user");
  if (!role.empty() && !role[0][1].as<bool>()) {
    problems.push_back(std::string("green: role ") + role[0][0].c_str() +
                       " is not a superuser; the applier needs one for session_replication_role "
                       "= replica (no triggers or foreign-key checks on replicated rows) and for "
                       "the replication origin that records its position");
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

// A plan with a way back (derived, or reverse.columns) must have one that works, or the
// switch would find out too late. A plan without one (a split, a merge, a computed column
// without reverse.columns) is allowed: its switch needs --force-without-rollback.
void check_reverse(const Plan& plan, pqxx::connection& blue, pqxx::connection& green,
                   std::vector<std::string>& problems) {
  auto reverse = derive_reverse_plan(plan);
  if (!reverse) return;
  auto mapped = check_reverse_mapping(*reverse, green, blue);
  if (!mapped) problems.push_back("rollback: " + mapped.status().message());
}

}  // namespace

std::vector<std::string> check_plan_against_databases(const Plan& plan) {
  std::vector<std::string> problems;
  if (!plan.green) {
    problems.push_back(plan.file + ": green: is required (dsn or dsn_env)");
    return problems;
  }
  auto blue = open_postgres(plan.blue.dsn, "blue");
  if (!blue) problems.push_back(blue.status().message());
  auto green = open_postgres(plan.green->dsn, "green");
  if (!green) problems.push_back(green.status().message());
  if (!blue || !green) return problems;

  // Capture's own checks: wal_level, encoding, REPLICATION, tables, keys, slots.
  if (auto capture = check_blue_for_capture(plan, std::chrono::milliseconds(0)); !capture) {
    add_lines(capture.status().message(), problems);
  }
  auto transforms = resolve_transforms(plan, **blue, **green, &problems);
  if (!transforms) {
    add_lines(transforms.status().message(), problems);
    return problems;
  }
  try {
    check_expressions(plan, *transforms, **blue, **green, problems);
    check_keys_and_identity(plan, *transforms, **blue, **green, problems);
    check_privileges(plan, *transforms, **blue, **green, problems);
    check_green_empty(plan, *transforms, **green, problems);
    // Only a plan that works forward is worth checking backward: its problems would repeat.
    if (problems.empty()) check_reverse(plan, **blue, **green, problems);
  } catch (const std::exception& error) {
    problems.push_back(std::string("checking the plan against the databases: ") + error.what());
  }
  return problems;
}

}  // namespace cutover
