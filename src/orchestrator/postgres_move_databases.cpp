#include "cutover/orchestrator/postgres_move_databases.h"

#include "cutover/apply/target_writer.h"
#include "cutover/capture/preflight.h"
#include "cutover/capture/replication_stream.h"
#include "cutover/capture/slot_manager.h"
#include "cutover/common/database_errors.h"
#include "cutover/common/logging.h"
#include "cutover/common/postgres_connection.h"
#include "cutover/orchestrator/write_fence.h"
#include "cutover/pipeline/connected_validation.h"
#include "cutover/plan/reverse_plan.h"

namespace cutover {

PostgresMoveDatabases::PostgresMoveDatabases(const Plan& plan, const Result<Plan>& reverse,
                                             DrainMarkers& drain_markers)
    : plan_(plan), reverse_(reverse), drain_markers_(drain_markers) {}

const std::string& PostgresMoveDatabases::dsn_of(Side side) const {
  return side == Side::kBlue ? plan_.blue.dsn : plan_.green->dsn;
}

Result<const Plan*> PostgresMoveDatabases::plan_of(Direction direction) const {
  if (direction == Direction::kForward) return &plan_;
  if (!reverse_) return reverse_.status();
  return &*reverse_;
}

Status PostgresMoveDatabases::fence(Side side, const std::vector<int>& spared_pids) {
  return fence_writes(dsn_of(side), name_of(side), spared_pids);
}

Result<bool> PostgresMoveDatabases::lift_fence(Side side) { return cutover::lift_fence(dsn_of(side), name_of(side)); }

Status PostgresMoveDatabases::write_drain_marker(Side side, const std::string& id) {
  auto from = open_postgres(dsn_of(side), name_of(side));
  if (!from) return from.status();
  try {
    allow_writes(**from);  // the side left may be fenced already
    pqxx::work marker(**from);
    const auto written = marker.exec_params1(
        "SELECT current_setting('server_version_num')::int, txid_current() % 4294967296, "
        "pg_logical_emit_message(true, 'cutover', $1)",
        id);
    if (written[0].as<int>() < ReplicationConnection::kFirstVersionWithMessages) {
      // pgoutput does not send it here: the capture puts it into this transaction when it
      // comes, asked for before it commits so that it cannot pass unseen.
      drain_markers_.request({"cutover", id, written[1].as<std::uint32_t>()});
    }
    marker.commit();
    return Status::ok();
  } catch (const std::exception& error) {
    return status_of(error, std::string(name_of(side)) + ": writing the drain marker");
  }
}

Result<std::size_t> PostgresMoveDatabases::sync_sequences(Direction running) {
  auto plan = plan_of(running);
  if (!plan) return plan.status();
  const auto& sequences = (*plan)->sequences;
  if (sequences.empty()) return std::size_t{0};
  auto from = open_postgres((*plan)->source().dsn, (*plan)->source_side());
  if (!from) return from.status();
  auto to = open_postgres((*plan)->target().dsn, (*plan)->target_side());
  if (!to) return to.status();
  try {
    allow_writes(**to);
    pqxx::nontransaction from_query(**from);
    pqxx::nontransaction to_query(**to);
    for (const auto& sequence : sequences) {
      const auto row = from_query.exec("SELECT last_value, is_called FROM " + sequence.source.quoted())[0];
      to_query.exec_params("SELECT setval($1::regclass, $2, $3)", sequence.target.quoted(),
                           row[0].as<long long>(), row[1].as<bool>());
      spdlog::info("cutover sequence={} target={} set_to={} is_called={}", sequence.source.text(),
                   sequence.target.text(), row[0].c_str(), row[1].c_str());
    }
  } catch (const std::exception& error) {
    return status_of(error, "sequences");
  }
  return sequences.size();
}

Result<std::string> PostgresMoveDatabases::start_direction(Direction next) {
  auto plan = plan_of(next);
  if (!plan) return plan.status();
  const Plan& starting = **plan;
  // A slot left from an earlier move holds a stale position: the direction starts anew here.
  if (auto dropped = drop_slot(starting); !dropped) return dropped;
  auto state = check_source_for_capture(starting, kSlotReleaseWait);
  if (!state) {
    return state.status().with_context(starting.source_side() + " as the " + direction_name(next) +
                                       " pipeline's source");
  }
  auto slot = prepare_slot_and_publication(starting, *state);
  if (!slot) return slot.status();
  // Its target records that it starts at the slot's consistent point: nothing before it is
  // replayed there, nothing after it is missed.
  auto target = open_postgres(starting.target().dsn, starting.target_side());
  if (!target) return target.status();
  try {
    allow_writes(**target);
  } catch (const std::exception& error) {
    return status_of(error, starting.target_side());
  }
  if (auto created = ensure_position_table(**target); !created) return created;
  if (auto recorded = record_snapshot_complete(**target, starting, slot->confirmed); !recorded) return recorded;
  return starting.slot_name() + " at " + slot->confirmed.to_string();
}

Status PostgresMoveDatabases::drop_direction_slot(Direction next) {
  auto plan = plan_of(next);
  if (!plan) return plan.status();
  return drop_slot(**plan);
}

Result<std::string> PostgresMoveDatabases::system_identifier(Side side) {
  return read_system_identifier(dsn_of(side), name_of(side));
}

Result<std::string> PostgresMoveDatabases::check_direction_ready(Direction next) {
  if (next == Direction::kForward) {
    auto ready = check_source_for_capture(plan_, std::chrono::milliseconds(0));
    if (!ready) return ready.status();
    return std::string("ready");
  }
  if (!reverse_) return reverse_.status();
  auto green = open_postgres(plan_.green->dsn, "green");
  if (!green) return green.status();
  auto blue = open_postgres(plan_.blue.dsn, "blue");
  if (!blue) return blue.status();
  auto ready = check_rollback_ready(*reverse_, **green, **blue);
  if (!ready) return ready.status();
  return std::to_string(*ready) + " tables map back";
}

Result<std::string> PostgresMoveDatabases::check_no_long_writers(Side side, std::chrono::milliseconds age) {
  auto connection = open_postgres(dsn_of(side), name_of(side));
  if (!connection) return connection.status();
  try {
    if (auto sees = check_sees_other_sessions(**connection, name_of(side)); !sees) return sees;
    pqxx::nontransaction query(**connection);
    const auto row = query.exec(
        "SELECT count(*), coalesce(max(extract(epoch FROM now() - xact_start)), 0)::numeric(12,1) "
        "FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid() "
        "AND now() - xact_start > interval '" + std::to_string(age.count()) + " milliseconds'")[0];
    const std::string found = std::string(name_of(side)) + ": " + row[0].c_str() + " (oldest " + row[1].c_str() + " s)";
    if (row[0].as<long>() != 0) return Status::error(found);
    return found;
  } catch (const std::exception& error) {
    return status_of(error, name_of(side));
  }
}

}  // namespace cutover
