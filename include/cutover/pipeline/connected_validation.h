// `cutover validate --connect`: checks the plan against blue and green and reports every
// problem at once. It only reads: whatever it must try (the transforms) runs inside
// transactions that are rolled back, so nothing is created on either database.
#pragma once

#include <string>
#include <vector>

#include "cutover/plan/plan.h"

namespace cutover {

// Every problem found, one line each; empty when the plan fits both databases.
std::vector<std::string> check_plan_against_databases(const Plan& plan);

}  // namespace cutover
