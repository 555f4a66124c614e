// DDL on blue while cutover streams. A change the plan still maps (a column it does not read
// added or dropped, a table outside the plan created) goes on, and status says so. One it
// cannot map (a column it reads renamed, dropped or retyped, its table renamed or dropped)
// halts capture and apply before anything of that transaction reaches green: status, log and
// dashboard name the change and how to go on, and a run started again with an amended plan
// goes on from there without a new snapshot. Green is compared with blue by SQL written here.
#include <gtest/gtest.h>

#include <csignal>

#include "fixtures/forward_harness.h"

namespace cutover::testing {
namespace {

using namespace std::chrono_literals;

class DdlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv("CUTOVER_TOKEN", "ddl-token", 1);
    h_.blue().execute(
        "CREATE TABLE items (id int PRIMARY KEY, name text, qty int, note text);"
        "INSERT INTO items SELECT g, 'item ' || g, g, 'n' || g FROM generate_series(1, 100) g");
    h_.green().execute("CREATE TABLE items (id bigint PRIMARY KEY, name text, qty int)");
  }

  void write_plan(const std::string& name_expression = "name", const std::string& source = "items") {
    h_.write_plan("  - source: " + source + "\n    target: items\n    columns:\n      id: id\n      name: " +
                      name_expression + "\n      qty: qty\n",
                  "state_dir: " + h_.work().path() + "/state\n");
  }

  nlohmann::json status() { return h_.cli({"status"}).output; }

  // SIGTERM to a halted run: it ends with exit code 1, the reason in its log.
  void stop_halted_run(const std::string& reason) {
    h_.run().signal(SIGTERM);
    EXPECT_EQ(h_.run().wait(60s).value_or(-1), 1) << h_.run().standard_error();
    EXPECT_NE(h_.run().standard_error().find(reason), std::string::npos) << h_.run().standard_error();
  }

  ForwardHarness h_;
};

TEST_F(DdlTest, ColumnsThePlanDoesNotReadComeAndGoAndStreamingGoesOn) {
  write_plan();
  h_.start_run();
  h_.blue().execute("ALTER TABLE items ADD COLUMN extra int DEFAULT 7;"
                    "INSERT INTO items VALUES (101, 'after add', 1, 'x', 8)");
  h_.blue().execute("ALTER TABLE items DROP COLUMN note;"
                    "UPDATE items SET name = 'renamed ' || id WHERE id % 10 = 0;"
                    "DELETE FROM items WHERE id % 25 = 0;"
                    "CREATE TABLE outside (id int PRIMARY KEY); INSERT INTO outside VALUES (1)");
  h_.blue().execute("INSERT INTO items VALUES (102, 'after drop', 2, 9)");
  EXPECT_TRUE(h_.wait_until_equal("SELECT id, name, qty FROM items", "SELECT id, name, qty FROM items"));
  const auto shown = status();
  EXPECT_EQ(shown.value("phase", ""), "streaming") << shown.dump(2);
  EXPECT_NE(shown["schema_notices"].dump().find("public.items has a column extra the plan does not read: it is not copied"),
            std::string::npos)
      << shown.dump(2);
  EXPECT_EQ(h_.cli({"verify"}).exit_code, 0);
}

TEST_F(DdlTest, ARenamedColumnHaltsAndAnAmendedPlanGoesOnWithoutANewSnapshot) {
  write_plan();
  h_.start_run();
  h_.blue().execute("UPDATE items SET qty = qty + 1 WHERE id <= 10");
  EXPECT_TRUE(h_.wait_until_equal("SELECT id, name, qty FROM items", "SELECT id, name, qty FROM items"));
  h_.blue().execute("ALTER TABLE items RENAME COLUMN name TO full_name;"
                    "INSERT INTO items VALUES (101, 'after rename', 1, 'x')");
  h_.blue().execute("UPDATE items SET full_name = 'changed after rename' WHERE id = 5");
  const auto halted = h_.wait_until_halted();
  const std::string reason = halted.value("halted", "");
  EXPECT_NE(reason.find("column public.items.name, which the plan reads, is gone from the source (DROP COLUMN "
                        "or RENAME COLUMN)"),
            std::string::npos)
      << halted.dump(2);
  EXPECT_NE(reason.find("Amend the plan and start cutover run again"), std::string::npos) << reason;
  // Nothing of the rename's transaction or after it reached green.
  EXPECT_EQ(h_.green().query_value("SELECT count(*) FROM items WHERE id = 101"), "0");
  EXPECT_EQ(h_.green().query_value("SELECT name FROM items WHERE id = 5"), "item 5");
  stop_halted_run("column public.items.name, which the plan reads, is gone");

  write_plan("full_name");
  auto& again = h_.start_run();
  EXPECT_TRUE(h_.wait_until_equal("SELECT id, full_name, qty FROM items", "SELECT id, name, qty FROM items"));
  EXPECT_EQ(again.standard_error().find("snapshot copy starting"), std::string::npos) << again.standard_error();
  EXPECT_EQ(h_.cli({"verify"}).exit_code, 0);
}

// The run goes on from green's position with a plan naming the table's new name: the
// position row knows the source table by its OID, which a rename keeps.
TEST_F(DdlTest, ARenamedTableHaltsAndAPlanNamingItsNewNameGoesOnWithoutANewSnapshot) {
  write_plan();
  h_.start_run();
  h_.blue().execute("UPDATE items SET qty = qty + 1 WHERE id <= 10");
  EXPECT_TRUE(h_.wait_until_equal("SELECT id, name, qty FROM items", "SELECT id, name, qty FROM items"));
  h_.blue().execute("ALTER TABLE items RENAME TO goods; INSERT INTO goods VALUES (101, 'after rename', 1, 'x')");
  h_.blue().execute("UPDATE goods SET name = 'changed after rename' WHERE id = 5; DELETE FROM goods WHERE id = 7");
  const std::string reason = "table public.items of the plan was renamed to public.goods on the source";
  EXPECT_NE(h_.wait_until_halted().value("halted", "").find(reason), std::string::npos);
  EXPECT_EQ(h_.green().query_value("SELECT count(*) FROM items WHERE id IN (5, 7, 101) AND name LIKE 'item %'"), "2");
  stop_halted_run(reason);

  write_plan("name", "goods");
  auto& again = h_.start_run();
  h_.blue().execute("INSERT INTO goods VALUES (102, 'after restart', 2, 'y')");
  EXPECT_TRUE(h_.wait_until_equal("SELECT id, name, qty FROM goods", "SELECT id, name, qty FROM items"));
  EXPECT_EQ(again.standard_error().find("snapshot copy starting"), std::string::npos) << again.standard_error();
  EXPECT_NE(again.standard_error().find("plan tables renamed on the source"), std::string::npos)
      << again.standard_error();
  EXPECT_EQ(h_.green().query_value("SELECT tables FROM cutover.apply_position"), "public.goods>public.items");
  EXPECT_EQ(h_.cli({"verify"}).exit_code, 0);
}

// With a publication FOR ALL TABLES the operator made, a table dropped and created again
// under the plan's name stays published: its OID tells it is not the table the plan started
// from (the rows green holds are the old table's).
TEST_F(DdlTest, ATableCreatedAgainUnderThePlansNameHalts) {
  h_.blue().execute("CREATE PUBLICATION cutover_t FOR ALL TABLES WITH (publish_via_partition_root = true)");
  write_plan();
  h_.start_run();
  h_.blue().execute("DROP TABLE items; CREATE TABLE items (id int PRIMARY KEY, name text, qty int, note text)");
  h_.blue().execute("INSERT INTO items VALUES (1, 'new table', 1, 'x')");
  const auto halted = h_.wait_until_halted();
  const std::string reason = "table public.items on the source is not the table the plan started from";
  EXPECT_NE(halted.value("halted", "").find(reason), std::string::npos) << halted.dump(2);
  EXPECT_EQ(h_.green().query_value("SELECT name FROM items WHERE id = 1"), "item 1");
  stop_halted_run(reason);
}

// A list-partitioned table with a default partition into a hash-partitioned one: rows moved
// between partitions by an UPDATE of the partition key (a delete and an insert underneath)
// arrive as the table's changes.
TEST(Partitioning, ListPartitionsIntoHashPartitionsWithRowsMovingBetweenThem) {
  ::setenv("CUTOVER_TOKEN", "ddl-token", 1);
  ForwardHarness h;
  h.blue().execute(
      "CREATE TABLE orders (id int, region text, total numeric(8,2), PRIMARY KEY (id, region)) PARTITION BY LIST (region);"
      "CREATE TABLE orders_eu PARTITION OF orders FOR VALUES IN ('eu', 'uk');"
      "CREATE TABLE orders_us PARTITION OF orders FOR VALUES IN ('us');"
      "CREATE TABLE orders_rest PARTITION OF orders DEFAULT;"
      "INSERT INTO orders SELECT g, (ARRAY['eu', 'uk', 'us', 'br'])[1 + g % 4], g FROM generate_series(1, 400) g");
  h.green().execute(
      "CREATE TABLE orders (id bigint, region text, total numeric(8,2), PRIMARY KEY (id, region)) PARTITION BY HASH (id);"
      "CREATE TABLE orders_0 PARTITION OF orders FOR VALUES WITH (MODULUS 2, REMAINDER 0);"
      "CREATE TABLE orders_1 PARTITION OF orders FOR VALUES WITH (MODULUS 2, REMAINDER 1)");
  h.write_plan("  - source: orders\n", "state_dir: " + h.work().path() + "/state\n");
  h.start_run();
  h.blue().execute("UPDATE orders SET region = 'jp' WHERE id % 10 = 0;"  // eu/uk/us into the default partition
                   "UPDATE orders SET region = 'us', total = total + 1 WHERE id % 10 = 5;"
                   "DELETE FROM orders WHERE id % 17 = 0;"
                   "INSERT INTO orders SELECT g, 'uk', g FROM generate_series(401, 450) g");
  const std::string all = "SELECT id, region, total FROM orders";
  EXPECT_TRUE(h.wait_until_equal(all, all));
  EXPECT_EQ(h.cli({"verify"}).exit_code, 0);
}

// A DDL the plan cannot map, and the words status gives it.
struct Unmappable {
  const char* name;
  const char* ddl;
  const char* then;  // a write after it, "" for none
  const char* reason;
};
void PrintTo(const Unmappable& change, std::ostream* out) { *out << change.name; }

class UnmappableDdlTest : public DdlTest, public ::testing::WithParamInterface<Unmappable> {};

TEST_P(UnmappableDdlTest, HaltsBeforeWritingAnythingAfterIt) {
  const Unmappable change = GetParam();
  write_plan();
  h_.start_run();
  h_.blue().execute("UPDATE items SET qty = qty + 1 WHERE id <= 10");
  EXPECT_TRUE(h_.wait_until_equal("SELECT id, name, qty FROM items", "SELECT id, name, qty FROM items"));
  h_.blue().execute(change.ddl);
  if (*change.then) h_.blue().execute(change.then);
  const auto halted = h_.wait_until_halted();
  EXPECT_NE(halted.value("halted", "").find(change.reason), std::string::npos) << halted.dump(2);
  EXPECT_EQ(h_.green().query_value("SELECT count(*) FROM items WHERE id > 100"), "0");
  EXPECT_EQ(h_.green().query_value("SELECT count(*) FROM items"), "100");
  stop_halted_run(change.reason);
}

INSTANTIATE_TEST_SUITE_P(
    Changes, UnmappableDdlTest,
    ::testing::Values(
        Unmappable{"drop_column", "ALTER TABLE items DROP COLUMN qty", "INSERT INTO items VALUES (101, 'x', 'y')",
                   "column public.items.qty, which the plan reads, is gone from the source"},
        Unmappable{"alter_type", "ALTER TABLE items ALTER COLUMN qty TYPE numeric(12,2)",
                   "INSERT INTO items VALUES (101, 'x', 1.5, 'y')",
                   "column public.items.qty, which the plan reads, changed type on the source (ALTER COLUMN "
                   "TYPE, now \"numeric\")"},
        Unmappable{"rename_table", "ALTER TABLE items RENAME TO goods", "INSERT INTO goods VALUES (101, 'x', 1, 'y')",
                   "table public.items of the plan was renamed to public.goods on the source"},
        Unmappable{"drop_table", "DROP TABLE items", "", "no longer publishes public.items"}),
    [](const ::testing::TestParamInfo<Unmappable>& change) { return std::string(change.param.name); });

// Partitions of a partitioned source table, joining and leaving while streaming. Rows reach
// the stream as the root's: a partition created empty is noted, and one that brings rows in
// (ATTACH) or takes them away (DETACH) halts, as green could not follow it.
class PartitionDdlTest : public DdlTest {
 protected:
  void SetUp() override {
    ::setenv("CUTOVER_TOKEN", "ddl-token", 1);
    h_.blue().execute(
        "CREATE TABLE payment (id int, paid date, amount numeric(8,2), PRIMARY KEY (id, paid)) PARTITION BY RANGE (paid);"
        "CREATE TABLE payment_2023 PARTITION OF payment FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');"
        "CREATE TABLE payment_2024 PARTITION OF payment FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');"
        "INSERT INTO payment SELECT g, date '2023-06-01' + g, g FROM generate_series(1, 300) g");
    h_.green().execute("CREATE TABLE payment (id int, paid date, amount numeric(8,2), PRIMARY KEY (id, paid))");
    h_.write_plan("  - source: payment\n", "state_dir: " + h_.work().path() + "/state\n");
  }
  const std::string all_ = "SELECT id, paid, amount FROM payment";
};

TEST_F(PartitionDdlTest, APartitionCreatedEmptyIsNotedAndItsRowsStream) {
  h_.start_run();
  h_.blue().execute("CREATE TABLE payment_2025 PARTITION OF payment FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')");
  // The watch reads the partitions every 5 s: the notice comes before any row does.
  nlohmann::json shown;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    shown = status();
    if (shown.is_object() && shown["schema_notices"].dump().find("payment_2025") != std::string::npos) break;
    std::this_thread::sleep_for(300ms);
  }
  EXPECT_NE(shown["schema_notices"].dump().find("partition public.payment_2025 joined public.payment empty"),
            std::string::npos)
      << shown.dump(2);
  h_.blue().execute("INSERT INTO payment SELECT g, date '2025-02-01' + (g % 300), g FROM generate_series(301, 400) g");
  EXPECT_TRUE(h_.wait_until_equal(all_, all_));
  EXPECT_EQ(status().value("phase", ""), "streaming");
}

struct PartitionChange {
  const char* name;
  const char* ddl;
  const char* reason;
};
void PrintTo(const PartitionChange& change, std::ostream* out) { *out << change.name; }

class PartitionChangeTest : public PartitionDdlTest, public ::testing::WithParamInterface<PartitionChange> {};

TEST_P(PartitionChangeTest, HaltsAsGreenCannotFollowIt) {
  h_.blue().execute("CREATE TABLE payment_old (id int, paid date, amount numeric(8,2), PRIMARY KEY (id, paid));"
                    "INSERT INTO payment_old VALUES (1, '2022-05-05', 5)");
  h_.start_run();
  h_.blue().execute(GetParam().ddl);
  const auto halted = h_.wait_until_halted();
  EXPECT_NE(halted.value("halted", "").find(GetParam().reason), std::string::npos) << halted.dump(2);
  stop_halted_run(GetParam().reason);
}

INSTANTIATE_TEST_SUITE_P(
    Partitions, PartitionChangeTest,
    ::testing::Values(
        PartitionChange{"attach_with_rows",
                        "ALTER TABLE payment ATTACH PARTITION payment_old FOR VALUES FROM ('2022-01-01') TO ('2023-01-01')",
                        "partition public.payment_old joined public.payment while streaming holding rows"},
        PartitionChange{"detach", "ALTER TABLE payment DETACH PARTITION payment_2023",
                        "partition public.payment_2023 left public.payment while streaming"},
        PartitionChange{"truncate_one", "TRUNCATE payment_2023",
                        "partition public.payment_2023 of public.payment was truncated or rewritten while streaming"}),
    [](const ::testing::TestParamInfo<PartitionChange>& change) { return std::string(change.param.name); });

}  // namespace
}  // namespace cutover::testing
