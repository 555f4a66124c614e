// Histogram: counts of observations per upper bound, with their sum, safe to update from one
// thread and read from others; what /metrics exposes as a Prometheus histogram.
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <vector>

namespace cutover {

class Histogram {
 public:
  // `bounds`: the buckets' upper bounds, ascending; +Inf is implied.
  Histogram(std::initializer_list<double> bounds);

  void observe(double value);

  const std::vector<double>& bounds() const { return bounds_; }
  // Observations at or below bounds()[i] (cumulative, as Prometheus wants).
  std::uint64_t cumulative(std::size_t bound) const;
  std::uint64_t count() const { return count_.load(); }
  double sum() const { return static_cast<double>(sum_micros_.load()) / 1e6; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // one per bound, not cumulative
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_micros_{0};  // the sum in millionths
};

}  // namespace cutover
