#include "cutover/orchestrator/switch_command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "cutover/common/inherited_descriptors.h"
#include "cutover/common/logging.h"

namespace cutover {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kOutputKept = 2048;

std::string with_side(std::string argument, const std::string& to) {
  for (auto at = argument.find("{to}"); at != std::string::npos; at = argument.find("{to}", at + to.size())) {
    argument.replace(at, 4, to);
  }
  return argument;
}

void keep_tail(std::string& output, const char* data, std::size_t size) {
  output.append(data, size);
  if (output.size() > kOutputKept) output.erase(0, output.size() - kOutputKept);
}

}  // namespace

Status run_switch_command(const std::vector<std::string>& command, const std::string& to,
                          std::chrono::milliseconds timeout) {
  if (command.empty()) return Status::error("cutover.switch.command is empty");
  std::vector<std::string> arguments;
  for (const auto& argument : command) arguments.push_back(with_side(argument, to));
  std::vector<char*> argv;
  for (auto& argument : arguments) argv.push_back(argument.data());
  argv.push_back(nullptr);

  int output_pipe[2];
  if (::pipe2(output_pipe, O_CLOEXEC) != 0) {
    return Status::error(std::string("switch command: pipe: ") + std::strerror(errno));
  }
  const pid_t child = ::fork();
  if (child < 0) {
    ::close(output_pipe[0]);
    ::close(output_pipe[1]);
    return Status::error(std::string("switch command: fork: ") + std::strerror(errno));
  }
  if (child == 0) {
    ::setpgid(0, 0);
    ::dup2(output_pipe[1], STDOUT_FILENO);
    ::dup2(output_pipe[1], STDERR_FILENO);
    close_inherited_descriptors();
    ::execvp(argv[0], argv.data());
    const std::string reason = std::string("cannot run ") + argv[0] + ": " + std::strerror(errno) + "\n";
    (void)!::write(STDERR_FILENO, reason.data(), reason.size());
    ::_exit(127);
  }
  ::close(output_pipe[1]);
  spdlog::info("switch command started to={} program={} pid={}", to, arguments[0], child);

  std::string output;
  const auto deadline = Clock::now() + timeout;
  bool timed_out = false;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd descriptor{output_pipe[0], POLLIN, 0};
    if (::poll(&descriptor, 1, static_cast<int>(std::min<long>(left.count(), 100))) <= 0) continue;
    char buffer[512];
    const ssize_t read = ::read(output_pipe[0], buffer, sizeof buffer);
    if (read <= 0) break;  // every writer closed its end: the command is done
    keep_tail(output, buffer, static_cast<std::size_t>(read));
  }
  ::close(output_pipe[0]);
  if (timed_out) ::kill(-child, SIGKILL);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) output.pop_back();
  if (timed_out) {
    return Status::error("switch command to " + to + " did not finish within " +
                         std::to_string(timeout.count()) + " ms and was killed" +
                         (output.empty() ? "" : "; its output: " + output));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    const std::string how = WIFEXITED(status) ? "exited with " + std::to_string(WEXITSTATUS(status))
                                              : "was killed by signal " + std::to_string(WTERMSIG(status));
    return Status::error("switch command to " + to + " " + how +
                         (output.empty() ? "" : "; its output: " + output));
  }
  spdlog::info("switch command done to={}{}", to, output.empty() ? "" : " output=\"" + output + "\"");
  return Status::ok();
}

}  // namespace cutover
