// cutover on blue with the least privileges docs/privileges.md lists, not as a superuser:
// REPLICATION, SELECT on the source tables, and the publication made beforehand by the
// tables' owner. Green stays a superuser: `validate --connect` requires one there (see the
// privileges document).
#include <gtest/gtest.h>

#include "fixtures/forward_harness.h"

namespace cutover::testing {
namespace {

TEST(LeastPrivilege, BlueAsAReplicationRoleThatMayOnlyReadMovesAndVerifies) {
  ::setenv("CUTOVER_TOKEN", "least-privilege-token", 1);
  ForwardHarness h;
  const std::string table = "CREATE TABLE items(id int PRIMARY KEY, v text)";
  h.blue().execute(table);
  h.green().execute(table);
  h.blue().execute(
      "INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 500) g;"
      "CREATE ROLE mover LOGIN REPLICATION; GRANT SELECT ON items TO mover;"
      "CREATE PUBLICATION cutover_t FOR TABLE items WITH (publish_via_partition_root = true)");
  const std::string plan = h.write_plan("  - source: items\n", "state_dir: " + h.work().path() + "/state\n");
  h.replace_in_plan(h.blue().dsn(), h.blue().dsn("mover"));
  ChildProcess validation({CUTOVER_BINARY, "validate", "--connect", plan}, h.work().path());
  EXPECT_EQ(validation.wait(std::chrono::seconds(60)).value_or(-1), 0) << validation.standard_error();
  h.start_run();
  h.blue().execute("UPDATE items SET v = 'changed' WHERE id <= 100; DELETE FROM items WHERE id > 450;"
                   "INSERT INTO items VALUES (1000, 'new')");
  EXPECT_TRUE(h.wait_until_equal("SELECT * FROM items", "SELECT * FROM items"));
  const auto verified = h.cli({"verify"});
  EXPECT_EQ(verified.exit_code, 0) << verified.output.dump(2) << verified.errors;
  // The slot is mover's, and mover is no superuser.
  EXPECT_EQ(h.blue().query_value("SELECT rolsuper::text FROM pg_roles WHERE rolname = 'mover'"), "false");
  EXPECT_EQ(h.blue().query_value("SELECT usename FROM pg_stat_replication LIMIT 1"), "mover");
}

}  // namespace
}  // namespace cutover::testing
