// What the operator reads about the plan's slot: the loss that stops the pipeline and the
// warning before it, from the slot as the source shows it.
#include "cutover/capture/slot_health.h"

#include <gtest/gtest.h>

namespace cutover {
namespace {

Plan plan_named_t() {
  Plan plan;
  plan.name = "t";
  plan.replication.retained_wal_warning = 100L << 20;
  return plan;
}

SlotHealth streaming_slot() {
  SlotHealth health;
  health.name = "cutover_t";
  health.exists = true;
  health.active = true;
  health.wal_status = "reserved";
  health.retained_bytes = 5L << 20;
  health.max_slot_wal_keep_size = "-1";
  return health;
}

TEST(SlotHealth, AStreamingSlotIsNeitherLostNorWarnedAbout) {
  EXPECT_EQ(slot_loss(streaming_slot(), plan_named_t()), "");
  EXPECT_EQ(slot_warning(streaming_slot(), plan_named_t()), "");
}

TEST(SlotHealth, ADroppedSlotIsALossThatNamesTheSlotAndTheRebuild) {
  SlotHealth dropped;
  dropped.name = "cutover_t";
  const std::string loss = slot_loss(dropped, plan_named_t());
  EXPECT_NE(loss.find("blue: replication slot cutover_t was dropped"), std::string::npos) << loss;
  EXPECT_NE(loss.find("green cannot be brought up to date and must be rebuilt from a new snapshot"), std::string::npos)
      << loss;
  EXPECT_NE(loss.find("`cutover cleanup PLAN`"), std::string::npos) << loss;
  EXPECT_EQ(slot_warning(dropped, plan_named_t()), "");
}

TEST(SlotHealth, AnInvalidatedSlotSaysWhy) {
  SlotHealth lost = streaming_slot();
  lost.wal_status = "lost";
  lost.max_slot_wal_keep_size = "48MB";
  EXPECT_NE(slot_loss(lost, plan_named_t()).find("max_slot_wal_keep_size (48MB)"), std::string::npos);
  lost.invalidation_reason = "rows_removed";  // 17: a standby's slot that recovery invalidated
  EXPECT_NE(slot_loss(lost, plan_named_t()).find("invalidation_reason rows_removed"), std::string::npos);
  SlotHealth conflicting = streaming_slot();
  conflicting.conflicting = true;  // 16
  EXPECT_NE(slot_loss(conflicting, plan_named_t()), "");
}

TEST(SlotHealth, WarnsPastTheThresholdAndBeforeTheServerTakesTheWal) {
  SlotHealth big = streaming_slot();
  big.retained_bytes = 101L << 20;
  big.safe_wal_bytes = 30L << 20;
  const std::string warning = slot_warning(big, plan_named_t());
  EXPECT_NE(warning.find("keeps 101 MiB"), std::string::npos) << warning;
  EXPECT_NE(warning.find("retained_wal_warning is 100 MiB"), std::string::npos) << warning;
  EXPECT_NE(warning.find("30 MiB more and the server invalidates it"), std::string::npos) << warning;
  SlotHealth unreserved = streaming_slot();
  unreserved.wal_status = "unreserved";
  EXPECT_NE(slot_warning(unreserved, plan_named_t()).find("at its next checkpoint"), std::string::npos);
}

}  // namespace
}  // namespace cutover
