// Periodic: runs a task on a thread of its own every `interval` until it is destroyed; the
// status log and progress reports use it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace cutover {

class Periodic {
 public:
  Periodic(std::chrono::milliseconds interval, std::function<void()> task);
  // Stops at once, without waiting for the interval to end; a running task finishes first.
  ~Periodic();
  Periodic(const Periodic&) = delete;
  Periodic& operator=(const Periodic&) = delete;

 private:
  std::mutex mutex_;
  std::condition_variable stopping_;
  bool done_ = false;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace cutover
