// The commands that talk to a running `cutover run` over its control API.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <thread>

#include "commands.h"
#include "cutover/control/http_client.h"

namespace cutover::commands {

namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(500);
constexpr auto kProgressInterval = std::chrono::seconds(5);

std::string token_of(const ControlOptions& options) {
  if (!options.token.empty()) return options.token;
  const char* token = std::getenv("CUTOVER_TOKEN");
  return token ? token : "";
}

// One call; a transport failure prints why and gives the exit code in `code`.
std::optional<nlohmann::json> call(const ControlOptions& options, const std::string& method,
                                   const std::string& path, int& code,
                                   const nlohmann::json& request = nlohmann::json::object()) {
  auto answer = http_call(options.url, method, path, method == "POST" ? token_of(options) : "",
                          method == "POST" ? request.dump() : "");
  if (!answer) {
    std::cerr << "cutover: " << answer.status().message() << "\n";
    code = answer.status().is_retryable() ? kUnreachable : kBadInput;
    return std::nullopt;
  }
  auto reply = nlohmann::json::parse(answer->body, nullptr, false);
  if (reply.is_discarded()) {
    std::cerr << "cutover: " << options.url << path << " answered " << answer->status
              << " with a body that is not JSON\n";
    code = kFailed;
    return std::nullopt;
  }
  if (answer->status >= 400) {
    std::cerr << "cutover: " << method << " " << path << " refused (" << answer->status
              << "): " << reply.value("error", std::string("no reason given")) << "\n";
    code = kFailed;
    return std::nullopt;
  }
  return reply;
}

std::string text_of(const nlohmann::json& value) {
  if (value.is_null()) return "NULL";
  return value.is_string() ? value.get<std::string>() : value.dump();
}

// `value` with `decimals` digits after the point ("41.2", "11").
std::string fmt_number(double value, int decimals = 1) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

std::string key_text(const nlohmann::json& key) {
  std::string text;
  for (const auto& [column, value] : key.items()) {
    text += (text.empty() ? "" : ", ") + column + "=" + text_of(value);
  }
  return text;
}

void print_verification(const nlohmann::json& report) {
  std::printf("verification %s: %s, %s differences, %.1f s\n",
              report.value("id", std::string()).c_str(), report.value("state", std::string()).c_str(),
              text_of(report.value("differences", nlohmann::json(0))).c_str(),
              report.value("duration_ms", 0L) / 1000.0);
  if (report.contains("error")) std::printf("error: %s\n", text_of(report["error"]).c_str());
  std::printf("consistent point %s (green held at %s, applier paused at most %ld ms)\n",
              report.value("consistent_lsn", std::string()).c_str(),
              report.value("green_applied_lsn", std::string()).c_str(),
              report.value("apply_paused_ms", 0L));
  std::printf("%-32s %12s %12s %8s %10s %12s\n", "table", "rows blue", "rows green", "chunks",
              "differing", "differences");
  for (const auto& table : report.value("tables", nlohmann::json::array())) {
    std::printf("%-32s %12s %12s %8s %10s %12s\n", text_of(table["table"]).c_str(),
                text_of(table["rows_blue"]).c_str(), text_of(table["rows_green"]).c_str(),
                text_of(table["chunks"]).c_str(), text_of(table["chunks_differing"]).c_str(),
                text_of(table["differences"]).c_str());
  }
  for (const auto& table : report.value("tables", nlohmann::json::array())) {
    const std::string name = text_of(table["table"]);
    for (const auto& entry : table["missing_in_green"]) {
      std::printf("  missing in green  %s: %s\n", name.c_str(), key_text(entry["key"]).c_str());
    }
    for (const auto& entry : table["extra_in_green"]) {
      std::printf("  extra in green    %s: %s\n", name.c_str(), key_text(entry["key"]).c_str());
    }
    for (const auto& entry : table["different"]) {
      std::string columns;
      for (const auto& column : entry["columns"]) columns += (columns.empty() ? "" : ", ") + text_of(column);
      std::printf("  different         %s: %s (%s)\n", name.c_str(), key_text(entry["key"]).c_str(),
                  columns.c_str());
    }
  }
  if (report.value("keys_truncated", false)) {
    std::printf("  (more differing keys in %s)\n", report.value("report_file", std::string("the report file")).c_str());
  } else if (report.contains("report_file")) {
    std::printf("report: %s\n", text_of(report["report_file"]).c_str());
  }
}

// "freeze 45 ms, drain 38 ms, switch 4 ms, pause 100 ms" from a cutover journal.
std::string timings_text(const nlohmann::json& journal) {
  const auto& timings = journal["timings"];
  return "freeze " + text_of(timings["freeze_ms"]) + " ms, drain " + text_of(timings["drain_ms"]) +
         " ms, switch " + text_of(timings["switch_ms"]) + " ms, client pause " +
         text_of(timings["pause_ms"]) + " ms";
}

// A table's snapshot: "412000 of about 1000000 rows (41.2%), 52000 rows/s, about 11 s left, 2/5 chunks".
std::string snapshot_text(const nlohmann::json& copied) {
  const auto count = [&](const char* key) { return copied.value(key, std::uint64_t{0}); };
  std::string text = std::to_string(count("rows") + count("rows_copying"));
  if (count("estimated_rows") > 0) text += " of about " + std::to_string(count("estimated_rows"));
  text += " rows";
  if (copied["percent"].is_number()) text += " (" + fmt_number(copied["percent"].get<double>()) + "%)";
  if (count("chunks_done") < count("chunks")) {
    text += ", " + text_of(copied["rows_per_second"]) + " rows/s";
    if (copied["eta_seconds"].is_number()) text += ", about " + fmt_number(copied["eta_seconds"].get<double>(), 0) + " s left";
  }
  return text + ", " + text_of(copied["chunks_done"]) + "/" + text_of(copied["chunks"]) + " chunks";
}

// "public.items 40.0%, 200000 of about 500000 rows of blue, 52000 rows/s, about 6 s left
// (tables 0/2)".
std::string verification_progress_text(const nlohmann::json& progress) {
  std::string text = progress["table"].is_string() ? progress["table"].get<std::string>() + " " : "";
  if (progress["percent"].is_number()) text += fmt_number(progress["percent"].get<double>()) + "%, ";
  text += text_of(progress["rows"]) + " of about " + text_of(progress["estimated_rows"]) + " rows of blue, " +
          text_of(progress["rows_per_second"]) + " rows/s";
  if (progress["eta_seconds"].is_number()) text += ", about " + fmt_number(progress["eta_seconds"].get<double>(), 0) + " s left";
  return text + " (tables " + text_of(progress["tables_done"]) + "/" + text_of(progress["tables"]) + ")";
}

// What stopped or holds back the pipeline, and what to do, before the figures.
void print_trouble(const nlohmann::json& status) {
  if (const auto& failed = status["failed"]; failed.is_object()) {
    std::printf("FAILED: %s\nwhat to do: %s\n", text_of(failed["message"]).c_str(), text_of(failed["next"]).c_str());
  }
  if (status["halted"].is_string()) std::printf("HALTED: %s\n", text_of(status["halted"]).c_str());
  if (const auto& last = status["last_failure"]; last.is_object() && last["retry_in_ms"].is_number()) {
    std::printf("restarting in %s s (restart %s) after: %s\n",
                fmt_number(last["retry_in_ms"].get<double>() / 1000.0).c_str(), text_of(status["restarts"]).c_str(),
                text_of(last["message"]).c_str());
  }
}

// One journal step: "03:19:31Z freeze done (45 ms)"; the time without its date.
std::string step_text(const nlohmann::json& step) {
  std::string at = step.value("at", std::string());
  if (const auto t = at.find('T'); t != std::string::npos) at = at.substr(t + 1);
  const std::string detail = step.value("detail", std::string());
  return at + " " + step.value("step", std::string()) + " " + step.value("status", std::string()) +
         (detail.empty() ? "" : ": " + detail);
}

// Polls the status until `finished` says the operation it follows has ended; that status.
std::optional<nlohmann::json> poll_status(const ControlOptions& options, int& code,
                                          const std::function<bool(const nlohmann::json&)>& finished) {
  while (true) {
    std::this_thread::sleep_for(kPollInterval);
    auto answer = call(options, "GET", "/api/v1/status", code);
    if (!answer || finished(*answer)) return answer;
  }
}

}  // namespace

int status(const ControlOptions& options) {
  int code = kSuccess;
  auto answer = call(options, "GET", "/api/v1/status", code);
  if (!answer) return code;
  if (options.json) {
    std::cout << answer->dump(2) << "\n";
    return kSuccess;
  }
  std::printf("plan %s: %s\n", text_of((*answer)["plan"]).c_str(), text_of((*answer)["phase"]).c_str());
  print_trouble(*answer);
  const bool reverse = answer->value("direction", std::string()) == "reverse";
  std::printf("%s%s; lag %s bytes, %.1f s; applied %s (%s at %s)\n",
              reverse ? "reverse pipeline, green to blue" : "forward pipeline, blue to green",
              answer->value("paused", false) ? " (paused)" : "", text_of((*answer)["lag_bytes"]).c_str(),
              answer->value("lag_seconds", 0.0), text_of((*answer)["applied_lsn"]).c_str(),
              reverse ? "green" : "blue", text_of((*answer)["source_wal_lsn"]).c_str());
  std::printf("applying %.0f rows/s; %s rows in %s transactions since start\n",
              answer->value("rows_per_second", 0.0), text_of((*answer)["rows_applied"]).c_str(),
              text_of((*answer)["transactions_applied"]).c_str());
  std::printf("%-32s %-32s %14s  %s\n", "source", "target", "rows applied", "snapshot");
  for (const auto& table : (*answer)["tables"]) {
    const std::string snapshot = table.contains("snapshot") ? snapshot_text(table["snapshot"]) : "-";
    std::printf("%-32s %-32s %14s  %s\n", text_of(table["source"]).c_str(), text_of(table["target"]).c_str(),
                text_of(table["rows_applied"]).c_str(), snapshot.c_str());
  }
  const auto& last = (*answer)["last_verification"];
  if (last.is_null()) {
    std::printf("no verification yet\n");
  } else {
    std::printf("last verification %s: %s\n", text_of(last["id"]).c_str(), text_of(last["state"]).c_str());
  }
  const auto& slot = (*answer)["slot"];
  if (slot.is_object()) {
    std::printf("slot %s: %s, wal_status %s, keeps %s bytes of WAL%s\n", text_of(slot["name"]).c_str(),
                slot.value("active", false) ? "streaming" : "not streaming", text_of(slot["wal_status"]).c_str(),
                text_of(slot["retained_wal_bytes"]).c_str(),
                slot["warning"].is_string() ? ("; warning: " + slot["warning"].get<std::string>()).c_str() : "");
  }
  const auto& holds = (*answer)["holds"];
  if (holds.is_object()) {
    std::printf("the plan holds (cutover cleanup removes it):\n");
    for (const auto& [side, items] : holds.items()) {
      for (const auto& item : items) std::printf("  %s: %s\n", side.c_str(), text_of(item).c_str());
    }
  }
  const auto& cutover = (*answer)["cutover"];
  if (!cutover.is_null()) {
    std::printf("last cutover %s: %s, clients on %s; %s\n", text_of(cutover["cutover_id"]).c_str(),
                cutover.value("outcome", std::string()).empty() ? "running"
                                                                : text_of(cutover["outcome"]).c_str(),
                text_of(cutover["side"]).c_str(), timings_text(cutover).c_str());
  }
  return kSuccess;
}

int verify(const ControlOptions& options) {
  int code = kSuccess;
  auto started = call(options, "POST", "/api/v1/verify", code);
  if (!started) return code;
  const std::string id = started->value("id", std::string());
  std::cerr << "cutover: verification " << id << " started\n";
  auto last_progress = std::chrono::steady_clock::now();
  auto answer = poll_status(options, code, [&](const nlohmann::json& status) {
    const auto& report = status["last_verification"];
    if (report.is_null() || report.value("id", std::string()) != id) return false;
    if (report.value("state", std::string()) != "running") return true;
    if (std::chrono::steady_clock::now() - last_progress >= kProgressInterval) {
      last_progress = std::chrono::steady_clock::now();
      std::cerr << "cutover: verifying: " << verification_progress_text(report["progress"]) << "\n";
    }
    return false;
  });
  if (!answer) return code;
  const auto& report = (*answer)["last_verification"];
  if (options.json) {
    std::cout << report.dump(2) << "\n";
  } else {
    print_verification(report);
  }
  return report.value("state", std::string()) == "clean" ? kSuccess : kFailed;
}

namespace {
// `cutover switch` and `cutover rollback`: starts the move (or checks its guardrails), follows
// it to its outcome, prints it; success when the outcome is `done_outcome`.
int move_clients(const ControlOptions& options, const std::string& move, const nlohmann::json& body,
                 const std::string& done_outcome) {
  int code = kSuccess;
  const bool dry_run = body.value("dry_run", false);
  auto started = call(options, "POST", "/api/v1/" + move, code, body);
  if (!started) return code;
  if (dry_run) {
    if (options.json) {
      std::cout << started->dump(2) << "\n";
    } else {
      std::printf("%-26s %-6s %-44s %s\n", "guardrail", "passed", "value", "must be");
      for (const auto& guardrail : (*started)["guardrails"]) {
        std::printf("%-26s %-6s %-44s %s\n", text_of(guardrail["name"]).c_str(),
                    guardrail.value("passed", false) ? "yes" : "NO", text_of(guardrail["value"]).c_str(),
                    text_of(guardrail["limit"]).c_str());
      }
    }
    return started->value("ready", false) ? kSuccess : kFailed;
  }
  const std::string id = started->value("id", std::string());
  std::cerr << "cutover: " << move << " " << id << " started\n";
  // Each step as the journal records it, and a verification's progress while it runs (the
  // pre-freeze one can take minutes), so the operator sees where the move is.
  std::size_t steps_shown = 0;
  auto last_progress = std::chrono::steady_clock::now();
  auto answer = poll_status(options, code, [&](const nlohmann::json& status) {
    const auto& journal = status["cutover"];
    const bool ours = journal.is_object() && journal.value("cutover_id", std::string()) == id;
    if (ours && journal["steps"].is_array()) {
      const auto& steps = journal["steps"];
      for (; steps_shown < steps.size(); ++steps_shown) {
        std::cerr << "cutover: " << move << " " << id << ": " << step_text(steps[steps_shown]) << "\n";
      }
    }
    const auto& verification = status["last_verification"];
    if (verification.is_object() && verification.value("state", std::string()) == "running" &&
        std::chrono::steady_clock::now() - last_progress >= kProgressInterval) {
      last_progress = std::chrono::steady_clock::now();
      std::cerr << "cutover: " << move << " " << id << ": verifying: "
                << verification_progress_text(verification["progress"]) << "\n";
    }
    return ours && !journal.value("outcome", std::string()).empty();
  });
  if (!answer) return code;
  const auto& journal = (*answer)["cutover"];
  const std::string reason = journal.value("reason", std::string());
  if (options.json) {
    std::cout << journal.dump(2) << "\n";
  } else {
    std::printf("%s %s: %s%s\n%s; clients on %s\n", move.c_str(), id.c_str(), text_of(journal["outcome"]).c_str(),
                reason.empty() ? "" : (" (" + reason + ")").c_str(), timings_text(journal).c_str(),
                text_of(journal["side"]).c_str());
  }
  return journal.value("outcome", std::string()) == done_outcome ? kSuccess : kFailed;
}
}  // namespace

int switch_over(const ControlOptions& options, bool dry_run, bool force_without_rollback) {
  return move_clients(options, "switch",
                      {{"dry_run", dry_run}, {"force_without_rollback", force_without_rollback}},
                      "switched");
}

int roll_back(const ControlOptions& options, bool dry_run) {
  return move_clients(options, "rollback", {{"dry_run", dry_run}}, "rolled_back");
}

int pause_streaming(const ControlOptions& options, bool pause) {
  int code = kSuccess;
  auto answer = call(options, "POST", pause ? "/api/v1/pause" : "/api/v1/resume", code);
  if (!answer) return code;
  if (options.json) {
    std::cout << answer->dump(2) << "\n";
  } else {
    std::cout << (pause ? "streaming paused: the applier holds before its next transaction\n"
                        : "streaming resumed\n");
  }
  return kSuccess;
}

int abort_cutover(const ControlOptions& options) {
  int code = kSuccess;
  auto answer = call(options, "POST", "/api/v1/abort", code);
  if (!answer) return code;
  std::cout << "abort requested\n";
  return kSuccess;
}

}  // namespace cutover::commands
