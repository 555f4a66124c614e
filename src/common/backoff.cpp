#include "cutover/common/backoff.h"

#include <algorithm>

namespace cutover {

Backoff::Backoff(Settings settings)
    : settings_(settings), current_(settings.initial), random_(std::random_device{}()) {}

std::chrono::milliseconds Backoff::next() {
  const auto full = current_.count();
  std::uniform_int_distribution<long long> jitter(full / 2, full);
  current_ = std::min(current_ * 2, settings_.maximum);
  return std::chrono::milliseconds(jitter(random_));
}

void Backoff::attempt_ran(std::chrono::steady_clock::duration ran) {
  if (ran >= settings_.healthy_after) current_ = settings_.initial;
}

}  // namespace cutover
