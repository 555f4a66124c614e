// Counters per direction, from totals that run on across directions.
//
// The pipeline's counters (events captured, rows applied, ...) are totals for the whole run:
// after a switch the reverse direction's changes add to the forward direction's. Metrics label
// each counter with the direction it counts (Prometheus wants a counter per label set that only
// ever grows), so the ledger keeps, for each direction, what its finished stretches counted and
// where the totals stood when the running direction started.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "cutover/plan/plan.h"

namespace cutover {

class DirectionLedger {
 public:
  // Named totals: "rows_applied", "rows_applied:public.items", ...
  using Counts = std::map<std::string, std::uint64_t>;

  // `to` streams from now on; `totals` are the counters when `from` stopped: its stretch is closed.
  void direction_changed(Direction from, Direction to, const Counts& totals);

  struct Split {
    Direction running = Direction::kForward;
    std::array<Counts, 2> by_direction;  // indexed by Direction
  };
  // Each direction's share of `totals`, read now: the running direction's stretch so far and
  // what its earlier stretches counted; the other direction's finished stretches.
  Split split(const Counts& totals) const;

 private:
  mutable std::mutex mutex_;
  Direction running_ = Direction::kForward;
  std::array<Counts, 2> closed_;
  Counts at_start_;  // the totals when the running direction started
};

}  // namespace cutover
