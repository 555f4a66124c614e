// The cutover journal read back: what cutover writes comes back the same, a journal written
// before `pipeline` and `operation` existed gets their defaults, and one holding a value
// cutover never writes is refused, naming the field, instead of being taken as "not under way"
// by recovery.
#include "cutover/orchestrator/journal.h"

#include <gtest/gtest.h>

namespace cutover {
namespace {

CutoverJournal a_switch_under_way() {
  CutoverJournal journal;
  journal.state = "draining";
  journal.side = "blue";
  journal.operation = "switch";
  journal.cutover_id = "cutover_1";
  journal.steps = {{"guardrails", "done", "2026-11-30T10:00:00Z", ""},
                   {"freeze", "done", "2026-11-30T10:00:01Z", ""},
                   {"reverse", "skipped", "2026-11-30T10:00:01Z", "forced without rollback"},
                   {"drain", "started", "2026-11-30T10:00:01Z", ""}};
  journal.timings.freeze_ms = 12;
  return journal;
}

TEST(Journal, WhatCutoverWritesReadsBackTheSame) {
  const auto read = CutoverJournal::from_json(a_switch_under_way().to_json());
  ASSERT_TRUE(read) << read.status().message();
  EXPECT_EQ(read->to_json(), a_switch_under_way().to_json());
  EXPECT_EQ(read->last("drain")->status, "started");
}

TEST(Journal, AnOlderJournalWithoutDirectionOrOperationGetsTheirDefaults) {
  auto json = a_switch_under_way().to_json();
  json.erase("pipeline");
  json.erase("operation");
  const auto read = CutoverJournal::from_json(json);
  ASSERT_TRUE(read) << read.status().message();
  EXPECT_EQ(read->pipeline, "forward");
  EXPECT_EQ(read->operation, "switch");
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
  json["steps"][3]["step"] = "teleport";
  const auto read = CutoverJournal::from_json(json);
  ASSERT_FALSE(read);
  EXPECT_NE(read.status().message().find("step 'teleport' is not one of guardrails"), std::string::npos)
      << read.status().message();
}

}  // namespace
}  // namespace cutover
