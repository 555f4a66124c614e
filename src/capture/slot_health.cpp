#include "cutover/capture/slot_health.h"

namespace cutover {

SlotHealth read_slot_health(pqxx::transaction_base& query, const std::string& slot) {
  SlotHealth health;
  health.name = slot;
  // Columns newer than 13 through to_jsonb, so that one query serves every major; a standby
  // (a promoted one's slots are synchronized from 17) has a replay position, not a WAL one.
  const auto rows = query.exec_params(
      "SELECT s.active, s.wal_status, s.safe_wal_size, "
      "  greatest(0, (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() "
      "             ELSE pg_current_wal_lsn() END) - s.restart_lsn)::bigint, "
      "  coalesce(s.confirmed_flush_lsn, '0/0')::text, "
      "  coalesce(to_jsonb(s) ->> 'invalidation_reason', ''), "
      "  coalesce((to_jsonb(s) ->> 'conflicting')::boolean, false), "
      "  current_setting('max_slot_wal_keep_size') "
      "FROM pg_replication_slots s WHERE s.slot_name = $1",
      slot);
  if (rows.empty()) {
    health.max_slot_wal_keep_size =
        query.exec("SELECT current_setting('max_slot_wal_keep_size')")[0][0].as<std::string>();
    return health;
  }
  const auto& row = rows[0];
  health.exists = true;
  health.active = row[0].as<bool>();
  health.wal_status = row[1].is_null() ? "" : row[1].as<std::string>();
  if (!row[2].is_null()) health.safe_wal_bytes = row[2].as<std::int64_t>();
  health.retained_bytes = row[3].is_null() ? 0 : row[3].as<std::uint64_t>();
  health.confirmed = Lsn::parse(row[4].as<std::string>()).value_or(Lsn());
  health.invalidation_reason = row[5].as<std::string>();
  health.conflicting = row[6].as<bool>();
  health.max_slot_wal_keep_size = row[7].as<std::string>();
  return health;
}

std::string slot_loss(const SlotHealth& health, const Plan& plan) {
  const std::string slot = plan.source_side() + ": replication slot " + plan.slot_name();
  const std::string rebuild =
      ": the changes the source made since are lost to cutover, so " + plan.target_side() +
      " cannot be brought up to date and must be rebuilt from a new snapshot. Stop cutover run, run "
      "`cutover cleanup PLAN` (it removes the plan's record on " + plan.target_side() + " and what is left of the "
      "slot), empty " + plan.target_side() + "'s target tables, and start cutover run again: it copies anew";
  if (!health.exists) {
    return slot + " was dropped (it is no longer in pg_replication_slots; someone dropped it, or "
           "the source is a promoted standby that never had it)" + rebuild;
  }
  const bool invalidated = health.wal_status == "lost" || health.conflicting ||
                           !health.invalidation_reason.empty();
  if (!invalidated) return "";
  std::string why;
  if (health.invalidation_reason.empty() || health.invalidation_reason == "wal_removed") {
    why = "it kept more WAL than max_slot_wal_keep_size (" + health.max_slot_wal_keep_size +
          ") allows, so the server removed WAL it still needed (wal_status lost)";
  } else {
    why = "invalidation_reason " + health.invalidation_reason;
  }
  return slot + " was invalidated by the server: " + why + rebuild;
}

WalKeepReport wal_keep_report(pqxx::connection& source, const Plan& plan) {
  WalKeepReport report;
  std::string keep;
  std::string max_wal;
  {
    pqxx::read_transaction query(source);
    const auto row = query.exec(
        "SELECT current_setting('max_slot_wal_keep_size'), current_setting('max_wal_size')")[0];
    keep = row[0].as<std::string>();
    max_wal = row[1].as<std::string>();
  }
  std::string held;
  try {
    pqxx::read_transaction query(source);
    held = "; its WAL directory holds " +
           query.exec("SELECT pg_size_pretty(sum(size)) FROM pg_ls_waldir()")[0][0].as<std::string>() + " now";
  } catch (const std::exception&) {
    // pg_ls_waldir needs pg_monitor: the size is left out.
  }
  const std::string side = plan.source_side();
  report.unlimited = keep == "-1";
  if (report.unlimited) {
    report.text = side + ": max_slot_wal_keep_size is -1 (unlimited): a cutover run that is stopped, paused or "
                  "far behind makes " + side + " keep WAL for slot " + plan.slot_name() + " until its disk is "
                  "full (max_wal_size " + max_wal + held + "). Set it to what the disk can spare "
                  "(ALTER SYSTEM SET max_slot_wal_keep_size = '50GB'; SELECT pg_reload_conf()): past it the "
                  "server drops the slot's WAL and cutover stops, asking for a new snapshot, instead of the disk filling";
  } else {
    report.text = side + ": max_slot_wal_keep_size is " + keep + ": slot " + plan.slot_name() + " may make " +
                  side + " keep that much WAL beyond max_wal_size (" + max_wal + ") before the server "
                  "invalidates it and green must be copied anew" + held;
  }
  return report;
}

std::string slot_warning(const SlotHealth& health, const Plan& plan) {
  if (!health.exists || !slot_loss(health, plan).empty()) return "";
  const std::string slot = plan.source_side() + ": replication slot " + plan.slot_name();
  const std::string mib = std::to_string(health.retained_bytes >> 20) + " MiB";
  if (health.wal_status == "unreserved") {
    return slot + " keeps " + mib + " of WAL, more than max_slot_wal_keep_size (" +
           health.max_slot_wal_keep_size + "): the server takes it away at its next checkpoint unless "
           "capture catches up, and then " + plan.target_side() + " must be copied anew";
  }
  if (health.retained_bytes > static_cast<std::uint64_t>(plan.replication.retained_wal_warning)) {
    std::string warning = slot + " keeps " + mib + " of WAL on the source's disk (replication." +
                          "retained_wal_warning is " + std::to_string(plan.replication.retained_wal_warning >> 20) +
                          " MiB): " + (health.active ? "capture is behind; see lag" : "capture is not streaming");
    if (health.safe_wal_bytes) {
      warning += "; " + std::to_string(*health.safe_wal_bytes >> 20) + " MiB more and the server invalidates it";
    }
    return warning;
  }
  return "";
}

}  // namespace cutover
