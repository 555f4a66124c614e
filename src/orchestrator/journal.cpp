#include "cutover/orchestrator/journal.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "cutover/common/durable_file.h"

namespace cutover {

const JournalStep* CutoverJournal::last(const std::string& step) const {
  for (auto entry = steps.rbegin(); entry != steps.rend(); ++entry) {
    if (entry->name == step) return &*entry;
  }
  return nullptr;
}

nlohmann::json CutoverJournal::to_json() const {
  nlohmann::json step_list = nlohmann::json::array();
  for (const auto& step : steps) {
    step_list.push_back({{"step", step.name}, {"status", step.status}, {"at", step.at}, {"detail", step.detail}});
  }
  return {{"state", state},
          {"side", side},
          {"pipeline", pipeline},
          {"operation", operation},
          {"cutover_id", cutover_id},
          {"outcome", outcome},
          {"reason", reason},
          {"steps", std::move(step_list)},
          {"timings",
           {{"freeze_ms", timings.freeze_ms},
            {"drain_ms", timings.drain_ms},
            {"switch_ms", timings.switch_ms},
            {"pause_ms", timings.pause_ms},
            {"paused_at_ms", timings.paused_at_ms}}}};
}

namespace {

// A value the journal holds must be one cutover writes: recovery decides what to finish or
// undo from these, and would pass over a move it does not recognise as under way.
std::string one_of(const std::string& field, const std::string& value, std::initializer_list<const char*> known) {
  std::string listed;
  for (const char* allowed : known) {
    if (value == allowed) return value;
    listed += std::string(listed.empty() ? "" : ", ") + (*allowed ? allowed : "\"\"");
  }
  throw std::invalid_argument(field + " '" + value + "' is not one of " + listed);
}

}  // namespace

Result<CutoverJournal> CutoverJournal::from_json(const nlohmann::json& json) {
  try {
    CutoverJournal journal;
    journal.state = one_of("state", json.at("state").get<std::string>(),
                           {"streaming", "verifying", "freezing", "rolling_back", "draining", "switching", "switched"});
    journal.side = one_of("side", json.at("side").get<std::string>(), {"blue", "green"});
    journal.pipeline = one_of("pipeline", json.value("pipeline", std::string("forward")), {"forward", "reverse"});
    journal.operation = one_of("operation", json.value("operation", std::string("switch")), {"switch", "rollback"});
    journal.cutover_id = json.value("cutover_id", std::string());
    journal.outcome = one_of("outcome", json.value("outcome", std::string()),
                             {"", "switched", "rolled_back", "aborted", "undo_failed"});
    journal.reason = json.value("reason", std::string());
    for (const auto& step : json.at("steps")) {
      journal.steps.push_back(
          {one_of("step", step.at("step").get<std::string>(),
                  {"guardrails", "verification", "freeze", "fence", "drain", "sequences", "reverse", "forward",
                   "unfence", "switch", "resume", "undo"}),
           one_of("step status", step.at("status").get<std::string>(), {"started", "done", "skipped", "failed", "undone"}),
           step.value("at", std::string()), step.value("detail", std::string())});
    }
    const auto& timings = json.at("timings");
    journal.timings = {timings.value("freeze_ms", 0L), timings.value("drain_ms", 0L),
                       timings.value("switch_ms", 0L), timings.value("pause_ms", 0L),
                       timings.value("paused_at_ms", 0L)};
    return journal;
  } catch (const std::exception& error) {
    return Status::error(std::string("the journal does not read as cutover's: ") + error.what());
  }
}

JournalStore::JournalStore(std::string state_dir)
    : state_dir_(std::move(state_dir)), path_(state_dir_ + "/cutover.json") {}

Result<CutoverJournal> JournalStore::load() const {
  if (!std::filesystem::exists(path_)) return CutoverJournal{};
  std::ifstream file(path_);
  std::stringstream text;
  text << file.rdbuf();
  if (!file) return Status::error("cannot read " + path_);
  const auto json = nlohmann::json::parse(text.str(), nullptr, false);
  if (json.is_discarded()) return Status::error(path_ + " is not JSON; it was not written by cutover");
  auto journal = CutoverJournal::from_json(json);
  if (!journal) return journal.status().with_context(path_);
  return journal;
}

Status JournalStore::save(const CutoverJournal& journal) const {
  if (auto created = ensure_state_directory(state_dir_); !created) return created;
  return write_file_atomically(path_, journal.to_json().dump(2) + "\n");
}

Status JournalStore::check_writable() const {
  if (auto created = ensure_state_directory(state_dir_); !created) return created;
  const std::string probe = state_dir_ + "/.writable";
  if (auto written = write_file_atomically(probe, "cutover\n"); !written) return written;
  std::error_code ignored;
  std::filesystem::remove(probe, ignored);
  return Status::ok();
}

}  // namespace cutover
