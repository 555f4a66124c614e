// StopSignal: a stop that is set once and can be waited for. Loops that do work between
// checks read flag(); a thread with nothing to do but wait sleeps in wait() or wait_for() and
// is woken the moment the stop is requested, instead of polling a flag.
//
// A signal made with a parent stops when the parent does (a pipeline session stops with the
// run), and can also be stopped alone (the session ends; the run goes on).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

namespace cutover {

class StopSignal {
 public:
  StopSignal() = default;
  explicit StopSignal(StopSignal& parent);
  ~StopSignal();
  StopSignal(const StopSignal&) = delete;
  StopSignal& operator=(const StopSignal&) = delete;

  // Stops this signal and its children; waiters wake.
  void request();
  bool requested() const { return flag_.load(); }
  // For the loops that check between pieces of work.
  const std::atomic<bool>& flag() const { return flag_; }
  // Waits until stopped.
  void wait() const;
  // Waits at most `timeout`; whether it was stopped.
  bool wait_for(std::chrono::milliseconds timeout) const;

 private:
  StopSignal* parent_ = nullptr;
  std::atomic<bool> flag_{false};
  mutable std::mutex mutex_;
  mutable std::condition_variable stopped_;
  std::vector<StopSignal*> children_;  // guarded by mutex_
};

}  // namespace cutover
