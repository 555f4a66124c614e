// The privileges an applier needs on the database it writes (green, or blue for the reverse
// pipeline), checked before anything is created so that a role short of one fails validation
// or the rollback guardrail with the GRANT that fixes it, instead of failing mid-stream or
// inside a switch. docs/privileges.md lists the same privileges for operators.
#pragma once

#include <pqxx/pqxx>

#include <string>
#include <vector>

#include "cutover/plan/plan.h"
#include "cutover/transform/table_transform.h"

namespace cutover {

// One line per missing privilege on `plan`'s target side, each ending with what to run;
// empty when the connected role has them all (a superuser always does). `transforms` are the
// plan's, resolved: their targets are the tables written.
std::vector<std::string> missing_apply_privileges(pqxx::connection& target, const Plan& plan,
                                                  const std::vector<TableTransform>& transforms);

}  // namespace cutover
