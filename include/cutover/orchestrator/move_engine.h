// The move engine: runs a move's steps in order, journaling each before and after it runs,
// and undoes the steps in effect, last first, when one fails or an abort comes before the
// point of no abort. After a crash it reads the journal and either finishes the move or
// undoes it. It knows the steps only as values (MoveStep): what each does to clients or
// databases is the runner's business (cutover_runner.cpp), through its seams.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "cutover/common/result.h"
#include "cutover/orchestrator/journal.h"

namespace cutover {

struct StepOutcome {
  std::string detail;    // journaled with the step
  bool skipped = false;  // it had nothing to do: nothing to undo
};

struct MoveStep {
  MoveStep(StepName step, std::function<Result<StepOutcome>()> action) : name(step), run(std::move(action)) {}

  StepName name;
  std::optional<MoveState> state;  // the journal's state from this step on
  std::function<Result<StepOutcome>()> run;
  // Puts back what `run` did, also when it ran only in part or not at all (after a crash
  // between the journal and the action): it must be idempotent. Empty: nothing to put back.
  std::function<Status()> undo;
  // After every undo, best effort: what may stay behind without harm (a slot unused).
  std::function<Status()> cleanup;
  // A crash point (crash_point.h) once the step is journaled done.
  std::string crash_after;
  // From its start, an abort is refused; after a crash, once it is done (or `took_effect`
  // says it took effect), the move is finished rather than undone.
  bool commits = false;
  // For a committing step journaled as started but not done: whether it took effect anyway.
  std::function<Result<bool>()> took_effect;
  // Once it has run, the move is done: clients act on the result, so nothing after it may
  // undo it, and a journal that cannot be saved is only logged.
  bool completes = false;
};

// The journal of the move under way, shared by the engine and whoever shows it. Every change
// is saved before the call returns; a change that cannot be saved is returned as an error.
class MoveJournal {
 public:
  explicit MoveJournal(JournalStore& store) : store_(store) {}
  Status load();
  CutoverJournal read() const;
  // Applies `change` and saves the journal.
  Status update(const std::function<void(CutoverJournal&)>& change);
  // Applies `change` to the journal shown, saved with the next write: for what recovery does
  // not act on (timings), so that a step in the client pause writes the disk only for its
  // journal entries.
  void amend(const std::function<void(CutoverJournal&)>& change);
  // Appends a step entry at the present time, logs it and saves.
  Status record(StepName step, StepStatus status, const std::string& detail = "");

 private:
  JournalStore& store_;
  mutable std::mutex mutex_;
  CutoverJournal journal_;  // guarded by mutex_
};

// Orders an operator's abort against the move's point of no abort.
class AbortLatch {
 public:
  // Clears both for a new move.
  void reset();
  // Asks the move to abort; refused once it has committed.
  Status request();
  bool requested() const { return requested_.load(); }
  // The move commits; fails if an abort came first.
  Status commit();

 private:
  std::mutex mutex_;
  std::atomic<bool> requested_{false};
  bool committed_ = false;  // guarded by mutex_
};

class MoveEngine {
 public:
  // `crash_prefix` comes before each step's crash point name ("rollback_" for a rollback).
  MoveEngine(MoveJournal& journal, AbortLatch& abort, std::string crash_prefix);

  // Runs `steps`; the first failure, or an abort, is returned and nothing is undone yet.
  Status run(const std::vector<MoveStep>& steps);
  // Undoes the steps the journal shows in effect, last first, then runs every cleanup;
  // journals each step undone. An undo failing for a passing reason (connection lost, busy,
  // timeout: a pooler restarting) is tried again for up to 30 s. The first undo that failed,
  // after trying them all.
  Status undo(const std::vector<MoveStep>& steps);
  // After a restart, for a move the journal shows under way: true when the committing step
  // had taken effect and the steps after it have now run (finish the move); false when it
  // had not, and the move must be undone; an error when that cannot be told or a step after
  // it failed.
  Result<bool> recover(const std::vector<MoveStep>& steps);

 private:
  Status run_step(const MoveStep& step, bool& completed);

  MoveJournal& journal_;
  AbortLatch& abort_;
  std::string crash_prefix_;
};

}  // namespace cutover
