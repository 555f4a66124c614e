#include "cutover/orchestrator/move_tally.h"

namespace cutover {

// The pause budget is freeze_timeout plus drain_timeout (seconds); the buckets resolve the
// half second a careful team aims at and the timeouts' defaults.
MoveTally::MoveTally() : pauses_({0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 15, 30}) {}

void MoveTally::record(const CutoverJournal& ended) {
  if (ended.outcome == Outcome::kNone) return;
  counts_[static_cast<std::size_t>(ended.operation)][static_cast<std::size_t>(ended.outcome)]++;
  if (ended.timings.paused_at_ms != 0) pauses_.observe(static_cast<double>(ended.timings.pause_ms) / 1000.0);
}

std::uint64_t MoveTally::count(Move operation, Outcome outcome) const {
  return counts_[static_cast<std::size_t>(operation)][static_cast<std::size_t>(outcome)].load();
}

}  // namespace cutover
