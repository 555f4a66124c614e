// The partitions of each partitioned source table, watched while streaming. With
// publish_via_partition_root, rows reach the stream only as the root's changes: a partition
// ATTACHed with rows brings them into blue's table without a single INSERT, and one DETACHed
// or dropped takes its rows away without a DELETE, and a TRUNCATE of one partition is not
// published at all. None of it reaches green. A TRUNCATE shows only as the partition's new
// relfilenode, which VACUUM FULL and CLUSTER also give: cutover cannot tell them apart, and
// halts for both. A partition that joins empty (CREATE TABLE ... PARTITION OF, the routine
// one) is noted and changes nothing.
#pragma once

#include <pqxx/pqxx>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "cutover/plan/plan.h"

namespace cutover {

// Leaf partitions by partitioned source table, each with its relfilenode
// ("public.payment" -> {"public.payment_2024" -> 16421}).
using PartitionSets = std::map<std::string, std::map<std::string, std::uint32_t>>;

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
    for (const auto& [partition, filenode] : partitions) {
      const bool still_there = current != now.end() && current->second.count(partition);
      if (!still_there) {
        changes.halts.push_back("partition " + partition + " left " + table +
                                " while streaming (DETACH PARTITION or DROP TABLE): its rows are gone from "
                                "the table without a DELETE, and are still on " + target_side +
                                ". Delete them there (or rebuild), then start cutover run again");
      } else if (current->second.at(partition) != filenode) {
        changes.halts.push_back("partition " + partition + " of " + table +
                                " was truncated or rewritten while streaming (TRUNCATE, VACUUM FULL, CLUSTER): a "
                                "TRUNCATE of one partition is not published, and rows it removed would stay on " +
                                target_side + ". Run cutover verify once started again; if it is clean (a "
                                "rewrite), go on; if not, delete those rows there (or rebuild)");
      }
    }
  }
  for (const auto& [table, partitions] : now) {
    const auto earlier = before.find(table);
    for (const auto& [partition, filenode] : partitions) {
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
