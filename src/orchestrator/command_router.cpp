#include "cutover/orchestrator/command_router.h"

#include <unistd.h>

#include <cstdlib>

#include "cutover/orchestrator/switch_command.h"

namespace cutover {

namespace {

// Whether `program` names an executable, directly or through PATH.
bool executable(const std::string& program) {
  if (program.find('/') != std::string::npos) return ::access(program.c_str(), X_OK) == 0;
  const char* path = std::getenv("PATH");
  std::string directories = path ? path : "/usr/bin:/bin";
  std::size_t at = 0;
  while (at <= directories.size()) {
    const std::size_t end = std::min(directories.find(':', at), directories.size());
    if (::access((directories.substr(at, end - at) + "/" + program).c_str(), X_OK) == 0) return true;
    at = end + 1;
  }
  return false;
}

}  // namespace

CommandRouter::CommandRouter(std::vector<std::string> command, std::chrono::milliseconds timeout,
                             std::unique_ptr<ClientRouter> holder)
    : command_(std::move(command)), timeout_(timeout), holder_(std::move(holder)) {}

std::vector<Guardrail> CommandRouter::guardrails() const {
  std::vector<Guardrail> found = holder_ ? holder_->guardrails() : std::vector<Guardrail>();
  const std::string& program = command_.front();
  found.push_back({"switch_command", executable(program), program, "an executable program"});
  return found;
}

Status CommandRouter::pause(std::chrono::milliseconds timeout) {
  return holder_ ? holder_->pause(timeout) : Status::ok();
}

Status CommandRouter::resume() { return holder_ ? holder_->resume() : Status::ok(); }

Status CommandRouter::check_still_paused() const {
  return holder_ ? holder_->check_still_paused() : Status::ok();
}

Result<std::vector<int>> CommandRouter::held_server_pids() const {
  return holder_ ? holder_->held_server_pids() : std::vector<int>();
}

Status CommandRouter::point_at(Side side, const std::function<void()>&) {
  return run_switch_command(command_, name_of(side), timeout_);
}

Result<std::string> CommandRouter::client_system_identifier() const {
  if (!holder_) return Status::invalid("not checked: the plan names no pooler to connect through");
  return holder_->client_system_identifier();
}

}  // namespace cutover
