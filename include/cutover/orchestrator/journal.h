// The cutover journal: the orchestrator's state and every step of the current or last
// cutover, kept in `<state_dir>/cutover.json`. Each change is written atomically and fsynced
// before the orchestrator acts on it, so that after a crash `cutover run` knows which step
// was under way and finishes or undoes it.
//
// Its fields are enums; the words they are written as (what `cutover status` shows and
// INTERFACE.md names) are kept here once, and a journal holding any other word is refused.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cutover/common/result.h"
#include "cutover/plan/plan.h"

namespace cutover {

// ARCHITECTURE.md's states.
enum class MoveState { kStreaming, kVerifying, kFreezing, kRollingBack, kDraining, kSwitching, kSwitched };
// Where the pooler sends clients: the user's words for the two databases.
enum class Side { kBlue, kGreen };
// Switch: clients from blue to green. Rollback: back from green to blue.
enum class Move { kSwitch, kRollback };
// How the current or last move ended; kNone while it runs (or before the first).
enum class Outcome { kNone, kSwitched, kRolledBack, kAborted, kUndoFailed };
enum class StepName {
  kGuardrails, kVerification, kFreeze, kFence, kDrain, kSequences, kReverse, kForward, kUnfence,
  kSwitch, kResume, kUndo
};
enum class StepStatus { kStarted, kDone, kSkipped, kFailed, kUndone };

const char* name_of(MoveState state);
const char* name_of(Side side);
const char* name_of(Move move);
const char* name_of(Outcome outcome);
const char* name_of(StepName step);
const char* name_of(StepStatus status);

Side other_side(Side side);

struct JournalStep {
  StepName name = StepName::kGuardrails;
  StepStatus status = StepStatus::kStarted;
  std::string at;  // UTC time
  std::string detail;

  // An entry made at the present time.
  static JournalStep now(StepName name, StepStatus status, std::string detail = "");
};

struct CutoverTimings {
  std::int64_t freeze_ms = 0;
  std::int64_t drain_ms = 0;
  std::int64_t switch_ms = 0;
  std::int64_t pause_ms = 0;  // from PAUSE sent to RESUME answered: what clients waited at most
  std::int64_t paused_at_ms = 0;  // when PAUSE was sent, Unix time in milliseconds
};

// The journal's format, written as "format". 1 has the fields below; a journal without the
// field was written before cutover numbered it, with the same fields, and reads as 1. A newer
// format is refused: this cutover could misread the move it records.
inline constexpr int kJournalFormat = 1;

struct CutoverJournal {
  MoveState state = MoveState::kStreaming;
  Side side = Side::kBlue;                    // where the pooler sends clients
  Direction pipeline = Direction::kForward;   // the direction that streams
  Move operation = Move::kSwitch;             // what the current or last cutover did
  std::string cutover_id;                     // the current or last cutover
  Outcome outcome = Outcome::kNone;
  std::string reason;                         // why it aborted
  std::vector<JournalStep> steps;
  CutoverTimings timings;
  // The sides whose database this plan fenced (default_transaction_read_only) and has not
  // lifted since, so that cleanup lifts only its own fence. Unknown (empty optional) in a
  // journal written before cutover kept it.
  std::optional<std::vector<Side>> fenced = std::vector<Side>{};

  // Records that this plan fenced, or lifted its fence from, `side`.
  void note_fence(Side fenced_side, bool in_place);
  // Whether the journal shows this plan's fence on `side`; empty when it cannot tell.
  std::optional<bool> fenced_by_plan(Side asked) const;

  // The last entry for `step`, if any.
  const JournalStep* last(StepName step) const;
  // The move's steps that began and are neither skipped nor undone since (a failed step may
  // have done part of its work), in the order they began: what an undo must reverse.
  std::vector<StepName> steps_in_effect() const;
  nlohmann::json to_json() const;
  // Refuses a journal of a format newer than kJournalFormat, or holding a state, side,
  // direction, operation, outcome, step or step status that cutover never writes (a newer
  // version's, or a hand edit), naming the field.
  static Result<CutoverJournal> from_json(const nlohmann::json& json);
};

// Where the journal is kept: a seam, so that the move can be driven against a journal that
// fails to save at any step.
class JournalStore {
 public:
  virtual ~JournalStore() = default;
  // The journal kept, or a fresh one when there is none.
  virtual Result<CutoverJournal> load() const = 0;
  // Writes `journal` durably; nothing may act on a step before this returns.
  virtual Status save(const CutoverJournal& journal) = 0;
  // A move must not start that could not journal its steps.
  virtual Status check_writable() = 0;
  // Where it is kept, for messages.
  virtual std::string where() const = 0;
};

// The journal in `<state_dir>/cutover.json`.
class FileJournalStore : public JournalStore {
 public:
  explicit FileJournalStore(std::string state_dir);
  Result<CutoverJournal> load() const override;
  Status save(const CutoverJournal& journal) override;
  // Writes and removes a probe file.
  Status check_writable() override;
  std::string where() const override { return path_; }

 private:
  std::string state_dir_;
  std::string path_;
};

}  // namespace cutover
