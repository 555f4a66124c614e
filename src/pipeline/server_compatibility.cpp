#include "cutover/pipeline/server_compatibility.h"

#include <algorithm>
#include <tuple>

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

// Key collations as resolve_transforms read them on both sides.
void check_key_collations(const Plan& plan, const std::vector<TableTransform>& transforms, DatabaseCheck& check) {
  for (const auto& transform : transforms) {
    for (const auto& [key, collations] : transform.key_collations) {
      const auto& [on_blue, on_green] = collations;
      const auto column = std::find_if(transform.columns.begin(), transform.columns.end(),
                                       [&](const TargetColumn& candidate) { return candidate.name == key; });
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
      if (on_blue.description.empty() || on_blue.same_order_as(on_green)) continue;
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
            ": the sides order keys differently, so verification compares this key in byte order "
            "(COLLATE \"C\"), which neither side's index serves: each of its chunks reads the whole "
            "table; values are unchanged");
      }
    }
  }
}

// Every session cutover opens pins lc_monetary to C, where money has 2 decimal places: a
// money value travels and is read by transforms in that form. A side whose own lc_monetary
// has another number of places stores amounts on another scale (1234 is 1234 yen under
// ja_JP, 12.34 under C), so its money columns would change amount on the way.
constexpr int kPinnedMoneyScale = 2;

struct Monetary {
  std::string locale;  // the database's (or role's) lc_monetary, what its clients get
  int scale = kPinnedMoneyScale;
};

Monetary read_monetary(pqxx::connection& connection) {
  pqxx::work work(connection);  // never committed: the locale is set for this transaction only
  const auto locale = work.exec1("SELECT reset_val FROM pg_settings WHERE name = 'lc_monetary'")[0].as<std::string>();
  work.exec_params("SELECT set_config('lc_monetary', $1, true)", locale);
  return {locale, work.exec1("SELECT scale(1::money::numeric)")[0].as<int>()};
}

// The plan's columns of `tables` holding money: plainly, in an array, or under a domain.
std::vector<std::string> money_columns(pqxx::connection& connection, const std::vector<QualifiedName>& tables) {
  std::vector<std::string> names;
  for (const auto& table : tables) names.push_back(table.quoted());
  pqxx::nontransaction query(connection);
  const auto rows = query.exec_params(
      "SELECT format('%s.%s.%s', n.nspname, c.relname, a.attname) "
      "FROM unnest($1::text[]) WITH ORDINALITY AS t(name, position) "
      "JOIN pg_class c ON c.oid = to_regclass(t.name) JOIN pg_namespace n ON n.oid = c.relnamespace "
      "JOIN pg_attribute a ON a.attrelid = c.oid JOIN pg_type ty ON ty.oid = a.atttypid "
      "LEFT JOIN pg_type base ON base.oid = ty.typbasetype "
      "WHERE a.attnum > 0 AND NOT a.attisdropped "
      "AND 'money'::regtype IN (ty.oid, ty.typelem, ty.typbasetype, base.typelem) "
      "ORDER BY t.position, a.attnum",
      text_array_literal(names));
  std::vector<std::string> columns;
  for (const auto& row : rows) columns.push_back(row[0].as<std::string>());
  return columns;
}

std::string joined(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : ", ") + item;
  return text;
}

void check_money(const Plan& plan, const std::vector<TableTransform>& transforms, pqxx::connection& blue,
                 pqxx::connection& green, DatabaseCheck& check) {
  std::vector<QualifiedName> sources;
  std::vector<QualifiedName> targets;
  for (const auto& transform : transforms) {
    sources.push_back(transform.source);
    targets.push_back(transform.target);
  }
  const auto source_columns = money_columns(blue, sources);
  const auto target_columns = money_columns(green, targets);
  if (source_columns.empty() && target_columns.empty()) return;
  const Monetary on_blue = read_monetary(blue);
  const Monetary on_green = read_monetary(green);
  for (const auto& [side, monetary, columns] :
       {std::tuple{plan.source_side(), on_blue, source_columns}, std::tuple{plan.target_side(), on_green, target_columns}}) {
    if (columns.empty() || monetary.scale == kPinnedMoneyScale) continue;
    check.problems.push_back(
        side + ": lc_monetary is " + monetary.locale + ", where money has " + std::to_string(monetary.scale) +
        " decimal places; cutover reads and writes money under lc_monetary C (2 places), so " + joined(columns) +
        " would change amount on the way (1234 under " + monetary.locale + " is 12.34 under C). Change "
        "these columns to numeric before the move, or leave them out of the plan");
  }
  if (!source_columns.empty() && !target_columns.empty() && on_blue.locale != on_green.locale) {
    check.warnings.push_back("lc_monetary is " + on_blue.locale + " on " + plan.source_side() + " and " +
                             on_green.locale + " on " + plan.target_side() + ": money keeps its amount, but "
                             "clients of " + plan.target_side() + " see it as " + on_green.locale +
                             " writes it (currency symbol, separators) in " + joined(target_columns));
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
  check_key_collations(plan, transforms, check);
  check_money(plan, transforms, blue, green, check);
}

}  // namespace cutover
