// The plan's replication slot as its source sees it: how much WAL it keeps there, whether the
// server still reserves that WAL (wal_status, safe_wal_size), and whether the slot is gone.
//
// A slot that was dropped, or invalidated by the server (max_slot_wal_keep_size, or a standby
// conflict), can never send the changes it no longer has: the target can only be copied anew.
// slot_loss() says so in words the operator can act on; cutover stops there instead of
// retrying.
#pragma once

#include <pqxx/pqxx>

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "cutover/common/lsn.h"
#include "cutover/plan/plan.h"

namespace cutover {

struct SlotHealth {
  std::string name;
  bool exists = false;
  bool active = false;
  std::string wal_status;               // reserved | extended | unreserved | lost
  std::optional<std::int64_t> safe_wal_bytes;  // before the server invalidates it; none if unlimited
  std::uint64_t retained_bytes = 0;     // the source's WAL position less the slot's restart_lsn
  Lsn confirmed;                        // confirmed_flush_lsn
  std::string invalidation_reason;      // 17 and later: wal_removed, rows_removed, ...
  bool conflicting = false;             // 16 and later: a slot on a standby invalidated by recovery
  std::string max_slot_wal_keep_size;   // the server's setting, as it shows it ("-1" unlimited)
};

// Reads the slot `slot` on the source `query` is connected to. Throws what libpqxx throws.
SlotHealth read_slot_health(pqxx::transaction_base& query, const std::string& slot);

// Why streaming cannot go on from `health` (a dropped or invalidated slot), with what to do;
// empty while the slot can stream.
std::string slot_loss(const SlotHealth& health, const Plan& plan);

// What the operator should know before it becomes a loss, or empty: the slot keeps more WAL
// than the plan's replication.retained_wal_warning, or the server is about to take its WAL
// (wal_status unreserved).
std::string slot_warning(const SlotHealth& health, const Plan& plan);

// What the source's settings let the plan's slot keep: max_slot_wal_keep_size (unlimited: a
// stopped or lagging pipeline keeps WAL until the source's disk is full), max_wal_size, and
// what the WAL directory holds now when the role may see it (pg_ls_waldir). For
// `validate --connect`: a warning when unlimited, else a note. Throws what libpqxx throws.
struct WalKeepReport {
  bool unlimited = false;
  std::string text;
};
WalKeepReport wal_keep_report(pqxx::connection& source, const Plan& plan);

// The last health read while streaming, with its warning, for status, metrics and the
// dashboard (of the direction streaming: after a switch, the reverse plan's slot on green).
struct SlotReading {
  SlotHealth health;
  std::string warning;
};
struct SharedSlotHealth {
  mutable std::mutex mutex;
  std::optional<SlotReading> last;  // guarded by mutex; none until first read

  void set(SlotReading reading) {
    std::lock_guard lock(mutex);
    last = std::move(reading);
  }
  std::optional<SlotReading> get() const {
    std::lock_guard lock(mutex);
    return last;
  }
};

}  // namespace cutover
