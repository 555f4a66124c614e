#include "cutover/apply/apply_privileges.h"

#include <algorithm>
#include <array>
#include <set>
#include <vector>

namespace cutover {

namespace {

// The replication-origin functions the applier calls: superuser-only by default, granted
// with EXECUTE since PostgreSQL 14. The last one stands behind pg_replication_origin_status.
struct OriginFunction {
  const char* signature;
  const char* use;
};
constexpr std::array<OriginFunction, 5> kOriginFunctions = {{
    {"pg_replication_origin_create(text)", "creates the origin that records the applied position"},
    {"pg_replication_origin_session_setup(text)", "marks applied changes with the origin"},
    {"pg_replication_origin_advance(text, pg_lsn)", "records where the snapshot ends"},
    {"pg_replication_origin_xact_setup(pg_lsn, timestamp with time zone)", "records each applied position"},
    {"pg_show_replication_origin_status()", "reads the applied position back"},
}};

// What the applier and the snapshot do to a target table: read it back (upserts, verification),
// write, delete, and empty it (before a snapshot copy, and on a replicated TRUNCATE).
const std::vector<std::string> kTargetTablePrivileges = {"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE"};

bool allowed(pqxx::transaction_base& query, const std::string& sql, const std::string& object,
             const std::string& privilege) {
  return query.exec_params(sql, object, privilege)[0][0].as<bool>();
}

// The privileges of `wanted` the role lacks on `object`, as "A, B". Asked one at a time:
// PostgreSQL's has_*_privilege answers "any of" for a list.
std::string lacking(pqxx::transaction_base& query, const std::string& sql, const std::string& object,
                    const std::vector<std::string>& wanted) {
  std::string missing;
  for (const auto& privilege : wanted) {
    if (!allowed(query, sql, object, privilege)) missing += (missing.empty() ? "" : ", ") + privilege;
  }
  return missing;
}

// A grant that only a superuser can make by default (the function or parameter is the
// bootstrap superuser's); managed servers have none, so the message says where to look.
std::string superuser_grant(const std::string& statement) {
  return "(as a superuser: " + statement + "; a managed server's admin cannot, see docs/managed-postgres.md)";
}

constexpr const char* kAskSchema = "SELECT has_schema_privilege($1, $2)";
constexpr const char* kAskTable = "SELECT has_table_privilege($1, $2)";

void check_session(pqxx::transaction_base& query, const std::string& side, const std::string& role,
                   std::vector<std::string>& missing) {
  if (!allowed(query, "SELECT has_parameter_privilege($1, $2)", "session_replication_role", "SET")) {
    missing.push_back(side + ": role " + role +
                      " may not SET session_replication_role, which keeps triggers and foreign-key "
                      "checks off replicated rows " +
                      superuser_grant("GRANT SET ON PARAMETER session_replication_role TO " + quote_identifier(role)));
  }
  for (const auto& function : kOriginFunctions) {
    if (!allowed(query, "SELECT has_function_privilege($1, $2)", function.signature, "EXECUTE")) {
      missing.push_back(side + ": role " + role + " may not call " + function.signature + ", which " +
                        function.use + " " +
                        superuser_grant("GRANT EXECUTE ON FUNCTION " + std::string(function.signature) + " TO " +
                                        quote_identifier(role)));
    }
  }
  if (!allowed(query, kAskTable, "pg_catalog.pg_replication_origin_status",
               "SELECT")) {
    missing.push_back(side + ": role " + role +
                      " may not read pg_replication_origin_status, where the applied position is "
                      "read back " +
                      superuser_grant("GRANT SELECT ON pg_replication_origin_status TO " + quote_identifier(role)));
  }
}

// cutover.apply_position is created on first use: either it is there and writable, or the
// role may create it (and the schema, when that is missing too).
void check_position_table(pqxx::transaction_base& query, const std::string& side, const std::string& role,
                          std::vector<std::string>& missing) {
  const auto row = query.exec1(
      "SELECT to_regnamespace('cutover') IS NOT NULL, to_regclass('cutover.apply_position') IS NOT NULL, "
      "has_database_privilege(current_database(), 'CREATE')");
  const std::string grantee = quote_identifier(role);
  if (!row[0].as<bool>()) {
    if (!row[2].as<bool>()) {
      missing.push_back(side + ": role " + role + " may not create the schema cutover for its position "
                        "table (GRANT CREATE ON DATABASE " + quote_identifier(query.conn().dbname()) +
                        " TO " + grantee + ", or CREATE SCHEMA cutover AUTHORIZATION " + grantee + ")");
    }
    return;
  }
  const bool table_exists = row[1].as<bool>();
  const auto on_schema = lacking(query, kAskSchema, "cutover",
                                 table_exists ? std::vector<std::string>{"USAGE"}
                                              : std::vector<std::string>{"USAGE", "CREATE"});
  if (!on_schema.empty()) {
    missing.push_back(side + ": role " + role + " lacks " + on_schema + " on the schema cutover (GRANT " +
                      on_schema + " ON SCHEMA cutover TO " + grantee + ")");
    return;
  }
  if (!table_exists) return;
  const auto on_table = lacking(query, kAskTable, "cutover.apply_position", {"SELECT", "INSERT", "UPDATE"});
  if (!on_table.empty()) {
    missing.push_back(side + ": role " + role + " lacks " + on_table + " on cutover.apply_position (GRANT " +
                      on_table + " ON cutover.apply_position TO " + grantee + ")");
  }
}

void check_tables(pqxx::transaction_base& query, const std::string& side, const std::string& role,
                  const std::vector<QualifiedName>& tables, std::vector<std::string>& missing) {
  std::set<std::string> schemas;
  for (const auto& table : tables) {
    if (schemas.insert(table.schema).second &&
        !allowed(query, kAskSchema, table.schema, "USAGE")) {
      missing.push_back(side + ": role " + role + " may not use the schema " + table.schema +
                        " (GRANT USAGE ON SCHEMA " + quote_identifier(table.schema) + " TO " +
                        quote_identifier(role) + ")");
    }
    const auto on_table = lacking(query, kAskTable, table.quoted(), kTargetTablePrivileges);
    if (!on_table.empty()) {
      missing.push_back(side + ": role " + role + " lacks " + on_table + " on " + table.text() +
                        " (GRANT " + on_table + " ON " + table.quoted() + " TO " + quote_identifier(role) + ")");
    }
  }
}

// A mapped sequence is set on this side at the switch, and read back from it at a rollback.
void check_sequences(pqxx::transaction_base& query, const std::string& side, const std::string& role,
                     const std::vector<QualifiedName>& sequences, std::vector<std::string>& missing) {
  for (const auto& sequence : sequences) {
    // One that is not there is validation's to report, not a privilege to grant.
    if (query.exec_params("SELECT to_regclass($1) IS NULL", sequence.quoted())[0][0].as<bool>()) continue;
    const auto on_sequence = lacking(query, "SELECT has_sequence_privilege($1, $2)", sequence.quoted(),
                                     {"SELECT", "UPDATE"});
    if (!on_sequence.empty()) {
      missing.push_back(side + ": role " + role + " lacks " + on_sequence + " on the sequence " +
                        sequence.text() + ", which the switch sets and a rollback reads (GRANT " +
                        on_sequence + " ON SEQUENCE " + sequence.quoted() + " TO " + quote_identifier(role) + ")");
    }
  }
}

}  // namespace

std::vector<std::string> missing_apply_privileges(pqxx::connection& target, const Plan& plan,
                                                  const std::vector<TableTransform>& transforms) {
  std::vector<std::string> missing;
  pqxx::read_transaction query(target);
  const auto role = query.exec1("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user");
  if (role[1].as<bool>()) return missing;
  const std::string name = role[0].as<std::string>();
  const std::string side = plan.target_side();
  std::vector<QualifiedName> tables;
  for (const auto& transform : transforms) {
    if (std::find(tables.begin(), tables.end(), transform.target) == tables.end()) tables.push_back(transform.target);
  }
  std::vector<QualifiedName> sequences;
  for (const auto& sequence : plan.sequences) sequences.push_back(sequence.target);
  check_session(query, side, name, missing);
  // The snapshot's staging tables; the reverse direction has no snapshot.
  const std::string database = query.conn().dbname();
  if (plan.direction == Direction::kForward &&
      !allowed(query, "SELECT has_database_privilege($1, $2)", database, "TEMPORARY")) {
    missing.push_back(side + ": role " + name +
                      " may not create temporary tables, where the snapshot stages source rows before "
                      "the transform (GRANT TEMPORARY ON DATABASE " + quote_identifier(database) + " TO " +
                      quote_identifier(name) + ")");
  }
  check_position_table(query, side, name, missing);
  check_tables(query, side, name, tables, missing);
  check_sequences(query, side, name, sequences, missing);
  return missing;
}

}  // namespace cutover
