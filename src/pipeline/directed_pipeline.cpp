#include "cutover/pipeline/directed_pipeline.h"

#include "cutover/capture/slot_manager.h"
#include "cutover/common/logging.h"
#include "cutover/common/process_memory.h"

namespace cutover {

Direction DirectionRequest::wanted() const {
  std::lock_guard lock(mutex_);
  return wanted_;
}

void DirectionRequest::want(Direction direction) {
  std::lock_guard lock(mutex_);
  wanted_ = direction;
  if (stop_ != nullptr && served_ != direction) stop_->request();
}

void DirectionRequest::serve(Direction direction, StopSignal* stop) {
  std::lock_guard lock(mutex_);
  served_ = direction;
  stop_ = stop;
  if (stop_ != nullptr && wanted_ != direction) stop_->request();
}

namespace {

// One run of `direction` until it stops or fails.
Status run_direction(const Plan& forward, const Result<Plan>& reverse, Direction direction,
                     PipelineStatus& status, StopSignal& stop, const DirectionRunner& run_one) {
  if (direction == Direction::kReverse && !reverse) {
    return Status::error(reverse.status().message() +
                         " (clients are on green, but the reverse pipeline cannot run)");
  }
  const Plan& plan = direction == Direction::kForward ? forward : *reverse;
  if (reverse) {
    const Plan& other = direction == Direction::kForward ? *reverse : forward;
    if (auto dropped = drop_slot(other, kSlotReleaseWait); !dropped) {
      spdlog::warn("the {} slot {} could not be dropped; it keeps WAL until it is: {}",
                   direction_name(direction == Direction::kForward ? Direction::kReverse
                                                                   : Direction::kForward),
                   other.slot_name(), dropped.message());
    }
  }
  // Stops with the run, or when cutover wants the other direction.
  StopSignal direction_stop(stop);
  status.direction.serve(direction, &direction_stop);
  if (const Direction before = status.running.exchange(direction); before != direction) {
    // Every counter so far belongs to the direction that stopped (metrics label them so).
    status.ledger.direction_changed(before, direction, pipeline_totals(status));
    // Positions of the other direction are another server's WAL: status shows none until
    // this direction's applier and sampler report theirs.
    status.apply.applied_lsn = 0;
    status.snapshot_from_lsn = 0;
    status.apply.applied_commit_ts_ms = 0;
    status.source_wal_lsn = 0;
  }
  spdlog::info("pipeline starting direction={} topic={}", direction_name(direction),
               plan.changes_topic());
  const Status outcome = run_one(plan, status, direction_stop);
  status.direction.serve(direction, nullptr);
  // The stopped direction's threads are gone, their arenas' memory free but still resident
  // (common/process_memory.h); without this the run grew with every move.
  const std::uint64_t resident_before = resident_bytes();
  release_freed_memory();
  spdlog::info("pipeline stopped direction={} resident_mib={} after_release_mib={}", direction_name(direction),
               resident_before >> 20, resident_bytes() >> 20);
  return outcome;
}

using Clock = std::chrono::steady_clock;

// What the operator is told to do once the pipeline has failed for good.
constexpr const char* kAfterFailure =
    "status, metrics and the dashboard stay served with this error; fix what it names, then stop this run "
    "(SIGTERM) and start cutover run again: it resumes from the target's applied position";

// A failure nothing can retry, after the pipeline had begun: stays in phase failed, serving
// status with the error, until the run is stopped; then returns the failure (the exit code).
Status stay_failed(const Status& failure, PipelineStatus& status, const StopSignal& stop) {
  status.fatal.record(failure.message());
  status.phase = Phase::kFailed;
  spdlog::error("pipeline failed reason=\"{}\" next=\"{}\"", failure.message(), kAfterFailure);
  stop.wait();
  return failure;
}

// A run that has not yet snapshotted or streamed refuses instead of staying up: what it
// found wrong was checked before anything was created, and the message says what to fix.
bool began(const PipelineStatus& status) { return status.phase.load() != Phase::kStarting; }

}  // namespace

const char* after_failure_advice() { return kAfterFailure; }

Status run_directed(const Plan& forward, const Result<Plan>& reverse, PipelineStatus& status,
                    StopSignal& stop) {
  return run_directed_with(forward, reverse, status, stop, run_forward);
}

Status run_directed_with(const Plan& forward, const Result<Plan>& reverse, PipelineStatus& status,
                         StopSignal& stop, const DirectionRunner& run_one) {
  Backoff backoff(kRestartBackoff);
  while (!stop.requested()) {
    const Direction direction = status.direction.wanted();
    const auto started = Clock::now();
    const Status outcome = run_direction(forward, reverse, direction, status, stop, run_one);
    if (outcome) continue;
    if (stop.requested() || !began(status)) return outcome;
    // Once it has begun, a direction that fails to start or stops on a passing error is
    // started again, as an operator restarting the run would.
    backoff.attempt_ran(Clock::now() - started);
    if (wait_before_retry(outcome, backoff, status, stop)) continue;
    return stay_failed(outcome, status, stop);
  }
  return Status::ok();
}

}  // namespace cutover
