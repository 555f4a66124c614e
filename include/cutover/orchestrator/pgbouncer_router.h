// PgbouncerRouter: the client router of `cutover.switch.pgbouncer`. Clients are held with
// PAUSE and let go with RESUME on the admin console; they are pointed at a side by rewriting
// the include file that names the database's server and sending RELOAD, and SHOW DATABASES
// says where they are pointed.
#pragma once

#include "cutover/orchestrator/client_router.h"
#include "cutover/orchestrator/pgbouncer_admin.h"
#include "cutover/plan/plan.h"

namespace cutover {

class PgbouncerRouter : public ClientRouter {
 public:
  explicit PgbouncerRouter(PgbouncerSwitch settings);

  std::vector<Guardrail> guardrails() const override;
  Status pause(std::chrono::milliseconds timeout) override;
  Status resume() override;
  Status check_still_paused() const override;
  Result<std::vector<int>> held_server_pids() const override;
  Status point_at(Side side, const std::function<void()>& between) override;
  Result<std::optional<Side>> pointed_at() const override;
  Result<std::string> client_system_identifier() const override;

 private:
  const std::string& server_of(Side side) const;

  PgbouncerSwitch settings_;
  PgbouncerAdmin admin_;
};

}  // namespace cutover
