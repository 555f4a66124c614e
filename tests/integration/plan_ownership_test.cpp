// cutover run resumes only what it can prove is its own plan's, and a first start that fails
// leaves nothing behind: plans whose names share a slot, green pointing at blue, state that
// another source or no record explains, and a snapshot that fails part-way. Each case checks
// blue's and green's catalogs and rows by SQL of its own.
#include <gtest/gtest.h>

#include <csignal>
#include <chrono>
#include <string>

#include "fixtures/forward_harness.h"

namespace cutover::testing {
namespace {

using namespace std::chrono_literals;

class PlanOwnershipTest : public ::testing::Test {
 protected:
  void SetUp() override {
    h_.blue().execute(
        "CREATE TABLE items (id bigint PRIMARY KEY, v text);"
        "INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 20) g");
    h_.green().execute("CREATE TABLE items (id bigint PRIMARY KEY, v text)");
  }

  // A plan named `name` from blue's items into `green_database` of the green cluster.
  std::string plan_named(const std::string& name, const std::string& green_database = "postgres",
                         const std::string& tables = "  - source: items\n") {
    return h_.work().write_file(
        name + ".yaml", "name: " + name + "\nblue:\n  dsn: \"" + h_.blue().dsn() + "\"\ngreen:\n  dsn: \"" +
                            h_.green().dsn("postgres", green_database) +
                            "\"\nkafka:\n  brokers: embedded\ncontrol:\n  listen: 127.0.0.1:" +
                            std::to_string(free_loopback_port()) + "\nstate_dir: " + h_.work().path() +
                            "/state-" + name + "\ntables:\n" + tables);
  }

  struct Outcome {
    int exit_code;
    std::string output;
  };
  Outcome cutover(const std::vector<std::string>& arguments) {
    std::vector<std::string> argv = {CUTOVER_BINARY};
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    ChildProcess child(argv, h_.work().path());
    const int code = child.wait(120s).value_or(-1);
    return {code, child.standard_output() + child.standard_error()};
  }

  std::string blue_objects() {
    return h_.blue().query_value(
        "SELECT coalesce(string_agg(kind || ' ' || name, ', ' ORDER BY kind, name), '') FROM ("
        "SELECT 'slot' AS kind, slot_name::text AS name FROM pg_replication_slots "
        "UNION ALL SELECT 'publication', pubname::text FROM pg_publication) o");
  }

  ForwardHarness h_;
};

TEST_F(PlanOwnershipTest, PlansWhoseNamesShareASlotAreRefusedAndTheFirstLosesNothing) {
  h_.green().execute("CREATE DATABASE other");
  h_.green().execute("CREATE TABLE items (id bigint PRIMARY KEY, v text)", "other");
  const std::string first = plan_named("collide-x");
  ChildProcess run({CUTOVER_BINARY, "run", first}, h_.work().path());
  ASSERT_TRUE(run.wait_for_output("applying from", 120s)) << run.standard_error();

  // Another green: the slot on blue is found with no record of this plan behind it.
  const auto elsewhere = cutover({"run", plan_named("collide_x", "other")});
  EXPECT_EQ(elsewhere.exit_code, 2) << elsewhere.output;
  EXPECT_NE(elsewhere.output.find("replication slot cutover_collide_x exists, but green holds no "
                                  "record of plan collide_x"),
            std::string::npos)
      << elsewhere.output;
  EXPECT_EQ(h_.green().query_value("SELECT count(*) FROM items", "other"), "0");

  // The same green, the first plan stopped: green's position table names the other plan.
  run.signal(SIGTERM);
  ASSERT_EQ(run.wait(30s).value_or(-1), 0) << run.standard_error();
  const auto same_green = cutover({"run", plan_named("collide_x")});
  EXPECT_EQ(same_green.exit_code, 2) << same_green.output;
  EXPECT_NE(same_green.output.find("plan collide_x and plan collide-x (recorded in green) share the "
                                   "slot, publication and origin cutover_collide_x"),
            std::string::npos)
      << same_green.output;

  // The first plan's slot is still there: a row written while it was stopped reaches its green.
  h_.blue().execute("INSERT INTO items VALUES (21, 'after the refusals')");
  ChildProcess resumed({CUTOVER_BINARY, "run", first}, h_.work().path());
  ASSERT_TRUE(resumed.wait_for_output("applying from", 120s)) << resumed.standard_error();
  EXPECT_TRUE(h_.wait_until_equal("SELECT * FROM items", "SELECT * FROM items", 60s));
}

TEST_F(PlanOwnershipTest, GreenThatIsBlueIsRefusedBeforeAnythingIsCreated) {
  h_.blue().execute("CREATE TABLE items_copy (id bigint PRIMARY KEY, v text)");
  const std::string plan = h_.work().write_file(
      "same.yaml", "name: same\nblue:\n  dsn: \"" + h_.blue().dsn() + "\"\ngreen:\n  dsn: \"" +
                       h_.blue().dsn() + "\"\nstate_dir: " + h_.work().path() + "/state-same\n" +
                       "tables:\n  - source: items\n    target: items_copy\n");
  for (const auto& arguments : std::vector<std::vector<std::string>>{{"validate", "--connect", plan},
                                                                      {"run", plan}}) {
    const auto outcome = cutover(arguments);
    EXPECT_EQ(outcome.exit_code, 2) << outcome.output;
    EXPECT_NE(outcome.output.find("same.yaml: green.dsn: reaches blue's own database postgres"),
              std::string::npos)
        << outcome.output;
  }
  EXPECT_EQ(blue_objects(), "");
  EXPECT_EQ(h_.blue().query_value("SELECT to_regnamespace('cutover') IS NULL"), "t");
}

TEST_F(PlanOwnershipTest, GreenThatIsAPhysicalReplicaOfBlueIsRefused) {
  const auto replica = PostgresCluster::standby_of(h_.blue());
  ASSERT_EQ(replica->query_value("SELECT pg_is_in_recovery()"), "t");
  const std::string plan = h_.work().write_file(
      "replica.yaml", "name: replica\nblue:\n  dsn: \"" + h_.blue().dsn() + "\"\ngreen:\n  dsn: \"" +
                          replica->dsn() + "\"\nstate_dir: " + h_.work().path() + "/state-replica\n" +
                          "tables:\n  - source: items\n");
  for (const auto& arguments : std::vector<std::vector<std::string>>{{"validate", "--connect", plan},
                                                                      {"run", plan}}) {
    const auto outcome = cutover(arguments);
    EXPECT_EQ(outcome.exit_code, 2) << outcome.output;
    EXPECT_NE(outcome.output.find("replica.yaml: green.dsn: green is a physical replica of blue"), std::string::npos)
        << outcome.output;
  }
  EXPECT_EQ(blue_objects(), "");
}

TEST_F(PlanOwnershipTest, ALeftoverSlotWithoutARecordIsNotTakenOverAndGreenKeepsItsRows) {
  // A slot of the plan's name that no record explains, and a green table the operator filled.
  h_.blue().execute("SELECT pg_create_logical_replication_slot('cutover_items', 'pgoutput')");
  h_.green().execute("CREATE TABLE full_items (id bigint PRIMARY KEY, v text); INSERT INTO full_items VALUES (1, 'x')");
  const auto outcome = cutover({"run", plan_named("items", "postgres", "  - source: items\n    target: full_items\n")});
  EXPECT_EQ(outcome.exit_code, 2) << outcome.output;
  EXPECT_NE(outcome.output.find("replication slot cutover_items exists, but green holds no record of plan items"),
            std::string::npos)
      << outcome.output;
  EXPECT_EQ(h_.green().query_value("SELECT string_agg(id || ':' || v, ',') FROM full_items"), "1:x");
  EXPECT_EQ(blue_objects(), "slot cutover_items");
}

// A state directory whose journal says clients were switched to green, met by the databases
// of another move (a state_dir shared, or blue and green made again): the run would start the
// reverse pipeline, whose target is blue, and its snapshot would copy green over blue. It
// refuses, and blue keeps its rows.
TEST_F(PlanOwnershipTest, AJournalOfAnotherMovesSwitchNeverCopiesGreenOverBlue) {
  const std::string state = h_.work().path() + "/state-t";
  {
    ForwardHarness earlier;  // another blue and green, of a plan of the same name, switched
    earlier.blue().execute("CREATE TABLE items (id bigint PRIMARY KEY, v text); INSERT INTO items VALUES (1, 'a')");
    earlier.green().execute("CREATE TABLE items (id bigint PRIMARY KEY, v text)");
    ::setenv("CUTOVER_TOKEN", "ownership-token", 1);
    earlier.write_plan("  - source: items\n",
                       "state_dir: " + state + "\nverify:\n  before_switch: none\ncutover:\n  fence_blue: true\n"
                       "  switch:\n    command: [\"/bin/true\", \"{to}\"]\n");
    earlier.start_run();
    ASSERT_EQ(earlier.cli({"verify"}).exit_code, 0);
    const auto switched = earlier.cli({"switch"});
    ASSERT_EQ(switched.exit_code, 0) << switched.errors << switched.output.dump(2);
    earlier.run().signal(SIGTERM);
    ASSERT_TRUE(earlier.run().wait(60s).has_value());
  }
  const auto outcome = cutover({"run", plan_named("t")});
  EXPECT_EQ(outcome.exit_code, 2) << outcome.output;
  EXPECT_NE(outcome.output.find("cutover never copies green over blue; nothing was changed"), std::string::npos)
      << outcome.output;
  EXPECT_EQ(h_.blue().query_value("SELECT count(*) || ':' || sum(id) FROM items"), "20:210");
  EXPECT_EQ(h_.green().query_value("SELECT count(*) FROM items"), "0");
}

TEST_F(PlanOwnershipTest, AnUnfinishedSnapshotOfAnotherSourceIsNotResumed) {
  // What a run against another blue left: its record names another system and database.
  h_.green().execute(
      "CREATE SCHEMA cutover; CREATE TABLE cutover.apply_position (plan text PRIMARY KEY, "
      "source_lsn pg_lsn NOT NULL, next_offset bigint NOT NULL, snapshot_complete boolean NOT NULL, "
      "updated_at timestamptz NOT NULL DEFAULT now(), source_system text, source_database text, tables text);"
      "INSERT INTO cutover.apply_position VALUES ('items', '0/0', -1, false, now(), '42', 'shop', "
      "'public.items>public.items');"
      "INSERT INTO items VALUES (7, 'copied from the other blue')");
  const auto outcome = cutover({"run", plan_named("items")});
  EXPECT_EQ(outcome.exit_code, 2) << outcome.output;
  EXPECT_NE(outcome.output.find("cutover.apply_position records plan items copying database shop of system 42"),
            std::string::npos)
      << outcome.output;
  EXPECT_EQ(h_.green().query_value("SELECT string_agg(id || ':' || v, ',') FROM items"), "7:copied from the other blue");
  EXPECT_EQ(blue_objects(), "");

  // Without an owner at all, an unfinished snapshot is refused too.
  h_.green().execute("UPDATE cutover.apply_position SET source_system = NULL");
  const auto unowned = cutover({"run", plan_named("items")});
  EXPECT_EQ(unowned.exit_code, 2) << unowned.output;
  EXPECT_NE(unowned.output.find("does not say which database and tables it copied"), std::string::npos)
      << unowned.output;
}

TEST_F(PlanOwnershipTest, ATableDroppedAndCreatedAgainWhileStoppedIsNotResumed) {
  const std::string plan = plan_named("items");
  {
    ChildProcess run({CUTOVER_BINARY, "run", plan}, h_.work().path());
    ASSERT_TRUE(run.wait_for_output("applying from", 120s)) << run.standard_error();
    run.signal(SIGTERM);
    run.wait(60s);
  }
  // Same name, same rows: only its OID tells that changes to the old table may be lost.
  h_.blue().execute(
      "CREATE TABLE items_copy AS SELECT * FROM items; DROP TABLE items;"
      "ALTER TABLE items_copy RENAME TO items; ALTER TABLE items ADD PRIMARY KEY (id)");
  const auto outcome = cutover({"run", plan});
  EXPECT_EQ(outcome.exit_code, 2) << outcome.output;
  EXPECT_NE(outcome.output.find("blue: table public.items>public.items of plan items is not the table green's copy "
                                "was made from: it was dropped and created again"),
            std::string::npos)
      << outcome.output;
  EXPECT_EQ(h_.green().query_value("SELECT snapshot_complete FROM cutover.apply_position"), "t");
}

TEST_F(PlanOwnershipTest, ASnapshotThatFailsPartWayLeavesNothingBehind) {
  // Validation cannot see it: the transform divides by zero on one row only.
  const std::string plan =
      plan_named("items", "postgres", "  - source: items\n    columns:\n      id: id\n      v: \"(100 / (id - 13))::text\"\n");
  EXPECT_EQ(cutover({"validate", "--connect", plan}).exit_code, 0);
  // The run stays up in phase failed, and what the first start made is already undone.
  ChildProcess failed({CUTOVER_BINARY, "run", plan}, h_.work().path());
  ASSERT_TRUE(failed.wait_for_output("pipeline failed reason=", 120s)) << failed.standard_error();
  EXPECT_NE(failed.standard_error().find("division by zero"), std::string::npos) << failed.standard_error();
  EXPECT_EQ(blue_objects(), "");
  failed.signal(SIGTERM);
  EXPECT_EQ(failed.wait(60s).value_or(-1), 1) << failed.standard_error();
  EXPECT_EQ(blue_objects(), "");
  EXPECT_EQ(h_.green().query_value("SELECT count(*) FROM items"), "0");
  EXPECT_EQ(h_.green().query_value("SELECT to_regnamespace('cutover') IS NULL"), "t");
  EXPECT_EQ(h_.green().query_value("SELECT count(*) FROM pg_replication_origin"), "0");

  // The plan fixed, the next run starts clean and copies everything.
  const std::string fixed = plan_named("items");
  ChildProcess run({CUTOVER_BINARY, "run", fixed}, h_.work().path());
  ASSERT_TRUE(run.wait_for_output("applying from", 120s)) << run.standard_error();
  EXPECT_TRUE(h_.wait_until_equal("SELECT * FROM items", "SELECT * FROM items", 60s));
}

// Green's position table as an earlier cutover made it (none of the owner's columns, no
// format in its comment) is taken and brought to the current format; one a newer cutover
// marked with a later format is refused before anything is made on blue.
TEST_F(PlanOwnershipTest, APositionTableOfTheFormerFormatIsUpgradedAndANewerOneRefused) {
  h_.green().execute(
      "CREATE SCHEMA cutover;"
      "CREATE TABLE cutover.apply_position (plan text PRIMARY KEY, source_lsn pg_lsn NOT NULL, "
      "next_offset bigint NOT NULL, snapshot_complete boolean NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())");
  const std::string plan = plan_named("former");
  ChildProcess run({CUTOVER_BINARY, "run", plan}, h_.work().path());
  ASSERT_TRUE(run.wait_for_output("applying from", 120s)) << run.standard_error();
  EXPECT_EQ(h_.green().query_value("SELECT obj_description('cutover.apply_position'::regclass, 'pg_class')"),
            "cutover state format 2");
  EXPECT_EQ(h_.green().query_value("SELECT count(*) FROM information_schema.columns WHERE table_schema = 'cutover' "
                                   "AND table_name = 'apply_position' AND column_name IN "
                                   "('source_system', 'source_database', 'tables', 'relations')"),
            "4");
  EXPECT_EQ(h_.green().query_value("SELECT count(*) FROM items"), "20");
  run.signal(SIGTERM);
  ASSERT_EQ(run.wait(60s).value_or(-1), 0) << run.standard_error();

  h_.green().execute("COMMENT ON TABLE cutover.apply_position IS 'cutover state format 3'");
  const std::string blue_before = blue_objects();
  const auto refused = cutover({"run", plan});
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_NE(refused.output.find("green's cutover.apply_position is of state format 3, written by a newer cutover; "
                                "this one reads format 2 and older"),
            std::string::npos)
      << refused.output;
  EXPECT_EQ(blue_objects(), blue_before);
  EXPECT_EQ(h_.green().query_value("SELECT obj_description('cutover.apply_position'::regclass, 'pg_class')"),
            "cutover state format 3") << "the newer format was overwritten";
}

}  // namespace
}  // namespace cutover::testing
