// What `cutover run` does with a direction's outcome, the direction itself faked: refuse
// before it began, start again after a passing failure once begun, and stay up in phase failed
// after one nothing can retry, until stopped.
#include "cutover/pipeline/directed_pipeline.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "cutover/plan/plan.h"

namespace cutover {
namespace {

using namespace std::chrono_literals;

Plan forward_plan() {
  auto plan = parse_plan("name: t\nblue:\n  dsn: \"host=blue dbname=app\"\ngreen:\n  dsn: \"host=green dbname=app\"\n"
                         "tables:\n  - source: public.items\n",
                         "plan.yaml");
  EXPECT_TRUE(plan) << plan.status().message();
  return *plan;
}

// No reverse plan: run_directed then drops no other direction's slot (nothing reaches a server).
const Result<Plan> kNoReverse = Result<Plan>(Status::invalid("no reverse mapping"));

TEST(DirectedPipeline, AFailureBeforeItBeganIsReturnedAtOnce) {
  PipelineStatus status;
  StopSignal stop;
  int starts = 0;
  const Status outcome = run_directed_with(forward_plan(), kNoReverse, status, stop,
                                           [&](const Plan&, PipelineStatus&, StopSignal&) {
                                             ++starts;
                                             return Status::retryable("blue is not reachable");
                                           });
  EXPECT_FALSE(outcome);
  EXPECT_EQ(outcome.message(), "blue is not reachable");
  EXPECT_EQ(starts, 1) << "a run that never began was started again";
  EXPECT_EQ(status.phase.load(), Phase::kStarting);
  EXPECT_EQ(status.fatal.get().unix_ms, 0);
}

TEST(DirectedPipeline, OnceBegunAPassingFailureStartsTheDirectionAgain) {
  PipelineStatus status;
  StopSignal stop;
  int starts = 0;
  const Status outcome = run_directed_with(forward_plan(), kNoReverse, status, stop,
                                           [&](const Plan&, PipelineStatus& seen, StopSignal& direction_stop) {
                                             seen.phase = Phase::kStreaming;
                                             if (++starts < 3) return Status::retryable("green restarted");
                                             stop.request();
                                             EXPECT_TRUE(direction_stop.requested()) << "the run's stop reaches the direction";
                                             return Status::ok();
                                           });
  EXPECT_TRUE(outcome) << outcome.message();
  EXPECT_EQ(starts, 3);
  EXPECT_EQ(status.restarts.load(), 2u);
  EXPECT_NE(status.last_failure.get().message.find("green restarted"), std::string::npos);
  EXPECT_EQ(status.fatal.get().unix_ms, 0) << "a passing failure was shown as fatal";
}

TEST(DirectedPipeline, OnceBegunAFailureNothingCanRetryStaysUpInPhaseFailedUntilStopped) {
  PipelineStatus status;
  StopSignal stop;
  int starts = 0;
  Status outcome = Status::ok();
  std::thread run([&] {
    outcome = run_directed_with(forward_plan(), kNoReverse, status, stop, [&](const Plan&, PipelineStatus& seen, StopSignal&) {
      ++starts;
      seen.phase = Phase::kStreaming;
      return Status::error("TRUNCATE of public.items is refused by the plan");
    });
  });
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (status.phase.load() != Phase::kFailed && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(status.phase.load(), Phase::kFailed);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(status.phase.load(), Phase::kFailed) << "the run did not stay up";
  EXPECT_NE(status.fatal.get().message.find("TRUNCATE of public.items"), std::string::npos);
  EXPECT_GT(status.fatal.get().unix_ms, 0);
  stop.request();
  run.join();
  EXPECT_EQ(outcome.message(), "TRUNCATE of public.items is refused by the plan");
  EXPECT_EQ(starts, 1) << "a failure nothing can retry was retried";
}

}  // namespace
}  // namespace cutover
