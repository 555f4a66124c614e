// PostgresMoveDatabases: MoveDatabases on the plan's two PostgreSQL databases.
#pragma once

#include "cutover/capture/drain_markers.h"
#include "cutover/orchestrator/move_databases.h"

namespace cutover {

class PostgresMoveDatabases : public MoveDatabases {
 public:
  // `reverse` is the reverse plan, or why there is none; `drain_markers` the capture's, for a
  // source too old to send the marker as a logical message.
  PostgresMoveDatabases(const Plan& plan, const Result<Plan>& reverse, DrainMarkers& drain_markers);

  Status fence(Side side, const std::vector<int>& spared_pids) override;
  Result<bool> lift_fence(Side side) override;
  Status write_drain_marker(Side side, const std::string& id) override;
  Result<std::size_t> sync_sequences(Direction running) override;
  Result<std::string> start_direction(Direction next) override;
  Status drop_direction_slot(Direction next) override;
  Result<std::string> system_identifier(Side side) override;
  Result<std::string> check_direction_ready(Direction next) override;
  Result<std::string> check_no_long_writers(Side side, std::chrono::milliseconds age) override;

 private:
  const std::string& dsn_of(Side side) const;
  Result<const Plan*> plan_of(Direction direction) const;

  const Plan& plan_;
  const Result<Plan>& reverse_;
  DrainMarkers& drain_markers_;
};

}  // namespace cutover
