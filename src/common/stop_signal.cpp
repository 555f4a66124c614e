#include "cutover/common/stop_signal.h"

#include <algorithm>

namespace cutover {

StopSignal::StopSignal(StopSignal& parent) : parent_(&parent) {
  std::lock_guard lock(parent.mutex_);
  parent.children_.push_back(this);
  if (parent.flag_.load()) flag_ = true;
}

StopSignal::~StopSignal() {
  if (parent_ == nullptr) return;
  std::lock_guard lock(parent_->mutex_);
  auto& siblings = parent_->children_;
  siblings.erase(std::remove(siblings.begin(), siblings.end(), this), siblings.end());
}

void StopSignal::request() {
  std::lock_guard lock(mutex_);
  flag_ = true;
  for (StopSignal* child : children_) child->request();
  stopped_.notify_all();
}

void StopSignal::wait() const {
  std::unique_lock lock(mutex_);
  stopped_.wait(lock, [this] { return flag_.load(); });
}

bool StopSignal::wait_for(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return stopped_.wait_for(lock, timeout, [this] { return flag_.load(); });
}

}  // namespace cutover
