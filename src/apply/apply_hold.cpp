#include "cutover/apply/apply_hold.h"

namespace cutover {

void ApplyHold::request(Lsn position) {
  std::lock_guard lock(mutex_);
  position_ = position;
  changed_.notify_all();
}

Result<Lsn> ApplyHold::wait_until_held(std::chrono::milliseconds timeout,
                                       const std::atomic<bool>& give_up) {
  std::unique_lock lock(mutex_);
  // A hold for an earlier, lower position does not count: the applier must be waiting with a
  // transaction at or after the position asked for now.
  const auto holds_here = [this] {
    return held_at_.has_value() && position_ && *position_ <= held_before_;
  };
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!holds_here() && !give_up.load() && std::chrono::steady_clock::now() < deadline) {
    changed_.wait_for(lock, std::chrono::milliseconds(100));
  }
  if (!holds_here()) {
    return Status::retryable("the applier did not reach " +
                             (position_ ? position_->to_string() : std::string("the hold")) +
                             " within " + std::to_string(timeout.count()) + " ms");
  }
  return *held_at_;
}

void ApplyHold::release() {
  std::lock_guard lock(mutex_);
  position_.reset();
  changed_.notify_all();
}

void ApplyHold::pause() {
  std::lock_guard lock(mutex_);
  paused_ = true;
  changed_.notify_all();
}

void ApplyHold::resume() {
  std::lock_guard lock(mutex_);
  paused_ = false;
  changed_.notify_all();
}

bool ApplyHold::must_hold_before(Lsn commit_lsn) const {
  std::lock_guard lock(mutex_);
  return paused_.load() || (position_ && *position_ <= commit_lsn);
}

}  // namespace cutover
