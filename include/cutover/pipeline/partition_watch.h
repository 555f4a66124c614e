// The partitions of each partitioned source table, watched while streaming. With
// publish_via_partition_root, rows reach the stream only as the root's changes: a partition
// ATTACHed with rows brings them into blue's table without a single INSERT, and one DETACHed
// or dropped takes its rows away without a DELETE. Neither reaches green. A partition that
// joins empty (CREATE TABLE ... PARTITION OF, the routine one) is noted and changes nothing.
#pragma once

#include <pqxx/pqxx>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "cutover/plan/plan.h"

namespace cutover {

// Leaf partitions by partitioned source table ("public.payment" -> {"public.payment_2024"}).
using PartitionSets = std::map<std::string, std::set<std::string>>;

PartitionSets read_partition_sets(pqxx::transaction_base& query, const Plan& plan);

struct PartitionChanges {
  std::vector<std::string> halts;    // what green cannot follow
  std::vector<std::string> notices;  // what changes nothing
};

// Compares `now` with `before`; `holds_rows(partition)` tells whether a joined one has rows.
// Both lists name the table, the partition and what to do.
template <typename HoldsRows>
PartitionChanges compare_partition_sets(const PartitionSets& before, const PartitionSets& now,
                                        const std::string& target_side, HoldsRows holds_rows) {
  PartitionChanges changes;
  for (const auto& [table, partitions] : before) {
    const auto current = now.find(table);
    for (const auto& partition : partitions) {
      if (current != now.end() && current->second.count(partition)) continue;
      changes.halts.push_back("partition " + partition + " left " + table +
                              " while streaming (DETACH PARTITION or DROP TABLE): its rows are gone from "
                              "the table without a DELETE, and are still on " + target_side +
                              ". Delete them there (or rebuild), then start cutover run again");
    }
  }
  for (const auto& [table, partitions] : now) {
    const auto earlier = before.find(table);
    for (const auto& partition : partitions) {
      if (earlier != before.end() && earlier->second.count(partition)) continue;
      if (holds_rows(partition)) {
        changes.halts.push_back("partition " + partition + " joined " + table +
                                " while streaming holding rows (ATTACH PARTITION): rows it held before it "
                                "joined came without an INSERT and are missing from " + target_side +
                                ". Copy them there (or rebuild), then start cutover run again; verification "
                                "shows any row still missing");
      } else {
        changes.notices.push_back("partition " + partition + " joined " + table +
                                  " empty: its rows stream as the table's");
      }
    }
  }
  return changes;
}

}  // namespace cutover
