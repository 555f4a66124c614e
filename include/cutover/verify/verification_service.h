// VerificationService: runs verifications in the background of `cutover run`, one at a time,
// and keeps the last report for status.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "cutover/apply/apply_hold.h"
#include "cutover/plan/plan.h"
#include "cutover/plan/reverse_plan.h"
#include "cutover/verify/verification_progress.h"
#include "cutover/verify/verification_report.h"

namespace cutover {

// What a move asks of verifications: a seam, so that a move can be driven without databases.
class Verifications {
 public:
  virtual ~Verifications() = default;
  // Starts a verification; its id, or an error when one is running already.
  virtual Result<std::string> start() = 0;
  // The last finished verification, if any.
  virtual std::optional<VerificationReport> last_finished() const = 0;
  virtual bool running() const = 0;
};

class VerificationService : public Verifications {
 public:
  // `reverse` is the reverse plan (or why there is none); `running` the direction the
  // pipeline streams in, whose applier `hold` holds: the consistent point is taken there.
  VerificationService(const Plan& plan, const Result<Plan>& reverse, ApplyHold& hold,
                      const std::atomic<Direction>& running);
  ~VerificationService() override;
  VerificationService(const VerificationService&) = delete;
  VerificationService& operator=(const VerificationService&) = delete;

  Result<std::string> start() override;
  // The running verification (state "running", with progress) or else the last finished one.
  // `key_cap` limits the differing keys listed. Null when none ever ran.
  nlohmann::json last_json(long key_cap) const;
  std::optional<VerificationReport> last_finished() const override;
  bool running() const override { return running_.load(); }

 private:
  void run(std::string id);

  const Plan& plan_;
  const Result<Plan>& reverse_;
  ApplyHold& hold_;
  const std::atomic<Direction>& running_direction_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> running_{false};
  mutable std::mutex mutex_;
  std::string running_id_;                      // guarded by mutex_
  std::unique_ptr<VerificationProgress> progress_;  // guarded by mutex_
  std::optional<VerificationReport> last_;      // guarded by mutex_
  std::thread thread_;
};

}  // namespace cutover
