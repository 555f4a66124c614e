#include "cutover/common/crash_point.h"

#include <csignal>
#include <cstdlib>
#include <cstring>

#include "cutover/common/logging.h"

namespace cutover {

void crash_point(const char* name) {
  // Read once: some points sit on paths that run for every change.
  static const char* const wanted = std::getenv("CUTOVER_CRASH_AT");
  if (!wanted || std::strcmp(wanted, name) != 0) return;
  spdlog::warn("crash point {} reached: killing this process (CUTOVER_CRASH_AT)", name);
  spdlog::default_logger()->flush();
  std::raise(SIGKILL);
}

}  // namespace cutover
