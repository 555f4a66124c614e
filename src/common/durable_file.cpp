#include "cutover/common/durable_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>

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

std::optional<std::string> state_directory_problem(const std::string& directory) {
  struct stat found {};
  if (::stat(directory.c_str(), &found) != 0) {
    if (errno == ENOENT) return std::nullopt;
    return "cannot read " + directory + ": " + reason();
  }
  if (!S_ISDIR(found.st_mode)) return directory + " is not a directory";
  std::error_code ignored;
  if (std::filesystem::equivalent(directory, "/", ignored)) {
    return "the root directory is no place for cutover's state: give a directory of its own";
  }
  if (found.st_uid != ::geteuid()) {
    return directory + " belongs to user id " + std::to_string(found.st_uid) + ", not to the user cutover runs as (" +
           std::to_string(::geteuid()) + "): give a directory of cutover's own";
  }
  if ((found.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return directory + " may be written by other users, who could plant links there that make cutover "
           "overwrite their targets: chmod go-w " + directory;
  }
  return std::nullopt;
}

Status ensure_state_directory(const std::string& directory) {
  if (auto problem = state_directory_problem(directory)) return Status::error("state_dir: " + *problem);
  std::error_code error;
  if (!std::filesystem::exists(directory, error)) {
    std::filesystem::create_directories(directory, error);
    if (error) return Status::error("cannot create directory " + directory + ": " + error.message());
    if (::chmod(directory.c_str(), 0700) != 0) return Status::error("cannot chmod " + directory + ": " + reason());
  }
  return Status::ok();
}

Status write_file_atomically(const std::string& path, const std::string& content) {
  const std::filesystem::path target(path);
  const std::string directory =
      target.has_parent_path() ? target.parent_path().string() : std::string(".");
  const std::string temporary = path + ".tmp";
  struct stat existing {};
  const bool exists = ::lstat(path.c_str(), &existing) == 0;
  if (exists && S_ISLNK(existing.st_mode)) {
    return Status::error("cannot write " + path + ": it is a symbolic link, which cutover does not follow");
  }
  // A leftover temporary (a crash mid-write) goes; anything planted in its place since makes
  // the exclusive create fail, and nothing is written through it.
  if (::unlink(temporary.c_str()) != 0 && errno != ENOENT) {
    return Status::error("cannot remove " + temporary + ": " + reason());
  }
  const int descriptor =
      ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (descriptor < 0) return Status::error("cannot write " + temporary + ": " + reason());
  // A file that exists keeps its owner and mode: another program (PgBouncer) may read it.
  if (exists) {
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
