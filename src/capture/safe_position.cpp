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

GreenAppliedPosition::GreenAppliedPosition(std::string green_dsn, std::string origin)
    : green_dsn_(std::move(green_dsn)), origin_(std::move(origin)) {}

GreenAppliedPosition::~GreenAppliedPosition() = default;

Result<Lsn> GreenAppliedPosition::applied_position() {
  if (!connection_ || !connection_->is_open()) {
    auto opened = open_postgres(green_dsn_, "green");
    if (!opened) return opened.status();
    connection_ = std::move(opened.value());
  }
  try {
    pqxx::nontransaction query(*connection_);
    return replication_origin_position(query, origin_);
  } catch (const std::exception& error) {
    const Status failed = status_of(error, "green: reading the applied position");
    if (failed.kind() == ErrorKind::kConnectionLost) connection_.reset();
    return failed;
  }
}

}  // namespace cutover
