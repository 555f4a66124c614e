#include "cutover/apply/apply_hold.h"

#include <gtest/gtest.h>

#include <thread>

namespace cutover {
namespace {

using std::chrono::milliseconds;

TEST(ApplyHold, HoldsOnlyTransactionsAtOrAfterTheRequestedPosition) {
  ApplyHold hold;
  EXPECT_FALSE(hold.must_hold_before(Lsn(100)));
  hold.request(Lsn(100));
  EXPECT_FALSE(hold.must_hold_before(Lsn(99)));
  EXPECT_TRUE(hold.must_hold_before(Lsn(100)));
  EXPECT_TRUE(hold.must_hold_before(Lsn(101)));
  hold.release();
  EXPECT_FALSE(hold.must_hold_before(Lsn(101)));
}

TEST(ApplyHold, TheHolderLearnsWhatGreenAppliedAndTheApplierWaitsUntilReleased) {
  ApplyHold hold;
  std::atomic<bool> never{false};
  std::atomic<bool> applier_went_on{false};
  hold.request(Lsn(100));
  std::thread applier([&] {
    hold.hold(Lsn(90), Lsn(120), [] { return false; });
    applier_went_on = true;
  });
  auto held = hold.wait_until_held(milliseconds(5000), never);
  ASSERT_TRUE(held) << held.status().message();
  EXPECT_EQ(*held, Lsn(90));
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_FALSE(applier_went_on.load());
  hold.release();
  applier.join();
  EXPECT_TRUE(applier_went_on.load());
}

TEST(ApplyHold, AHoldAtAnEarlierPositionDoesNotCountForALaterOne) {
  ApplyHold hold;
  std::atomic<bool> never{false};
  hold.request(Lsn(100));
  std::thread first([&] { hold.hold(Lsn(90), Lsn(110), [] { return false; }); });
  ASSERT_TRUE(hold.wait_until_held(milliseconds(5000), never));
  // The position moves past the transaction the applier waits with: it must apply that one
  // first, so it does not hold at the new position yet.
  hold.request(Lsn(200));
  first.join();
  EXPECT_FALSE(hold.wait_until_held(milliseconds(100), never));
  std::thread second([&] { hold.hold(Lsn(110), Lsn(210), [] { return false; }); });
  auto held = hold.wait_until_held(milliseconds(5000), never);
  ASSERT_TRUE(held);
  EXPECT_EQ(*held, Lsn(110));
  hold.release();
  second.join();
}

TEST(ApplyHold, TheApplierStopsWaitingWhenItMustStop) {
  ApplyHold hold;
  hold.request(Lsn(1));
  std::atomic<bool> stop{false};
  std::thread applier([&] { hold.hold(Lsn(0), Lsn(5), [&] { return stop.load(); }); });
  stop = true;
  applier.join();  // returns although the hold was never released
  EXPECT_TRUE(hold.must_hold_before(Lsn(5)));
}

}  // namespace
}  // namespace cutover
