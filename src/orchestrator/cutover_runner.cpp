#include "cutover/orchestrator/cutover_runner.h"

#include <libpq-fe.h>

#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <map>

#include "cutover/common/crash_point.h"
#include "cutover/common/database_errors.h"
#include "cutover/common/duration.h"
#include "cutover/common/logging.h"
#include "cutover/common/postgres_connection.h"
#include "cutover/capture/preflight.h"
#include "cutover/capture/replication_stream.h"
#include "cutover/capture/slot_manager.h"
#include "cutover/apply/target_writer.h"
#include "cutover/orchestrator/switch_command.h"
#include "cutover/pipeline/connected_validation.h"
#include "cutover/orchestrator/write_fence.h"

namespace cutover {

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kAbortCheck = std::chrono::milliseconds(50);
constexpr auto kVerificationPoll = std::chrono::milliseconds(200);
const char* const kTimeFormat = "%Y-%m-%dT%H:%M:%SZ";

std::int64_t elapsed_ms(Clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - since).count();
}

Result<std::string> system_identifier(const std::string& dsn, const std::string& role,
                                      SessionPins pins = SessionPins::kPinned) {
  auto connection = open_postgres(dsn, role, pins);
  if (!connection) return connection.status();
  try {
    pqxx::nontransaction query(**connection);
    return std::string(query.exec("SELECT system_identifier::text FROM pg_control_system()")[0][0].c_str());
  } catch (const std::exception& error) {
    return status_of(error, role + ": reading the system identifier");
  }
}

// The guardrail of a check that opens a session: passed, or what went wrong.
Guardrail check(std::string name, std::string limit, const std::function<Result<std::string>()>& probe) {
  auto found = probe();
  return {std::move(name), found.is_ok(), found ? *found : found.status().message(), std::move(limit)};
}

// Whether `program` names an executable, directly or through PATH.
bool executable(const std::string& program) {
  if (program.find('/') != std::string::npos) return ::access(program.c_str(), X_OK) == 0;
  const char* path = std::getenv("PATH");
  std::string directories = path ? path : "/usr/bin:/bin";
  std::size_t at = 0;
  while (at <= directories.size()) {
    const std::size_t end = std::min(directories.find(':', at), directories.size());
    if (::access((directories.substr(at, end - at) + "/" + program).c_str(), X_OK) == 0) return true;
    at = end + 1;
  }
  return false;
}

// The switch's crash points keep their names; the rollback's are prefixed with rollback_.
void crash_at(Move move, const std::string& step) {
  crash_point((move == Move::kRollback ? "rollback_" + step : step).c_str());
}

}  // namespace

CutoverRunner::CutoverRunner(const Plan& plan, const Result<Plan>& reverse, PipelineStatus& pipeline,
                             VerificationService& verification)
    : plan_(plan), reverse_(reverse), pipeline_(pipeline), verification_(verification),
      store_(plan.state_dir) {
  if (plan.cutover.pgbouncer) {
    pooler_ = std::make_unique<PgbouncerAdmin>(plan.cutover.pgbouncer->admin_dsn,
                                               plan.cutover.pgbouncer->database);
  }
}

CutoverRunner::~CutoverRunner() {
  abort_requested_ = true;
  if (thread_.joinable()) thread_.join();
}

CutoverRunner::Route CutoverRunner::route_of(Move move, bool with_next) const {
  Route route;
  route.move = move;
  if (move == Move::kSwitch) {
    route.from = "blue";
    route.to = "green";
    route.running = &plan_;
    route.next = with_next && reverse_ ? &*reverse_ : nullptr;
    route.next_direction = Direction::kReverse;
  } else {
    route.from = "green";
    route.to = "blue";
    route.running = reverse_ ? &*reverse_ : nullptr;
    route.next = &plan_;
    route.next_direction = Direction::kForward;
  }
  return route;
}

const std::string& CutoverRunner::dsn_of(const std::string& side) const {
  return side == "blue" ? plan_.blue.dsn : plan_.green->dsn;
}

std::string CutoverRunner::state() const {
  std::lock_guard lock(mutex_);
  return journal_.state == "streaming" ? "" : journal_.state;
}

std::string CutoverRunner::shown_phase() const {
  // A halted pipeline is what the operator must see first, whichever side clients are on.
  if (pipeline_.phase.load() == Phase::kHalted) return phase_name(Phase::kHalted);
  std::string phase = state();
  if (phase.empty()) phase = pipeline_.apply_hold.paused() ? "paused" : phase_name(pipeline_.phase.load());
  return phase;
}

nlohmann::json CutoverRunner::status_json() const {
  std::lock_guard lock(mutex_);
  if (journal_.cutover_id.empty()) return nullptr;
  return journal_.to_json();
}

Status CutoverRunner::journal_step(const std::string& step, const std::string& status,
                                   const std::string& detail) {
  std::lock_guard lock(mutex_);
  journal_.steps.push_back({step, status, utc_now(kTimeFormat), detail});
  spdlog::info("cutover id={} step={} status={}{}", journal_.cutover_id, step, status,
               detail.empty() ? "" : " detail=\"" + detail + "\"");
  return store_.save(journal_);
}

Status CutoverRunner::save_state(const std::string& state) {
  std::lock_guard lock(mutex_);
  journal_.state = state;
  return store_.save(journal_);
}

bool CutoverRunner::journal_has(const std::string& step) const {
  std::lock_guard lock(mutex_);
  const JournalStep* entry = journal_.last(step);
  return entry && entry->status != "skipped";
}

Status CutoverRunner::recover() {
  auto loaded = store_.load();
  if (!loaded) return loaded.status();
  {
    std::lock_guard lock(mutex_);
    journal_ = std::move(loaded.value());
  }
  const std::string state = journal_.state;
  const bool under_way = state == "verifying" || state == "freezing" || state == "draining" ||
                         state == "switching" || state == "rolling_back";
  if (under_way) {
    spdlog::warn("cutover id={} was under way (state {}) when cutover run stopped; recovering",
                 journal_.cutover_id, state);
    const Move move = journal_.operation == "rollback" ? Move::kRollback : Move::kSwitch;
    const Route route = route_of(move, journal_has(move == Move::kSwitch ? "reverse" : "forward"));
    const JournalStep* switched = journal_.last("switch");
    bool reached = switched && switched->status == "done";
    if (switched && !reached && plan_.cutover.switch_command.empty()) {
      // The include file may be rewritten and reloaded: the pooler's server decides.
      auto shown = pooler_->server();
      if (!shown) return shown.status().with_context("recovering the cutover");
      const auto& pgbouncer = *plan_.cutover.pgbouncer;
      reached = names_same_server(*shown, route.to == "green" ? pgbouncer.green : pgbouncer.blue);
    }
    if (reached) {
      // New connections already reach the new side: the move is finished forward.
      if (pooler_) {
        if (auto resumed = pooler_->resume(); !resumed) return resumed;
      }
      if (auto step = journal_step("resume", "done", "after a restart"); !step) return step;
      if (auto finished = finish(route); !finished) return finished;
    } else if (auto undone = undo(route, "cutover run stopped during " + state +
                                             "; undone when it started again");
               !undone) {
      return undone;
    }
  }
  std::lock_guard lock(mutex_);
  pipeline_.wanted = journal_.pipeline == "reverse" ? Direction::kReverse : Direction::kForward;
  return Status::ok();
}

std::vector<Guardrail> CutoverRunner::check_guardrails(Move move, const SwitchRequest& request) {
  const Route route = route_of(move, !request.force_without_rollback);
  const Direction carrying = move == Move::kSwitch ? Direction::kForward : Direction::kReverse;
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
                             [&]() -> Result<std::string> {
    auto from = open_postgres(dsn_of(route.from), route.from);
    if (!from) return from.status();
    try {
      if (auto sees = check_sees_other_sessions(**from, route.from); !sees) return sees;
      pqxx::nontransaction query(**from);
      const auto row = query.exec(
          "SELECT count(*), coalesce(max(extract(epoch FROM now() - xact_start)), 0)::numeric(12,1) "
          "FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid() "
          "AND now() - xact_start > interval '" +
          std::to_string(plan_.cutover.freeze_timeout.count()) + " milliseconds'")[0];
      const std::string found = route.from + ": " + row[0].c_str() + " (oldest " + row[1].c_str() + " s)";
      if (row[0].as<long>() != 0) return Status::error(found);
      return found;
    } catch (const std::exception& error) {
      return Status::error(error.what());
    }
  }));
  guardrails.push_back(check("journal_writable", "writable", [&]() -> Result<std::string> {
    if (auto writable = store_.check_writable(); !writable) return writable;
    return store_.path();
  }));
  guardrails.push_back(check(route.to + "_reachable", "reachable", [&]() -> Result<std::string> {
    auto system = system_identifier(dsn_of(route.to), route.to);
    if (!system) return system.status();
    return "system " + *system;
  }));
  if (pooler_) {
    guardrails.push_back(check("pooler_reachable", "reachable", [&]() -> Result<std::string> {
      if (auto reachable = pooler_->check(); !reachable) return reachable;
      return std::string("reachable");
    }));
  }
  if (!plan_.cutover.switch_command.empty()) {
    const std::string& program = plan_.cutover.switch_command.front();
    guardrails.push_back({"switch_command", executable(program), program,
                          "an executable program"});
  } else if (!pooler_) {
    guardrails.push_back({"switch_target", false, "the plan has no cutover.switch",
                          "cutover.switch.pgbouncer or cutover.switch.command"});
  }
  if (move == Move::kSwitch) {
    guardrails.push_back(check("rollback_possible", "a reverse mapping for every table, green ready "
                               "for capture, or force_without_rollback",
                               [&]() -> Result<std::string> {
      if (request.force_without_rollback) return std::string("forced: no rollback");
      if (!reverse_) return reverse_.status();
      auto green = open_postgres(plan_.green->dsn, "green");
      if (!green) return green.status();
      auto blue = open_postgres(plan_.blue.dsn, "blue");
      if (!blue) return blue.status();
      auto ready = check_rollback_ready(*reverse_, **green, **blue);
      if (!ready) return ready.status();
      return std::to_string(*ready) + " tables map back";
    }));
  } else {
    guardrails.push_back(check("forward_possible", "blue ready for capture again",
                               [&]() -> Result<std::string> {
      auto ready = check_source_for_capture(plan_, std::chrono::milliseconds(0));
      if (!ready) return ready.status();
      return std::string("ready");
    }));
  }
  {
    std::lock_guard lock(mutex_);
    const bool at_rest = move == Move::kSwitch
                             ? journal_.side == "blue" && journal_.state == "streaming"
                             : journal_.side == "green" && journal_.state == "switched" &&
                                   journal_.pipeline == "reverse";
    guardrails.push_back({"side", at_rest,
                          "clients on " + journal_.side + ", state " + journal_.state + ", " +
                              journal_.pipeline + " pipeline",
                          move == Move::kSwitch
                              ? "clients on blue, no cutover under way"
                              : "clients on green after a switch, the reverse pipeline running"});
  }
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
    return Status::error(std::string("guardrails refuse the ") +
                         (move == Move::kSwitch ? "switch: " : "rollback: ") + problems);
  }
  if (thread_.joinable()) thread_.join();
  const std::string id = (move == Move::kSwitch ? "cutover_" : "rollback_") + utc_now("%Y%m%dt%H%M%S");
  {
    std::lock_guard lock(mutex_);
    journal_.cutover_id = id;
    journal_.operation = move == Move::kSwitch ? "switch" : "rollback";
    journal_.outcome.clear();
    journal_.reason.clear();
    journal_.steps.clear();
    journal_.timings = {};
  }
  {
    std::lock_guard lock(abort_mutex_);
    abort_requested_ = false;
    committed_ = false;
  }
  const Route route = route_of(move, !request.force_without_rollback);
  thread_ = std::thread([this, id, route, request] { run(id, route, request); });
  return id;
}

Status CutoverRunner::abort() {
  std::lock_guard lock(abort_mutex_);
  if (!running_.load()) return Status::error("no cutover is running");
  if (committed_) {
    return Status::error("the switch step has begun: clients are being pointed at the other side and the "
                         "move runs to its end; roll back after it if you must");
  }
  abort_requested_ = true;
  return Status::ok();
}

Status CutoverRunner::commit_to_switch() {
  std::lock_guard lock(abort_mutex_);
  if (abort_requested_.load()) return Status::error("aborted by request");
  committed_ = true;
  return Status::ok();
}

void CutoverRunner::run(std::string id, Route route, SwitchRequest request) {
  Status outcome = journal_step("guardrails", "done",
                                request.force_without_rollback ? "forced without rollback" : "");
  if (outcome) outcome = move_steps(id, route);
  if (!outcome) {
    spdlog::error("cutover id={} aborted: {}", id, outcome.message());
    undo(route, outcome.message());
  }
  running_ = false;
}

Status CutoverRunner::verify_first() {
  if (auto saved = save_state("verifying"); !saved) return saved;
  auto started = verification_.start();
  if (!started) return started.status().with_context("verification before the switch");
  while (verification_.running() && !aborting()) std::this_thread::sleep_for(kVerificationPoll);
  if (aborting()) return Status::error("aborted by request");
  const auto report = verification_.last_finished();
  if (!report || report->state != "clean") {
    return Status::error("the verification before the switch is not clean: " +
                         (report ? report->state + " " + report->error : std::string("none")));
  }
  return journal_step("verification", "done", report->id);
}

Status CutoverRunner::move_steps(const std::string& id, const Route& route) {
  const bool switching = route.move == Move::kSwitch;
  if (switching && plan_.verify.before_switch_full) {
    if (auto verified = verify_first(); !verified) return verified;
  }

  // Freeze: from here on, any failure puts clients back where they were.
  if (auto saved = save_state(switching ? "freezing" : "rolling_back"); !saved) return saved;
  const auto pause_started = Clock::now();
  if (auto frozen = freeze(route); !frozen) return frozen;
  crash_at(route.move, "after_pause");
  if (aborting()) return Status::error("aborted by request");

  if (switching) {
    if (auto saved = save_state("draining"); !saved) return saved;
  }
  if (auto step = journal_step("drain", "started"); !step) return step;
  const auto drain_started = Clock::now();
  if (auto drained = drain(id, route); !drained) return drained;
  crash_at(route.move, "after_drain");
  {
    std::lock_guard lock(mutex_);
    journal_.timings.drain_ms = elapsed_ms(drain_started);
  }
  if (auto step = journal_step("drain", "done"); !step) return step;
  if (aborting()) return Status::error("aborted by request");

  const auto switch_started = Clock::now();
  if (auto synced = sync_sequences(route); !synced) return synced;
  if (plan_.cutover.fence_blue) {
    // Before the next direction's publication may need creating there.
    auto lifted = lift_fence(dsn_of(route.to), route.to);
    if (!lifted) return lifted.status();
    if (*lifted) {
      if (auto step = journal_step("unfence", "done", route.to); !step) return step;
    }
  }
  if (auto prepared = prepare_next_direction(route); !prepared) return prepared;
  if (auto frozen = still_frozen(); !frozen) return frozen;

  if (switching) {
    if (auto saved = save_state("switching"); !saved) return saved;
  }
  if (auto committed = commit_to_switch(); !committed) return committed;
  if (auto step = journal_step("switch", "started", route.to); !step) return step;
  if (auto pointed = point_clients_to(route.to, route.move); !pointed) return pointed;
  {
    std::lock_guard lock(mutex_);
    journal_.side = route.to;
    journal_.timings.switch_ms = elapsed_ms(switch_started);
  }
  if (auto step = journal_step("switch", "done", route.to); !step) return step;
  crash_at(route.move, "before_resume");

  // RESUME: clients now reach the new side. From here the move is done and is never undone.
  if (pooler_) {
    if (auto resumed = pooler_->resume(); !resumed) {
      spdlog::error("cutover id={} RESUME failed after the switch: {}", id, resumed.message());
      return resumed;
    }
  }
  {
    std::lock_guard lock(mutex_);
    journal_.timings.pause_ms = elapsed_ms(pause_started);
  }
  // Clients may write on the new side now: nothing below may undo the move, so a failure to
  // journal is logged (the next start recovers from the pooler's server) and the pipeline
  // turns around all the same.
  const Status reached = check_clients_reach(route.to);
  if (auto step = journal_step("resume", "done", reached ? "" : reached.message()); !step) {
    spdlog::error("cutover id={} journal not saved after RESUME: {}", id, step.message());
  }
  if (auto finished = finish(route); !finished) {
    spdlog::error("cutover id={} journal not saved after the move: {}", id, finished.message());
  }
  return Status::ok();
}

Status CutoverRunner::freeze(const Route& route) {
  if (auto step = journal_step("freeze", "started"); !step) return step;
  const auto started = Clock::now();
  {
    std::lock_guard lock(mutex_);
    journal_.timings.paused_at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count();
  }
  if (pooler_) {
    if (auto paused = pooler_->pause(plan_.cutover.freeze_timeout); !paused) return paused;
  }
  if (plan_.cutover.fence_blue) {
    if (auto step = journal_step("fence", "started", route.from); !step) return step;
    std::vector<int> pooled;
    if (pooler_) {
      auto pids = pooler_->server_pids();
      if (!pids) return pids.status();
      pooled = *pids;
    }
    if (auto fenced = fence_writes(dsn_of(route.from), route.from, pooled); !fenced) return fenced;
    if (auto step = journal_step("fence", "done", route.from); !step) return step;
  }
  {
    std::lock_guard lock(mutex_);
    journal_.timings.freeze_ms = elapsed_ms(started);
  }
  return journal_step("freeze", "done");
}

// A pooler restarted (or resumed by someone else) during the freeze comes back resumed on the
// side being left, and writes made there after the drain marker would not follow the move.
// Checked last before clients are pointed anywhere: the move is then undone, clients stay on
// the side that holds their writes, and the pipeline carries them on as before.
Status CutoverRunner::still_frozen() const {
  if (!pooler_) return Status::ok();
  auto paused = pooler_->paused();
  if (!paused) return paused.status().with_context("checking the freeze");
  if (!*paused) {
    return Status::error("pgbouncer: database " + plan_.cutover.pgbouncer->database +
                         " is no longer paused (the pooler restarted or was resumed during the "
                         "freeze); clients may have written to the side being left");
  }
  return Status::ok();
}

Status CutoverRunner::drain(const std::string& id, const Route& route) {
  auto from = open_postgres(dsn_of(route.from), route.from);
  if (!from) return from.status();
  try {
    allow_writes(**from);  // the side left may be fenced already
    pqxx::work marker(**from);
    const auto written = marker.exec_params1(
        "SELECT current_setting('server_version_num')::int, txid_current() % 4294967296, "
        "pg_logical_emit_message(true, 'cutover', $1)",
        id);
    if (written[0].as<int>() < ReplicationConnection::kFirstVersionWithMessages) {
      // pgoutput does not send it here: the capture puts it into this transaction when it
      // comes, asked for before it commits so that it cannot pass unseen.
      pipeline_.drain_markers.request({"cutover", id, written[1].as<std::uint32_t>()});
    }
    marker.commit();
  } catch (const std::exception& error) {
    return status_of(error, route.from + ": writing the drain marker");
  }
  const std::string marker = "cutover:" + id;
  const auto deadline = Clock::now() + plan_.cutover.drain_timeout;
  {
    // Woken as the applier commits a message; an abort is seen within kAbortCheck.
    std::unique_lock lock(pipeline_.apply.mutex);
    while (Clock::now() < deadline && !aborting()) {
      if (pipeline_.apply.last_message == marker) return Status::ok();
      pipeline_.apply.message_applied.wait_until(lock, std::min(deadline, Clock::now() + kAbortCheck));
    }
  }
  if (aborting()) return Status::error("aborted by request");
  return Status::error("drain: the applier did not commit the marker within " +
                       std::to_string(plan_.cutover.drain_timeout.count()) + " ms (lag " +
                       std::to_string(current_lag(pipeline_).bytes) + " bytes)");
}

Status CutoverRunner::sync_sequences(const Route& route) {
  const auto& sequences = route.running->sequences;
  if (!sequences.empty()) {
    auto from = open_postgres(dsn_of(route.from), route.from);
    if (!from) return from.status();
    auto to = open_postgres(dsn_of(route.to), route.to);
    if (!to) return to.status();
    try {
      allow_writes(**to);
      pqxx::nontransaction from_query(**from);
      pqxx::nontransaction to_query(**to);
      for (const auto& sequence : sequences) {
        const auto row = from_query.exec("SELECT last_value, is_called FROM " + sequence.source.quoted())[0];
        to_query.exec_params("SELECT setval($1::regclass, $2, $3)", sequence.target.quoted(),
                             row[0].as<long long>(), row[1].as<bool>());
        spdlog::info("cutover sequence={} target={} set_to={} is_called={}", sequence.source.text(),
                     sequence.target.text(), row[0].c_str(), row[1].c_str());
      }
    } catch (const std::exception& error) {
      return status_of(error, "sequences");
    }
  }
  return journal_step("sequences", "done", std::to_string(sequences.size()));
}

Status CutoverRunner::prepare_next_direction(const Route& route) {
  const std::string step = route.next_direction == Direction::kReverse ? "reverse" : "forward";
  if (!route.next) return journal_step(step, "skipped", "forced without rollback");
  if (auto started = journal_step(step, "started", route.to); !started) return started;
  const Plan& next = *route.next;
  // A slot left from an earlier move holds a stale position: the direction starts anew here.
  if (auto dropped = drop_slot(next); !dropped) return dropped;
  auto state = check_source_for_capture(next, kSlotReleaseWait);
  if (!state) return state.status().with_context(route.to + " as the " + step + " pipeline's source");
  auto slot = prepare_slot_and_publication(next, *state);
  if (!slot) return slot.status();
  // The side left records that the next direction starts at the slot's consistent point:
  // nothing before it is replayed there, nothing after it is missed.
  auto from = open_postgres(dsn_of(route.from), route.from);
  if (!from) return from.status();
  try {
    allow_writes(**from);
  } catch (const std::exception& error) {
    return status_of(error, route.from);
  }
  if (auto created = ensure_position_table(**from); !created) return created;
  if (auto recorded = record_snapshot_complete(**from, next, slot->confirmed); !recorded) return recorded;
  return journal_step(step, "done", next.slot_name() + " at " + slot->confirmed.to_string());
}

Status CutoverRunner::point_clients_to(const std::string& side, std::optional<Move> crashing_move) {
  if (!plan_.cutover.switch_command.empty()) {
    return run_switch_command(plan_.cutover.switch_command, side, plan_.cutover.freeze_timeout);
  }
  const auto& pgbouncer = *plan_.cutover.pgbouncer;
  const std::string& server = side == "green" ? pgbouncer.green : pgbouncer.blue;
  if (auto written = write_pgbouncer_include(pgbouncer.include_file, pgbouncer.database, server);
      !written) {
    return written;
  }
  if (crashing_move) crash_at(*crashing_move, "after_include_rewritten");
  if (auto reloaded = pooler_->reload(); !reloaded) return reloaded;
  auto shown = pooler_->server();
  if (!shown) return shown.status();
  if (!names_same_server(*shown, server)) {
    return Status::error("after RELOAD, pgbouncer shows " + *shown + " for " + pgbouncer.database +
                         ", not " + side + "'s server");
  }
  return Status::ok();
}

Status CutoverRunner::check_clients_reach(const std::string& side) {
  if (!pooler_) return Status::error("not checked: the plan names no pooler to connect through");
  auto expected = system_identifier(dsn_of(side), side);
  if (!expected) return expected.status();
  // Unpinned: through a transaction pooler, a SET would stay with the server session that the
  // application's next client is given.
  auto reached = system_identifier(pooler_->client_dsn(), "the pooler", SessionPins::kNone);
  if (!reached) return reached.status();
  if (*reached != *expected) {
    return Status::error("a new connection through the pooler reaches system " + *reached +
                         ", not " + side + " (" + *expected + ")");
  }
  return Status::ok();
}

Status CutoverRunner::finish(const Route& route) {
  Direction direction;
  Status saved = Status::ok();
  {
    std::lock_guard lock(mutex_);
    journal_.state = route.to == "green" ? "switched" : "streaming";
    journal_.side = route.to;
    journal_.outcome = route.move == Move::kSwitch ? "switched" : "rolled_back";
    if (route.next) journal_.pipeline = direction_name(route.next_direction);
    direction = journal_.pipeline == "reverse" ? Direction::kReverse : Direction::kForward;
    spdlog::info("cutover id={} {} freeze_ms={} drain_ms={} switch_ms={} pause_ms={}", journal_.cutover_id,
                 journal_.outcome, journal_.timings.freeze_ms, journal_.timings.drain_ms,
                 journal_.timings.switch_ms, journal_.timings.pause_ms);
    saved = store_.save(journal_);
  }
  pipeline_.wanted = direction;
  return saved;
}

Status CutoverRunner::undo(const Route& route, const std::string& reason) {
  Status undone = Status::ok();
  auto keep_first_error = [&undone](const Status& status) {
    if (undone && !status) undone = status;
  };
  if (plan_.cutover.switch_command.empty()) {
    // The include file may name the new side already: the pooler's server decides.
    const auto& pgbouncer = *plan_.cutover.pgbouncer;
    const std::string& server = route.from == "green" ? pgbouncer.green : pgbouncer.blue;
    auto shown = pooler_->server();
    if (!shown || !names_same_server(*shown, server)) keep_first_error(point_clients_to(route.from));
  } else if (journal_has("switch")) {
    keep_first_error(point_clients_to(route.from));
  }
  if (plan_.cutover.fence_blue) {
    if (journal_has("unfence")) {
      std::vector<int> pooled;
      if (pooler_) {
        if (auto pids = pooler_->server_pids()) pooled = *pids;
      }
      keep_first_error(fence_writes(dsn_of(route.to), route.to, pooled));
    }
    auto lifted = lift_fence(dsn_of(route.from), route.from);
    keep_first_error(lifted.status());
  }
  if (pooler_) keep_first_error(pooler_->resume());
  if (route.next && journal_has(route.next_direction == Direction::kReverse ? "reverse" : "forward")) {
    // Best effort: a slot left behind is dropped by the next move or the next direction.
    if (auto dropped = drop_slot(*route.next); !dropped) {
      spdlog::warn("cutover: the unused slot {} stays for now: {}", route.next->slot_name(), dropped.message());
    }
  }
  std::lock_guard lock(mutex_);
  journal_.steps.push_back({"undo", undone ? "done" : "failed", utc_now(kTimeFormat), reason});
  if (undone) {
    journal_.state = route.from == "green" ? "switched" : "streaming";
    journal_.side = route.from;
    journal_.outcome = "aborted";
    journal_.reason = reason;
    spdlog::warn("cutover id={} aborted, clients resumed on {} reason=\"{}\"", journal_.cutover_id,
                 route.from, reason);
  } else {
    // The state stays where the step left it, so that the next start of cutover run tries
    // the undo again.
    journal_.outcome = "undo_failed";
    journal_.reason = reason + "; undoing it failed too: " + undone.message();
    spdlog::error("cutover id={} could not resume clients on {}: {}", journal_.cutover_id,
                  route.from, journal_.reason);
  }
  if (auto saved = store_.save(journal_); !saved) spdlog::error("cutover journal: {}", saved.message());
  return undone;
}

}  // namespace cutover
