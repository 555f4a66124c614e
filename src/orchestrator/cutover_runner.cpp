#include "cutover/orchestrator/cutover_runner.h"

#include <libpq-fe.h>

#include <map>

#include "cutover/common/crash_point.h"
#include "cutover/common/duration.h"
#include "cutover/common/logging.h"
#include "cutover/common/postgres_connection.h"

namespace cutover {

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kDrainPoll = std::chrono::milliseconds(2);
constexpr auto kVerificationPoll = std::chrono::milliseconds(200);

std::int64_t elapsed_ms(Clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - since).count();
}

// The key=value pairs of a connection string, as libpq reads them.
std::map<std::string, std::string> conninfo(const std::string& dsn) {
  std::map<std::string, std::string> values;
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &error);
  if (error) PQfreemem(error);
  if (!options) return values;
  for (PQconninfoOption* option = options; option->keyword; ++option) {
    if (option->val) values[option->keyword] = option->val;
  }
  PQconninfoFree(options);
  return values;
}

// Whether SHOW DATABASES's "host=H port=P dbname=D" names the server of `dsn`.
bool same_server(const std::string& shown, const std::string& dsn) {
  auto left = conninfo(shown);
  auto right = conninfo(dsn);
  if (right["port"].empty()) right["port"] = "5432";
  return left["host"] == right["host"] && left["port"] == right["port"] && left["dbname"] == right["dbname"];
}

// A client connection string for the pooler's database: the admin console's, other dbname.
std::string through_pooler(const PgbouncerSwitch& pgbouncer) {
  std::string dsn;
  for (const auto& [key, value] : conninfo(pgbouncer.admin_dsn)) {
    if (key == "dbname") continue;
    std::string quoted;
    for (const char character : value) {
      if (character == '\'' || character == '\\') quoted += '\\';
      quoted += character;
    }
    dsn += key + "='" + quoted + "' ";
  }
  return dsn + "dbname='" + pgbouncer.database + "'";
}

Result<std::string> system_identifier(const std::string& dsn, const std::string& role) {
  auto connection = open_postgres(dsn, role);
  if (!connection) return connection.status();
  try {
    pqxx::nontransaction query(**connection);
    return std::string(query.exec("SELECT system_identifier::text FROM pg_control_system()")[0][0].c_str());
  } catch (const std::exception& error) {
    return Status::error(role + ": reading the system identifier: " + error.what());
  }
}

}  // namespace

CutoverRunner::CutoverRunner(const Plan& plan, PipelineStatus& pipeline,
                             VerificationService& verification)
    : plan_(plan), pipeline_(pipeline), verification_(verification), store_(plan.state_dir) {
  if (plan.cutover.pgbouncer) {
    pooler_ = std::make_unique<PgbouncerAdmin>(plan.cutover.pgbouncer->admin_dsn,
                                               plan.cutover.pgbouncer->database);
  }
}

CutoverRunner::~CutoverRunner() {
  stop_ = true;
  abort_requested_ = true;
  if (thread_.joinable()) thread_.join();
}

std::string CutoverRunner::state() const {
  std::lock_guard lock(mutex_);
  return journal_.state == "streaming" ? "" : journal_.state;
}

nlohmann::json CutoverRunner::status_json() const {
  std::lock_guard lock(mutex_);
  if (journal_.cutover_id.empty()) return nullptr;
  return journal_.to_json();
}

Status CutoverRunner::journal_step(const std::string& step, const std::string& status,
                                   const std::string& detail) {
  std::lock_guard lock(mutex_);
  journal_.steps.push_back({step, status, utc_now("%Y-%m-%dT%H:%M:%SZ"), detail});
  spdlog::info("cutover id={} step={} status={}{}", journal_.cutover_id, step, status,
               detail.empty() ? "" : " detail=\"" + detail + "\"");
  return store_.save(journal_);
}

Status CutoverRunner::save_state(const std::string& state) {
  std::lock_guard lock(mutex_);
  journal_.state = state;
  return store_.save(journal_);
}

Status CutoverRunner::recover() {
  auto loaded = store_.load();
  if (!loaded) return loaded.status();
  {
    std::lock_guard lock(mutex_);
    journal_ = std::move(loaded.value());
  }
  const std::string state = journal_.state;
  if (state != "freezing" && state != "draining" && state != "switching") return Status::ok();
  spdlog::warn("cutover id={} was under way (state {}) when cutover run stopped; recovering",
               journal_.cutover_id, state);
  if (!pooler_) return Status::error("the journal shows a cutover under way, but the plan has no pooler");
  auto shown = pooler_->server();
  if (!shown) return shown.status().with_context("recovering the cutover");
  const JournalStep* switched = journal_.last("switch");
  if (switched && same_server(*shown, plan_.cutover.pgbouncer->green)) {
    // The pooler already sends new connections to green: the switch is finished forward.
    if (auto resumed = pooler_->resume(); !resumed) return resumed;
    if (auto step = journal_step("resume", "done", "after a restart"); !step) return step;
    std::lock_guard lock(mutex_);
    journal_.state = "switched";
    journal_.side = "green";
    journal_.outcome = "switched";
    return store_.save(journal_);
  }
  return undo_freeze("cutover run stopped during " + state + "; undone when it started again");
}

std::vector<Guardrail> CutoverRunner::check_guardrails(const SwitchRequest& request) {
  std::vector<Guardrail> guardrails;
  const Phase phase = pipeline_.phase.load();
  const Lag lag = current_lag(pipeline_);
  const auto max_lag_ms = plan_.cutover.max_lag.count();
  guardrails.push_back({"streaming", phase == Phase::kStreaming, phase_name(phase), "streaming"});
  guardrails.push_back({"lag", phase == Phase::kStreaming && lag.seconds * 1000 < static_cast<double>(max_lag_ms),
                        std::to_string(static_cast<long>(lag.seconds * 1000)) + " ms, " +
                            std::to_string(lag.bytes) + " bytes",
                        "under " + std::to_string(max_lag_ms) + " ms"});
  if (plan_.verify.before_switch_full) {
    guardrails.push_back({"verification", true, "runs before the freeze", "clean"});
  } else {
    const auto last = verification_.last_finished();
    guardrails.push_back({"verification", last && last->state == "clean",
                          last ? last->id + " " + last->state : "none yet", "the last one clean"});
  }
  {
    Guardrail transactions{"long_write_transactions", false, "", "none older than the freeze timeout"};
    auto blue = open_postgres(plan_.blue.dsn, "blue");
    if (!blue) {
      transactions.value = blue.status().message();
    } else {
      try {
        pqxx::nontransaction query(**blue);
        const auto row = query.exec(
            "SELECT count(*), coalesce(max(extract(epoch FROM now() - xact_start)), 0)::numeric(12,1) "
            "FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid() "
            "AND now() - xact_start > interval '" +
            std::to_string(plan_.cutover.freeze_timeout.count()) + " milliseconds'")[0];
        transactions.passed = row[0].as<long>() == 0;
        transactions.value = std::string(row[0].c_str()) + " (oldest " + row[1].c_str() + " s)";
      } catch (const std::exception& error) {
        transactions.value = error.what();
      }
    }
    guardrails.push_back(transactions);
  }
  {
    auto green = system_identifier(plan_.green->dsn, "green");
    guardrails.push_back({"green_reachable", green.is_ok(),
                          green ? "system " + *green : green.status().message(), "reachable"});
  }
  if (pooler_) {
    const Status pooler = pooler_->check();
    guardrails.push_back({"pooler_reachable", pooler.is_ok(), pooler ? "reachable" : pooler.message(),
                          "reachable"});
  } else {
    guardrails.push_back({"pooler_reachable", false, "no cutover.switch.pgbouncer in the plan",
                          "a PgBouncer switch (the switch command is not available yet)"});
  }
  guardrails.push_back({"rollback_possible", request.force_without_rollback,
                        request.force_without_rollback
                            ? "forced: no rollback"
                            : "rollback is not available in this version of cutover",
                        "a reverse pipeline, or force_without_rollback"});
  {
    std::lock_guard lock(mutex_);
    guardrails.push_back({"side", journal_.side == "blue" && journal_.state == "streaming",
                          "clients on " + journal_.side + ", state " + journal_.state,
                          "clients on blue, no cutover under way"});
  }
  return guardrails;
}

Result<std::string> CutoverRunner::start_switch(const SwitchRequest& request) {
  if (running_.exchange(true)) return Status::error("a cutover is already running");
  std::string problems;
  for (const auto& guardrail : check_guardrails(request)) {
    if (!guardrail.passed) {
      problems += (problems.empty() ? "" : "; ") + guardrail.name + ": " + guardrail.value +
                  " (must be " + guardrail.limit + ")";
    }
  }
  if (!problems.empty()) {
    running_ = false;
    return Status::error("guardrails refuse the switch: " + problems);
  }
  if (thread_.joinable()) thread_.join();
  const std::string id = "cutover_" + utc_now("%Y%m%dt%H%M%S");
  {
    std::lock_guard lock(mutex_);
    journal_.cutover_id = id;
    journal_.outcome.clear();
    journal_.reason.clear();
    journal_.steps.clear();
    journal_.timings = {};
  }
  abort_requested_ = false;
  thread_ = std::thread([this, id, request] { run_switch(id, request); });
  return id;
}

Status CutoverRunner::abort() {
  if (!running_.load()) return Status::error("no cutover is running");
  abort_requested_ = true;
  return Status::ok();
}

void CutoverRunner::run_switch(std::string id, SwitchRequest request) {
  const Status outcome = switch_steps(id, request);
  if (!outcome) {
    spdlog::error("cutover id={} aborted: {}", id, outcome.message());
    undo_freeze(outcome.message());
  }
  running_ = false;
}

Status CutoverRunner::switch_steps(const std::string& id, const SwitchRequest& request) {
  if (auto step = journal_step("guardrails", "done"); !step) return step;
  if (plan_.verify.before_switch_full) {
    save_state("verifying");
    auto started = verification_.start();
    if (!started) return started.status().with_context("verification before the switch");
    while (verification_.running() && !aborting()) std::this_thread::sleep_for(kVerificationPoll);
    if (aborting()) return Status::error("aborted by request");
    const auto report = verification_.last_finished();
    if (!report || report->state != "clean") {
      return Status::error("the verification before the switch is not clean: " +
                           (report ? report->state + " " + report->error : std::string("none")));
    }
    if (auto step = journal_step("verification", "done", report->id); !step) return step;
  }

  // Freeze: from here on, any failure resumes the pooler on blue.
  if (auto saved = save_state("freezing"); !saved) return saved;
  if (auto step = journal_step("freeze", "started"); !step) return step;
  const auto pause_started = Clock::now();
  {
    std::lock_guard lock(mutex_);
    journal_.timings.paused_at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count();
  }
  if (auto paused = pooler_->pause(plan_.cutover.freeze_timeout); !paused) return paused;
  {
    std::lock_guard lock(mutex_);
    journal_.timings.freeze_ms = elapsed_ms(pause_started);
  }
  if (auto step = journal_step("freeze", "done"); !step) return step;
  crash_point("after_pause");
  if (aborting()) return Status::error("aborted by request");

  if (auto saved = save_state("draining"); !saved) return saved;
  if (auto step = journal_step("drain", "started"); !step) return step;
  const auto drain_started = Clock::now();
  if (auto drained = drain(id); !drained) return drained;
  crash_point("after_drain");
  {
    std::lock_guard lock(mutex_);
    journal_.timings.drain_ms = elapsed_ms(drain_started);
  }
  if (auto step = journal_step("drain", "done"); !step) return step;
  if (aborting()) return Status::error("aborted by request");

  const auto switch_started = Clock::now();
  if (auto synced = sync_sequences(); !synced) return synced;
  if (auto step = journal_step("sequences", "done", std::to_string(plan_.sequences.size())); !step) {
    return step;
  }
  if (auto step = journal_step("reverse", "skipped",
                               request.force_without_rollback ? "forced without rollback" : "");
      !step) {
    return step;
  }

  if (auto saved = save_state("switching"); !saved) return saved;
  if (auto step = journal_step("switch", "started"); !step) return step;
  const auto& pgbouncer = *plan_.cutover.pgbouncer;
  if (auto written = write_pgbouncer_include(pgbouncer.include_file, pgbouncer.database, pgbouncer.green);
      !written) {
    return written;
  }
  crash_point("after_include_rewritten");
  if (auto reloaded = pooler_->reload(); !reloaded) return reloaded;
  auto shown = pooler_->server();
  if (!shown) return shown.status();
  if (!same_server(*shown, pgbouncer.green)) {
    return Status::error("after RELOAD, pgbouncer shows " + *shown + " for " + pgbouncer.database +
                         ", not green's server");
  }
  {
    std::lock_guard lock(mutex_);
    journal_.side = "green";
    journal_.timings.switch_ms = elapsed_ms(switch_started);
  }
  if (auto step = journal_step("switch", "done"); !step) return step;
  crash_point("before_resume");

  // RESUME: clients now reach green. From here the switch is done and is never undone.
  if (auto resumed = pooler_->resume(); !resumed) {
    spdlog::error("cutover id={} RESUME failed after the switch: {}", id, resumed.message());
    return resumed;
  }
  {
    std::lock_guard lock(mutex_);
    journal_.timings.pause_ms = elapsed_ms(pause_started);
  }
  const Status reached = check_clients_reach(plan_.green->dsn, "green");
  if (auto step = journal_step("resume", "done", reached ? "" : reached.message()); !step) return step;
  std::lock_guard lock(mutex_);
  journal_.state = "switched";
  journal_.outcome = "switched";
  spdlog::info("cutover id={} switched freeze_ms={} drain_ms={} switch_ms={} pause_ms={}", id,
               journal_.timings.freeze_ms, journal_.timings.drain_ms, journal_.timings.switch_ms,
               journal_.timings.pause_ms);
  return store_.save(journal_);
}

Status CutoverRunner::drain(const std::string& id) {
  auto blue = open_postgres(plan_.blue.dsn, "blue");
  if (!blue) return blue.status();
  try {
    pqxx::nontransaction query(**blue);
    query.exec_params("SELECT pg_logical_emit_message(true, 'cutover', $1)", id);
  } catch (const std::exception& error) {
    return Status::error(std::string("blue: writing the drain marker: ") + error.what());
  }
  const std::string marker = "cutover:" + id;
  const auto deadline = Clock::now() + plan_.cutover.drain_timeout;
  while (Clock::now() < deadline && !aborting()) {
    {
      std::lock_guard lock(pipeline_.apply.mutex);
      if (pipeline_.apply.last_message == marker) return Status::ok();
    }
    std::this_thread::sleep_for(kDrainPoll);
  }
  if (aborting()) return Status::error("aborted by request");
  return Status::error("drain: the applier did not commit the marker within " +
                       std::to_string(plan_.cutover.drain_timeout.count()) + " ms (lag " +
                       std::to_string(current_lag(pipeline_).bytes) + " bytes)");
}

Status CutoverRunner::sync_sequences() {
  if (plan_.sequences.empty()) return Status::ok();
  auto blue = open_postgres(plan_.blue.dsn, "blue");
  if (!blue) return blue.status();
  auto green = open_postgres(plan_.green->dsn, "green");
  if (!green) return green.status();
  try {
    pqxx::nontransaction blue_query(**blue);
    pqxx::nontransaction green_query(**green);
    for (const auto& sequence : plan_.sequences) {
      const auto row = blue_query.exec("SELECT last_value, is_called FROM " + sequence.source.quoted())[0];
      green_query.exec_params("SELECT setval($1::regclass, $2, $3)", sequence.target.quoted(),
                              row[0].as<long long>(), row[1].as<bool>());
      spdlog::info("cutover sequence={} target={} set_to={} is_called={}", sequence.source.text(),
                   sequence.target.text(), row[0].c_str(), row[1].c_str());
    }
  } catch (const std::exception& error) {
    return Status::error(std::string("sequences: ") + error.what());
  }
  return Status::ok();
}

Status CutoverRunner::check_clients_reach(const std::string& side_dsn, const std::string& side) {
  auto expected = system_identifier(side_dsn, side);
  if (!expected) return expected.status();
  auto reached = system_identifier(through_pooler(*plan_.cutover.pgbouncer), "the pooler");
  if (!reached) return reached.status();
  if (*reached != *expected) {
    return Status::error("a new connection through the pooler reaches system " + *reached +
                         ", not " + side + " (" + *expected + ")");
  }
  return Status::ok();
}

Status CutoverRunner::undo_freeze(const std::string& reason) {
  Status undone = Status::ok();
  if (pooler_) {
    const auto& pgbouncer = *plan_.cutover.pgbouncer;
    auto shown = pooler_->server();
    if (!shown || !same_server(*shown, pgbouncer.blue)) {
      undone = write_pgbouncer_include(pgbouncer.include_file, pgbouncer.database, pgbouncer.blue);
      if (undone) undone = pooler_->reload();
    }
    const Status resumed = pooler_->resume();
    if (undone) undone = resumed;
  }
  std::lock_guard lock(mutex_);
  journal_.steps.push_back({"undo", undone ? "done" : "failed", utc_now("%Y-%m-%dT%H:%M:%SZ"), reason});
  if (undone) {
    journal_.state = "streaming";
    journal_.side = "blue";
    journal_.outcome = "aborted";
    journal_.reason = reason;
    spdlog::warn("cutover id={} aborted, clients resumed on blue reason=\"{}\"", journal_.cutover_id, reason);
  } else {
    // The state stays where the step left it, so that the next start of cutover run tries
    // the undo again.
    journal_.outcome = "undo_failed";
    journal_.reason = reason + "; undoing the freeze failed too: " + undone.message();
    spdlog::error("cutover id={} could not resume clients on blue: {}", journal_.cutover_id, journal_.reason);
  }
  if (auto saved = store_.save(journal_); !saved) spdlog::error("cutover journal: {}", saved.message());
  return undone;
}

}  // namespace cutover
