#include "cutover/pipeline/partition_watch.h"

namespace cutover {

PartitionSets read_partition_sets(pqxx::transaction_base& query, const Plan& plan) {
  PartitionSets sets;
  for (const auto& table : plan.source_tables()) {
    const auto rows = query.exec_params(
        "SELECT t.relid::regclass::text, pg_relation_filenode(t.relid) FROM pg_class c, pg_partition_tree(c.oid) t "
        "WHERE c.oid = to_regclass($1) AND c.relkind = 'p' AND t.isleaf",
        table.quoted());
    if (rows.empty()) continue;
    auto& partitions = sets[table.text()];
    for (const auto& row : rows) partitions[row[0].as<std::string>()] = row[1].as<std::uint32_t>(0);
  }
  return sets;
}

}  // namespace cutover
