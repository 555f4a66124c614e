// Files that survive a crash whole or not at all: written to a temporary name, fsynced,
// renamed over the target and the directory fsynced. Used for the state directory.
#pragma once

#include <optional>
#include <string>

#include <string>

#include "cutover/common/result.h"

namespace cutover {

// Creates `directory` and its parents if missing.
Status ensure_directory(const std::string& directory);

// Why `directory` may not hold cutover's state, or nothing: it exists but is not a directory,
// is `/`, belongs to another user, or others than its owner may write it (they could plant
// links that make cutover overwrite files they cannot). A directory that does not exist yet
// is fine: cutover makes it, readable by its owner only.
std::optional<std::string> state_directory_problem(const std::string& directory);

// ensure_directory() for the state directory: made with mode 0700 when missing, refused by
// state_directory_problem() otherwise.
Status ensure_state_directory(const std::string& directory);

// Replaces `path` with `content` atomically and durably. A file that exists keeps its owner
// and mode; a new one is readable by its owner only. Neither `path` nor its temporary may be
// a symbolic link, and the temporary is always a file this call creates (O_EXCL|O_NOFOLLOW).
Status write_file_atomically(const std::string& path, const std::string& content);

}  // namespace cutover
