#include "cutover/pipeline/partition_watch.h"

#include <gtest/gtest.h>

namespace cutover {
namespace {

const PartitionSets kBefore = {{"public.payment", {{"public.payment_2023", 16400}, {"public.payment_2024", 16410}}}};

TEST(PartitionWatch, ThePartitionsAsTheyWereChangeNothing) {
  const auto changes = compare_partition_sets(kBefore, kBefore, "green", [](const std::string&) { return true; });
  EXPECT_TRUE(changes.halts.empty());
  EXPECT_TRUE(changes.notices.empty());
}

TEST(PartitionWatch, APartitionThatLeftHalts) {
  const PartitionSets now = {{"public.payment", {{"public.payment_2024", 16410}}}};
  const auto changes = compare_partition_sets(kBefore, now, "green", [](const std::string&) { return false; });
  ASSERT_EQ(changes.halts.size(), 1u);
  EXPECT_NE(changes.halts[0].find("partition public.payment_2023 left public.payment while streaming (DETACH "
                                  "PARTITION or DROP TABLE)"),
            std::string::npos)
      << changes.halts[0];
  EXPECT_NE(changes.halts[0].find("are still on green"), std::string::npos) << changes.halts[0];
}

TEST(PartitionWatch, APartitionJoiningWithRowsHaltsAndAnEmptyOneIsNoted) {
  PartitionSets now = kBefore;
  now["public.payment"]["public.payment_2025"] = 16500;
  now["public.payment"]["public.payment_old"] = 16300;
  const auto changes = compare_partition_sets(kBefore, now, "green", [](const std::string& partition) {
    return partition == "public.payment_old";
  });
  ASSERT_EQ(changes.halts.size(), 1u);
  EXPECT_NE(changes.halts[0].find("partition public.payment_old joined public.payment while streaming holding rows "
                                  "(ATTACH PARTITION)"),
            std::string::npos)
      << changes.halts[0];
  ASSERT_EQ(changes.notices.size(), 1u);
  EXPECT_EQ(changes.notices[0], "partition public.payment_2025 joined public.payment empty: its rows stream as the table's");
}

TEST(PartitionWatch, APartitionWithANewRelfilenodeHalts) {
  PartitionSets now = kBefore;
  now["public.payment"]["public.payment_2023"] = 16999;  // TRUNCATE gives a new one
  const auto changes = compare_partition_sets(kBefore, now, "green", [](const std::string&) { return false; });
  ASSERT_EQ(changes.halts.size(), 1u);
  EXPECT_NE(changes.halts[0].find("partition public.payment_2023 of public.payment was truncated or rewritten while "
                                  "streaming (TRUNCATE, VACUUM FULL, CLUSTER)"),
            std::string::npos)
      << changes.halts[0];
}

}  // namespace
}  // namespace cutover
