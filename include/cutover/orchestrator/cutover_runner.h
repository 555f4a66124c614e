// CutoverRunner: the switch from blue to green of ARCHITECTURE.md, and the rollback from
// green to blue, as steps run by the move engine (move_engine.h):
//
// guardrails → [verification] → freeze (the client router holds clients, bounded) → [fence:
// the side left read-only] → drain (a marker through the side left's WAL, committed by the
// running applier) → sequences (the side reached set past the side left) → [unfence the side
// reached] → the next direction's slot and publication on the side reached, before any client
// can write there → switch (the router points clients at the side reached) → resume (clients
// let go; a new connection must reach the new side by system identifier) → the pipeline turns
// around.
//
// The runner builds the steps; what they do to clients goes through a ClientRouter and what
// they do to the databases through MoveDatabases, so that tests can fake either. A failure
// before the switch puts clients back where they were and resumes them, with the reason in
// status; recover() does the same, or finishes the move, for a run that was killed half-way.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cutover/orchestrator/client_router.h"
#include "cutover/orchestrator/journal.h"
#include "cutover/orchestrator/move_databases.h"
#include "cutover/orchestrator/move_engine.h"
#include "cutover/orchestrator/move_tally.h"
#include "cutover/pipeline/forward_pipeline.h"
#include "cutover/plan/plan.h"
#include "cutover/verify/verification_service.h"

namespace cutover {

struct SwitchRequest {
  bool dry_run = false;
  // Switch although no reverse pipeline can keep blue current: no rollback afterwards.
  bool force_without_rollback = false;
};

// What the runner acts through; the real ones come from make_move_seams.
struct MoveSeams {
  std::unique_ptr<ClientRouter> router;  // null when the plan names no way to switch
  std::unique_ptr<MoveDatabases> databases;
  std::unique_ptr<JournalStore> journal;
};

// The plan's router (PgBouncer or the switch command), its databases and the journal file.
MoveSeams make_move_seams(const Plan& plan, const Result<Plan>& reverse, PipelineStatus& pipeline);

class CutoverRunner {
 public:
  // `reverse` is the reverse plan, or why there is none.
  CutoverRunner(const Plan& plan, const Result<Plan>& reverse, PipelineStatus& pipeline,
                Verifications& verification, MoveSeams seams);
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
  // Waits until no move is running.
  void wait_idle();

  // The journal as status shows it.
  nlohmann::json status_json() const;
  // The orchestrator's state when it is not plain streaming ("" then).
  std::string state() const;
  // The phase status, metrics and the dashboard show: that state, else "paused" or the
  // pipeline's phase.
  std::string shown_phase() const;
  // What this run's moves ended in, and their pauses.
  const MoveTally& tally() const { return tally_; }

 private:
  // One move's two sides and what runs after it.
  struct Route {
    Move move = Move::kSwitch;
    Side from = Side::kBlue;        // the side clients leave
    Side to = Side::kGreen;         // the side they reach
    Direction running = Direction::kForward;  // the pipeline that carries from's changes to `to`
    bool with_next = true;          // false: no direction runs afterwards (forced)
    Direction next = Direction::kReverse;
  };
  Route route_of(Move move, bool with_next) const;
  // The move's steps, in order, for the engine.
  std::vector<MoveStep> steps_of(const Route& route, const std::string& id);

  void run(std::string id, Route route);
  Result<StepOutcome> verify_first();
  Result<StepOutcome> wait_for_drain(const std::string& id);
  // Records the move as done and turns the pipeline around (also when the journal cannot be
  // saved, which is the error returned).
  Status finish(const Route& route);
  // Journals the undo's outcome: clients back on route.from, or the undo failed.
  Status record_undo(const Route& route, const std::string& reason, const Status& undone);

  const Plan& plan_;
  const Result<Plan>& reverse_;
  PipelineStatus& pipeline_;
  Verifications& verification_;
  MoveSeams seams_;
  MoveJournal journal_;
  AbortLatch abort_;
  std::atomic<bool> running_{false};
  MoveTally tally_;
  std::thread thread_;
  // The move's timings, by its thread while it runs.
  std::chrono::steady_clock::time_point pause_started_;
  std::chrono::steady_clock::time_point switch_started_;
};

}  // namespace cutover
