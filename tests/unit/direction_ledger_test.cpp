// The run's counters split by direction: what each direction counted stays its own through a
// switch and a rollback, and no direction's counter ever goes back.
#include "cutover/pipeline/direction_ledger.h"

#include <gtest/gtest.h>

namespace cutover {
namespace {

std::uint64_t count(const DirectionLedger::Split& split, Direction direction, const std::string& name) {
  const auto& counts = split.by_direction[direction == Direction::kForward ? 0 : 1];
  const auto found = counts.find(name);
  return found == counts.end() ? 0 : found->second;
}

TEST(DirectionLedger, EachDirectionKeepsWhatItCountedThroughASwitchAndARollback) {
  DirectionLedger ledger;
  // Forward: 40 rows, of which 40 in public.items.
  auto split = ledger.split({{"rows", 40}, {"rows:public.items", 40}});
  EXPECT_EQ(split.running, Direction::kForward);
  EXPECT_EQ(count(split, Direction::kForward, "rows"), 40u);
  EXPECT_EQ(count(split, Direction::kReverse, "rows"), 0u);

  // The switch at 50; the reverse direction counts 7 more on the same totals.
  ledger.direction_changed(Direction::kForward, Direction::kReverse, {{"rows", 50}, {"rows:public.items", 50}});
  split = ledger.split({{"rows", 57}, {"rows:public.items", 50}, {"rows:public.accounts", 7}});
  EXPECT_EQ(split.running, Direction::kReverse);
  EXPECT_EQ(count(split, Direction::kForward, "rows"), 50u);
  EXPECT_EQ(count(split, Direction::kReverse, "rows"), 7u);
  EXPECT_EQ(count(split, Direction::kReverse, "rows:public.accounts"), 7u);
  EXPECT_EQ(count(split, Direction::kReverse, "rows:public.items"), 0u);
  EXPECT_EQ(count(split, Direction::kForward, "rows:public.accounts"), 0u);

  // A rollback at 60: forward goes on from its 50.
  ledger.direction_changed(Direction::kReverse, Direction::kForward, {{"rows", 60}, {"rows:public.accounts", 10}});
  split = ledger.split({{"rows", 65}, {"rows:public.accounts", 10}});
  EXPECT_EQ(count(split, Direction::kForward, "rows"), 55u);
  EXPECT_EQ(count(split, Direction::kReverse, "rows"), 10u);
  EXPECT_EQ(count(split, Direction::kReverse, "rows:public.accounts"), 10u);
}

TEST(DirectionLedger, ATotalThatWentBackCountsNothingRatherThanWrapping) {
  DirectionLedger ledger;
  ledger.direction_changed(Direction::kForward, Direction::kReverse, {{"rows", 50}});
  const auto split = ledger.split({{"rows", 10}});
  EXPECT_EQ(count(split, Direction::kReverse, "rows"), 0u);
  EXPECT_EQ(count(split, Direction::kForward, "rows"), 50u);
}

}  // namespace
}  // namespace cutover
