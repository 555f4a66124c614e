// The plan's switch command (`cutover.switch.command`), the alternative to PgBouncer's
// include file: a program the operator gives that points clients at one side.
//
// Every argument's `{to}` becomes "blue" or "green". The command must be idempotent: an
// undo or a recovery runs it again for the side clients must end on. It runs without a
// shell, in its own process group, and is killed when it outlives its time.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "cutover/common/result.h"

namespace cutover {

// Runs the command for side `to`; an error carries its exit status and the end of its output.
Status run_switch_command(const std::vector<std::string>& command, const std::string& to,
                          std::chrono::milliseconds timeout);

}  // namespace cutover
