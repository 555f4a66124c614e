#include "cutover/common/histogram.h"

namespace cutover {

Histogram::Histogram(std::initializer_list<double> bounds)
    : bounds_(bounds), buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size())) {
  for (std::size_t i = 0; i < bounds_.size(); ++i) buckets_[i] = 0;
}

void Histogram::observe(double value) {
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    if (value <= bounds_[i]) {
      buckets_[i]++;
      break;
    }
  }
  count_++;
  sum_micros_ += static_cast<std::uint64_t>(value * 1e6);
}

std::uint64_t Histogram::cumulative(std::size_t bound) const {
  std::uint64_t total = 0;
  for (std::size_t i = 0; i <= bound && i < bounds_.size(); ++i) total += buckets_[i].load();
  return total;
}

}  // namespace cutover
