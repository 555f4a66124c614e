#include "cutover/pipeline/debezium_snapshot.h"

#include "cutover/common/logging.h"
#include "cutover/debezium/table_catalog.h"
#include "cutover/transport/change_log_producer.h"

namespace cutover {

Status publish_debezium_snapshot(const Plan& plan, const std::string& bootstrap, const KafkaProperties& properties,
                                 const std::string& snapshot_name, Lsn consistent_point,
                                 const std::atomic<bool>& stop, debezium::SnapshotEventCounts& counts) {
  auto rows = debezium::PostgresSnapshotRows::open(plan.source().dsn, plan.source_side(), snapshot_name);
  if (!rows) return rows.status();
  debezium::PostgresTableCatalog catalog(plan.source().dsn, plan.source_side());
  debezium::EventEncoder encoder(plan.kafka.debezium, (*rows)->database_name(), catalog, plan.echo_origin_name());
  auto producer = ChangeLogProducer::create({bootstrap, plan.changes_topic(), properties});
  if (!producer) return producer.status();
  std::vector<debezium::SnapshotTableName> tables;
  for (const auto& table : plan.source_tables()) tables.push_back({table.schema, table.name});
  spdlog::info("debezium snapshot starting tables={} consistent_point={}", tables.size(),
               consistent_point.to_string());
  return debezium::publish_snapshot_events(encoder, **rows, tables, consistent_point, **producer, stop, counts);
}

}  // namespace cutover
