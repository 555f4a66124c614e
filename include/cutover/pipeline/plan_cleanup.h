// `cutover cleanup PLAN`: finds, and removes, everything a plan made outside green's target
// tables, on both sides and both directions:
//
// - on each side, the replication slot and publication of the direction whose source it is
//   (blue: the forward ones; green: the reverse ones), a publication only when cutover made it
//   (it marks its own with a comment; one an operator made is left as it is);
// - on each side, the record of the direction whose target it is: the replication origin, the
//   plan's row of cutover.apply_position, and the cutover schema once nothing else is in it;
// - a write fence on either side (default_transaction_read_only set on the database);
// - the change-log topics on a team's own brokers (the embedded broker keeps nothing);
// - the state directory's journal.
//
// It removes nothing while anything may still use the plan: a slot a walsender holds, a
// cutover run answering on the plan's control address, a journal in the middle of a move,
// or objects of the same name recorded for another plan. Green's target tables and their
// rows are the migration's result and are never touched.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "cutover/common/result.h"
#include "cutover/plan/plan.h"

namespace cutover {

struct Holding {
  std::string side;         // blue, green, kafka, local
  std::string description;  // what it is, as the operator would look it up
  std::function<Status()> remove;
};

struct PlanHoldings {
  std::vector<Holding> holdings;      // in the order they are removed
  std::vector<std::string> in_use;    // why nothing may be removed now
  std::vector<std::string> left;      // found, not the plan's own: left as it is
  std::vector<std::string> unreachable;  // what could not be looked at
};

// Looks at blue, green, the brokers, the control address (unless `ask_control` is false: the
// run asking about itself) and the state directory; changes nothing.
PlanHoldings find_plan_holdings(const Plan& plan, bool ask_control = true);

// What a running `cutover run` last found the plan holding, for `cutover status`.
struct HoldingsSeen {
  mutable std::mutex mutex;
  std::vector<std::pair<std::string, std::string>> items;  // side, description; guarded by mutex
  std::vector<std::string> unreachable;                    // guarded by mutex
  bool looked = false;                                     // guarded by mutex

  void set(const PlanHoldings& found) {
    std::lock_guard lock(mutex);
    items.clear();
    for (const auto& holding : found.holdings) items.emplace_back(holding.side, holding.description);
    unreachable = found.unreachable;
    looked = true;
  }
};

}  // namespace cutover
