// The cutover journal read back: what cutover writes comes back the same, a journal written
// before `pipeline` and `operation` existed gets their defaults, and one holding a value
// cutover never writes is refused, naming the field, instead of being taken as "not under way"
// by recovery.
#include "cutover/orchestrator/journal.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace cutover {
namespace {

CutoverJournal a_switch_under_way() {
  CutoverJournal journal;
  journal.state = MoveState::kDraining;
  journal.side = Side::kBlue;
  journal.operation = Move::kSwitch;
  journal.cutover_id = "cutover_1";
  journal.steps = {{StepName::kGuardrails, StepStatus::kDone, "2026-11-30T10:00:00Z", ""},
                   {StepName::kFreeze, StepStatus::kStarted, "2026-11-30T10:00:01Z", ""},
                   {StepName::kFreeze, StepStatus::kDone, "2026-11-30T10:00:01Z", ""},
                   {StepName::kReverse, StepStatus::kSkipped, "2026-11-30T10:00:01Z", "forced without rollback"},
                   {StepName::kDrain, StepStatus::kStarted, "2026-11-30T10:00:01Z", ""}};
  journal.timings.freeze_ms = 12;
  return journal;
}

TEST(Journal, WhatCutoverWritesReadsBackTheSame) {
  const auto read = CutoverJournal::from_json(a_switch_under_way().to_json());
  ASSERT_TRUE(read) << read.status().message();
  EXPECT_EQ(read->to_json(), a_switch_under_way().to_json());
  EXPECT_EQ(read->last(StepName::kDrain)->status, StepStatus::kStarted);
  EXPECT_EQ(read->to_json()["steps"][4]["status"], "started");
}

TEST(Journal, AnOlderJournalWithoutDirectionOrOperationGetsTheirDefaults) {
  auto json = a_switch_under_way().to_json();
  json.erase("pipeline");
  json.erase("operation");
  const auto read = CutoverJournal::from_json(json);
  ASSERT_TRUE(read) << read.status().message();
  EXPECT_EQ(read->pipeline, Direction::kForward);
  EXPECT_EQ(read->operation, Move::kSwitch);
}

// A journal exactly as cutover wrote it before the format was numbered (text kept here, not
// made by to_json) reads as format 1; to_json writes the number; a newer format is refused
// with what to do, and so is a format that is not a number.
TEST(Journal, TheFormatBeforeItWasNumberedReadsAndANewerOneIsRefused) {
  const std::string before_numbering =
      R"({"state": "switched", "side": "green", "pipeline": "reverse", "operation": "switch",
          "cutover_id": "20261201t101500_ab12", "outcome": "switched", "reason": "",
          "steps": [{"step": "guardrails", "status": "done", "at": "2026-12-01T10:15:00Z", "detail": ""},
                    {"step": "switch", "status": "done", "at": "2026-12-01T10:15:01Z", "detail": "include rewritten"}],
          "timings": {"freeze_ms": 40, "drain_ms": 30, "switch_ms": 5, "pause_ms": 90, "paused_at_ms": 1764584100000},
          "fenced": []})";
  const auto read = CutoverJournal::from_json(nlohmann::json::parse(before_numbering));
  ASSERT_TRUE(read) << read.status().message();
  EXPECT_EQ(read->state, MoveState::kSwitched);
  EXPECT_EQ(read->side, Side::kGreen);
  EXPECT_EQ(read->steps.size(), 2u);
  EXPECT_EQ(read->timings.pause_ms, 90);
  EXPECT_EQ(read->to_json()["format"], kJournalFormat);

  auto newer = read->to_json();
  newer["format"] = kJournalFormat + 1;
  const auto refused = CutoverJournal::from_json(newer);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.status().message().find("written by a newer cutover"), std::string::npos)
      << refused.status().message();
  EXPECT_NE(refused.status().message().find("Finish or undo the move with the cutover that wrote it"),
            std::string::npos)
      << refused.status().message();
  newer["format"] = "one";
  EXPECT_FALSE(CutoverJournal::from_json(newer));
}

// Cleanup lifts only a fence the journal shows this plan set; a journal from before cutover
// kept that record cannot tell, and says so rather than guessing.
TEST(Journal, KeepsWhichSidesThePlanFenced) {
  CutoverJournal journal = a_switch_under_way();
  EXPECT_EQ(journal.fenced_by_plan(Side::kBlue), std::optional<bool>(false));
  journal.note_fence(Side::kBlue, true);
  journal.note_fence(Side::kBlue, true);
  const auto read = CutoverJournal::from_json(journal.to_json());
  ASSERT_TRUE(read) << read.status().message();
  EXPECT_EQ(read->fenced_by_plan(Side::kBlue), std::optional<bool>(true));
  EXPECT_EQ(read->fenced_by_plan(Side::kGreen), std::optional<bool>(false));
  EXPECT_EQ(read->to_json()["fenced"], nlohmann::json::array({"blue"}));
  journal.note_fence(Side::kBlue, false);
  EXPECT_EQ(journal.fenced_by_plan(Side::kBlue), std::optional<bool>(false));

  auto older = a_switch_under_way().to_json();
  older.erase("fenced");
  const auto read_older = CutoverJournal::from_json(older);
  ASSERT_TRUE(read_older) << read_older.status().message();
  EXPECT_EQ(read_older->fenced_by_plan(Side::kBlue), std::nullopt);

  auto wrong = a_switch_under_way().to_json();
  wrong["fenced"] = {"purple"};
  const auto refused = CutoverJournal::from_json(wrong);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.status().message().find("fenced"), std::string::npos) << refused.status().message();
}

TEST(Journal, AValueCutoverNeverWritesIsRefusedByField) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"state", "state 'Switching' is not one of streaming, verifying"},
      {"side", "side 'purple' is not one of blue, green"},
      {"pipeline", "pipeline 'sideways' is not one of forward, reverse"},
      {"outcome", "outcome 'maybe' is not one of \"\", switched"},
  };
  const std::map<std::string, std::string> values = {
      {"state", "Switching"}, {"side", "purple"}, {"pipeline", "sideways"}, {"outcome", "maybe"}};
  for (const auto& [field, message] : cases) {
    auto json = a_switch_under_way().to_json();
    json[field] = values.at(field);
    const auto read = CutoverJournal::from_json(json);
    ASSERT_FALSE(read) << field;
    EXPECT_NE(read.status().message().find("the journal does not read as cutover's: " + message), std::string::npos)
        << read.status().message();
  }
  auto json = a_switch_under_way().to_json();
  json["steps"][4]["step"] = "teleport";
  const auto read = CutoverJournal::from_json(json);
  ASSERT_FALSE(read);
  EXPECT_NE(read.status().message().find("step 'teleport' is not one of guardrails"), std::string::npos)
      << read.status().message();
}

// What an undo reverses: steps begun and still in effect, a failed one included (it may have
// done part of its work), not one skipped or undone since.
TEST(Journal, StepsInEffectAreTheBegunNeitherSkippedNorUndone) {
  CutoverJournal journal = a_switch_under_way();
  journal.steps.push_back({StepName::kSequences, StepStatus::kStarted, "", ""});
  journal.steps.push_back({StepName::kSequences, StepStatus::kFailed, "", "sequence gone"});
  EXPECT_EQ(journal.steps_in_effect(),
            (std::vector<StepName>{StepName::kFreeze, StepName::kDrain, StepName::kSequences}));
  journal.steps.push_back({StepName::kDrain, StepStatus::kUndone, "", ""});
  EXPECT_EQ(journal.steps_in_effect(), (std::vector<StepName>{StepName::kFreeze, StepName::kSequences}));
}

}  // namespace
}  // namespace cutover
