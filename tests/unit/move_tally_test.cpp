// What /metrics counts of moves: each ended move once by operation and outcome, and the pause
// of every move that paused clients, aborted ones included.
#include "cutover/orchestrator/move_tally.h"

#include <gtest/gtest.h>

namespace cutover {
namespace {

CutoverJournal ended(Move operation, Outcome outcome, std::int64_t pause_ms) {
  CutoverJournal journal;
  journal.operation = operation;
  journal.outcome = outcome;
  journal.timings.pause_ms = pause_ms;
  journal.timings.paused_at_ms = pause_ms > 0 ? 1764584100000 : 0;
  return journal;
}

TEST(MoveTally, CountsEachEndedMoveAndThePausesOfThoseThatPaused) {
  MoveTally tally;
  tally.record(ended(Move::kSwitch, Outcome::kSwitched, 230));
  tally.record(ended(Move::kSwitch, Outcome::kAborted, 5100));   // paused, then the freeze timed out
  tally.record(ended(Move::kSwitch, Outcome::kAborted, 0));      // refused before it paused anyone
  tally.record(ended(Move::kRollback, Outcome::kRolledBack, 660));
  tally.record(ended(Move::kSwitch, Outcome::kNone, 0));         // not ended: not counted
  EXPECT_EQ(tally.count(Move::kSwitch, Outcome::kSwitched), 1u);
  EXPECT_EQ(tally.count(Move::kSwitch, Outcome::kAborted), 2u);
  EXPECT_EQ(tally.count(Move::kRollback, Outcome::kRolledBack), 1u);
  EXPECT_EQ(tally.count(Move::kRollback, Outcome::kAborted), 0u);
  EXPECT_EQ(tally.pauses().count(), 3u);
  EXPECT_NEAR(tally.pauses().sum(), 0.23 + 5.1 + 0.66, 1e-6);
  EXPECT_EQ(tally.pauses().cumulative(3), 1u);  // at or below 0.5 s: the switch's 230 ms
}

}  // namespace
}  // namespace cutover
