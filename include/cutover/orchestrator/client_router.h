// ClientRouter: how a move holds the application's clients and points them at one side.
//
// The move engine and the runner speak only to this interface. PgBouncer's admin console
// (pgbouncer_router.h) and the plan's switch command (command_router.h, which may hold
// clients through PgBouncer) implement it; a pgcat, Odyssey or DNS/service-mesh switch is
// one more implementation.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cutover/common/result.h"
#include "cutover/orchestrator/journal.h"

namespace cutover {

// A check made before a move starts, as status and --dry-run show it.
struct Guardrail {
  std::string name;
  bool passed = false;
  std::string value;  // what was found
  std::string limit;  // what it must be
};

class ClientRouter {
 public:
  virtual ~ClientRouter() = default;

  // The guardrails that the router can be used now, checked now.
  virtual std::vector<Guardrail> guardrails() const = 0;

  // Holds new transactions, waiting for those in flight, for at most `timeout`. On failure
  // clients are not left held. A router that cannot hold clients does nothing.
  virtual Status pause(std::chrono::milliseconds timeout) = 0;
  // Lets clients go on; a router not holding them counts as resumed.
  virtual Status resume() = 0;
  // Fails if clients are no longer held (the pooler restarted or was resumed by someone else
  // during the freeze): writes may then have reached the side being left.
  virtual Status check_still_paused() const = 0;
  // The server processes holding clients' sessions, which a write fence must spare.
  virtual Result<std::vector<int>> held_server_pids() const = 0;

  // Points new client connections at `side`. `between` runs after the change is durable and
  // before it takes effect (a crash point).
  virtual Status point_at(Side side, const std::function<void()>& between) = 0;
  // Where clients are pointed now, when the router can tell; nullopt when it cannot.
  virtual Result<std::optional<Side>> pointed_at() const = 0;
  // The system identifier a new client connection reaches, or why it cannot be checked.
  virtual Result<std::string> client_system_identifier() const = 0;
};

}  // namespace cutover
