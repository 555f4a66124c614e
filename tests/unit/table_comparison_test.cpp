#include "cutover/verify/table_comparison.h"

#include <gtest/gtest.h>

namespace cutover {
namespace {

TableTransform users_to_accounts(const std::string& id_expression) {
  TableTransform transform;
  transform.source = {"public", "users"};
  transform.target = {"public", "accounts"};
  transform.source_columns = {{"id", "integer", "integer", "integer"},
                              {"name", "text", "text", "text"},
                              {"active", "boolean", "boolean", "boolean"}};
  transform.columns = {make_target_column("id", id_expression, "bigint"),
                       make_target_column("full_name", "upper(name)", "text")};
  transform.key = {"id"};
  transform.source_key = {"id"};
  transform.where = "active";
  return transform;
}

TEST(TableComparison, ChunkRangesOnBlueUseTheSourceKeyColumnWhenItIsCopied) {
  const auto transform = users_to_accounts("id");
  TableComparison comparison({&transform});
  EXPECT_FALSE(comparison.keyless());
  EXPECT_TRUE(comparison.blue_range_uses_source_columns());
  const KeyRange range{{std::string("100")}, {std::string("200")}};
  const std::string blue = comparison.blue_checksum_sql(range);
  EXPECT_NE(blue.find("\"id\" >= '100'::bigint AND \"id\" < '200'::bigint"), std::string::npos) << blue;
  EXPECT_NE(blue.find("(active)"), std::string::npos) << blue;
  EXPECT_NE(blue.find("((upper(name))::text)"), std::string::npos) << blue;
  const std::string green = comparison.green_checksum_sql(range);
  EXPECT_NE(green.find("FROM \"public\".\"accounts\" WHERE \"id\" >= '100'::bigint"), std::string::npos)
      << green;
}

TEST(TableComparison, AComputedKeyIsComparedThroughItsExpression) {
  const auto transform = users_to_accounts("id + 1000");
  TableComparison comparison({&transform});
  EXPECT_FALSE(comparison.blue_range_uses_source_columns());
  const std::string blue = comparison.blue_rows_sql({{std::string("5")}, {}});
  EXPECT_NE(blue.find("((id + 1000)::bigint) >= '5'::bigint"), std::string::npos) << blue;
}

// Keys whose collations differ between the sides are ranged in byte order on both, in the
// boundaries green gives and in each side's range, so a range holds the same keys on each.
TEST(TableComparison, KeysTheSidesOrderDifferentlyAreRangedInByteOrder) {
  auto transform = users_to_accounts("id");
  transform.columns.push_back(make_target_column("login", "name", "text"));
  transform.key = {"login", "id"};
  const Collation german{"the database default (c de_DE.UTF-8)", "c de_DE.UTF-8", true};
  const Collation bytes{"C (c C)", "bytes", true};
  transform.key_collations["login"] = {german, bytes};
  TableComparison comparison({&transform});
  EXPECT_TRUE(comparison.ranged_in_byte_order());
  const std::string boundaries = comparison.boundaries_sql(1000);
  EXPECT_NE(boundaries.find("ORDER BY (\"login\") COLLATE \"C\", \"id\")"), std::string::npos) << boundaries;
  const KeyRange range{{std::string("Zed"), std::string("1")}, {}};
  const std::string blue = comparison.blue_checksum_sql(range);
  EXPECT_NE(blue.find("((\"name\") COLLATE \"C\", \"id\") >= (('Zed'::text) COLLATE \"C\", '1'::bigint)"),
            std::string::npos)
      << blue;
  const std::string green = comparison.green_checksum_sql(range);
  EXPECT_NE(green.find("((\"login\") COLLATE \"C\", \"id\") >= (('Zed'::text) COLLATE \"C\", '1'::bigint)"),
            std::string::npos)
      << green;
  transform.key_collations["login"] = {bytes, Collation{"POSIX (c POSIX)", "bytes", true}};
  EXPECT_FALSE(TableComparison({&transform}).ranged_in_byte_order());
  // A computed key (resolution records no source collation): no order on blue to share.
  transform.key_collations["login"] = {Collation{}, bytes};
  EXPECT_TRUE(TableComparison({&transform}).ranged_in_byte_order());
}

TEST(TableComparison, LiteralsFromGreenAreQuoted) {
  const auto transform = users_to_accounts("id");
  TableComparison comparison({&transform});
  const std::string green = comparison.green_rows_sql({{std::string("it's")}, {}});
  EXPECT_NE(green.find("'it''s'::bigint"), std::string::npos) << green;
}

TEST(TableComparison, ATableWithoutAKeyIsOneChunkToldApartByContent) {
  auto transform = users_to_accounts("id");
  transform.key.clear();
  TableComparison comparison({&transform});
  EXPECT_TRUE(comparison.keyless());
  EXPECT_EQ(comparison.identity_positions(), (std::vector<std::size_t>{0, 1}));
  EXPECT_EQ(comparison.describe().key, (std::vector<std::string>{"id", "full_name"}));
}

TEST(TableComparison, AMergedTargetComparesOnlyColumnsEverySourceMaps) {
  const auto first = users_to_accounts("id");
  auto second = users_to_accounts("id");
  second.source = {"public", "admins"};
  second.columns.pop_back();
  TableComparison comparison({&first, &second});
  EXPECT_EQ(comparison.columns(), std::vector<std::string>{"id"});
  EXPECT_EQ(comparison.describe().columns_not_compared, std::vector<std::string>{"full_name"});
  const std::string blue = comparison.blue_checksum_sql({});
  EXPECT_NE(blue.find("UNION ALL"), std::string::npos) << blue;
}

}  // namespace
}  // namespace cutover
