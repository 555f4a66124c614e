// MoveTally: what the moves of this run ended in, and how long each paused clients, for
// /metrics (cutover_moves_total{operation,outcome}, cutover_client_pause_seconds).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "cutover/common/histogram.h"
#include "cutover/orchestrator/journal.h"

namespace cutover {

class MoveTally {
 public:
  MoveTally();

  // A move that ended: its journal. A move that paused clients (paused_at_ms set) adds its
  // pause, whatever its outcome: an aborted move paused them too.
  void record(const CutoverJournal& ended);

  std::uint64_t count(Move operation, Outcome outcome) const;
  const Histogram& pauses() const { return pauses_; }

  static constexpr std::array<Outcome, 4> kOutcomes = {Outcome::kSwitched, Outcome::kRolledBack, Outcome::kAborted,
                                                       Outcome::kUndoFailed};
  static constexpr std::array<Move, 2> kOperations = {Move::kSwitch, Move::kRollback};

 private:
  std::array<std::array<std::atomic<std::uint64_t>, 5>, 2> counts_{};  // by Move, then Outcome
  Histogram pauses_;
};

}  // namespace cutover
