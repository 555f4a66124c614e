// Checks on the source (blue; green in the reverse direction) before capture creates
// anything there.
//
// `cutover capture` runs them first, so that an unreachable blue, wal_level not logical, a
// role without REPLICATION, a missing table, a table whose UPDATEs the publication would
// break, or a slot in use all fail with a message naming the setting or object and what to
// do, with nothing created. Every problem found is reported at once.
#pragma once

#include <pqxx/pqxx>

#include <optional>
#include <string>
#include <vector>

#include "cutover/common/lsn.h"
#include "cutover/common/result.h"
#include "cutover/plan/plan.h"

namespace cutover {

struct SourceState {
  bool slot_exists = false;
  Lsn slot_confirmed;            // the slot's confirmed_flush_lsn when it exists
  bool publication_exists = false;
  std::vector<QualifiedName> tables_missing_from_publication;
};

// What would make the plan's existing publication miss changes, one line each with the fix:
// an operation it does not publish, a row filter or column list on a source table, partitions
// published under their own names, a source table it lacks (only when `tables_too`: at the
// start, capture adds missing tables itself). Empty when it publishes everything the plan
// needs, or does not exist. Throws what libpqxx throws.
std::vector<std::string> publication_drift(pqxx::transaction_base& query, const Plan& plan, bool tables_too);

// Connects to blue and checks everything capture needs. Waits up to `slot_wait` for a slot
// that another process still holds (a walsender that has not yet noticed its client died).
Result<SourceState> check_source_for_capture(const Plan& plan, std::chrono::milliseconds slot_wait);

}  // namespace cutover
