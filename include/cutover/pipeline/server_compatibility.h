// What a session cannot pin and a move between two servers depends on: the PostgreSQL
// majors (13 to 18 are supported), the server encodings, integer_datetimes, the
// collations of text keys, and the lc_monetary that money columns are stored under. Each difference is reported with its consequence; one that would
// change data, or stop the move halfway, is a problem, the rest warnings.
#pragma once

#include <pqxx/pqxx>

#include <string>
#include <vector>

#include "cutover/pipeline/connected_validation.h"
#include "cutover/plan/plan.h"
#include "cutover/transform/table_transform.h"

namespace cutover {

inline constexpr int kOldestSupportedMajor = 13;
inline constexpr int kNewestSupportedMajor = 18;

// Why `server_version_num` of `side` is not supported, or "" when it is.
std::string unsupported_version_problem(int server_version_num, const std::string& side);

// The problems of a side whose major is not supported: checked before anything else, as the
// other checks read catalogs that differ between majors.
std::vector<std::string> unsupported_versions(const Plan& plan, pqxx::connection& blue,
                                              pqxx::connection& green);

void check_servers_compatible(const Plan& plan, const std::vector<TableTransform>& transforms,
                              pqxx::connection& blue, pqxx::connection& green, DatabaseCheck& check);

}  // namespace cutover
