// Descriptors a child process must not inherit.
#pragma once

#include <sys/syscall.h>
#include <unistd.h>

namespace cutover {

// In a child between fork and exec: closes every descriptor above the standard streams, so
// that a program cutover starts (a switch command, a pooler it restarts) keeps none of its
// listening sockets or connections open after cutover closes them. Libraries do not all open
// theirs close-on-exec. Only async-signal-safe calls, as after fork in a threaded process.
inline void close_inherited_descriptors() {
#ifdef SYS_close_range
  if (::syscall(SYS_close_range, 3U, ~0U, 0U) == 0) return;
#endif
  const long limit = ::sysconf(_SC_OPEN_MAX);
  for (int descriptor = 3; descriptor < (limit > 0 && limit < 1048576 ? limit : 65536); ++descriptor) {
    ::close(descriptor);
  }
}

}  // namespace cutover
