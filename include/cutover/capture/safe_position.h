// How far blue's slot may be confirmed: the "No lost change" invariant in code.
//
// PositionTracker follows the change records capture hands to Kafka and answers "up to
// which commit is everything durably in Kafka". AppliedPositionSource answers "up to which
// commit has the applier made green durable"; with slot_advance: on_apply, that is the only
// position blue's slot may move to.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "cutover/common/lsn.h"
#include "cutover/common/postgres_connection.h"
#include "cutover/common/result.h"

namespace cutover {

class PositionTracker {
 public:
  // Call for every record in the order offered; `commit_end` is set for transaction ends.
  std::uint64_t next_sequence() { return ++last_offered_; }
  void commit_offered(std::uint64_t sequence, Lsn commit_end);
  // Kafka acknowledged every record with a sequence up to `sequence`.
  void acknowledged_through(std::uint64_t sequence);
  // Records offered but lost with a producer that was torn down will never be acknowledged.
  void forget_unacknowledged();

  Lsn kafka_safe() const { return kafka_safe_; }
  Lsn last_offered_commit() const { return last_offered_commit_; }
  bool all_acknowledged() const { return acknowledged_ >= last_offered_; }

 private:
  std::uint64_t last_offered_ = 0;
  std::uint64_t acknowledged_ = 0;
  std::deque<std::pair<std::uint64_t, Lsn>> pending_commits_;
  Lsn kafka_safe_;
  Lsn last_offered_commit_;
};

// The end LSN of the last source transaction the applier committed in green.
class AppliedPositionSource {
 public:
  virtual ~AppliedPositionSource() = default;
  virtual Result<Lsn> applied_position() = 0;
};

// Reads the target's replication origin named `origin` (the applier advances it in the same
// transaction as the data, with pg_replication_origin_xact_setup(end_lsn, commit_time)).
// A missing origin means nothing was applied yet: position 0/0. `role` names the target in
// messages ("green", or "blue" for the reverse pipeline).
class TargetAppliedPosition final : public AppliedPositionSource {
 public:
  TargetAppliedPosition(std::string target_dsn, std::string role, std::string origin);
  ~TargetAppliedPosition() override;
  Result<Lsn> applied_position() override;

 private:
  std::string target_dsn_;
  std::string role_;
  std::string origin_;
  std::unique_ptr<pqxx::connection> connection_;
};

}  // namespace cutover
