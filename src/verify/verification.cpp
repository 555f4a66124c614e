#include "cutover/verify/verification.h"

#include <chrono>

#include "cutover/capture/slot_manager.h"
#include "cutover/common/duration.h"
#include "cutover/common/durable_file.h"
#include "cutover/common/libpq_session.h"
#include "cutover/common/logging.h"
#include "cutover/common/periodic.h"
#include "cutover/common/postgres_connection.h"
#include "cutover/verify/table_verifier.h"

namespace cutover {

namespace {

using Clock = std::chrono::steady_clock;
// How long the applier may take to reach the verification's point; it is behind by the
// pipeline's lag, which a verification should not be started with anyway.
constexpr auto kHoldTimeout = std::chrono::seconds(120);
constexpr auto kProgressInterval = std::chrono::seconds(5);

// Releases the applier however the verification leaves, early return or error.
class HoldGuard {
 public:
  explicit HoldGuard(ApplyHold& hold) : hold_(hold) {}
  ~HoldGuard() { release(); }
  void release() {
    if (released_) return;
    hold_.release();
    released_ = true;
  }

 private:
  ApplyHold& hold_;
  bool released_ = false;
};

struct Snapshots {
  ExportedSnapshot source;  // its connection keeps the temporary slot and the snapshot alive
  PgConnection target_exporter;  // in its snapshot until the verification ends
  std::string target_snapshot;
  bool reversed = false;  // the source is green (the reverse pipeline runs)
  const std::string& blue() const { return reversed ? target_snapshot : source.name; }
  const std::string& green() const { return reversed ? source.name : target_snapshot; }
};

Result<Lsn> lsn_of(const std::string& text, const std::string& what) {
  auto lsn = Lsn::parse(text);
  if (!lsn) return Status::error(what + " returned " + text);
  return *lsn;
}

// Takes the source's snapshot at a new temporary slot's consistent point and the target's
// with the applier held exactly there. `streaming` is the running pipeline's plan.
Result<Snapshots> take_snapshots(const Plan& streaming, const std::string& id, ApplyHold& hold,
                                 const std::atomic<bool>& stop, VerificationReport& report) {
  const std::string source_role = streaming.source_side();
  const std::string target_role = streaming.target_side();
  auto source = connect_libpq(streaming.source().dsn, source_role);
  if (!source) return source.status();
  auto current = query_libpq(source->get(), "SELECT pg_current_wal_lsn()::text", source_role);
  if (!current) return current.status();
  auto before_slot = lsn_of(PQgetvalue(current->get(), 0, 0), "pg_current_wal_lsn()");
  if (!before_slot) return before_slot.status();
  // The target's session is ready before the applier is held: only its snapshot is taken inside.
  auto target = connect_libpq(streaming.target().dsn, target_role);
  if (!target) return target.status();

  // The slot's point lies at or after blue's position now: holding the applier here first
  // keeps it from passing the point while the slot is created.
  HoldGuard guard(hold);
  hold.request(*before_slot);
  const auto hold_started = Clock::now();
  const std::string slot_name = streaming.slot_name().substr(0, 40) + "_verify_" + id;
  Snapshots snapshots;
  snapshots.reversed = streaming.direction == Direction::kReverse;
  auto point = create_logical_slot(streaming.source().dsn, slot_name, SlotLifetime::kTemporary, &snapshots.source);
  if (!point) return point.status().with_context(source_role + ": creating the verification's slot");
  report.consistent_point = *point;
  hold.request(*point);
  if (auto marked = run_libpq(source->get(),
                              "SET default_transaction_read_only = off; "
                              "SELECT pg_logical_emit_message(true, 'cutover-verify', '" + id + "')",
                              source_role + ": writing the verification's marker");
      !marked) {
    return marked;
  }
  auto held = hold.wait_until_held(kHoldTimeout, stop);
  if (!held) return held.status();
  report.green_applied = *held;

  auto exported = query_libpq(target->get(),
                              "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; "
                              "SELECT pg_export_snapshot()",
                              target_role + ": exporting the verification's snapshot");
  if (!exported) return exported.status();
  snapshots.target_snapshot = PQgetvalue(exported->get(), 0, 0);
  snapshots.target_exporter = std::move(target.value());
  guard.release();
  report.apply_paused_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - hold_started).count();
  spdlog::info("verify id={} consistent_lsn={} green_applied_lsn={} apply_held_ms={}", id,
               point->to_string(), held->to_string(), report.apply_paused_ms);
  return snapshots;
}

Status enter_snapshot(PGconn* connection, const std::string& snapshot, const std::string& role) {
  return run_libpq(connection,
                   "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '" +
                       snapshot + "'",
                   role + ": importing the verification's snapshot");
}

Result<std::vector<SessionPair>> open_workers(const Plan& plan, const Snapshots& snapshots) {
  std::vector<SessionPair> workers;
  for (int i = 0; i < plan.verify.parallelism; ++i) {
    auto blue = connect_libpq(plan.blue.dsn, "blue");
    if (!blue) return blue.status();
    auto green = connect_libpq(plan.green->dsn, "green");
    if (!green) return green.status();
    if (auto entered = enter_snapshot(blue->get(), snapshots.blue(), "blue"); !entered) {
      return entered;
    }
    if (auto entered = enter_snapshot(green->get(), snapshots.green(), "green"); !entered) {
      return entered;
    }
    workers.push_back({std::move(blue.value()), std::move(green.value())});
  }
  return workers;
}

// Green's estimate of each target's rows (reltuples; 0 for a table never analysed), for the
// progress's share done and time left.
Result<std::vector<std::pair<std::string, std::uint64_t>>> estimated_rows(
    PGconn* green, const std::vector<TableComparison>& comparisons) {
  std::vector<std::pair<std::string, std::uint64_t>> estimates;
  for (const auto& comparison : comparisons) {
    auto found = query_libpq(green, "SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = " +
                                        quote_literal(comparison.target().quoted()) + "::regclass",
                             "green: estimating the rows of " + comparison.target().text());
    if (!found) return found.status();
    const char* value = PQntuples(found->get()) == 1 ? PQgetvalue(found->get(), 0, 0) : "0";
    estimates.emplace_back(comparison.target().text(), std::stoull(value));
  }
  return estimates;
}

Status compare(const Plan& plan, const Plan& streaming, const std::vector<TableTransform>& transforms,
               ApplyHold& hold, VerificationProgress& progress, const std::atomic<bool>& stop,
               VerificationReport& report) {
  auto snapshots = take_snapshots(streaming, report.id, hold, stop, report);
  if (!snapshots) return snapshots.status();
  auto workers = open_workers(plan, *snapshots);
  if (!workers) return workers.status();
  // The planner reads green's key ranges in green's snapshot.
  auto planner = connect_libpq(plan.green->dsn, "green");
  if (!planner) return planner.status();
  if (auto entered = enter_snapshot(planner->get(), snapshots->green(), "green"); !entered) return entered;
  snapshots->source.connection.reset();  // every session has imported the source's snapshot; the slot may go
  const auto comparisons = comparisons_of(transforms);
  auto estimates = estimated_rows(planner->get(), comparisons);
  if (!estimates) return estimates.status();
  progress.tables_found(*estimates);
  const Periodic log(kProgressInterval, [&id = report.id, &progress] {
    spdlog::info("verify progress id={} {}", id, progress.log_fields(Clock::now()));
  });
  TableVerifier verifier(plan.verify.chunk_rows, *workers, planner->get(),
                         progress, stop);
  for (std::size_t index = 0; index < comparisons.size(); ++index) {
    const auto& comparison = comparisons[index];
    auto table = verifier.verify(comparison, index);
    if (!table) return table.status();
    spdlog::info("verify table={} rows_blue={} rows_green={} chunks={} chunks_differing={} "
                 "differences={}",
                 table->target, table->rows_blue, table->rows_green, table->chunks,
                 table->chunks_differing, table->differences.size());
    report.tables.push_back(std::move(table.value()));
    progress.table_done(index);
  }
  return Status::ok();
}

}  // namespace

std::string verification_report_path(const Plan& plan, const std::string& id) {
  return plan.state_dir + "/verifications/" + id + ".json";
}

VerificationReport run_verification(const Plan& plan, const Plan& streaming,
                                    const std::vector<TableTransform>& transforms,
                                    ApplyHold& hold, VerificationProgress& progress,
                                    const std::atomic<bool>& stop, const std::string& id) {
  VerificationReport report;
  report.id = id;
  report.started_at = utc_now("%Y-%m-%dT%H:%M:%SZ");
  const auto started = Clock::now();
  spdlog::info("verify starting id={} tables={}", id, comparisons_of(transforms).size());
  const Status compared = compare(plan, streaming, transforms, hold, progress, stop, report);
  report.duration_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
  if (!compared) {
    report.state = "failed";
    report.error = compared.message();
  } else {
    report.state = report.difference_count() == 0 ? "clean" : "differences";
  }
  const std::string path = verification_report_path(plan, id);
  Status written = ensure_state_directory(plan.state_dir);
  if (written) written = ensure_directory(plan.state_dir + "/verifications");
  if (written) written = write_file_atomically(path, report.to_json(-1).dump(2) + "\n");
  if (written) {
    report.report_file = path;
  } else {
    spdlog::error("verify id={} report not written: {}", id, written.message());
  }
  spdlog::info("verify finished id={} state={} differences={} duration_ms={}{}", id, report.state,
               report.difference_count(), report.duration_ms,
               report.error.empty() ? "" : " error=\"" + report.error + "\"");
  return report;
}

}  // namespace cutover
