// Backoff: the waits between attempts of a loop that tries again what is_retried() allows
// (common/result.h). Each wait doubles, from `initial` up to `maximum`, and is drawn at random
// between half of it and all of it, so that processes that failed together (capture and
// apply after the broker restarted) do not come back in step. An attempt that ran well for
// `healthy_after` starts the series over.
#pragma once

#include <chrono>
#include <random>

namespace cutover {

class Backoff {
 public:
  struct Settings {
    std::chrono::milliseconds initial{500};
    std::chrono::milliseconds maximum{10000};
    std::chrono::milliseconds healthy_after{30000};
  };

  explicit Backoff(Settings settings);

  // The wait before the next attempt; the one after it is twice as long, up to the maximum.
  std::chrono::milliseconds next();
  // Called with how long the attempt that just failed had run.
  void attempt_ran(std::chrono::steady_clock::duration ran);

 private:
  Settings settings_;
  std::chrono::milliseconds current_;
  std::minstd_rand random_;
};

}  // namespace cutover
