#include "cutover/verify/verification_service.h"

#include <chrono>
#include <random>

#include "cutover/common/database_errors.h"
#include "cutover/common/duration.h"
#include "cutover/common/logging.h"
#include "cutover/common/postgres_connection.h"
#include "cutover/transform/table_transform.h"
#include "cutover/verify/verification.h"

namespace cutover {

namespace {

// Sortable by time, unique enough within one state directory: 20261122t101500_3f9a.
std::string new_verification_id() {
  static std::mt19937 random(std::random_device{}());
  char suffix[8];
  std::snprintf(suffix, sizeof suffix, "%04x", static_cast<unsigned>(random() & 0xffff));
  return utc_now("%Y%m%dt%H%M%S") + "_" + suffix;
}

// The plan's transforms, resolved anew from both catalogs as they are now.
Result<std::vector<TableTransform>> current_transforms(const Plan& plan) {
  auto blue = open_postgres(plan.blue.dsn, "blue");
  if (!blue) return blue.status();
  auto green = open_postgres(plan.green->dsn, "green");
  if (!green) return green.status();
  try {
    return resolve_transforms(plan, **blue, **green);
  } catch (const std::exception& error) {
    return status_of(error, "reading the catalogs");
  }
}

}  // namespace

VerificationService::VerificationService(const Plan& plan, const Result<Plan>& reverse,
                                         ApplyHold& hold, const std::atomic<Direction>& running)
    : plan_(plan), reverse_(reverse), hold_(hold), running_direction_(running) {}

VerificationService::~VerificationService() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

Result<std::string> VerificationService::start() {
  if (running_.exchange(true)) {
    std::lock_guard lock(mutex_);
    return Status::error("verification " + running_id_ + " is still running");
  }
  if (thread_.joinable()) thread_.join();
  const std::string id = new_verification_id();
  {
    std::lock_guard lock(mutex_);
    running_id_ = id;
    progress_ = std::make_unique<VerificationProgress>();
  }
  thread_ = std::thread([this, id] { run(id); });
  return id;
}

void VerificationService::run(std::string id) {
  VerificationReport report;
  auto transforms = current_transforms(plan_);
  if (!transforms) {
    report.id = id;
    report.state = "failed";
    report.error = transforms.status().message();
    spdlog::error("verify id={} failed: {}", id, report.error);
  } else if (running_direction_.load() == Direction::kReverse && !reverse_) {
    report.id = id;
    report.state = "failed";
    report.error = reverse_.status().message();
  } else {
    const Plan& streaming =
        running_direction_.load() == Direction::kForward ? plan_ : *reverse_;
    report = run_verification(plan_, streaming, *transforms, hold_, *progress_, stop_, id);
  }
  std::lock_guard lock(mutex_);
  last_ = std::move(report);
  running_ = false;
}

nlohmann::json VerificationService::last_json(long key_cap) const {
  std::lock_guard lock(mutex_);
  if (running_.load() && progress_) {
    return {{"id", running_id_},
            {"state", "running"},
            {"progress", progress_->to_json(std::chrono::steady_clock::now())}};
  }
  if (!last_) return nullptr;
  return last_->to_json(key_cap);
}

std::optional<VerificationReport> VerificationService::last_finished() const {
  std::lock_guard lock(mutex_);
  return last_;
}

}  // namespace cutover
