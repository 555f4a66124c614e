#include "cutover/pipeline/lag_history.h"

namespace cutover {

void LagHistory::add(const Sample& sample) {
  const std::int64_t kept_ms = std::chrono::duration_cast<std::chrono::milliseconds>(kKept).count();
  std::lock_guard lock(mutex_);
  samples_.push_back(sample);
  while (!samples_.empty() && samples_.front().unix_ms < sample.unix_ms - kept_ms) samples_.pop_front();
}

nlohmann::json LagHistory::to_json() const {
  nlohmann::json samples = nlohmann::json::array();
  {
    std::lock_guard lock(mutex_);
    for (const Sample& sample : samples_) samples.push_back({sample.unix_ms, sample.seconds, sample.bytes});
  }
  return {{"interval_ms", std::chrono::duration_cast<std::chrono::milliseconds>(kInterval).count()},
          {"samples", std::move(samples)}};
}

}  // namespace cutover
