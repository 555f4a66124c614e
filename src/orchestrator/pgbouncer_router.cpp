#include "cutover/orchestrator/pgbouncer_router.h"

#include "cutover/common/postgres_connection.h"

namespace cutover {

PgbouncerRouter::PgbouncerRouter(PgbouncerSwitch settings)
    : settings_(std::move(settings)), admin_(settings_.admin_dsn, settings_.database) {}

const std::string& PgbouncerRouter::server_of(Side side) const {
  return side == Side::kGreen ? settings_.green : settings_.blue;
}

std::vector<Guardrail> PgbouncerRouter::guardrails() const {
  const Status reachable = admin_.check();
  return {{"pooler_reachable", reachable.is_ok(), reachable ? "reachable" : reachable.message(), "reachable"}};
}

Status PgbouncerRouter::pause(std::chrono::milliseconds timeout) { return admin_.pause(timeout); }

Status PgbouncerRouter::resume() { return admin_.resume(); }

Status PgbouncerRouter::check_still_paused() const {
  auto paused = admin_.paused();
  if (!paused) return paused.status().with_context("checking the freeze");
  if (!*paused) {
    return Status::error("pgbouncer: database " + settings_.database +
                         " is no longer paused (the pooler restarted or was resumed during the "
                         "freeze); clients may have written to the side being left");
  }
  return Status::ok();
}

Result<std::vector<int>> PgbouncerRouter::held_server_pids() const { return admin_.server_pids(); }

Status PgbouncerRouter::point_at(Side side, const std::function<void()>& between) {
  const std::string& server = server_of(side);
  if (auto written = write_pgbouncer_include(settings_.include_file, settings_.database, server); !written) {
    return written;
  }
  if (between) between();
  if (auto reloaded = admin_.reload(); !reloaded) return reloaded;
  auto shown = admin_.server();
  if (!shown) return shown.status();
  if (!names_same_server(*shown, server)) {
    return Status::error("after RELOAD, pgbouncer shows " + *shown + " for " + settings_.database +
                         ", not " + name_of(side) + "'s server");
  }
  return Status::ok();
}

Result<std::optional<Side>> PgbouncerRouter::pointed_at() const {
  auto shown = admin_.server();
  if (!shown) return shown.status();
  for (const Side side : {Side::kBlue, Side::kGreen}) {
    if (names_same_server(*shown, server_of(side))) return std::optional<Side>(side);
  }
  return std::optional<Side>();
}

Result<std::string> PgbouncerRouter::client_system_identifier() const {
  // Unpinned: through a transaction pooler, a SET would stay with the server session that the
  // application's next client is given.
  return read_system_identifier(admin_.client_dsn(), "the pooler", SessionPins::kNone);
}

}  // namespace cutover
