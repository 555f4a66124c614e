#include "cutover/capture/safe_position.h"

#include <gtest/gtest.h>

namespace cutover {
namespace {

TEST(PositionTracker, SafeOnlyOnceEveryRecordUpToTheCommitIsAcknowledged) {
  PositionTracker tracker;
  tracker.next_sequence();                     // BEGIN
  tracker.next_sequence();                     // row
  const auto end1 = tracker.next_sequence();   // END of transaction 1
  tracker.commit_offered(end1, Lsn(100));
  tracker.next_sequence();
  const auto end2 = tracker.next_sequence();
  tracker.commit_offered(end2, Lsn(200));

  tracker.acknowledged_through(end1 - 1);
  EXPECT_EQ(tracker.kafka_safe(), Lsn()) << "the commit record itself is not acknowledged yet";
  tracker.acknowledged_through(end1);
  EXPECT_EQ(tracker.kafka_safe(), Lsn(100));
  EXPECT_FALSE(tracker.all_acknowledged());
  tracker.acknowledged_through(end2);
  EXPECT_EQ(tracker.kafka_safe(), Lsn(200));
  EXPECT_TRUE(tracker.all_acknowledged());
}

TEST(PositionTracker, ForgettingLostRecordsNeverMovesSafeForward) {
  PositionTracker tracker;
  const auto end = tracker.next_sequence();
  tracker.commit_offered(end, Lsn(100));
  tracker.forget_unacknowledged();
  EXPECT_EQ(tracker.kafka_safe(), Lsn());
  EXPECT_EQ(tracker.last_offered_commit(), Lsn());
  EXPECT_TRUE(tracker.all_acknowledged());
}

}  // namespace
}  // namespace cutover
