#include "cutover/orchestrator/cutover_runner.h"

#include "cutover/common/crash_point.h"
#include "cutover/common/duration.h"
#include "cutover/common/logging.h"
#include "cutover/orchestrator/command_router.h"
#include "cutover/orchestrator/pgbouncer_router.h"
#include "cutover/orchestrator/postgres_move_databases.h"

namespace cutover {

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kAbortCheck = std::chrono::milliseconds(50);
constexpr auto kVerificationPoll = std::chrono::milliseconds(200);

std::int64_t elapsed_ms(Clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - since).count();
}

// The guardrail of a check that may fail: passed, or what went wrong.
Guardrail check(std::string name, std::string limit, const Result<std::string>& found) {
  return {std::move(name), found.is_ok(), found ? *found : found.status().message(), std::move(limit)};
}

// The switch's crash points keep their names; the rollback's are prefixed with rollback_.
std::string crash_prefix(Move move) { return move == Move::kRollback ? "rollback_" : ""; }

bool under_way(MoveState state) {
  return state == MoveState::kVerifying || state == MoveState::kFreezing || state == MoveState::kDraining ||
         state == MoveState::kSwitching || state == MoveState::kRollingBack;
}

StepName step_of(Direction direction) {
  return direction == Direction::kReverse ? StepName::kReverse : StepName::kForward;
}

}  // namespace

MoveSeams make_move_seams(const Plan& plan, const Result<Plan>& reverse, PipelineStatus& pipeline) {
  MoveSeams seams;
  std::unique_ptr<ClientRouter> pooler;
  if (plan.cutover.pgbouncer) pooler = std::make_unique<PgbouncerRouter>(*plan.cutover.pgbouncer);
  if (!plan.cutover.switch_command.empty()) {
    seams.router = std::make_unique<CommandRouter>(plan.cutover.switch_command, plan.cutover.freeze_timeout,
                                                   std::move(pooler));
  } else {
    seams.router = std::move(pooler);
  }
  seams.databases = std::make_unique<PostgresMoveDatabases>(plan, reverse, pipeline.drain_markers);
  seams.journal = std::make_unique<FileJournalStore>(plan.state_dir);
  return seams;
}

CutoverRunner::CutoverRunner(const Plan& plan, const Result<Plan>& reverse, PipelineStatus& pipeline,
                             Verifications& verification, MoveSeams seams)
    : plan_(plan), reverse_(reverse), pipeline_(pipeline), verification_(verification),
      seams_(std::move(seams)), journal_(*seams_.journal) {}

CutoverRunner::~CutoverRunner() {
  abort_.request();
  if (thread_.joinable()) thread_.join();
}

void CutoverRunner::wait_idle() {
  if (thread_.joinable()) thread_.join();
}

CutoverRunner::Route CutoverRunner::route_of(Move move, bool with_next) const {
  Route route;
  route.move = move;
  route.with_next = with_next && (move == Move::kRollback || reverse_.is_ok());
  if (move == Move::kSwitch) {
    route.from = Side::kBlue;
    route.to = Side::kGreen;
    route.running = Direction::kForward;
    route.next = Direction::kReverse;
  } else {
    route.from = Side::kGreen;
    route.to = Side::kBlue;
    route.running = Direction::kReverse;
    route.next = Direction::kForward;
  }
  return route;
}

std::string CutoverRunner::state() const {
  const CutoverJournal journal = journal_.read();
  return journal.state == MoveState::kStreaming ? "" : name_of(journal.state);
}

std::string CutoverRunner::shown_phase() const {
  // A halted or failed pipeline is what the operator must see first, whichever side clients
  // are on.
  if (const Phase phase = pipeline_.phase.load(); phase == Phase::kHalted || phase == Phase::kFailed) {
    return phase_name(phase);
  }
  std::string phase = state();
  if (phase.empty()) phase = pipeline_.apply_hold.paused() ? "paused" : phase_name(pipeline_.phase.load());
  return phase;
}

nlohmann::json CutoverRunner::status_json() const {
  const CutoverJournal journal = journal_.read();
  if (journal.cutover_id.empty()) return nullptr;
  return journal.to_json();
}

std::vector<MoveStep> CutoverRunner::steps_of(const Route& route, const std::string& id) {
  const bool switching = route.move == Move::kSwitch;
  ClientRouter& router = *seams_.router;
  MoveDatabases& databases = *seams_.databases;
  const bool fencing = plan_.cutover.fence_blue;
  std::vector<MoveStep> steps;
  // Timings go into the journal in memory (amend) and reach the disk with the next step entry:
  // inside the client pause, only the steps' own entries are written and fsynced.

  if (switching && plan_.verify.before_switch_full) {
    MoveStep verification(StepName::kVerification, [this] { return verify_first(); });
    verification.state = MoveState::kVerifying;
    steps.push_back(std::move(verification));
  }

  // The next direction's slot and publication on the side to be reached, before the freeze:
  // creating a slot waits for the transactions running there, and clients must not wait with
  // it. Everything after its consistent point is captured, so no client write on that side is
  // missed; what this direction's applier still writes there until the drain carries its
  // replication origin, which the next direction's capture leaves out (change_encoder.h).
  // Left unused by an undo, the slot is dropped, best effort: the next move drops it too.
  MoveStep next(step_of(route.next), [&databases, route]() -> Result<StepOutcome> {
    if (!route.with_next) return StepOutcome{"forced without rollback", true};
    auto started = databases.start_direction(route.next);
    if (!started) return started.status();
    return StepOutcome{*started};
  });
  next.cleanup = [&databases, route] { return databases.drop_direction_slot(route.next); };
  steps.push_back(std::move(next));

  // Freeze: from here on, any failure puts clients back where they were.
  MoveStep freeze(StepName::kFreeze, [this, &router]() -> Result<StepOutcome> {
    pause_started_ = Clock::now();
    const auto paused_at =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    journal_.amend([paused_at](CutoverJournal& journal) { journal.timings.paused_at_ms = paused_at; });
    if (auto paused = router.pause(plan_.cutover.freeze_timeout); !paused) return paused;
    const auto took = elapsed_ms(pause_started_);
    journal_.amend([took](CutoverJournal& journal) { journal.timings.freeze_ms = took; });
    return StepOutcome{};
  });
  freeze.state = switching ? MoveState::kFreezing : MoveState::kRollingBack;
  freeze.undo = [&router] { return router.resume(); };
  if (!fencing) freeze.crash_after = "after_pause";
  steps.push_back(std::move(freeze));

  if (fencing) {
    MoveStep fence(StepName::kFence, [this, &router, &databases, route]() -> Result<StepOutcome> {
      auto pooled = router.held_server_pids();
      if (!pooled) return pooled.status();
      // Noted before it takes effect: a fence this plan may have set is one cleanup lifts.
      journal_.amend([route](CutoverJournal& journal) { journal.note_fence(route.from, true); });
      if (auto fenced = databases.fence(route.from, *pooled); !fenced) return fenced;
      const auto took = elapsed_ms(pause_started_);
      journal_.amend([took](CutoverJournal& journal) { journal.timings.freeze_ms = took; });
      return StepOutcome{name_of(route.from)};
    });
    fence.undo = [this, &databases, route]() -> Status {
      auto lifted = databases.lift_fence(route.from);
      if (!lifted) return lifted.status();
      journal_.amend([route](CutoverJournal& journal) { journal.note_fence(route.from, false); });
      return Status::ok();
    };
    fence.crash_after = "after_pause";
    steps.push_back(std::move(fence));
  }

  MoveStep drain(StepName::kDrain, [this, &databases, route, id]() -> Result<StepOutcome> {
    const auto started = Clock::now();
    if (auto written = databases.write_drain_marker(route.from, id); !written) return written;
    auto drained = wait_for_drain(id);
    const auto took = elapsed_ms(started);
    journal_.amend([took](CutoverJournal& journal) { journal.timings.drain_ms = took; });
    return drained;
  });
  if (switching) drain.state = MoveState::kDraining;
  drain.crash_after = "after_drain";
  steps.push_back(std::move(drain));

  steps.emplace_back(StepName::kSequences, [this, &databases, route]() -> Result<StepOutcome> {
    switch_started_ = Clock::now();
    auto synced = databases.sync_sequences(route.running);
    if (!synced) return synced.status();
    return StepOutcome{std::to_string(*synced)};
  });

  if (fencing) {
    // The side reached takes writes again (a rollback fenced it).
    MoveStep unfence(StepName::kUnfence, [this, &databases, route]() -> Result<StepOutcome> {
      auto lifted = databases.lift_fence(route.to);
      if (!lifted) return lifted.status();
      journal_.amend([route](CutoverJournal& journal) { journal.note_fence(route.to, false); });
      return StepOutcome{name_of(route.to), !*lifted};
    });
    unfence.undo = [this, &router, &databases, route]() -> Status {
      auto pooled = router.held_server_pids();
      journal_.amend([route](CutoverJournal& journal) { journal.note_fence(route.to, true); });
      return databases.fence(route.to, pooled ? *pooled : std::vector<int>());
    };
    steps.push_back(std::move(unfence));
  }

  MoveStep point(StepName::kSwitch, [this, &router, route]() -> Result<StepOutcome> {
    // A pooler restarted (or resumed by someone else) during the freeze lets writes reach the
    // side being left after the drain marker: undone, clients stay on the side that holds them.
    if (auto frozen = router.check_still_paused(); !frozen) return frozen;
    const std::string prefix = crash_prefix(route.move);
    if (auto pointed =
            router.point_at(route.to, [&prefix] { crash_point((prefix + "after_include_rewritten").c_str()); });
        !pointed) {
      return pointed;
    }
    const auto took = elapsed_ms(switch_started_);
    // Saved with the step's "done" entry, which follows at once.
    journal_.amend([route, took](CutoverJournal& journal) {
      journal.side = route.to;
      journal.timings.switch_ms = took;
    });
    return StepOutcome{name_of(route.to)};
  });
  if (switching) point.state = MoveState::kSwitching;
  // Always pointed back, also when the router shows clients on the side left: its durable
  // setting (PgBouncer's include file) may name the other side already, and the next reload,
  // anyone's, would move clients there.
  point.undo = [&router, route] { return router.point_at(route.from, {}); };
  point.crash_after = "before_resume";
  point.commits = true;
  point.took_effect = [&router, route]() -> Result<bool> {
    auto pointed = router.pointed_at();
    if (!pointed) return pointed.status();
    return *pointed == route.to;
  };
  steps.push_back(std::move(point));

  // RESUME: clients now reach the new side. From here the move is done and is never undone.
  MoveStep resume(StepName::kResume, [this, &router, &databases, route]() -> Result<StepOutcome> {
    if (auto resumed = router.resume(); !resumed) return resumed;
    const auto took = elapsed_ms(pause_started_);
    journal_.amend([took](CutoverJournal& journal) { journal.timings.pause_ms = took; });
    // Whether a new connection through the router reaches the new side.
    auto expected = databases.system_identifier(route.to);
    if (!expected) return StepOutcome{expected.status().message()};
    auto reached = router.client_system_identifier();
    if (!reached) return StepOutcome{reached.status().message()};
    if (*reached != *expected) {
      return StepOutcome{"a new connection through the pooler reaches system " + *reached + ", not " +
                         name_of(route.to) + " (" + *expected + ")"};
    }
    return StepOutcome{};
  });
  resume.completes = true;
  steps.push_back(std::move(resume));
  return steps;
}

Status CutoverRunner::recover() {
  if (auto loaded = journal_.load(); !loaded) return loaded;
  const CutoverJournal journal = journal_.read();
  // A move journaled as begun but not ended is under way, whatever its state: one stopped
  // before its first step would show as running for good.
  if (under_way(journal.state) || (!journal.cutover_id.empty() && journal.outcome == Outcome::kNone)) {
    spdlog::warn("cutover id={} was under way (state {}) when cutover run stopped; recovering",
                 journal.cutover_id, name_of(journal.state));
    if (!seams_.router) {
      return Status::invalid("the journal shows a move under way, but the plan names no cutover.switch "
                             "to put clients back with");
    }
    const Route route = route_of(journal.operation, [&] {
      const JournalStep* next = journal.last(journal.operation == Move::kSwitch ? StepName::kReverse
                                                                                : StepName::kForward);
      return next != nullptr && next->status != StepStatus::kSkipped;
    }());
    const std::vector<MoveStep> steps = steps_of(route, journal.cutover_id);
    MoveEngine engine(journal_, abort_, crash_prefix(route.move));
    auto finished = engine.recover(steps);
    if (!finished) return finished.status();
    if (*finished) {
      if (auto done = finish(route); !done) return done;
    } else {
      const Status undone = engine.undo(steps);
      record_undo(route,
                  std::string("cutover run stopped during ") + name_of(journal.state) + "; undone when it started again",
                  undone);
      if (!undone) return undone;
    }
  }
  pipeline_.direction.want(journal_.read().pipeline);
  return Status::ok();
}

std::vector<Guardrail> CutoverRunner::check_guardrails(Move move, const SwitchRequest& request) {
  const Route route = route_of(move, !request.force_without_rollback);
  const Direction carrying = route.running;
  std::vector<Guardrail> guardrails;
  const Phase phase = pipeline_.phase.load();
  const bool streaming = phase == Phase::kStreaming && pipeline_.running.load() == carrying &&
                         !pipeline_.apply_hold.paused();
  const Lag lag = current_lag(pipeline_);
  const auto max_lag_ms = plan_.cutover.max_lag.count();
  guardrails.push_back({"streaming", streaming,
                        std::string(pipeline_.apply_hold.paused() ? "paused" : phase_name(phase)) + " " +
                            direction_name(pipeline_.running.load()),
                        std::string("streaming ") + direction_name(carrying)});
  guardrails.push_back({"lag", streaming && lag.seconds * 1000 < static_cast<double>(max_lag_ms),
                        std::to_string(static_cast<long>(lag.seconds * 1000)) + " ms, " +
                            std::to_string(lag.bytes) + " bytes",
                        "under " + std::to_string(max_lag_ms) + " ms"});
  if (move == Move::kSwitch) {
    if (plan_.verify.before_switch_full) {
      guardrails.push_back({"verification", true, "runs before the freeze", "clean"});
    } else {
      const auto last = verification_.last_finished();
      guardrails.push_back({"verification", last && last->state == "clean",
                            last ? last->id + " " + last->state : "none yet", "the last one clean"});
    }
  }
  guardrails.push_back(check("long_write_transactions", "none older than the freeze timeout",
                             seams_.databases->check_no_long_writers(route.from, plan_.cutover.freeze_timeout)));
  guardrails.push_back(check("journal_writable", "writable", [&]() -> Result<std::string> {
    if (auto writable = seams_.journal->check_writable(); !writable) return writable;
    return seams_.journal->where();
  }()));
  guardrails.push_back(check(std::string(name_of(route.to)) + "_reachable", "reachable", [&]() -> Result<std::string> {
    auto system = seams_.databases->system_identifier(route.to);
    if (!system) return system.status();
    return "system " + *system;
  }()));
  if (seams_.router) {
    for (auto& guardrail : seams_.router->guardrails()) guardrails.push_back(std::move(guardrail));
  } else {
    guardrails.push_back({"switch_target", false, "the plan has no cutover.switch",
                          "cutover.switch.pgbouncer or cutover.switch.command"});
  }
  if (move == Move::kSwitch) {
    guardrails.push_back(check("rollback_possible",
                               "a reverse mapping for every table, green ready for capture, or force_without_rollback",
                               request.force_without_rollback
                                   ? Result<std::string>(std::string("forced: no rollback"))
                                   : seams_.databases->check_direction_ready(Direction::kReverse)));
  } else {
    guardrails.push_back(check("forward_possible", "blue ready for capture again",
                               seams_.databases->check_direction_ready(Direction::kForward)));
  }
  const CutoverJournal journal = journal_.read();
  const bool at_rest = move == Move::kSwitch
                           ? journal.side == Side::kBlue && journal.state == MoveState::kStreaming
                           : journal.side == Side::kGreen && journal.state == MoveState::kSwitched &&
                                 journal.pipeline == Direction::kReverse;
  guardrails.push_back({"side", at_rest,
                        std::string("clients on ") + name_of(journal.side) + ", state " + name_of(journal.state) +
                            ", " + direction_name(journal.pipeline) + " pipeline",
                        move == Move::kSwitch ? "clients on blue, no cutover under way"
                                              : "clients on green after a switch, the reverse pipeline running"});
  return guardrails;
}

Result<std::string> CutoverRunner::start(Move move, const SwitchRequest& request) {
  if (running_.exchange(true)) return Status::error("a cutover is already running");
  // The move's own verification would be refused while another runs, and the move aborted.
  if (verification_.running()) {
    running_ = false;
    return Status::error("a verification is running; start the move once its report is in (cutover status)");
  }
  std::string problems;
  for (const auto& guardrail : check_guardrails(move, request)) {
    if (!guardrail.passed) {
      problems += (problems.empty() ? "" : "; ") + guardrail.name + ": " + guardrail.value +
                  " (must be " + guardrail.limit + ")";
    }
  }
  if (!problems.empty()) {
    running_ = false;
    return Status::error(std::string("guardrails refuse the ") + name_of(move) + ": " + problems);
  }
  if (thread_.joinable()) thread_.join();
  const std::string id = (move == Move::kSwitch ? "cutover_" : "rollback_") + utc_now("%Y%m%dt%H%M%S");
  const Route route = route_of(move, !request.force_without_rollback);
  abort_.reset();
  const Status begun = journal_.update([&](CutoverJournal& journal) {
    journal.cutover_id = id;
    journal.operation = move;
    journal.outcome = Outcome::kNone;
    journal.reason.clear();
    journal.steps = {JournalStep::now(StepName::kGuardrails, StepStatus::kDone,
                                      request.force_without_rollback ? "forced without rollback" : "")};
    journal.timings = {};
  });
  if (!begun) {
    running_ = false;
    return begun;
  }
  thread_ = std::thread([this, id, route] { run(id, route); });
  return id;
}

Status CutoverRunner::abort() {
  if (!running_.load()) return Status::error("no cutover is running");
  return abort_.request();
}

void CutoverRunner::run(std::string id, Route route) {
  const std::vector<MoveStep> steps = steps_of(route, id);
  MoveEngine engine(journal_, abort_, crash_prefix(route.move));
  if (const Status outcome = engine.run(steps); outcome) {
    if (auto finished = finish(route); !finished) {
      spdlog::error("cutover id={} journal not saved after the move: {}", id, finished.message());
    }
  } else {
    spdlog::error("cutover id={} aborted: {}", id, outcome.message());
    record_undo(route, outcome.message(), engine.undo(steps));
  }
  tally_.record(journal_.read());
  running_ = false;
}

Result<StepOutcome> CutoverRunner::verify_first() {
  auto started = verification_.start();
  if (!started) return started.status().with_context("verification before the switch");
  while (verification_.running() && !abort_.requested()) std::this_thread::sleep_for(kVerificationPoll);
  if (abort_.requested()) return Status::error("aborted by request");
  const auto report = verification_.last_finished();
  if (!report || report->state != "clean") {
    return Status::error("the verification before the switch is not clean: " +
                         (report ? report->state + " " + report->error : std::string("none")));
  }
  return StepOutcome{report->id};
}

Result<StepOutcome> CutoverRunner::wait_for_drain(const std::string& id) {
  const std::string marker = "cutover:" + id;
  const auto deadline = Clock::now() + plan_.cutover.drain_timeout;
  {
    // Woken as the applier commits a message; an abort is seen within kAbortCheck.
    std::unique_lock lock(pipeline_.apply.mutex);
    while (Clock::now() < deadline && !abort_.requested()) {
      if (pipeline_.apply.last_message == marker) return StepOutcome{};
      pipeline_.apply.message_applied.wait_until(lock, std::min(deadline, Clock::now() + kAbortCheck));
    }
  }
  if (abort_.requested()) return Status::error("aborted by request");
  return Status::error("drain: the applier did not commit the marker within " +
                       std::to_string(plan_.cutover.drain_timeout.count()) + " ms (lag " +
                       std::to_string(current_lag(pipeline_).bytes) + " bytes)");
}

Status CutoverRunner::finish(const Route& route) {
  Direction direction = Direction::kForward;
  const Status saved = journal_.update([&](CutoverJournal& journal) {
    journal.state = route.to == Side::kGreen ? MoveState::kSwitched : MoveState::kStreaming;
    journal.side = route.to;
    journal.outcome = route.move == Move::kSwitch ? Outcome::kSwitched : Outcome::kRolledBack;
    if (route.with_next) journal.pipeline = route.next;
    direction = journal.pipeline;
    spdlog::info("cutover id={} {} freeze_ms={} drain_ms={} switch_ms={} pause_ms={}", journal.cutover_id,
                 name_of(journal.outcome), journal.timings.freeze_ms, journal.timings.drain_ms,
                 journal.timings.switch_ms, journal.timings.pause_ms);
  });
  pipeline_.direction.want(direction);
  return saved;
}

Status CutoverRunner::record_undo(const Route& route, const std::string& reason, const Status& undone) {
  const Status saved = journal_.update([&](CutoverJournal& journal) {
    journal.steps.push_back(JournalStep::now(StepName::kUndo, undone ? StepStatus::kDone : StepStatus::kFailed, reason));
    if (undone) {
      journal.state = route.from == Side::kGreen ? MoveState::kSwitched : MoveState::kStreaming;
      journal.side = route.from;
      journal.outcome = Outcome::kAborted;
      journal.reason = reason;
      spdlog::warn("cutover id={} aborted, clients resumed on {} reason=\"{}\"", journal.cutover_id,
                   name_of(route.from), reason);
    } else {
      // The state stays where the step left it, so that the next start of cutover run tries
      // the undo again.
      journal.outcome = Outcome::kUndoFailed;
      journal.reason = reason + "; undoing it failed too: " + undone.message();
      spdlog::error("cutover id={} could not resume clients on {}: {}", journal.cutover_id,
                    name_of(route.from), journal.reason);
    }
  });
  if (!saved) spdlog::error("cutover journal: {}", saved.message());
  return saved;
}

}  // namespace cutover
