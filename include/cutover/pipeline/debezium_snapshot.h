// The plan's Debezium-form snapshot (kafka.debezium.snapshot_events): blue's rows under the
// slot's exported snapshot, as `op: r` events on the plan's table topics, with a producer of
// its own. `cutover run` calls it beside green's snapshot copy (debezium/snapshot_events.h
// says why every `r` lands before any change of its row).
#pragma once

#include <atomic>
#include <string>

#include "cutover/common/lsn.h"
#include "cutover/common/result.h"
#include "cutover/debezium/snapshot_events.h"
#include "cutover/plan/plan.h"
#include "cutover/transport/kafka_config.h"

namespace cutover {

Status publish_debezium_snapshot(const Plan& plan, const std::string& bootstrap, const KafkaProperties& properties,
                                 const std::string& snapshot_name, Lsn consistent_point,
                                 const std::atomic<bool>& stop, debezium::SnapshotEventCounts& counts);

}  // namespace cutover
