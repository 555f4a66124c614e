// The reverse plan: what the reverse pipeline (green to blue, after a switch) runs.
//
// It is the plan with the roles swapped: green is the source, blue the target, each table's
// mapping turned around, its own slot, publication, origin and change-log topic
// (`<topic_prefix>.reverse`). A mapping turns around by itself when every target column is
// a plain source column, renamed or cast (`id::bigint`, `CAST(id AS bigint)`); any other
// needs `reverse.columns`. A source split into several targets or a target merged from
// several sources has no reverse: rows of blue would need parts green does not hold apart.
#pragma once

#include <string>
#include <vector>

#include "cutover/common/result.h"
#include "cutover/plan/plan.h"

namespace cutover {

const char* direction_name(Direction direction);

// The reverse plan, or every table whose mapping cannot be turned around, one per line,
// each naming the plan's entry and why.
Result<Plan> derive_reverse_plan(const Plan& plan);

// The source column an expression merely renames or casts; "" when it computes something.
std::string plain_source_column(const std::string& expression);

}  // namespace cutover
