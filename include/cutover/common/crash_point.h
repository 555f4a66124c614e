// Named points where fault tests kill the process: with CUTOVER_CRASH_AT=<name> in the
// environment, the process sends itself SIGKILL when it reaches that point, exactly as
// `kill -9` would, so recovery can be tested at a precise step. The variable is read once;
// without it a crash point costs a null check.
#pragma once

namespace cutover {

void crash_point(const char* name);

}  // namespace cutover
