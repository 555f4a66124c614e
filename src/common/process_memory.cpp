#include "cutover/common/process_memory.h"

#include <malloc.h>
#include <unistd.h>

#include <fstream>

namespace cutover {

std::uint64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t size_pages = 0;
  std::uint64_t resident_pages = 0;
  if (!(statm >> size_pages >> resident_pages)) return 0;
  return resident_pages * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
}

void release_freed_memory() { malloc_trim(0); }

}  // namespace cutover
