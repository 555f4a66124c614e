// LagHistory: the last hour of green's lag, kept by `cutover run` itself, so that the
// dashboard's chart shows where lag has been since before the page was opened.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>

namespace cutover {

class LagHistory {
 public:
  struct Sample {
    std::int64_t unix_ms = 0;
    double seconds = 0;
    std::uint64_t bytes = 0;
  };
  static constexpr std::chrono::seconds kInterval{5};
  static constexpr std::chrono::hours kKept{1};

  // Adds a sample and lets go of those older than kKept before it.
  void add(const Sample& sample);
  // {"interval_ms", "samples": [[unix_ms, seconds, bytes], ...]}, oldest first.
  nlohmann::json to_json() const;

 private:
  mutable std::mutex mutex_;
  std::deque<Sample> samples_;  // guarded by mutex_
};

}  // namespace cutover
