#include "cutover/pipeline/directed_pipeline.h"

#include <thread>

#include "cutover/capture/slot_manager.h"
#include "cutover/common/logging.h"

namespace cutover {

namespace {

constexpr auto kDirectionPoll = std::chrono::milliseconds(20);
// The walsender of a capture that just stopped may hold its slot a moment longer.

}  // namespace

Status run_directed(const Plan& forward, const Result<Plan>& reverse, PipelineStatus& status,
                    const std::atomic<bool>& stop) {
  while (!stop.load()) {
    const Direction direction = status.wanted.load();
    if (direction == Direction::kReverse && !reverse) {
      return reverse.status().with_context("clients are on green, but the reverse pipeline cannot run");
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
    std::atomic<bool> direction_stop{false};
    std::thread watch([&] {
      while (!stop.load() && !direction_stop.load() && status.wanted.load() == direction) {
        std::this_thread::sleep_for(kDirectionPoll);
      }
      direction_stop = true;
    });
    if (status.running.exchange(direction) != direction) {
      // Positions of the other direction are another server's WAL: status shows none until
      // this direction's applier and sampler report theirs.
      status.apply.applied_lsn = 0;
      status.apply.applied_commit_ts_ms = 0;
      status.source_wal_lsn = 0;
    }
    spdlog::info("pipeline starting direction={} topic={}", direction_name(direction),
                 plan.changes_topic());
    const Status outcome = run_forward(plan, status, direction_stop);
    direction_stop = true;
    watch.join();
    if (!outcome) return outcome;
  }
  return Status::ok();
}

}  // namespace cutover
