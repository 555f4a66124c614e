// Whose state cutover finds in blue and green, before it creates or resumes anything.
//
// `cutover run` resumes a snapshot or a stream only from state it can prove is this plan's:
// green's position row names the plan, the source database it copies (by system identifier
// and name) and the table pairs. A slot, origin or position row that another plan left (two
// plan names that differ only in '-' and '_' share their objects' names), or that no record
// explains, is refused with the way to clear it, never dropped or taken over. Green that is
// blue itself, or a physical replica of it, is refused too: applying blue's changes to blue
// would loop them and lose rows.
#pragma once

#include <pqxx/pqxx>

#include <string>
#include <vector>

#include "cutover/apply/target_writer.h"
#include "cutover/common/result.h"
#include "cutover/plan/plan.h"

namespace cutover {

// What tells one database from another: its cluster's system identifier (shared by physical
// replicas and copies of a backup), its timeline, its name, and whether it is in recovery.
struct DatabaseIdentity {
  std::string system_identifier;
  std::uint32_t timeline = 0;
  std::string database;
  bool in_recovery = false;
};

// Reads the connected database's identity. Throws what libpqxx throws.
DatabaseIdentity read_database_identity(pqxx::connection& connection);

// Refuses a target that is the source database itself or a physical replica of it.
Status check_distinct_databases(const Plan& plan, const DatabaseIdentity& source,
                                const DatabaseIdentity& target);

// The owner this plan writes into green's position row when its snapshot starts, with the
// source tables' OIDs read on `source`. Throws what libpqxx throws.
PositionOwner read_position_owner(pqxx::connection& source, const Plan& plan, const DatabaseIdentity& identity);

// What run_forward found before it touched anything.
struct FoundState {
  AppliedPosition position;       // green's row for this plan, if any
  bool source_slot_exists = false;
  bool target_origin_exists = false;
  std::vector<std::string> recorded_plans;  // every plan named in green's position table
};

// Refuses state that is not provably this plan's: another plan recorded under a name that
// maps to the same objects; a slot or origin that no position row of this plan explains; a
// position row written for another source database or other tables (a source table is known
// by its OID, so one renamed since is the same table under its new name, and one dropped and
// created again is another); an unfinished snapshot whose owner was never recorded. Messages
// name the object and how to clear it.
Status check_state_is_ours(const Plan& plan, const FoundState& found, const PositionOwner& expected);

}  // namespace cutover
