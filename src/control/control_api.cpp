#include "cutover/control/control_api.h"

#include <nlohmann/json.hpp>

#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <set>
#include <string_view>
#include <vector>

#include "cutover/common/logging.h"
#include "cutover/control/dashboard.h"
#include "cutover/control/metrics.h"
#include "cutover/pipeline/directed_pipeline.h"

namespace cutover {

namespace {

// Text from a request (a path of any bytes) is answered with invalid UTF-8 replaced, never
// an exception.
HttpResponse json_answer(int status, const nlohmann::json& body) {
  return {status, "application/json", body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
}

// Parses a request body, refusing a key given twice in one object: which of the two counts
// is a guess, and `{"dry_run": true, "dry_run": false}` must not start a real switch.
nlohmann::json parse_body(const std::string& text, bool& duplicate_key) {
  std::vector<std::set<std::string>> keys_by_depth;
  duplicate_key = false;
  const nlohmann::json::parser_callback_t check = [&](int, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    switch (event) {
      case nlohmann::json::parse_event_t::object_start:
        keys_by_depth.emplace_back();
        break;
      case nlohmann::json::parse_event_t::object_end:
        if (!keys_by_depth.empty()) keys_by_depth.pop_back();
        break;
      case nlohmann::json::parse_event_t::key:
        if (!keys_by_depth.empty() && !keys_by_depth.back().insert(parsed.get<std::string>()).second) {
          duplicate_key = true;
        }
        break;
      default:
        break;
    }
    return true;
  };
  return nlohmann::json::parse(text, check, false);
}

// RFC 9110: the scheme is case-insensitive, and one or more spaces follow it.
std::optional<std::string> bearer_credentials(const std::string& authorization) {
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size()) return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return std::nullopt;
  }
  std::size_t at = kScheme.size();
  if (authorization[at] != ' ') return std::nullopt;
  while (at < authorization.size() && authorization[at] == ' ') ++at;
  return authorization.substr(at);
}

HttpResponse error_answer(int status, const std::string& reason) {
  return json_answer(status, {{"error", reason}});
}

// Compares every byte whatever the first difference, so the time taken tells nothing of the
// token.
bool equal_in_constant_time(const std::string& given, const std::string& expected) {
  unsigned char difference = given.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < given.size(); ++i) {
    difference |= static_cast<unsigned char>(given[i] ^ expected[i % std::max<std::size_t>(expected.size(), 1)]);
  }
  return difference == 0 && !expected.empty();
}

std::string path_of(const std::string& target) { return target.substr(0, target.find('?')); }

}  // namespace

std::string ControlApi::token_variable(const Plan& plan) {
  return plan.control.token_env.empty() ? "CUTOVER_TOKEN" : plan.control.token_env;
}

ControlApi::ControlApi(const Plan& plan, PipelineStatus& status, VerificationService& verification,
                       CutoverRunner& cutover)
    : plan_(plan), status_(status), verification_(verification), cutover_(cutover) {
  if (const char* token = std::getenv(token_variable(plan).c_str())) token_ = token;
}

HttpResponse ControlApi::handle(const HttpRequest& request) {
  const std::string path = path_of(request.target);
  if (request.method == "GET") {
    if (path == "/healthz") return json_answer(200, {{"status", "alive"}});
    if (path == "/") return {200, "text/html; charset=utf-8", std::string(dashboard_page())};
    if (path == "/api/v1/status") return status_answer();
    if (path == "/api/v1/lag_history") {
      nlohmann::json history = status_.lag_history.to_json();
      history["max_lag_seconds"] = std::chrono::duration<double>(plan_.cutover.max_lag).count();
      return json_answer(200, history);
    }
    if (path == "/metrics") {
      return {200, "text/plain; version=0.0.4; charset=utf-8",
              prometheus_metrics(plan_, status_, verification_, cutover_)};
    }
    return error_answer(404, "no such resource: " + path);
  }
  if (request.method == "POST") {
    if (const auto problem = authorization_problem(request); !problem.empty()) {
      return error_answer(401, problem);
    }
    return post(path, request);
  }
  return error_answer(405, "method " + request.method + " is not served");
}

std::string ControlApi::authorization_problem(const HttpRequest& request) const {
  if (token_.empty()) {
    return "no control token is configured: set $" + token_variable(plan_) +
           " in cutover run's environment";
  }
  const auto credentials = bearer_credentials(request.authorization);
  if (!credentials) return "missing bearer token";
  if (!equal_in_constant_time(*credentials, token_)) {
    return "wrong bearer token";
  }
  return "";
}

HttpResponse ControlApi::post(const std::string& path, const HttpRequest& request) {
  nlohmann::json body = nlohmann::json::object();
  if (!request.body.empty()) {
    bool duplicate_key = false;
    body = parse_body(request.body, duplicate_key);
    if (body.is_discarded() || !body.is_object()) return error_answer(400, "the body must be a JSON object");
    if (duplicate_key) return error_answer(400, "the body gives a key twice");
  }
  if (path == "/api/v1/verify") {
    if (status_.apply_hold.paused()) return error_answer(409, "streaming is paused; resume it first");
    const Phase phase = status_.phase.load();
    if (phase != Phase::kStreaming) {
      return error_answer(409, std::string("verification needs the streaming phase; the pipeline is ") +
                                   phase_name(phase));
    }
    auto started = verification_.start();
    if (!started) return error_answer(409, started.status().message());
    return json_answer(202, {{"id", *started}, {"status", "/api/v1/status"}});
  }
  if (path == "/api/v1/switch") return move_answer(Move::kSwitch, body);
  if (path == "/api/v1/rollback") return move_answer(Move::kRollback, body);
  if (path == "/api/v1/abort") {
    if (auto aborted = cutover_.abort(); !aborted) return error_answer(409, aborted.message());
    return json_answer(200, {{"aborting", true}});
  }
  if (path == "/api/v1/pause") {
    if (status_.phase.load() != Phase::kStreaming) {
      return error_answer(409, std::string("pause needs the streaming phase; the pipeline is ") +
                                   phase_name(status_.phase.load()));
    }
    if (!cutover_.idle()) return error_answer(409, "a cutover is running; abort it first");
    if (verification_.running()) return error_answer(409, "a verification is running");
    status_.apply_hold.pause();
    spdlog::info("streaming paused by request: the applier holds before its next transaction");
    return json_answer(200, {{"paused", true}});
  }
  if (path == "/api/v1/resume") {
    status_.apply_hold.resume();
    spdlog::info("streaming resumed by request");
    return json_answer(200, {{"paused", false}});
  }
  return error_answer(404, "no such resource: " + path);
}

HttpResponse ControlApi::move_answer(Move move, const nlohmann::json& body) {
  SwitchRequest request;
  for (const auto& [field, value] : body.items()) {
    if (field != "dry_run" && (field != "force_without_rollback" || move != Move::kSwitch)) {
      return error_answer(400, "unknown field '" + field + "'; expected dry_run" +
                                   (move == Move::kSwitch ? ", force_without_rollback" : ""));
    }
    if (!value.is_boolean()) return error_answer(400, "'" + field + "' must be true or false");
  }
  request.dry_run = body.value("dry_run", false);
  request.force_without_rollback = body.value("force_without_rollback", false);
  if (request.dry_run) {
    nlohmann::json guardrails = nlohmann::json::array();
    bool ready = true;
    for (const auto& guardrail : cutover_.check_guardrails(move, request)) {
      ready = ready && guardrail.passed;
      guardrails.push_back({{"name", guardrail.name},
                            {"passed", guardrail.passed},
                            {"value", guardrail.value},
                            {"limit", guardrail.limit}});
    }
    return json_answer(200, {{"ready", ready}, {"guardrails", std::move(guardrails)}});
  }
  auto started = cutover_.start(move, request);
  if (!started) return error_answer(409, started.status().message());
  return json_answer(202, {{"id", *started}, {"status", "/api/v1/status"}});
}

HttpResponse ControlApi::status_answer() const {
  const Lag lag = current_lag(status_);
  nlohmann::json tables = nlohmann::json::array();
  nlohmann::json halted = nullptr;
  nlohmann::json schema_notices = nlohmann::json::array();
  {
    std::lock_guard lock(status_.snapshot.mutex);
    std::lock_guard apply_lock(status_.apply.mutex);
    if (!status_.apply.halted_by.empty()) halted = status_.apply.halted_by;
    for (const auto& notice : status_.apply.schema_notices) schema_notices.push_back(notice);
    for (const auto& mapping : plan_.tables) {
      const std::string source = mapping.source.text();
      const std::string target = mapping.target.text();
      nlohmann::json table = {{"source", source}, {"target", target}};
      const auto applied = status_.apply.rows_by_source.find(source);
      table["rows_applied"] = applied == status_.apply.rows_by_source.end() ? 0 : applied->second;
      const auto copied = status_.snapshot.tables.find(target);
      if (copied != status_.snapshot.tables.end()) {
        const CopyEstimate estimate = estimate_copy(copied->second, std::chrono::steady_clock::now());
        const auto optional = [](const std::optional<double>& value) {
          return value ? nlohmann::json(std::round(*value * 10) / 10) : nlohmann::json();
        };
        table["snapshot"] = {{"rows", copied->second.rows},
                             {"rows_copying", copied->second.rows_copying},
                             {"estimated_rows", copied->second.estimated_rows},
                             {"chunks_done", copied->second.chunks_done},
                             {"chunks", copied->second.chunks},
                             {"percent", optional(estimate.percent)},
                             {"rows_per_second", std::round(estimate.rows_per_second)},
                             {"eta_seconds", optional(estimate.eta_seconds)}};
      }
      tables.push_back(std::move(table));
    }
  }
  nlohmann::json slot = nullptr;
  if (const auto reading = status_.slot.get()) {
    const SlotHealth& health = reading->health;
    slot = {{"name", health.name},
            {"exists", health.exists},
            {"active", health.active},
            {"wal_status", health.wal_status},
            {"retained_wal_bytes", health.retained_bytes},
            {"safe_wal_bytes", health.safe_wal_bytes ? nlohmann::json(*health.safe_wal_bytes) : nlohmann::json()},
            {"max_slot_wal_keep_size", health.max_slot_wal_keep_size},
            {"warning", reading->warning.empty() ? nlohmann::json() : nlohmann::json(reading->warning)}};
  }
  nlohmann::json holds = nullptr;
  {
    std::lock_guard lock(status_.holdings.mutex);
    if (status_.holdings.looked) {
      holds = nlohmann::json::object();
      for (const auto& [side, description] : status_.holdings.items) holds[side].push_back(description);
      if (!status_.holdings.unreachable.empty()) holds["unreachable"] = status_.holdings.unreachable;
    }
  }
  const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch()).count();
  const LastFailure::Seen failure = status_.last_failure.get();
  nlohmann::json last_failure = nullptr;
  if (failure.unix_ms != 0) {
    // While the backoff runs, what the pipeline waits for and how long.
    const bool waiting = failure.retry_unix_ms > now_ms;
    last_failure = {{"message", failure.message},
                    {"unix_ms", failure.unix_ms},
                    {"retry_in_ms", waiting ? nlohmann::json(failure.retry_unix_ms - now_ms) : nlohmann::json()}};
  }
  const LastFailure::Seen fatal = status_.fatal.get();
  nlohmann::json failed = nullptr;
  if (fatal.unix_ms != 0) {
    failed = {{"message", fatal.message}, {"unix_ms", fatal.unix_ms}, {"next", after_failure_advice()}};
  }
  return json_answer(200, {{"plan", plan_.name},
                           {"direction", direction_name(status_.running.load())},
                           {"phase", cutover_.shown_phase()},
                           {"halted", std::move(halted)},
                           {"failed", std::move(failed)},
                           {"schema_notices", std::move(schema_notices)},
                           {"paused", status_.apply_hold.paused()},
                           {"lag_bytes", lag.bytes},
                           {"lag_seconds", lag.seconds},
                           {"applied_lsn", Lsn(status_.apply.applied_lsn.load()).to_string()},
                           {"source_wal_lsn", Lsn(status_.source_wal_lsn.load()).to_string()},
                           {"slot", std::move(slot)},
                           {"holds", std::move(holds)},
                           {"transactions_applied", status_.apply.transactions.load()},
                           {"rows_applied", status_.apply.rows.load()},
                           {"rows_per_second", status_.rows_per_second.load()},
                           {"restarts", status_.restarts.load()},
                           {"budget",
                            {{"max_lag_ms", plan_.cutover.max_lag.count()},
                             {"freeze_timeout_ms", plan_.cutover.freeze_timeout.count()},
                             {"drain_timeout_ms", plan_.cutover.drain_timeout.count()}}},
                           {"last_failure", std::move(last_failure)},
                           {"tables", std::move(tables)},
                           {"last_verification", verification_.last_json(kStatusKeyCap)},
                           {"cutover", cutover_.status_json()}});
}

}  // namespace cutover
