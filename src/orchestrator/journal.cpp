#include "cutover/orchestrator/journal.h"

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "cutover/common/duration.h"
#include "cutover/common/durable_file.h"
#include "cutover/plan/reverse_plan.h"

namespace cutover {

namespace {

// Each enum's words, in the enum's order.
constexpr std::array<const char*, 7> kStateNames = {"streaming", "verifying", "freezing", "rolling_back",
                                                    "draining",  "switching", "switched"};
constexpr std::array<const char*, 2> kSideNames = {"blue", "green"};
constexpr std::array<const char*, 2> kMoveNames = {"switch", "rollback"};
constexpr std::array<const char*, 5> kOutcomeNames = {"", "switched", "rolled_back", "aborted", "undo_failed"};
constexpr std::array<const char*, 12> kStepNames = {"guardrails", "verification", "freeze",  "fence",
                                                    "drain",      "sequences",    "reverse", "forward",
                                                    "unfence",    "switch",       "resume",  "undo"};
constexpr std::array<const char*, 5> kStepStatusNames = {"started", "done", "skipped", "failed", "undone"};

template <typename Enum, std::size_t N>
const char* word(const std::array<const char*, N>& names, Enum value) {
  return names.at(static_cast<std::size_t>(value));
}

// A value the journal holds must be one cutover writes: recovery decides what to finish or
// undo from these, and would pass over a move it does not recognise as under way.
template <typename Enum, std::size_t N>
Enum parse(const std::string& field, const std::string& value, const std::array<const char*, N>& names) {
  std::string listed;
  for (std::size_t index = 0; index < N; ++index) {
    if (value == names[index]) return static_cast<Enum>(index);
    listed += std::string(listed.empty() ? "" : ", ") + (*names[index] ? names[index] : "\"\"");
  }
  throw std::invalid_argument(field + " '" + value + "' is not one of " + listed);
}

}  // namespace

const char* name_of(MoveState state) { return word(kStateNames, state); }
const char* name_of(Side side) { return word(kSideNames, side); }
const char* name_of(Move move) { return word(kMoveNames, move); }
const char* name_of(Outcome outcome) { return word(kOutcomeNames, outcome); }
const char* name_of(StepName step) { return word(kStepNames, step); }
const char* name_of(StepStatus status) { return word(kStepStatusNames, status); }

Side other_side(Side side) { return side == Side::kBlue ? Side::kGreen : Side::kBlue; }

JournalStep JournalStep::now(StepName name, StepStatus status, std::string detail) {
  return {name, status, utc_now("%Y-%m-%dT%H:%M:%SZ"), std::move(detail)};
}

const JournalStep* CutoverJournal::last(StepName step) const {
  for (auto entry = steps.rbegin(); entry != steps.rend(); ++entry) {
    if (entry->name == step) return &*entry;
  }
  return nullptr;
}

std::vector<StepName> CutoverJournal::steps_in_effect() const {
  std::vector<StepName> begun;
  for (const auto& entry : steps) {
    if (entry.status == StepStatus::kStarted && std::find(begun.begin(), begun.end(), entry.name) == begun.end()) {
      begun.push_back(entry.name);
    }
  }
  std::vector<StepName> in_effect;
  for (const StepName step : begun) {
    const StepStatus latest = last(step)->status;
    if (latest != StepStatus::kSkipped && latest != StepStatus::kUndone) in_effect.push_back(step);
  }
  return in_effect;
}

nlohmann::json CutoverJournal::to_json() const {
  nlohmann::json step_list = nlohmann::json::array();
  for (const auto& step : steps) {
    step_list.push_back(
        {{"step", name_of(step.name)}, {"status", name_of(step.status)}, {"at", step.at}, {"detail", step.detail}});
  }
  nlohmann::json json = {{"format", kJournalFormat},
          {"state", name_of(state)},
          {"side", name_of(side)},
          {"pipeline", direction_name(pipeline)},
          {"operation", name_of(operation)},
          {"cutover_id", cutover_id},
          {"outcome", name_of(outcome)},
          {"reason", reason},
          {"steps", std::move(step_list)},
          {"timings",
           {{"freeze_ms", timings.freeze_ms},
            {"drain_ms", timings.drain_ms},
            {"switch_ms", timings.switch_ms},
            {"pause_ms", timings.pause_ms},
            {"paused_at_ms", timings.paused_at_ms}}}};
  if (fenced) {
    auto sides = nlohmann::json::array();
    for (const Side fenced_side : *fenced) sides.push_back(name_of(fenced_side));
    json["fenced"] = sides;
  }
  return json;
}

void CutoverJournal::note_fence(Side fenced_side, bool in_place) {
  if (!fenced) fenced.emplace();
  std::erase(*fenced, fenced_side);
  if (in_place) fenced->push_back(fenced_side);
}

std::optional<bool> CutoverJournal::fenced_by_plan(Side asked) const {
  if (!fenced) return std::nullopt;
  return std::find(fenced->begin(), fenced->end(), asked) != fenced->end();
}

Result<CutoverJournal> CutoverJournal::from_json(const nlohmann::json& json) {
  try {
    const auto format = json.value("format", nlohmann::json(1));
    if (!format.is_number_integer() || format.get<int>() < 1) {
      return Status::error("the journal's format " + format.dump() + " is not one cutover writes");
    }
    if (format.get<int>() > kJournalFormat) {
      return Status::error("the journal is of format " + format.dump() + ", written by a newer cutover; this one reads "
                           "format " + std::to_string(kJournalFormat) + " and older. Finish or undo the move with "
                           "the cutover that wrote it, and run that one");
    }
    CutoverJournal journal;
    journal.state = parse<MoveState>("state", json.at("state").get<std::string>(), kStateNames);
    journal.side = parse<Side>("side", json.at("side").get<std::string>(), kSideNames);
    // The plan's words for directions, in the enum's order.
    const std::array<const char*, 2> direction_names = {direction_name(Direction::kForward),
                                                        direction_name(Direction::kReverse)};
    journal.pipeline = parse<Direction>("pipeline", json.value("pipeline", std::string("forward")), direction_names);
    journal.operation = parse<Move>("operation", json.value("operation", std::string("switch")), kMoveNames);
    journal.cutover_id = json.value("cutover_id", std::string());
    journal.outcome = parse<Outcome>("outcome", json.value("outcome", std::string()), kOutcomeNames);
    journal.reason = json.value("reason", std::string());
    for (const auto& step : json.at("steps")) {
      journal.steps.push_back({parse<StepName>("step", step.at("step").get<std::string>(), kStepNames),
                               parse<StepStatus>("step status", step.at("status").get<std::string>(),
                                                 kStepStatusNames),
                               step.value("at", std::string()), step.value("detail", std::string())});
    }
    const auto& timings = json.at("timings");
    journal.timings = {timings.value("freeze_ms", 0L), timings.value("drain_ms", 0L),
                       timings.value("switch_ms", 0L), timings.value("pause_ms", 0L),
                       timings.value("paused_at_ms", 0L)};
    if (json.contains("fenced")) {
      for (const auto& side : json.at("fenced")) {
        journal.note_fence(parse<Side>("fenced", side.get<std::string>(), kSideNames), true);
      }
    } else {
      journal.fenced.reset();
    }
    return journal;
  } catch (const std::exception& error) {
    return Status::error(std::string("the journal does not read as cutover's: ") + error.what());
  }
}

FileJournalStore::FileJournalStore(std::string state_dir)
    : state_dir_(std::move(state_dir)), path_(state_dir_ + "/cutover.json") {}

Result<CutoverJournal> FileJournalStore::load() const {
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

Status FileJournalStore::save(const CutoverJournal& journal) {
  if (auto created = ensure_state_directory(state_dir_); !created) return created;
  return write_file_atomically(path_, journal.to_json().dump(2) + "\n");
}

Status FileJournalStore::check_writable() {
  if (auto created = ensure_state_directory(state_dir_); !created) return created;
  const std::string probe = state_dir_ + "/.writable";
  if (auto written = write_file_atomically(probe, "cutover\n"); !written) return written;
  std::error_code ignored;
  std::filesystem::remove(probe, ignored);
  return Status::ok();
}

}  // namespace cutover
