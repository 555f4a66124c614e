#include "cutover/orchestrator/write_fence.h"

#include "cutover/common/database_errors.h"
#include "cutover/common/logging.h"
#include "cutover/common/postgres_connection.h"

namespace cutover {

Status fence_writes(const std::string& dsn, const std::string& side, const std::vector<int>& spared_pids) {
  auto connection = open_postgres(dsn, side);
  if (!connection) return connection.status();
  try {
    allow_writes(**connection);
    pqxx::nontransaction query(**connection);
    const std::string database = query.exec("SELECT current_database()")[0][0].c_str();
    query.exec("ALTER DATABASE " + quote_identifier(database) +
               " SET default_transaction_read_only = on");
    std::string spared = "{";
    for (const int pid : spared_pids) spared += (spared.size() > 1 ? "," : "") + std::to_string(pid);
    spared += "}";
    const auto ended = query.exec_params(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE datname = current_database() AND backend_type = 'client backend' "
        "AND pid <> pg_backend_pid() AND application_name <> 'cutover' AND NOT pid = ANY($1::int[])",
        spared);
    spdlog::info("fence side={} database={} sessions_ended={} pooler_sessions_spared={}", side,
                 database, ended[0][0].c_str(), spared_pids.size());
    return Status::ok();
  } catch (const std::exception& error) {
    return status_of(error, side + ": fencing writes");
  }
}

bool is_fenced(pqxx::transaction_base& query) {
  return query
      .exec("SELECT EXISTS (SELECT 1 FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase "
            "WHERE d.datname = current_database() AND s.setrole = 0 "
            "AND 'default_transaction_read_only=on' = ANY(s.setconfig))")[0][0]
      .as<bool>();
}

Result<bool> lift_fence(const std::string& dsn, const std::string& side) {
  auto connection = open_postgres(dsn, side);
  if (!connection) return connection.status();
  try {
    allow_writes(**connection);
    pqxx::nontransaction query(**connection);
    if (!is_fenced(query)) return false;
    const std::string database = query.exec("SELECT current_database()")[0][0].c_str();
    query.exec("ALTER DATABASE " + quote_identifier(database) + " RESET default_transaction_read_only");
    spdlog::info("fence lifted side={} database={}", side, database);
    return true;
  } catch (const std::exception& error) {
    return status_of(error, side + ": lifting the write fence");
  }
}

}  // namespace cutover
