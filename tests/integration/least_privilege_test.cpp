// cutover with the least privileges docs/privileges.md lists, not as a superuser: first blue
// alone as a role that may only read and replicate, then both sides through a switch and a
// rollback under pgbench, each role holding what capture from it and apply into it need.
#include <gtest/gtest.h>

#include "fixtures/cutover_fixture.h"
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
      "CREATE ROLE mover LOGIN REPLICATION; GRANT SELECT ON items TO mover; GRANT pg_read_all_stats TO mover;"
      "CREATE PUBLICATION cutover_t FOR TABLE items WITH (publish_via_partition_root = true)");
  const std::string plan = h.write_plan("  - source: items\n", "state_dir: " + h.work().path() + "/state\n");
  h.replace_in_plan(h.blue().dsn(), h.blue().dsn("mover"));
  ChildProcess validation({CUTOVER_BINARY, "validate", "--connect", plan}, h.work().path());
  EXPECT_EQ(validation.wait(std::chrono::seconds(60)).value_or(-1), 0) << validation.standard_error();
  // Enough to move forward; the way back would need more, which validation warns of.
  EXPECT_NE(validation.standard_error().find("cutover: warning: rollback: blue: role mover may not SET "
                                             "session_replication_role"),
            std::string::npos) << validation.standard_error();
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

// What docs/privileges.md lists for a side that is captured from and applied into: the
// moved tables and the mapped sequence, replication, its own schema, origins and
// session_replication_role, and a view of other sessions' transactions. Not the database's
// ownership: the plan has no fence.
std::string least_privileges(const std::string& role, const std::string& tables) {
  return "CREATE ROLE " + role + " LOGIN REPLICATION;"
         "GRANT pg_read_all_stats TO " + role + ";"
         "GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON " + tables + " TO " + role + ";"
         "GRANT SELECT, UPDATE ON SEQUENCE events_id_seq TO " + role + ";"
         "GRANT CREATE ON DATABASE postgres TO " + role + ";"
         "GRANT SET ON PARAMETER session_replication_role TO " + role + ";"
         "GRANT EXECUTE ON FUNCTION pg_replication_origin_create(text), "
         "pg_replication_origin_session_setup(text), pg_replication_origin_advance(text, pg_lsn), "
         "pg_replication_origin_xact_setup(pg_lsn, timestamptz), pg_show_replication_origin_status() TO " + role + ";"
         "GRANT SELECT ON pg_replication_origin_status TO " + role;
}

// The pgbench plan with blue as `mover` and green as `applier`, each given least_privileges()
// plus what `blue_sql` and `green_sql` add or take away.
// Blue's slot bounded as a careful operator bounds it, so that validation has nothing to warn of.
class LeastPrivilegeMoveTest : public CutoverTest {
 protected:
  LeastPrivilegeMoveTest()
      : CutoverTest(ClusterOptions{.settings = {"max_slot_wal_keep_size = 10GB"}}, ClusterOptions{}) {}

  static inline const std::string kTables =
      "pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history, events";

  void write_plan_as_roles(const std::string& blue_sql, const std::string& green_sql) {
    h_.green().execute("ALTER TABLE pgbench_history REPLICA IDENTITY FULL");
    h_.blue().execute(least_privileges("mover", kTables) + ";" + blue_sql);
    h_.green().execute(least_privileges("applier", kTables) + ";" + green_sql);
    h_.write_plan(kPgbenchTables + "  - source: events\n",
                  plan_extra("  max_lag: 60s\n  freeze_timeout: 5s\n  drain_timeout: 10s\n", "none"));
    h_.replace_in_plan(h_.blue().dsn(), h_.blue().dsn("mover"));
    h_.replace_in_plan(h_.green().dsn(), h_.green().dsn("applier"));
  }

  // The tables' owner publishes them beforehand: only an owner may.
  static std::string publication(const std::string& name) {
    return "CREATE PUBLICATION " + name + " FOR TABLE " + kTables + " WITH (publish_via_partition_root = true)";
  }

  // `cutover validate --connect` on the plan: its exit code, and stdout and stderr together.
  std::pair<int, std::string> validate() {
    ChildProcess validation({CUTOVER_BINARY, "validate", "--connect", h_.plan_path()}, h_.work().path());
    const int exit_code = validation.wait(std::chrono::seconds(60)).value_or(-1);
    return {exit_code, validation.standard_output() + validation.standard_error()};
  }
};

TEST_F(LeastPrivilegeMoveTest, SwitchAndRollbackUnderPgbenchWithNeitherRoleASuperuser) {
  write_plan_as_roles(publication("cutover_t"), publication("cutover_t_reverse"));
  const auto [exit_code, said] = validate();
  ASSERT_EQ(exit_code, 0) << said;
  EXPECT_EQ(said.find("warning"), std::string::npos) << said;

  h_.start_run();
  const auto verified_first = h_.cli({"verify"});
  ASSERT_EQ(verified_first.exit_code, 0) << verified_first.output.dump(2) << verified_first.errors;
  // A steady 100 transactions a second: this test is about privileges, and runs in the
  // sanitized build too, whose unoptimized applier cannot drain pgbench at full rate.
  auto load = start_load(40, 100);
  std::this_thread::sleep_for(std::chrono::seconds(3));
  const auto switched = h_.cli({"switch"});
  ASSERT_EQ(switched.exit_code, 0) << switched.errors << switched.output.dump(2) << h_.run().standard_error();
  EXPECT_EQ(system_reached(), system_of(h_.green()));
  std::this_thread::sleep_for(std::chrono::seconds(5));
  // The reverse pipeline reads green as applier.
  EXPECT_EQ(h_.green().query_value("SELECT usename FROM pg_stat_replication LIMIT 1"), "applier");
  const auto rolled_back = h_.cli({"rollback"});
  ASSERT_EQ(rolled_back.exit_code, 0) << rolled_back.errors << rolled_back.output.dump(2)
                                      << h_.run().standard_error();
  EXPECT_EQ(system_reached(), system_of(h_.blue()));

  const long processed = processed_without_failures(*load);
  expect_every_transaction_in(h_.blue(), processed);
  EXPECT_TRUE(h_.wait_until_equal("SELECT * FROM pgbench_history", "SELECT * FROM pgbench_history"));
  expect_every_transaction_in(h_.green(), processed);
  const auto verified = h_.cli({"verify"});
  EXPECT_EQ(verified.exit_code, 0) << verified.output.dump(2) << verified.errors;
  EXPECT_EQ(h_.blue().query_value("SELECT usename FROM pg_stat_replication LIMIT 1"), "mover");
  for (auto* cluster : {&h_.blue(), &h_.green()}) {
    EXPECT_EQ(cluster->query_value("SELECT count(*) FROM pg_roles WHERE rolsuper AND rolname IN ('mover', 'applier')"),
              "0");
  }
}

// A green role short of a grant is refused by validation with the GRANT named; roles short of
// what the way back needs get a warning from validation, and the switch is refused by its
// rollback_possible guardrail before anything pauses.
TEST_F(LeastPrivilegeMoveTest, ARoleShortOfAGrantIsNamedBeforeAnythingMoves) {
  write_plan_as_roles("REVOKE TRUNCATE ON pgbench_history FROM mover;"
                      "REVOKE EXECUTE ON FUNCTION pg_replication_origin_advance(text, pg_lsn) FROM mover;"
                      "REVOKE SELECT ON SEQUENCE events_id_seq FROM mover;" + publication("cutover_t"),
                      "REVOKE SET ON PARAMETER session_replication_role FROM applier;"
                      "REVOKE pg_read_all_stats FROM applier; REVOKE TEMPORARY ON DATABASE postgres FROM PUBLIC");
  const auto [exit_code, said] = validate();
  EXPECT_EQ(exit_code, 2) << said;
  EXPECT_NE(said.find("cutover: green: role applier may not SET session_replication_role"), std::string::npos)
      << said;
  EXPECT_NE(said.find("(as a superuser: GRANT SET ON PARAMETER session_replication_role TO \"applier\"; a "
                      "managed server's admin cannot, see docs/managed-postgres.md)"),
            std::string::npos)
      << said;
  EXPECT_NE(said.find("cutover: green: role applier may not create temporary tables, where the snapshot "
                      "stages source rows before the transform (GRANT TEMPORARY ON DATABASE "
                      "\"postgres\" TO \"applier\")"),
            std::string::npos)
      << said;
  EXPECT_NE(said.find("sequences[0].source: blue's role may not read public.events_id_seq (GRANT SELECT ON "
                      "SEQUENCE \"public\".\"events_id_seq\""),
            std::string::npos)
      << said;
  EXPECT_EQ(said.find("rollback:"), std::string::npos) << "the way back is checked once forward works:\n" << said;

  // The roles given what forward lacked: the forward plan works, and validation warns that the
  // way back does not.
  h_.green().execute("GRANT SET ON PARAMETER session_replication_role TO applier; "
                     "GRANT TEMPORARY ON DATABASE postgres TO applier");
  h_.blue().execute("GRANT SELECT ON SEQUENCE events_id_seq TO mover");
  const auto [second_exit_code, second] = validate();
  EXPECT_EQ(second_exit_code, 0) << second;
  for (const std::string expected :
       {"warning: rollback: blue: role mover lacks TRUNCATE on public.pgbench_history",
        "warning: rollback: blue: role mover may not call pg_replication_origin_advance(text, pg_lsn)",
        "warning: rollback: green: role applier cannot see other roles' transactions",
        "warning: rollback: green: role applier may not create the publication cutover_t_reverse (it does not own"}) {
    EXPECT_NE(second.find(expected), std::string::npos) << expected << "\n" << second;
  }

  // The run streams (forward needs nothing more), and the switch is refused before any pause.
  h_.start_run();
  const auto refused = h_.cli({"switch"});
  EXPECT_EQ(refused.exit_code, 1) << refused.errors;
  EXPECT_NE(refused.errors.find("rollback_possible"), std::string::npos) << refused.errors;
  EXPECT_NE(refused.errors.find("lacks TRUNCATE on public.pgbench_history"), std::string::npos) << refused.errors;
  EXPECT_EQ(system_reached(), system_of(h_.blue()));
  EXPECT_EQ(h_.green().query_value("SELECT count(*) FROM pg_replication_slots"), "0");
}

}  // namespace
}  // namespace cutover::testing
