#include "cutover/transform/column_collation.h"

namespace cutover {

// Read through to_jsonb, as the catalog columns moved between majors (colliculocale in 15
// and 16, colllocale from 17, datlocprovider from 15).
Collation collation_of(pqxx::transaction_base& query, const QualifiedName& table, const std::string& column) {
  const auto rows = query.exec_params(
      "WITH col AS (SELECT a.attcollation FROM pg_attribute a "
      "  WHERE a.attrelid = format('%I.%I', $1::text, $2::text)::regclass AND a.attname = $3), "
      "db AS (SELECT to_jsonb(d) AS d FROM pg_database d WHERE d.datname = current_database()), "
      "co AS (SELECT to_jsonb(c) AS c FROM pg_collation c, col WHERE c.oid = col.attcollation), "
      "described AS (SELECT col.attcollation = 0 AS none, (SELECT c ->> 'collname' FROM co) AS name, "
      "  CASE WHEN (SELECT c ->> 'collname' FROM co) = 'default' "
      "    THEN (SELECT coalesce(d ->> 'datlocprovider', 'c') FROM db) "
      "    ELSE (SELECT c ->> 'collprovider' FROM co) END AS provider, "
      "  CASE WHEN (SELECT c ->> 'collname' FROM co) = 'default' "
      "    THEN (SELECT CASE WHEN d ->> 'datlocprovider' IN ('i', 'b') "
      "      THEN coalesce(d ->> 'datlocale', d ->> 'daticulocale', '') ELSE d ->> 'datcollate' END FROM db) "
      "    ELSE (SELECT coalesce(c ->> 'colllocale', c ->> 'colliculocale', c ->> 'collcollate', '') FROM co) "
      "  END AS locale, "
      "  coalesce((SELECT (c ->> 'collisdeterministic')::boolean FROM co), true) AS deterministic FROM col) "
      "SELECT none, CASE WHEN name = 'default' THEN 'the database default' ELSE name END, provider, locale, "
      "deterministic FROM described",
      table.schema, table.name, column);
  if (rows.empty() || rows[0][0].as<bool>()) return {};
  const auto name = rows[0][1].as<std::string>("");
  const auto provider = rows[0][2].as<std::string>("");
  const auto locale = rows[0][3].as<std::string>("");
  const bool bytes = provider == "c" && (locale == "C" || locale == "POSIX");
  return {name + " (" + provider + " " + locale + ")", bytes ? "bytes" : provider + " " + locale,
          rows[0][4].as<bool>(true)};
}

}  // namespace cutover
