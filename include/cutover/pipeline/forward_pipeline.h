// The forward pipeline as the commands run it: `cutover run` (snapshot when green was never
// filled, then capture and apply in one process) and `cutover apply` (apply alone).
//
// Both check everything before creating anything, resume from what green records after a
// restart, retry what is retryable with backoff, and stop cleanly when `stop` is set.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "cutover/apply/applier.h"
#include "cutover/capture/capture.h"
#include "cutover/capture/slot_health.h"
#include "cutover/common/backoff.h"
#include "cutover/common/result.h"
#include "cutover/common/stop_signal.h"
#include "cutover/pipeline/direction_ledger.h"
#include "cutover/pipeline/lag_history.h"
#include "cutover/pipeline/plan_cleanup.h"
#include "cutover/plan/plan.h"
#include "cutover/plan/reverse_plan.h"
#include "cutover/snapshot/snapshot_copy.h"
#include "cutover/transport/embedded_broker.h"

namespace cutover {

// kHalted: a schema change on the source the plan cannot map stopped capture and apply; the
// process stays up (status, dashboard) until it is stopped, the plan amended, and run again.
// kFailed: an error nothing can retry ended the pipeline after it had begun (a snapshot row
// green refuses, a TRUNCATE the plan refuses); the process stays up the same way, with the
// error in PipelineStatus::fatal.
enum class Phase { kStarting, kSnapshotting, kStreaming, kHalted, kFailed, kStopped };
const char* phase_name(Phase phase);

// The direction cutover wants streaming, changed by a switch or a rollback. The direction
// being served is stopped the moment another is wanted, so the pipeline turns around at once.
class DirectionRequest {
 public:
  Direction wanted() const;
  void want(Direction direction);
  // While `stop` runs `direction`: requested when another direction is wanted (or at once if
  // one is already). Null stops serving.
  void serve(Direction direction, StopSignal* stop);

 private:
  mutable std::mutex mutex_;
  Direction wanted_ = Direction::kForward;  // guarded by mutex_
  Direction served_ = Direction::kForward;  // guarded by mutex_
  StopSignal* stop_ = nullptr;              // guarded by mutex_
};

// A failure with the time it was seen, for status and metrics.
class LastFailure {
 public:
  struct Seen {
    std::string message;
    std::int64_t unix_ms = 0;        // 0: none yet
    std::int64_t retry_unix_ms = 0;  // when the pipeline starts again; 0: it does not
  };
  void record(const std::string& message, std::chrono::milliseconds retry_in = std::chrono::milliseconds(0));
  Seen get() const;

 private:
  mutable std::mutex mutex_;
  Seen seen_;  // guarded by mutex_
};

// What `cutover run` is doing, for the status log and the control API.
struct PipelineStatus {
  std::atomic<Phase> phase{Phase::kStarting};
  DirectionRequest direction;  // set by cutover at a switch or rollback
  std::atomic<Direction> running{Direction::kForward};  // the direction streaming now
  SnapshotProgress snapshot;
  CaptureCounters capture;  // totals across capture restarts
  ApplyCounters apply;
  std::atomic<std::uint64_t> source_wal_lsn{0};  // the source's current WAL position, last read
  // The last snapshot's consistent point and when it was taken (0: none in this direction).
  // What the source writes after it is the lag until the applier reports its position.
  std::atomic<std::uint64_t> snapshot_from_lsn{0};
  std::atomic<std::int64_t> snapshot_from_unix_ms{0};
  SharedSlotHealth slot;                         // the plan's slot on the source, last read
  HoldingsSeen holdings;                         // what the plan holds where, last looked at
  std::atomic<double> rows_per_second{0};        // rows applied, over the last sample interval
  ApplyHold apply_hold;  // lets verification (and cutover) stop the applier at a position
  DrainMarkers drain_markers;  // the drain's markers, for a source that cannot send them
  std::atomic<std::uint64_t> restarts{0};  // pipeline sessions started again after a failure
  LastFailure last_failure;                // the failure of the last of them
  LastFailure fatal;                       // what ended the pipeline for good (phase failed)
  DirectionLedger ledger;                  // the counters below split by direction, for metrics
  LagHistory lag_history;                  // the last hour of lag, for the dashboard
};

// The run's counters by name, as DirectionLedger splits them: events_captured, bytes_captured,
// transactions_captured, transactions_applied, rows_applied, rows_applied:<source table>,
// snapshot_rows:<target table>, debezium_records, capture_retries, produce_errors,
// consume_errors, restarts.
DirectionLedger::Counts pipeline_totals(const PipelineStatus& status);

// How far green is behind blue: WAL bytes between blue's position and the applied one, and
// the age of the last applied commit while more is waiting (0 when caught up). From a
// snapshot until the applier reports: WAL bytes since its consistent point, and the time since
// it was taken while blue has written since.
struct Lag {
  std::uint64_t bytes = 0;
  double seconds = 0;
};
Lag current_lag(const PipelineStatus& status);

// The plan's broker: the embedded one, started into `embedded` with the change-log topic, or
// the plan's list, checked to be reachable, with the topic ensured. Returns the bootstrap.
// The topics the plan's capture writes: the change log, and with kafka.debezium (forward
// direction) a topic per source table and the transaction topic.
std::vector<std::string> topics_of(const Plan& plan);
Result<std::string> prepare_broker(const Plan& plan, std::unique_ptr<EmbeddedBroker>& embedded);

// The capture of the plan: builds the stream and producer factories from the plan.
// `wrap_sink`, if given, wraps each producer capture opens.
using SinkWrapper = std::function<std::unique_ptr<ChangeLogSink>(std::unique_ptr<ChangeLogSink>)>;
std::unique_ptr<Capture> make_capture(const Plan& plan, const std::string& bootstrap,
                                      Lsn slot_confirmed, const std::atomic<bool>& stop,
                                      SinkWrapper wrap_sink = {},
                                      CaptureCounters* counters = nullptr,
                                      DrainMarkers* drain_markers = nullptr);

// Between pipeline sessions, and between starts of a direction; one that ran well for 30 s
// starts the series over.
inline constexpr Backoff::Settings kRestartBackoff{std::chrono::milliseconds(500), std::chrono::seconds(10),
                                                   std::chrono::seconds(30)};
// For a retryable `reason`: counts a restart, records the reason, waits out the backoff (or
// until `stop`) and returns ok. Any other reason is returned as it is.
Status wait_before_retry(const Status& reason, Backoff& backoff, PipelineStatus& status, const StopSignal& stop);

// Runs the pipeline of `plan`: blue to green for the plan, green to blue for the reverse plan.
Status run_forward(const Plan& plan, PipelineStatus& status, StopSignal& stop);
Status run_apply_only(const Plan& plan, PipelineStatus& status, StopSignal& stop);
// `cutover capture`: the source's changes into Kafka, nothing applied.
Status run_capture_only(const Plan& plan, StopSignal& stop);

}  // namespace cutover
