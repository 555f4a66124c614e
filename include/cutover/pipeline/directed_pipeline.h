// The pipeline of `cutover run` in whichever direction clients call for: forward (blue to
// green) while clients are on blue, reverse (green to blue) while they are on green.
//
// Cutover changes `PipelineStatus::direction` once a switch or rollback is done; this stops the
// running direction and starts the other. The slot of the direction that stopped is dropped
// when the other starts: its changes were drained before clients moved, and a slot nobody
// reads keeps WAL forever.
#pragma once

#include <functional>

#include "cutover/common/result.h"
#include "cutover/pipeline/forward_pipeline.h"
#include "cutover/plan/plan.h"

namespace cutover {

// `reverse` is the reverse plan, or why the plan has none (then only forward can run).
//
// A run that fails before it has snapshotted or streamed returns the failure (it was refused
// before anything was created). Once it has begun, a retryable failure starts the direction
// again after a backoff, and any other leaves the run in phase failed, serving status with
// the error (PipelineStatus::fatal), until `stop`; the failure is returned then.
Status run_directed(const Plan& forward, const Result<Plan>& reverse, PipelineStatus& status,
                    StopSignal& stop);

// One direction's pipeline, run until it stops or fails: run_forward, or a fake in tests of
// what run_directed does with its outcomes.
using DirectionRunner = std::function<Status(const Plan&, PipelineStatus&, StopSignal&)>;
Status run_directed_with(const Plan& forward, const Result<Plan>& reverse, PipelineStatus& status,
                         StopSignal& stop, const DirectionRunner& run_one);

// What status tells the operator to do in phase failed.
const char* after_failure_advice();

}  // namespace cutover
