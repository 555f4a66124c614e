// The cutover journal: the orchestrator's state and every step of the current or last
// cutover, kept in `<state_dir>/cutover.json`. Each change is written atomically and fsynced
// before the orchestrator acts on it, so that after a crash `cutover run` knows which step
// was under way and finishes or undoes it.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cutover/common/result.h"

namespace cutover {

struct JournalStep {
  // guardrails | verification | freeze | fence | drain | sequences | reverse | forward |
  // unfence | switch | resume | undo
  std::string name;
  std::string status;  // started | done | skipped | failed | undone
  std::string at;      // UTC time
  std::string detail;
};

struct CutoverTimings {
  std::int64_t freeze_ms = 0;
  std::int64_t drain_ms = 0;
  std::int64_t switch_ms = 0;
  std::int64_t pause_ms = 0;  // from PAUSE sent to RESUME answered: what clients waited at most
  std::int64_t paused_at_ms = 0;  // when PAUSE was sent, Unix time in milliseconds
};

struct CutoverJournal {
  std::string state = "streaming";  // ARCHITECTURE.md's states
  std::string side = "blue";        // where the pooler sends clients
  std::string pipeline = "forward"; // the direction that streams: forward | reverse
  std::string operation = "switch"; // what the current or last cutover did: switch | rollback
  std::string cutover_id;           // the current or last cutover
  std::string outcome;              // switched | rolled_back | aborted | undo_failed | "" while running
  std::string reason;               // why it aborted
  std::vector<JournalStep> steps;
  CutoverTimings timings;

  // The last entry for `step`, if any.
  const JournalStep* last(const std::string& step) const;
  nlohmann::json to_json() const;
  // Refuses a journal holding a state, side, direction, operation, outcome, step or step
  // status that cutover never writes (a newer version's, or a hand edit), naming the field.
  static Result<CutoverJournal> from_json(const nlohmann::json& json);
};

class JournalStore {
 public:
  explicit JournalStore(std::string state_dir);
  // The journal on disk, or a fresh one when there is none.
  Result<CutoverJournal> load() const;
  // Writes `journal` durably; nothing may act on a step before this returns.
  Status save(const CutoverJournal& journal) const;
  // Writes and removes a probe file: a move must not start that could not journal its steps.
  Status check_writable() const;
  const std::string& path() const { return path_; }

 private:
  std::string state_dir_;
  std::string path_;
};

}  // namespace cutover
