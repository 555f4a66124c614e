// CutoverRunner: the switch from blue to green of ARCHITECTURE.md, and the rollback from
// green to blue, step by step, journaled.
//
// guardrails → freeze (PgBouncer PAUSE, bounded; the side left fenced with
// cutover.fence_blue) → drain (a marker through the side left's WAL, committed by the running
// applier) → sequences (the side reached set past the side left) → the next direction's slot
// and publication on the side reached, before any client can write there → switch (include
// file rewritten and RELOAD, or the plan's switch command) → resume (RESUME, then a new
// connection through the pooler must reach the new side by system identifier) → the
// pipeline turns around.
// Every step is journaled before and after it runs. A failure before the switch puts clients
// back where they were and resumes them, with the reason in status; recover() does the same,
// or finishes the move, for a run that was killed half-way.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cutover/orchestrator/journal.h"
#include "cutover/orchestrator/pgbouncer_admin.h"
#include "cutover/pipeline/forward_pipeline.h"
#include "cutover/plan/plan.h"
#include "cutover/verify/verification_service.h"

namespace cutover {

// Switch: clients from blue to green. Rollback: back from green to blue.
enum class Move { kSwitch, kRollback };

struct SwitchRequest {
  bool dry_run = false;
  // Switch although no reverse pipeline can keep blue current: no rollback afterwards.
  bool force_without_rollback = false;
};

struct Guardrail {
  std::string name;
  bool passed = false;
  std::string value;  // what was found
  std::string limit;  // what it must be
};

class CutoverRunner {
 public:
  // `reverse` is the reverse plan, or why there is none.
  CutoverRunner(const Plan& plan, const Result<Plan>& reverse, PipelineStatus& pipeline,
                VerificationService& verification);
  ~CutoverRunner();
  CutoverRunner(const CutoverRunner&) = delete;
  CutoverRunner& operator=(const CutoverRunner&) = delete;

  // After a crash: finishes or undoes the move the journal shows under way, so that clients
  // end unpaused on one side, and sets the pipeline's direction to the journal's. Call before
  // the pipeline starts and requests are served.
  Status recover();

  // Every guardrail of `move`, checked now (what --dry-run answers).
  std::vector<Guardrail> check_guardrails(Move move, const SwitchRequest& request);
  // Starts the move in the background; its id, or why it cannot start.
  Result<std::string> start(Move move, const SwitchRequest& request);
  // Asks a running move to abort before it switches.
  Status abort();
  // No move is running.
  bool idle() const { return !running_.load(); }

  // The journal as status shows it.
  nlohmann::json status_json() const;
  // The orchestrator's state when it is not plain streaming ("" then).
  std::string state() const;
  // The phase status, metrics and the dashboard show: that state, else "paused" or the
  // pipeline's phase.
  std::string shown_phase() const;

 private:
  // One move's two sides and what runs after it.
  struct Route {
    Move move = Move::kSwitch;
    std::string from;              // the side clients leave
    std::string to;                // the side they reach
    const Plan* running = nullptr; // the pipeline that carries from's changes to `to`
    const Plan* next = nullptr;    // the one that runs afterwards; null: none (forced)
    Direction next_direction = Direction::kReverse;
  };
  Route route_of(Move move, bool with_next) const;
  const std::string& dsn_of(const std::string& side) const;

  void run(std::string id, Route route, SwitchRequest request);
  Status move_steps(const std::string& id, const Route& route);
  Status verify_first();
  Status freeze(const Route& route);
  Status still_frozen() const;
  Status drain(const std::string& id, const Route& route);
  Status sync_sequences(const Route& route);
  Status prepare_next_direction(const Route& route);
  // Include file and RELOAD, or the switch command. With `crashing_move`, that move's crash
  // point between the include file's rewrite and the RELOAD (an undo has none).
  Status point_clients_to(const std::string& side, std::optional<Move> crashing_move = std::nullopt);
  Status check_clients_reach(const std::string& side);
  // Records the move as done and turns the pipeline around (also when the journal cannot be
  // saved, which is the error returned).
  Status finish(const Route& route);
  // Puts clients back on route.from, restores the fences, resumes the pooler and drops the
  // next direction's slot; journals the abort with `reason`. Whether clients are back.
  Status undo(const Route& route, const std::string& reason);
  // Records a step's status in the journal and saves it; the save's failure stops the move.
  Status journal_step(const std::string& step, const std::string& status, const std::string& detail = "");
  Status save_state(const std::string& state);
  // Whether the journal shows `step` under way or done (not skipped).
  bool journal_has(const std::string& step) const;
  bool aborting() const { return abort_requested_.load(); }
  // The switch step is about to start: from here an abort is answered 409, since the move runs
  // to its end once clients are being pointed at the other side. Fails if an abort came first.
  Status commit_to_switch();

  const Plan& plan_;
  const Result<Plan>& reverse_;
  PipelineStatus& pipeline_;
  VerificationService& verification_;
  JournalStore store_;
  std::unique_ptr<PgbouncerAdmin> pooler_;  // null without cutover.switch.pgbouncer
  mutable std::mutex mutex_;
  CutoverJournal journal_;  // guarded by mutex_
  std::atomic<bool> running_{false};
  std::atomic<bool> abort_requested_{false};
  std::mutex abort_mutex_;     // orders an abort against commit_to_switch()
  bool committed_ = false;     // guarded by abort_mutex_: the switch step has begun
  std::thread thread_;
};

}  // namespace cutover
