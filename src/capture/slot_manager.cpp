#include "cutover/capture/slot_manager.h"

#include <thread>

#include <pqxx/pqxx>

#include "cutover/capture/replication_stream.h"
#include "cutover/common/database_errors.h"
#include "cutover/common/logging.h"
#include "cutover/common/postgres_connection.h"

namespace cutover {

namespace {

std::string table_list(const std::vector<QualifiedName>& tables) {
  std::string list;
  for (const auto& table : tables) list += (list.empty() ? "" : ", ") + table.quoted();
  return list;
}

Status run_sql(pqxx::connection& connection, const std::string& sql) {
  try {
    pqxx::nontransaction statement(connection);
    statement.exec0(sql);
    return Status::ok();
  } catch (const std::exception& error) {
    return status_of(error, "");  // callers say what it was for
  }
}

}  // namespace

Result<Lsn> create_logical_slot(const std::string& blue_dsn, const std::string& name,
                                SlotLifetime lifetime, ExportedSnapshot* exported) {
  auto replication = ReplicationConnection::open(blue_dsn);
  if (!replication) return replication.status();
  // The options list (15 and later) is the only way to ask for a failover slot (17); the
  // older keywords serve every other slot on every major.
  const std::string command =
      lifetime == SlotLifetime::kFailover
          ? "CREATE_REPLICATION_SLOT " + quote_identifier(name) + " LOGICAL pgoutput (SNAPSHOT '" +
                (exported ? "export" : "nothing") + "', FAILOVER true)"
          : "CREATE_REPLICATION_SLOT " + quote_identifier(name) +
                (lifetime == SlotLifetime::kTemporary ? " TEMPORARY" : "") + " LOGICAL pgoutput " +
                (exported ? "EXPORT_SNAPSHOT" : "NOEXPORT_SNAPSHOT");
  auto rows = (*replication)->run_command(command);
  if (!rows) return rows.status();
  if (rows->empty() || rows->front().size() < 3) {
    return Status::error("CREATE_REPLICATION_SLOT returned no consistent point");
  }
  auto point = Lsn::parse(rows->front()[1]);
  if (!point) return Status::error("CREATE_REPLICATION_SLOT returned " + rows->front()[1]);
  if (exported) {
    exported->name = rows->front()[2];
    exported->connection = std::move(replication.value());
  }
  return *point;
}

bool wants_failover_slot(const Plan& plan) {
  // Only blue's slot: green's reverse slot lives for the days after a switch, on whatever
  // major green runs.
  return plan.replication.failover && plan.direction == Direction::kForward;
}

namespace {

// A slot made before the plan asked for failover becomes a failover slot (17 and later).
Status make_failover_slot(const Plan& plan, pqxx::connection& source) {
  try {
    pqxx::nontransaction query(source);
    const auto row = query.exec_params(
        "SELECT coalesce((to_jsonb(s) ->> 'failover')::boolean, false) FROM pg_replication_slots s "
        "WHERE slot_name = $1",
        plan.slot_name());
    if (row.empty() || row[0][0].as<bool>()) return Status::ok();
  } catch (const std::exception& error) {
    return status_of(error, plan.source_side() + ": reading replication slot " + plan.slot_name());
  }
  auto replication = ReplicationConnection::open(plan.source().dsn);
  if (!replication) return replication.status();
  if (auto altered = (*replication)->run_command("ALTER_REPLICATION_SLOT " + quote_identifier(plan.slot_name()) +
                                                 " (FAILOVER true)");
      !altered) {
    return altered.status().with_context(plan.source_side() + ": making replication slot " + plan.slot_name() +
                                         " a failover slot");
  }
  spdlog::info("replication slot is now a failover slot slot={}", plan.slot_name());
  return Status::ok();
}

}  // namespace

std::string publication_comment(const Plan& plan) {
  return "made by cutover for plan " + plan.name + "; cutover cleanup removes it";
}

Result<PreparedSlot> prepare_slot_and_publication(const Plan& plan, const SourceState& state,
                                                  ExportedSnapshot* exported) {
  auto connection = open_postgres(plan.source().dsn, plan.source_side());
  if (!connection) return connection.status();
  // A move prepares the next direction on a side still fenced (a rollback fenced green).
  try {
    allow_writes(**connection);
  } catch (const std::exception& error) {
    return status_of(error, plan.source_side());
  }
  const std::string publication = quote_identifier(plan.publication_name());
  if (!state.publication_exists) {
    // A partitioned table's changes are published under its own name, as the plan maps it,
    // not under its partitions' names.
    if (auto status = run_sql(**connection, "CREATE PUBLICATION " + publication + " FOR TABLE " +
                                                table_list(plan.source_tables()) +
                                                " WITH (publish_via_partition_root = true)");
        !status) {
      return status.with_context(plan.source_side() + ": creating publication " + plan.publication_name());
    }
    // Marked as cutover's, so that cleanup removes it (and no publication an operator made).
    if (auto marked = run_sql(**connection, "COMMENT ON PUBLICATION " + publication + " IS " +
                                                (*connection)->quote(publication_comment(plan)));
        !marked) {
      (void)run_sql(**connection, "DROP PUBLICATION IF EXISTS " + publication);
      return marked.with_context(plan.source_side() + ": marking publication " + plan.publication_name());
    }
    spdlog::info("created publication publication={}", plan.publication_name());
  } else if (!state.tables_missing_from_publication.empty()) {
    if (auto status = run_sql(**connection, "ALTER PUBLICATION " + publication + " ADD TABLE " +
                                                table_list(state.tables_missing_from_publication));
        !status) {
      return status.with_context(plan.source_side() + ": adding tables to publication " + plan.publication_name());
    }
  }
  const bool failover = wants_failover_slot(plan);
  if (state.slot_exists) {
    if (failover) {
      if (auto made = make_failover_slot(plan, **connection); !made) return made;
    }
    return PreparedSlot{state.slot_confirmed};
  }

  auto point = create_logical_slot(plan.source().dsn, plan.slot_name(),
                                   failover ? SlotLifetime::kFailover : SlotLifetime::kPermanent, exported);
  if (!point) {
    if (!state.publication_exists) {
      (void)run_sql(**connection, "DROP PUBLICATION IF EXISTS " + publication);
    }
    return point.status().with_context(plan.source_side() + ": creating replication slot " + plan.slot_name());
  }
  spdlog::info("created replication slot slot={} consistent_point={}", plan.slot_name(),
               point->to_string());
  return PreparedSlot{*point};
}

Status drop_slot(const Plan& plan, std::chrono::milliseconds release_wait) {
  auto connection = open_postgres(plan.source().dsn, plan.source_side());
  if (!connection) return Status::error(connection.status().message());
  try {
    pqxx::nontransaction query(**connection);
    const auto deadline = std::chrono::steady_clock::now() + release_wait;
    pqxx::result slot;
    while (true) {
      slot = query.exec_params("SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1",
                               plan.slot_name());
      const bool in_use = !slot.empty() && !slot[0][0].is_null();
      if (!in_use || std::chrono::steady_clock::now() >= deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    if (slot.empty()) return Status::ok();
    if (!slot[0][0].is_null()) {
      return Status::error(plan.source_side() + ": replication slot " + plan.slot_name() + " is in use by process " +
                           slot[0][0].as<std::string>() + "; stop cutover capture first");
    }
    query.exec_params("SELECT pg_drop_replication_slot($1)", plan.slot_name());
    spdlog::info("dropped replication slot slot={}", plan.slot_name());
    return Status::ok();
  } catch (const std::exception& error) {
    return status_of(error, plan.source_side() + ": dropping replication slot " + plan.slot_name());
  }
}

Status unpublish(const Plan& plan, const SourceState& before) {
  if (before.publication_exists && before.tables_missing_from_publication.empty()) return Status::ok();
  auto connection = open_postgres(plan.source().dsn, plan.source_side());
  if (!connection) return Status::error(connection.status().message());
  const std::string publication = quote_identifier(plan.publication_name());
  if (!before.publication_exists) {
    return run_sql(**connection, "DROP PUBLICATION IF EXISTS " + publication)
        .with_context(plan.source_side() + ": dropping publication " + plan.publication_name());
  }
  return run_sql(**connection, "ALTER PUBLICATION " + publication + " DROP TABLE " +
                                   table_list(before.tables_missing_from_publication))
      .with_context(plan.source_side() + ": removing tables from publication " + plan.publication_name());
}

Status drop_slot_and_publication(const Plan& plan) {
  if (auto dropped = drop_slot(plan); !dropped) return dropped;
  auto connection = open_postgres(plan.source().dsn, plan.source_side());
  if (!connection) return Status::error(connection.status().message());
  try {
    pqxx::nontransaction query(**connection);
    query.exec0("DROP PUBLICATION IF EXISTS " + quote_identifier(plan.publication_name()));
    spdlog::info("dropped publication publication={}", plan.publication_name());
  } catch (const std::exception& error) {
    return status_of(error, plan.source_side() + ": dropping publication");
  }
  return Status::ok();
}

}  // namespace cutover
