#include "cutover/pipeline/plan_ownership.h"

#include <algorithm>
#include <vector>

#include "cutover/common/postgres_connection.h"

namespace cutover {

DatabaseIdentity read_database_identity(pqxx::connection& connection) {
  pqxx::nontransaction query(connection);
  const auto row = query.exec1(
      "SELECT (SELECT system_identifier::text FROM pg_control_system()), "
      "(SELECT timeline_id FROM pg_control_checkpoint()), current_database(), pg_is_in_recovery()");
  return {row[0].as<std::string>(), row[1].as<std::uint32_t>(), row[2].as<std::string>(),
          row[3].as<bool>()};
}

Status check_distinct_databases(const Plan& plan, const DatabaseIdentity& source,
                                const DatabaseIdentity& target) {
  if (source.system_identifier != target.system_identifier) return Status::ok();
  const std::string where = plan.file + ": " + plan.target_side() + ".dsn: ";
  if (target.in_recovery) {
    return Status::invalid(where + plan.target_side() + " is a physical replica of " + plan.source_side() +
                           " (same system identifier " + source.system_identifier +
                           "); point it at the new database with the new schema");
  }
  // A promoted copy of a backup shares the identifier but not the timeline: it is another
  // database. A second database of the same cluster is another database too.
  if (source.timeline == target.timeline && source.database == target.database) {
    return Status::invalid(where + "reaches " + plan.source_side() + "'s own database " + source.database +
                           " (same cluster and database); point it at the new database with the "
                           "new schema");
  }
  return Status::ok();
}

PositionOwner read_position_owner(pqxx::connection& source, const Plan& plan, const DatabaseIdentity& identity) {
  std::string tables;
  std::vector<std::string> sources;
  for (const auto& table : plan.tables) {
    tables += (tables.empty() ? "" : ",") + table.source.text() + ">" + table.target.text();
    sources.push_back(table.source.quoted());
  }
  // A table missing on the source is refused by validation, after this.
  pqxx::nontransaction query(source);
  const auto oids = query.exec_params(
      "SELECT coalesce(to_regclass(t.name)::oid::text, 'missing') "
      "FROM unnest($1::text[]) WITH ORDINALITY AS t(name, position) ORDER BY t.position",
      text_array_literal(sources));
  std::vector<std::string> relations;
  for (std::size_t i = 0; i < plan.tables.size(); ++i) {
    relations.push_back(oids[static_cast<int>(i)][0].as<std::string>() + ">" + plan.tables[i].target.text());
  }
  return {identity.system_identifier, identity.database, tables, relations};
}

namespace {

// The plan's tables whose OID differs from the one recorded, as "source>target".
std::string tables_created_again(const Plan& plan, const PositionOwner& recorded, const PositionOwner& expected) {
  std::string changed;
  for (std::size_t i = 0; i < plan.tables.size() && i < recorded.relations.size(); ++i) {
    if (recorded.relations[i] == expected.relations[i]) continue;
    changed += (changed.empty() ? "" : ", ") + plan.tables[i].source.text() + ">" + plan.tables[i].target.text();
  }
  return changed;
}

std::string describe(const PositionOwner& owner) {
  return "database " + owner.source_database + " of system " + owner.source_system +
         ", tables " + owner.tables;
}

}  // namespace

Status check_state_is_ours(const Plan& plan, const FoundState& found, const PositionOwner& expected) {
  const std::string objects = plan.slot_name();
  for (const auto& other : found.recorded_plans) {
    if (other != plan.name && object_name_of_plan(other) == objects) {
      return Status::invalid(plan.file + ": name: plan " + plan.name + " and plan " + other +
                             " (recorded in " + plan.target_side() +
                             ") share the slot, publication and origin " + objects +
                             "; give this plan a name that differs in more than '-' and '_'");
    }
  }
  const auto& position = found.position;
  if (!position.recorded) {
    if (found.source_slot_exists) {
      return Status::invalid(plan.source_side() + ": replication slot " + objects + " exists, but " +
                             plan.target_side() + " holds no record of plan " + plan.name +
                             " using it: it belongs to another plan whose name maps to the same "
                             "slot (names differing only in '-' and '_'), or to a run that did not "
                             "finish. Rename this plan, or, if the slot is this plan's leftover, "
                             "drop it with `cutover capture --drop-slot PLAN`");
    }
    if (found.target_origin_exists) {
      return Status::invalid(plan.target_side() + ": replication origin " + objects + " exists, but " +
                             plan.target_side() + " holds no record of plan " + plan.name +
                             " using it: another plan's, or a leftover. Rename this plan, or drop "
                             "it with SELECT pg_replication_origin_drop('" + objects + "')");
    }
    return Status::ok();
  }
  if (!position.owner) {
    if (position.snapshot_complete) return Status::ok();  // recorded before owners were
    return Status::invalid(plan.target_side() + ": cutover.apply_position holds an unfinished snapshot of plan " +
                           plan.name + " that does not say which database and tables it copied; "
                           "cutover will not copy over it. Empty the targets and DELETE its row "
                           "from cutover.apply_position to start over");
  }
  const PositionOwner& recorded = *position.owner;
  const bool same_database = recorded.source_system == expected.source_system &&
                             recorded.source_database == expected.source_database;
  // Rows recorded before OIDs were name the tables only.
  const bool same_tables = recorded.relations.empty() ? recorded.tables == expected.tables
                                                      : recorded.relations == expected.relations;
  // A table gone from the source is named by validation, which runs next.
  const bool source_table_missing =
      std::any_of(expected.relations.begin(), expected.relations.end(),
                  [](const std::string& relation) { return relation.rfind("missing>", 0) == 0; });
  if (same_database && !same_tables && recorded.tables == expected.tables && !source_table_missing) {
    return Status::invalid(plan.source_side() + ": table " + tables_created_again(plan, recorded, expected) +
                           " of plan " + plan.name + " is not the table " + plan.target_side() +
                           "'s copy was made from: it was dropped and created again since (its OID "
                           "changed), so changes to the old one may be missing from " +
                           plan.target_side() + ". Copy again into an empty " + plan.target_side() +
                           " (empty its tables and DELETE plan " + plan.name +
                           "'s row from cutover.apply_position)");
  }
  if (!same_database || (!same_tables && recorded.tables != expected.tables)) {
    return Status::invalid(plan.target_side() + ": cutover.apply_position records plan " + plan.name +
                           " copying " + describe(recorded) + ", but this plan reads " +
                           describe(expected) + ". It is not this plan's state: use a new plan "
                           "name and an empty " + plan.target_side() +
                           ", or restore the plan that made it");
  }
  return Status::ok();
}

}  // namespace cutover
