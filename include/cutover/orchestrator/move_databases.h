// MoveDatabases: what a move does to the two databases, by side and direction, behind one
// seam (postgres_move_databases.h is the real one), so that the move's steps can be driven
// against databases that fail at any of them.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "cutover/common/result.h"
#include "cutover/orchestrator/journal.h"
#include "cutover/plan/plan.h"

namespace cutover {

class MoveDatabases {
 public:
  virtual ~MoveDatabases() = default;
  // The write fence (write_fence.h) on `side`, sparing the pooler's server processes.
  virtual Status fence(Side side, const std::vector<int>& spared_pids) = 0;
  // Lifts it; whether there was one.
  virtual Result<bool> lift_fence(Side side) = 0;
  // Commits the drain marker `id` through `side`'s WAL, for the running applier to commit.
  virtual Status write_drain_marker(Side side, const std::string& id) = 0;
  // Sets the sequences of the pipeline that runs in `running` on its target to where they are
  // on its source; how many.
  virtual Result<std::size_t> sync_sequences(Direction running) = 0;
  // The `next` direction's slot and publication on its source (a stale slot dropped first),
  // and on its target the record that it starts at the slot's consistent point; what was made.
  virtual Result<std::string> start_direction(Direction next) = 0;
  // Drops the `next` direction's slot.
  virtual Status drop_direction_slot(Direction next) = 0;
  virtual Result<std::string> system_identifier(Side side) = 0;
  // Whether the `next` direction could start: every table maps back and its source is ready
  // for capture; what was found.
  virtual Result<std::string> check_direction_ready(Direction next) = 0;
  // Whether `side` has a write transaction older than `age`; what was found, or why not.
  virtual Result<std::string> check_no_long_writers(Side side, std::chrono::milliseconds age) = 0;
};

}  // namespace cutover
