#include "cutover/capture/safe_position.h"

#include <pqxx/pqxx>

#include "cutover/common/database_errors.h"
#include "cutover/common/postgres_connection.h"

namespace cutover {

void PositionTracker::commit_offered(std::uint64_t sequence, Lsn commit_end) {
  pending_commits_.emplace_back(sequence, commit_end);
  last_offered_commit_ = std::max(last_offered_commit_, commit_end);
}

void PositionTracker::acknowledged_through(std::uint64_t sequence) {
  acknowledged_ = std::max(acknowledged_, sequence);
  while (!pending_commits_.empty() && pending_commits_.front().first <= acknowledged_) {
    kafka_safe_ = std::max(kafka_safe_, pending_commits_.front().second);
    pending_commits_.pop_front();
  }
}

void PositionTracker::forget_unacknowledged() {
  pending_commits_.clear();
  acknowledged_ = last_offered_;
  last_offered_commit_ = kafka_safe_;
}

TargetAppliedPosition::TargetAppliedPosition(std::string target_dsn, std::string role, std::string origin)
    : target_dsn_(std::move(target_dsn)), role_(std::move(role)), origin_(std::move(origin)) {}

TargetAppliedPosition::~TargetAppliedPosition() = default;

Result<Lsn> TargetAppliedPosition::applied_position() {
  if (!connection_ || !connection_->is_open()) {
    auto opened = open_postgres(target_dsn_, role_);
    if (!opened) return opened.status();
    connection_ = std::move(opened.value());
  }
  try {
    pqxx::nontransaction query(*connection_);
    return replication_origin_position(query, origin_);
  } catch (const std::exception& error) {
    const Status failed = status_of(error, role_ + ": reading the applied position");
    if (failed.kind() == ErrorKind::kConnectionLost) connection_.reset();
    return failed;
  }
}

}  // namespace cutover
