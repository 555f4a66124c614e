#include "cutover/common/periodic.h"

namespace cutover {

Periodic::Periodic(std::chrono::milliseconds interval, std::function<void()> task)
    : thread_([this, interval, task = std::move(task)] {
        std::unique_lock lock(mutex_);
        while (!stopping_.wait_for(lock, interval, [this] { return done_; })) {
          lock.unlock();
          task();
          lock.lock();
        }
      }) {}

Periodic::~Periodic() {
  {
    std::lock_guard lock(mutex_);
    done_ = true;
  }
  stopping_.notify_all();
  thread_.join();
}

}  // namespace cutover
