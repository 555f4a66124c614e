// What capture creates on blue: the publication of the plan's source tables and the
// logical replication slot, and `cutover capture --drop-slot`, which removes them.
//
// prepare() creates only what preflight found missing, and undoes its own creations if a
// later one fails, so a failed start leaves blue as it was.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "cutover/capture/preflight.h"
#include "cutover/capture/replication_stream.h"
#include "cutover/common/result.h"
#include "cutover/plan/plan.h"

namespace cutover {

// How long a slot that an earlier walsender of this plan still holds (a restart, a lost
// connection the server has not noticed yet) gets to be released before it counts as busy.
inline constexpr std::chrono::seconds kSlotReleaseWait{10};

struct PreparedSlot {
  Lsn confirmed;  // where streaming resumes; for a new slot, its consistent point
};

// A new slot's snapshot, exported for the snapshot copy. It stays importable only while
// `connection` is open and idle, so the holder keeps it until every worker has imported it.
struct ExportedSnapshot {
  std::unique_ptr<ReplicationConnection> connection;
  std::string name;
};

// kFailover: permanent, and synchronized to standbys that have sync_replication_slots on
// (PostgreSQL 17 and later), so that a promoted standby has it.
enum class SlotLifetime { kPermanent, kFailover, kTemporary };

// Creates a pgoutput slot named `name` on blue and returns its consistent point. With
// `exported`, the slot's snapshot is exported and handed back there (capture alone needs
// none; the snapshot copy and verification import it). A temporary slot lives as long as
// `exported->connection`.
Result<Lsn> create_logical_slot(const std::string& blue_dsn, const std::string& name,
                                SlotLifetime lifetime, ExportedSnapshot* exported);

// Whether the plan's slot on its source is made a failover slot (replication.failover, blue's
// slot only).
bool wants_failover_slot(const Plan& plan);

// The comment on a publication cutover made, by which `cutover cleanup` knows it for its own.
std::string publication_comment(const Plan& plan);

// With `exported`, a slot that must be created is created with EXPORT_SNAPSHOT and its
// snapshot handed back there.
Result<PreparedSlot> prepare_slot_and_publication(const Plan& plan, const SourceState& state,
                                                  ExportedSnapshot* exported = nullptr);

// Drops the plan's slot if it exists. Refuses while the slot is in use, after waiting up to
// `release_wait` for its walsender to let it go (a capture that has just stopped).
Status drop_slot(const Plan& plan, std::chrono::milliseconds release_wait = std::chrono::milliseconds(0));

// Puts the plan's publication back as `before` found it: dropped if it was not there, or
// without the tables prepare_slot_and_publication added to it.
Status unpublish(const Plan& plan, const SourceState& before);

// Drops the plan's slot and publication if they exist. Refuses while the slot is in use.
Status drop_slot_and_publication(const Plan& plan);

}  // namespace cutover
