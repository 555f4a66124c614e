#include "cutover/orchestrator/move_engine.h"

#include <algorithm>
#include <thread>

#include "cutover/common/backoff.h"
#include "cutover/common/crash_point.h"
#include "cutover/common/logging.h"

namespace cutover {

namespace {

// How long an undo that fails for a passing reason (a pooler restarting, a connection lost)
// is tried again: clients may be held until it succeeds.
constexpr auto kUndoPatience = std::chrono::seconds(30);
constexpr Backoff::Settings kUndoBackoff{std::chrono::milliseconds(200), std::chrono::seconds(2),
                                         std::chrono::seconds(30)};

// Runs `undo` until it succeeds, fails for good, or kUndoPatience has passed.
Status undo_patiently(const std::function<Status()>& undo, StepName step) {
  const auto deadline = std::chrono::steady_clock::now() + kUndoPatience;
  Backoff backoff(kUndoBackoff);
  Status undone = undo();
  while (!undone && undone.is_retryable() && std::chrono::steady_clock::now() < deadline) {
    const auto wait = backoff.next();
    spdlog::warn("cutover undoing {} failed, trying again backoff_ms={} reason=\"{}\"", name_of(step), wait.count(),
                 undone.message());
    std::this_thread::sleep_for(wait);
    undone = undo();
  }
  return undone;
}

}  // namespace

Status MoveJournal::load() {
  auto loaded = store_.load();
  if (!loaded) return loaded.status();
  std::lock_guard lock(mutex_);
  journal_ = std::move(loaded.value());
  return Status::ok();
}

CutoverJournal MoveJournal::read() const {
  std::lock_guard lock(mutex_);
  return journal_;
}

Status MoveJournal::update(const std::function<void(CutoverJournal&)>& change) {
  std::lock_guard lock(mutex_);
  change(journal_);
  return store_.save(journal_);
}

void MoveJournal::amend(const std::function<void(CutoverJournal&)>& change) {
  std::lock_guard lock(mutex_);
  change(journal_);
}

Status MoveJournal::record(StepName step, StepStatus status, const std::string& detail) {
  std::lock_guard lock(mutex_);
  journal_.steps.push_back(JournalStep::now(step, status, detail));
  spdlog::info("cutover id={} step={} status={}{}", journal_.cutover_id, name_of(step), name_of(status),
               detail.empty() ? "" : " detail=\"" + detail + "\"");
  return store_.save(journal_);
}

void AbortLatch::reset() {
  std::lock_guard lock(mutex_);
  requested_ = false;
  committed_ = false;
}

Status AbortLatch::request() {
  std::lock_guard lock(mutex_);
  if (committed_) {
    return Status::error("the switch step has begun: clients are being pointed at the other side and the "
                         "move runs to its end; roll back after it if you must");
  }
  requested_ = true;
  return Status::ok();
}

Status AbortLatch::commit() {
  std::lock_guard lock(mutex_);
  if (requested_.load()) return Status::error("aborted by request");
  committed_ = true;
  return Status::ok();
}

MoveEngine::MoveEngine(MoveJournal& journal, AbortLatch& abort, std::string crash_prefix)
    : journal_(journal), abort_(abort), crash_prefix_(std::move(crash_prefix)) {}

Status MoveEngine::run_step(const MoveStep& step, bool& completed) {
  if (step.state) {
    const MoveState state = *step.state;
    if (auto saved = journal_.update([state](CutoverJournal& journal) { journal.state = state; }); !saved) {
      return saved;
    }
  }
  if (auto started = journal_.record(step.name, StepStatus::kStarted); !started) return started;
  auto outcome = step.run();
  if (!outcome) {
    // Journaled for the operator; the undo treats a failed step as in effect all the same.
    if (auto recorded = journal_.record(step.name, StepStatus::kFailed, outcome.status().message()); !recorded) {
      spdlog::error("cutover journal: {}", recorded.message());
    }
    return outcome.status();
  }
  if (step.completes) completed = true;
  const Status done =
      journal_.record(step.name, outcome->skipped ? StepStatus::kSkipped : StepStatus::kDone, outcome->detail);
  if (!done) {
    if (!completed) return done;
    // Clients act on the new side already: the next start recovers from what the router shows.
    spdlog::error("cutover journal not saved after {}: {}", name_of(step.name), done.message());
  }
  if (!step.crash_after.empty()) crash_point((crash_prefix_ + step.crash_after).c_str());
  return Status::ok();
}

Status MoveEngine::run(const std::vector<MoveStep>& steps) {
  bool committed = false;
  bool completed = false;
  for (const auto& step : steps) {
    if (!committed && abort_.requested()) return Status::error("aborted by request");
    if (step.commits) {
      if (auto latched = abort_.commit(); !latched) return latched;
      committed = true;
    }
    const bool was_completed = completed;
    if (auto ran = run_step(step, completed); !ran) {
      if (!was_completed) return ran;
      spdlog::error("cutover step {} failed after the move was done: {}", name_of(step.name), ran.message());
    }
  }
  return Status::ok();
}

Status MoveEngine::undo(const std::vector<MoveStep>& steps) {
  const std::vector<StepName> in_effect = journal_.read().steps_in_effect();
  auto find = [&steps](StepName name) -> const MoveStep* {
    const auto found = std::find_if(steps.begin(), steps.end(), [name](const MoveStep& step) { return step.name == name; });
    return found == steps.end() ? nullptr : &*found;
  };
  Status first_failure = Status::ok();
  for (auto name = in_effect.rbegin(); name != in_effect.rend(); ++name) {
    const MoveStep* step = find(*name);
    if (step == nullptr || !step->undo) continue;
    const Status undone = undo_patiently(step->undo, *name);
    if (undone) {
      // Not recorded, the undo is only done again by the next recovery: it is idempotent.
      if (auto recorded = journal_.record(*name, StepStatus::kUndone); !recorded) {
        spdlog::error("cutover journal: {}", recorded.message());
      }
    } else {
      spdlog::error("cutover undoing {} failed: {}", name_of(*name), undone.message());
      if (first_failure) first_failure = undone.with_context(std::string("undoing ") + name_of(*name));
    }
  }
  for (const StepName name : in_effect) {
    const MoveStep* step = find(name);
    if (step == nullptr || !step->cleanup) continue;
    if (auto cleaned = step->cleanup(); !cleaned) {
      spdlog::warn("cutover: after undoing {}: {}", name_of(name), cleaned.message());
    }
  }
  return first_failure;
}

Result<bool> MoveEngine::recover(const std::vector<MoveStep>& steps) {
  const auto committing = std::find_if(steps.begin(), steps.end(), [](const MoveStep& step) { return step.commits; });
  bool finish = false;
  if (committing != steps.end()) {
    const CutoverJournal journal = journal_.read();
    const JournalStep* entry = journal.last(committing->name);
    if (entry && entry->status == StepStatus::kDone) {
      finish = true;
    } else if (entry && entry->status != StepStatus::kUndone && committing->took_effect) {
      auto took = committing->took_effect();
      if (!took) return took.status().with_context("recovering the cutover");
      finish = *took;
    }
  }
  if (!finish) return false;
  bool completed = false;
  for (auto step = std::next(committing); step != steps.end(); ++step) {
    const bool was_completed = completed;
    if (auto ran = run_step(*step, completed); !ran && !was_completed) return ran;
  }
  return true;
}

}  // namespace cutover
