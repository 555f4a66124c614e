// CutoverRunner: the switch from blue to green of ARCHITECTURE.md, step by step, journaled.
//
// guardrails → freeze (PgBouncer PAUSE, bounded) → drain (a marker through blue's WAL,
// committed by the applier in green) → sequences (green set past blue) → switch (include
// file rewritten, RELOAD, SHOW DATABASES checked) → resume (RESUME, then a new connection
// through the pooler must reach green by system identifier).
// Every step is journaled before and after it runs. A failure before the switch resumes the
// pooler on blue and returns to streaming with the reason; recover() does the same, or
// finishes the switch, for a run that was killed half-way.
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

struct SwitchRequest {
  bool dry_run = false;
  // Rollback needs the reverse pipeline, which this version does not have yet: switching
  // anyway must be asked for.
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
  CutoverRunner(const Plan& plan, PipelineStatus& pipeline, VerificationService& verification);
  ~CutoverRunner();
  CutoverRunner(const CutoverRunner&) = delete;
  CutoverRunner& operator=(const CutoverRunner&) = delete;

  // After a crash: finishes or undoes the step the journal shows under way, so that clients
  // end unpaused on one side. Call before serving requests.
  Status recover();

  // Every guardrail, checked now (what --dry-run answers).
  std::vector<Guardrail> check_guardrails(const SwitchRequest& request);
  // Starts the switch in the background; its id, or why it cannot start.
  Result<std::string> start_switch(const SwitchRequest& request);
  // Asks a running switch to abort before it switches.
  Status abort();

  // The journal as status shows it.
  nlohmann::json status_json() const;
  // The orchestrator's state when it is not plain streaming ("" then).
  std::string state() const;

 private:
  void run_switch(std::string id, SwitchRequest request);
  Status switch_steps(const std::string& id, const SwitchRequest& request);
  Status drain(const std::string& id);
  Status sync_sequences();
  Status check_clients_reach(const std::string& side_dsn, const std::string& side);
  // Puts the pooler back on blue and resumes it; journals the abort with `reason`. Whether
  // the pooler could be put back.
  Status undo_freeze(const std::string& reason);
  // Records a step's status in the journal and saves it; the save's failure stops the switch.
  Status journal_step(const std::string& step, const std::string& status, const std::string& detail = "");
  Status save_state(const std::string& state);
  bool aborting() const { return abort_requested_.load(); }

  const Plan& plan_;
  PipelineStatus& pipeline_;
  VerificationService& verification_;
  JournalStore store_;
  std::unique_ptr<PgbouncerAdmin> pooler_;  // null without cutover.switch.pgbouncer
  mutable std::mutex mutex_;
  CutoverJournal journal_;  // guarded by mutex_
  std::atomic<bool> running_{false};
  std::atomic<bool> abort_requested_{false};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace cutover
