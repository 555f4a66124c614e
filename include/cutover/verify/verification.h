// One verification of a running pipeline: blue and green compared at one logical point.
//
// The point comes from a temporary logical slot created on blue with an exported snapshot:
// its consistent point P and a snapshot of blue as of P. The applier is held before the
// first source transaction that commits at or after P (ApplyHold), green's snapshot is taken
// and exported, and the applier goes on: it pauses for as long as creating the slot and
// taking green's snapshot take, not for the scan. A logical message written to blue after
// the slot exists makes sure the applier meets a transaction past P even when blue is idle.
// Workers then import both snapshots and compare every target table chunk by chunk.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "cutover/apply/apply_hold.h"
#include "cutover/plan/plan.h"
#include "cutover/transform/table_transform.h"
#include "cutover/verify/verification_progress.h"
#include "cutover/verify/verification_report.h"

namespace cutover {

// After a switch the roles of the point turn around: the slot is created on green, the
// source of the reverse pipeline, and blue's snapshot is taken with the reverse applier held.
//
// Runs verification `id` and returns its report (state clean, differences or failed), also
// written whole under the plan's state_dir. `streaming` is the plan whose pipeline runs now
// (the plan, or the reverse plan), whose applier `hold` holds.
VerificationReport run_verification(const Plan& plan, const Plan& streaming,
                                    const std::vector<TableTransform>& transforms,
                                    ApplyHold& hold, VerificationProgress& progress,
                                    const std::atomic<bool>& stop, const std::string& id);

// Where the complete report of verification `id` is written.
std::string verification_report_path(const Plan& plan, const std::string& id);

}  // namespace cutover
