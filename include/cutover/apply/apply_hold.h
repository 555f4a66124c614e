// ApplyHold: stops the applier at an exact source position while another part of cutover
// looks at green there (a verification's snapshot now; the cutover drain later).
//
// The holder asks for a hold before position P; the applier commits every source transaction
// that commits below P, takes no transaction at or after P, reports that it holds, and
// waits until released. Green then holds exactly blue's state as of P.
//
// The operator's pause (`cutover pause`) holds the applier too, before its next transaction,
// until `cutover resume`; capture goes on filling the change log meanwhile.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>

#include "cutover/common/lsn.h"
#include "cutover/common/result.h"

namespace cutover {

class ApplyHold {
 public:
  // Holder: asks the applier to hold before the first transaction committing at or after
  // `position`. May be called again while holding to move the position forward.
  void request(Lsn position);
  // Holder: waits until the applier holds, or `timeout`, or `give_up`; the position green has
  // applied.
  Result<Lsn> wait_until_held(std::chrono::milliseconds timeout, const std::atomic<bool>& give_up);
  // Holder: lets the applier go on.
  void release();

  // Operator: pauses the applier before its next transaction, and lets it go on.
  void pause();
  void resume();
  bool paused() const { return paused_.load(); }

  // Applier: whether a transaction committing at `commit_lsn` must wait.
  bool must_hold_before(Lsn commit_lsn) const;
  // Applier: reports that green holds everything below the requested position (`applied`)
  // and waits until released, the position moves past `next_commit`, or `give_up` says so.
  template <typename GiveUp>
  void hold(Lsn applied, Lsn next_commit, GiveUp give_up) {
    std::unique_lock lock(mutex_);
    held_at_ = applied;
    held_before_ = next_commit;
    changed_.notify_all();
    while (((position_ && *position_ <= next_commit) || paused_.load()) && !give_up()) {
      changed_.wait_for(lock, std::chrono::milliseconds(50));
    }
    held_at_.reset();
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::optional<Lsn> position_;  // the hold requested, if any
  std::optional<Lsn> held_at_;   // set while the applier waits
  Lsn held_before_;              // the commit of the transaction it waits with
  std::atomic<bool> paused_{false};
};

}  // namespace cutover
