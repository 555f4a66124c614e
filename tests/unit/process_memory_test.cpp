// release_freed_memory() against what glibc really does: memory a finished thread freed stays
// resident in its arena until it is released.
#include <gtest/gtest.h>

#include <memory>
#include <thread>
#include <vector>

#include "cutover/common/process_memory.h"

namespace cutover {
namespace {

TEST(ProcessMemory, MemoryAFinishedThreadFreedIsGivenBackWhenReleased) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "ASan's allocator is not glibc's; malloc_trim has nothing to release";
#else
  constexpr std::size_t kBlocks = 64 * 1024;
  constexpr std::size_t kBlockSize = 1024;  // far below mmap's threshold: these come from an arena
  const std::uint64_t at_start = resident_bytes();
  ASSERT_GT(at_start, 0u);
  // A thread of its own, as a pipeline's are: 64 MiB of small blocks, touched, then freed,
  // all but the last (which keeps the arena's top from being trimmed by free() itself).
  std::unique_ptr<char[]> kept;
  std::thread([&] {
    std::vector<std::unique_ptr<char[]>> blocks;
    for (std::size_t i = 0; i < kBlocks; ++i) {
      blocks.emplace_back(new char[kBlockSize]);
      for (std::size_t at = 0; at < kBlockSize; at += 512) blocks.back()[at] = 1;
    }
    kept = std::move(blocks.back());
  }).join();
  const std::uint64_t after_free = resident_bytes();
  release_freed_memory();
  const std::uint64_t after_release = resident_bytes();
  EXPECT_GT(after_free, at_start + (32u << 20)) << "the freed blocks should still be resident";
  EXPECT_LT(after_release + (32u << 20), after_free)
      << "resident " << (after_free >> 20) << " MiB after the thread, " << (after_release >> 20)
      << " MiB after release";
#endif
}

}  // namespace
}  // namespace cutover
