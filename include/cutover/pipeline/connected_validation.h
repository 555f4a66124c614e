// `cutover validate --connect`: checks the plan against blue and green and reports every
// problem at once. It only reads: whatever it must try (the transforms) runs inside
// transactions that are rolled back, so nothing is created on either database.
#pragma once

#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "cutover/common/result.h"
#include "cutover/plan/plan.h"

namespace cutover {

// What validation found, one line each. Problems make the plan unfit to run. Warnings name
// what only a switch or a rollback needs (privileges for the way back, a view of other
// sessions): the plan runs, and the switch's guardrails refuse until they are fixed.
struct DatabaseCheck {
  std::vector<std::string> problems;
  std::vector<std::string> warnings;
  std::vector<std::string> notes;  // what the operator should know, nothing wrong
};
DatabaseCheck check_plan_against_databases(const Plan& plan);

// Whether the connected role sees every session's transaction in pg_stat_activity, which the
// long_write_transactions guardrail reads before a freeze: other roles' sessions show no
// transaction to a role without pg_read_all_stats, and the guardrail would pass blind.
// `side` names the database in the message.
Status check_sees_other_sessions(pqxx::connection& connection, const std::string& side);

// Whether a switch could be rolled back: the reverse plan maps every table back onto blue,
// blue's role may apply there, and green can be captured. Validation asks before the move,
// the rollback_possible guardrail again before a switch. Problems one per line, each
// starting "rollback: "; otherwise how many tables map back.
Result<std::size_t> check_rollback_ready(const Plan& reverse, pqxx::connection& green, pqxx::connection& blue);

}  // namespace cutover
