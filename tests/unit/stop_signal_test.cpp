// StopSignal and DirectionRequest: a stop wakes its waiters and its children, not its parent;
// a direction served is stopped the moment another is wanted.
#include "cutover/common/stop_signal.h"

#include <gtest/gtest.h>

#include <thread>

#include "cutover/pipeline/forward_pipeline.h"

namespace cutover {
namespace {

TEST(StopSignal, AChildStopsWithItsParentButNotTheOtherWayRound) {
  StopSignal run;
  StopSignal session(run);
  session.request();
  EXPECT_TRUE(session.requested());
  EXPECT_FALSE(run.requested());
  StopSignal next_session(run);
  EXPECT_FALSE(next_session.requested());
  run.request();
  EXPECT_TRUE(next_session.requested());
  StopSignal late(run);
  EXPECT_TRUE(late.requested()) << "a child of a stopped parent starts stopped";
}

TEST(StopSignal, AWaiterWakesWhenAnotherThreadStopsIt) {
  StopSignal run;
  StopSignal session(run);
  EXPECT_FALSE(session.wait_for(std::chrono::milliseconds(1)));
  std::thread stopper([&run] { run.request(); });
  // Without the wake-up this waits the full ten minutes, and the suite's timeout says so.
  EXPECT_TRUE(session.wait_for(std::chrono::minutes(10)));
  session.wait();
  stopper.join();
}

TEST(DirectionRequest, TheDirectionServedStopsWhenAnotherIsWanted) {
  DirectionRequest request;
  StopSignal forward;
  request.serve(Direction::kForward, &forward);
  request.want(Direction::kForward);
  EXPECT_FALSE(forward.requested());
  request.want(Direction::kReverse);
  EXPECT_TRUE(forward.requested());
  EXPECT_EQ(request.wanted(), Direction::kReverse);
  request.serve(Direction::kForward, nullptr);

  StopSignal stale;
  request.serve(Direction::kForward, &stale);
  EXPECT_TRUE(stale.requested()) << "serving a direction no longer wanted stops at once";
  request.serve(Direction::kForward, nullptr);
}

}  // namespace
}  // namespace cutover
