// CommandRouter: the client router of `cutover.switch.command`, a program the operator gives
// that points clients at one side (switch_command.h). It cannot say where clients are
// pointed, so an undo or a recovery runs the command again for the side clients must end on.
// Clients are held by `holder` (PgBouncer, when the plan names it too), else not at all: the
// freeze is then the write fence's alone.
#pragma once

#include <memory>
#include <vector>

#include "cutover/orchestrator/client_router.h"

namespace cutover {

class CommandRouter : public ClientRouter {
 public:
  CommandRouter(std::vector<std::string> command, std::chrono::milliseconds timeout,
                std::unique_ptr<ClientRouter> holder);

  std::vector<Guardrail> guardrails() const override;
  Status pause(std::chrono::milliseconds timeout) override;
  Status resume() override;
  Status check_still_paused() const override;
  Result<std::vector<int>> held_server_pids() const override;
  Status point_at(Side side, const std::function<void()>& between) override;
  Result<std::optional<Side>> pointed_at() const override { return std::optional<Side>(); }
  Result<std::string> client_system_identifier() const override;

 private:
  std::vector<std::string> command_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<ClientRouter> holder_;  // null: nothing holds clients
};

}  // namespace cutover
