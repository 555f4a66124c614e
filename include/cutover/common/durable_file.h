// Files that survive a crash whole or not at all: written to a temporary name, fsynced,
// renamed over the target and the directory fsynced. Used for the state directory.
#pragma once

#include <string>

#include "cutover/common/result.h"

namespace cutover {

// Creates `directory` and its parents if missing.
Status ensure_directory(const std::string& directory);

// Replaces `path` with `content` atomically and durably. A file that exists keeps its owner
// and mode; a new one is readable by its owner only.
Status write_file_atomically(const std::string& path, const std::string& content);

}  // namespace cutover
