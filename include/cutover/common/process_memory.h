// The process's resident memory, and giving memory freed by stopped work back to the system.
//
// glibc keeps what a thread frees in that thread's malloc arena for reuse. Every switch and
// rollback stops one direction's pipeline and starts the other's on new threads, which may
// take other arenas, so the arenas of the stopped pipeline keep their peak resident though
// nothing in them is live. Measured over 20 moves (heaptrack, bench/soak_bench.py): the live
// heap never passed 26 MiB while the resident memory kept growing with every move.
#pragma once

#include <cstdint>

namespace cutover {

// Resident set size in bytes (/proc/self/statm); 0 when it cannot be read.
std::uint64_t resident_bytes();

// Hands free heap memory of every arena back to the system (malloc_trim). It walks the
// arenas under their locks, so it belongs where work has stopped, not on a hot path.
void release_freed_memory();

}  // namespace cutover
