#include "cutover/pipeline/server_compatibility.h"

#include <algorithm>

namespace cutover {

namespace {

struct ServerFacts {
  int version_num = 0;
  std::string version;
  std::string encoding;
  std::string integer_datetimes;
};

ServerFacts read_server(pqxx::connection& connection) {
  pqxx::nontransaction query(connection);
  const auto row = query.exec1(
      "SELECT current_setting('server_version_num')::int, current_setting('server_version'), "
      "current_setting('server_encoding'), current_setting('integer_datetimes')");
  return {row[0].as<int>(), row[1].as<std::string>(), row[2].as<std::string>(), row[3].as<std::string>()};
}

// A column's collation as what decides order and equality: provider and locale (the
// database's when the column uses the default), and whether equal means byte-equal. Read
// through to_jsonb, as the catalog columns moved between majors (colliculocale in 15 and 16,
// colllocale from 17, datlocprovider from 15). Empty when the column has no collation.
struct Collation {
  std::string description;
  bool deterministic = true;
};

Collation collation_of(pqxx::connection& connection, const QualifiedName& table, const std::string& column) {
  pqxx::nontransaction query(connection);
  const auto rows = query.exec_params(
      "WITH col AS (SELECT a.attcollation FROM pg_attribute a "
      "  WHERE a.attrelid = format('%I.%I', $1::text, $2::text)::regclass AND a.attname = $3), "
      "db AS (SELECT to_jsonb(d) AS d FROM pg_database d WHERE d.datname = current_database()), "
      "co AS (SELECT to_jsonb(c) AS c FROM pg_collation c, col WHERE c.oid = col.attcollation) "
      "SELECT CASE WHEN col.attcollation = 0 THEN '' "
      "  WHEN (SELECT c ->> 'collname' FROM co) = 'default' THEN (SELECT 'the database default (' || "
      "    coalesce(d ->> 'datlocprovider', 'c') || ' ' || CASE WHEN d ->> 'datlocprovider' IN ('i', 'b') "
      "    THEN coalesce(d ->> 'datlocale', d ->> 'daticulocale', '') ELSE d ->> 'datcollate' END || ')' FROM db) "
      "  ELSE (SELECT (c ->> 'collname') || ' (' || (c ->> 'collprovider') || ' ' || "
      "    coalesce(c ->> 'colllocale', c ->> 'colliculocale', c ->> 'collcollate', '') || ')' FROM co) END, "
      "  coalesce((SELECT (c ->> 'collisdeterministic')::boolean FROM co), true) "
      "FROM col",
      table.schema, table.name, column);
  if (rows.empty()) return {};
  return {rows[0][0].as<std::string>(""), rows[0][1].as<bool>(true)};
}

void check_key_collations(const Plan& plan, const std::vector<TableTransform>& transforms,
                          pqxx::connection& blue, pqxx::connection& green, DatabaseCheck& check) {
  for (const auto& transform : transforms) {
    for (const auto& key : transform.key) {
      const auto column = std::find_if(transform.columns.begin(), transform.columns.end(),
                                       [&](const TargetColumn& candidate) { return candidate.name == key; });
      if (column == transform.columns.end()) continue;
      const Collation on_green = collation_of(green, transform.target, key);
      if (on_green.description.empty()) continue;
      const std::string entry = plan.file + ": tables[" + std::to_string(transform.plan_index) + "]: key " +
                                transform.target.text() + "." + key;
      if (column->carried_column.empty()) {
        // A computed key: nothing on the source to compare with, so only byte equality is safe.
        if (!on_green.deterministic) {
          check.problems.push_back(entry + " is computed (" + column->expression + ") and its collation on " +
                                   plan.target_side() + " is nondeterministic (" + on_green.description +
                                   "): values the source keeps apart may be equal there, so rows would merge. "
                                   "Give the column a deterministic collation");
        }
        continue;
      }
      const Collation on_blue = collation_of(blue, transform.source, column->carried_column);
      if (on_blue.description.empty() || on_blue.description == on_green.description) continue;
      const std::string where = entry + " (from " + transform.source.text() + "." + column->carried_column + ")";
      // Two collations that differ agree on equality only if both compare bytes.
      if (!on_green.deterministic || !on_blue.deterministic) {
        check.problems.push_back(
            where + ": its collation is " + (on_blue.deterministic ? "" : "non") + "deterministic on " +
            plan.source_side() + " (" + on_blue.description + ") and " + (on_green.deterministic ? "" : "non") +
            "deterministic on " + plan.target_side() + " (" + on_green.description +
            "): keys that differ on one side are equal on the other, so rows would merge or be lost. "
            "Give both columns collations that agree on equality");
      } else {
        check.warnings.push_back(
            where + ": collation " + on_blue.description + " on " + plan.source_side() + ", " +
            on_green.description + " on " + plan.target_side() +
            ": the sides order keys differently, so verification finds rows in other chunks than "
            "their neighbours and matches them across chunks, which is slower; values are unchanged");
      }
    }
  }
}

}  // namespace

std::string unsupported_version_problem(int server_version_num, const std::string& side) {
  const int major = server_version_num / 10000;
  if (major >= kOldestSupportedMajor && major <= kNewestSupportedMajor) return "";
  return side + ": PostgreSQL " + std::to_string(server_version_num / 10000) +
         " is not supported; cutover supports PostgreSQL " + std::to_string(kOldestSupportedMajor) +
         " to " + std::to_string(kNewestSupportedMajor) + " (docs/supported-versions.md)";
}

std::vector<std::string> unsupported_versions(const Plan& plan, pqxx::connection& blue,
                                              pqxx::connection& green) {
  std::vector<std::string> problems;
  for (const auto& [connection, side] : {std::pair{&blue, plan.source_side()}, std::pair{&green, plan.target_side()}}) {
    const ServerFacts facts = read_server(*connection);
    if (auto problem = unsupported_version_problem(facts.version_num, side); !problem.empty()) {
      problems.push_back(problem + " (server_version " + facts.version + ")");
    }
  }
  return problems;
}

void check_servers_compatible(const Plan& plan, const std::vector<TableTransform>& transforms,
                              pqxx::connection& blue, pqxx::connection& green, DatabaseCheck& check) {
  const ServerFacts source = read_server(blue);
  const ServerFacts target = read_server(green);
  // Blue's encoding is the capture's check (events are JSON, in UTF8). Green must hold every
  // character blue's text can: anything else stops the applier at the first one it cannot.
  if (target.encoding != "UTF8") {
    check.problems.push_back(plan.target_side() + ": server_encoding is " + target.encoding + ", " +
                             plan.source_side() + "'s is " + source.encoding +
                             ": a character " + target.encoding +
                             " cannot hold would stop the move at the first row that has one, and "
                             "the reverse pipeline needs UTF8 to capture from " + plan.target_side() +
                             ". Create " + plan.target_side() + " with ENCODING 'UTF8'");
  }
  if (source.integer_datetimes != target.integer_datetimes) {
    check.problems.push_back("integer_datetimes is " + source.integer_datetimes + " on " + plan.source_side() +
                             " and " + target.integer_datetimes + " on " + plan.target_side() +
                             ": timestamps would change precision in the move");
  }
  check_key_collations(plan, transforms, blue, green, check);
}

}  // namespace cutover
