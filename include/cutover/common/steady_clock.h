// The clock intervals are measured by, as a seam: code that decides by elapsed time (the
// applier's batch interval) takes one, so that a test can move time instead of waiting.
#pragma once

#include <chrono>
#include <functional>

namespace cutover {

using SteadyNow = std::function<std::chrono::steady_clock::time_point()>;

inline SteadyNow real_steady_clock() {
  return [] { return std::chrono::steady_clock::now(); };
}

}  // namespace cutover
