#include "cutover/common/durable_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace cutover {

namespace {

std::string reason() { return std::strerror(errno); }

Status sync_path(const std::string& path, int flags) {
  const int descriptor = ::open(path.c_str(), flags);
  if (descriptor < 0) return Status::error("cannot open " + path + ": " + reason());
  const int synced = ::fsync(descriptor);
  ::close(descriptor);
  if (synced != 0) return Status::error("cannot fsync " + path + ": " + reason());
  return Status::ok();
}

}  // namespace

Status ensure_directory(const std::string& directory) {
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) return Status::error("cannot create directory " + directory + ": " + error.message());
  return Status::ok();
}

Status write_file_atomically(const std::string& path, const std::string& content) {
  const std::filesystem::path target(path);
  const std::string directory =
      target.has_parent_path() ? target.parent_path().string() : std::string(".");
  const std::string temporary = path + ".tmp";
  const int descriptor = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (descriptor < 0) return Status::error("cannot write " + temporary + ": " + reason());
  // A file that exists keeps its owner and mode: another program (PgBouncer) may read it.
  struct stat existing {};
  if (::stat(path.c_str(), &existing) == 0) {
    if (::fchmod(descriptor, existing.st_mode & 07777) != 0 ||
        (::fchown(descriptor, existing.st_uid, existing.st_gid) != 0 && errno != EPERM)) {
      const std::string why = reason();
      ::close(descriptor);
      return Status::error("cannot give " + temporary + " the owner and mode of " + path + ": " + why);
    }
  }
  std::size_t written = 0;
  while (written < content.size()) {
    const ssize_t wrote = ::write(descriptor, content.data() + written, content.size() - written);
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote < 0) {
      const std::string why = reason();
      ::close(descriptor);
      return Status::error("cannot write " + temporary + ": " + why);
    }
    written += static_cast<std::size_t>(wrote);
  }
  if (::fsync(descriptor) != 0) {
    const std::string why = reason();
    ::close(descriptor);
    return Status::error("cannot fsync " + temporary + ": " + why);
  }
  ::close(descriptor);
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    return Status::error("cannot rename " + temporary + " to " + path + ": " + reason());
  }
  return sync_path(directory, O_RDONLY | O_DIRECTORY);
}

}  // namespace cutover
