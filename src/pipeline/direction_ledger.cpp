#include "cutover/pipeline/direction_ledger.h"

namespace cutover {

namespace {
std::size_t index_of(Direction direction) { return direction == Direction::kForward ? 0 : 1; }

std::uint64_t count_of(const DirectionLedger::Counts& counts, const std::string& name) {
  const auto found = counts.find(name);
  return found == counts.end() ? 0 : found->second;
}
}  // namespace

void DirectionLedger::direction_changed(Direction from, Direction to, const Counts& totals) {
  std::lock_guard lock(mutex_);
  Counts& closed = closed_[index_of(from)];
  for (const auto& [name, total] : totals) {
    const std::uint64_t before = count_of(at_start_, name);
    // A total never goes back; should one be reset, its stretch counts nothing rather than wrap.
    closed[name] += total >= before ? total - before : 0;
  }
  at_start_ = totals;
  running_ = to;
}

DirectionLedger::Split DirectionLedger::split(const Counts& totals) const {
  std::lock_guard lock(mutex_);
  Split split;
  split.running = running_;
  split.by_direction = closed_;
  Counts& running = split.by_direction[index_of(running_)];
  for (const auto& [name, total] : totals) {
    const std::uint64_t before = count_of(at_start_, name);
    running[name] += total >= before ? total - before : 0;
  }
  return split;
}

}  // namespace cutover
