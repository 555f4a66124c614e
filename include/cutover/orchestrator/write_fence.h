// The write fence (`cutover.fence_blue`): stops direct writers on the side clients leave, so
// that nothing but the pooler's paused clients could write there during and after a move.
//
// Fencing sets `default_transaction_read_only` for new sessions of the database and ends the
// sessions already open, except cutover's own (application_name cutover) and the pooler's
// server connections, which the pooler holds paused. Lifting it resets the setting. Both are
// plain catalog settings, so a fence survives a crash of cutover and is lifted by the
// recovery or the next move. Cutover's own writing sessions set the transaction mode
// explicitly (`allow_writes`), so the applier and the drain marker pass the fence.
#pragma once

#include <pqxx/pqxx>

#include <string>
#include <vector>

#include "cutover/common/result.h"

namespace cutover {

// Fences the database `dsn` names; `spared_pids` are the pooler's server processes.
Status fence_writes(const std::string& dsn, const std::string& side, const std::vector<int>& spared_pids);
// Whether the database `query` is connected to is fenced. Throws what libpqxx throws.
bool is_fenced(pqxx::transaction_base& query);
// Lifts the fence; whether there was one.
Result<bool> lift_fence(const std::string& dsn, const std::string& side);

}  // namespace cutover
