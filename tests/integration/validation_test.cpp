// `cutover validate --connect`: the plan against real blue and green databases. Every
// problem is reported at once, and validation creates nothing on either side.
#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include <cstdlib>

#include "fixtures/forward_harness.h"

namespace cutover::testing {
namespace {

using namespace std::chrono_literals;

struct Validation {
  int exit_code;
  std::string output;
};

Validation validate_connect(ForwardHarness& harness, const std::string& plan) {
  ChildProcess child({CUTOVER_BINARY, "validate", "--connect", plan}, harness.work().path());
  const int code = child.wait(60s).value_or(-1);
  return {code, child.standard_output() + child.standard_error()};
}

void expect_nothing_created(ForwardHarness& harness) {
  EXPECT_EQ(harness.blue().query_number("SELECT count(*) FROM pg_replication_slots"), 0);
  EXPECT_EQ(harness.blue().query_number("SELECT count(*) FROM pg_publication"), 0);
  EXPECT_EQ(harness.green().query_number(
                "SELECT count(*) FROM pg_namespace WHERE nspname = 'cutover'"), 0);
  EXPECT_EQ(harness.green().query_number("SELECT count(*) FROM pg_replication_origin"), 0);
  EXPECT_EQ(harness.blue().query_number(
                "SELECT count(*) FROM pg_class WHERE relname = 'cutover_validate'"), 0);
}

// `validate --connect` of the harness's plan refuses it (exit 2), saying `message`, and
// creates nothing.
void expect_refused_with(ForwardHarness& harness, const std::string& message) {
  const Validation refused = validate_connect(harness, harness.plan_path());
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_NE(refused.output.find(message), std::string::npos) << refused.output;
  expect_nothing_created(harness);
}

TEST(Validation, EveryProblemIsReportedAtOnceAndNothingIsCreated) {
  ForwardHarness harness;
  harness.blue().execute(
      "CREATE TABLE users (id int PRIMARY KEY, email text, name text, flag boolean);"
      "CREATE TABLE audit (at timestamptz, what text);"
      "CREATE TABLE keyed (id int PRIMARY KEY, code text)");
  harness.green().execute(
      "CREATE TABLE accounts (id bigint PRIMARY KEY, email text, joined date, score int);"
      "CREATE TABLE joined (id bigint PRIMARY KEY, joined date);"
      "CREATE TABLE audit (at timestamptz, what text);"
      "CREATE TABLE by_code (code text, id int);"
      "CREATE TABLE coded (code text PRIMARY KEY, id int);"
      "INSERT INTO audit VALUES (now(), 'already here')");
  harness.write_plan(
      "  - source: users\n    target: accounts\n    columns:\n"
      "      id: id\n      email: no_such_function(email)\n"
      "  - source: users\n    target: joined\n    columns:\n"
      "      id: id\n      joined: flag\n"            // boolean does not become a date
      "  - source: audit\n"                           // no key on blue nor green
      "  - source: keyed\n    target: by_code\n    key: [code]\n    columns:\n"
      "      code: code\n      id: id\n"              // key from a non-identity column, no unique index
      "  - source: nowhere\n"
      "  - source: users\n    target: missing_target\n"
      "  - source: keyed\n    target: coded\n    columns:\n      id: id\n");  // key unmapped
  const Validation result = validate_connect(harness, harness.plan_path());
  EXPECT_EQ(result.exit_code, 2) << result.output;
  const std::string& out = result.output;
  for (const std::string expected : {
           "tables[0].columns.email: the transform of public.users does not run on blue",
           "no_such_function",
           "tables[1].columns.joined: gives boolean, which does not convert to green's date",
           "tables[2].key: green's public.audit has no primary key",
           "public.audit has no primary key and no replica identity",
           "tables[3].key: green's public.by_code has no unique index",
           "tables[3].key: target key code is computed from code, which blue does not send",
           "tables[4].source: table public.nowhere does not exist on blue",
           "tables[5].target: table public.missing_target does not exist on green",
           "tables[6].key: key column code has no expression under columns",
           "green: public.audit already has rows",
       }) {
    EXPECT_NE(out.find(expected), std::string::npos) << "missing: " << expected << "\n" << out;
  }
  expect_nothing_created(harness);
}

TEST(Validation, PrivilegesOnBothSides) {
  ForwardHarness harness;
  harness.blue().execute(
      "CREATE TABLE t (id int PRIMARY KEY); CREATE ROLE mover LOGIN REPLICATION;"
      "CREATE TABLE open_table (id int PRIMARY KEY); GRANT SELECT ON open_table TO mover");
  harness.green().execute("CREATE TABLE t (id int PRIMARY KEY); CREATE ROLE applier LOGIN;"
                          "CREATE TABLE open_table (id int PRIMARY KEY)");
  const std::string plan = harness.work().write_file(
      "roles.yaml", "name: t\nblue:\n  dsn: \"" + harness.blue().dsn("mover") +
                        "\"\ngreen:\n  dsn: \"" + harness.green().dsn("applier") +
                        "\"\nkafka:\n  brokers: embedded\ntables:\n  - source: t\n"
                        "  - source: open_table\n");
  const Validation result = validate_connect(harness, plan);
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.output.find("tables[0].source: blue's role may not read public.t"),
            std::string::npos) << result.output;
  EXPECT_EQ(result.output.find("may not read public.open_table"), std::string::npos) << result.output;
  // Each privilege green's role lacks, with the GRANT that gives it.
  for (const std::string expected :
       {"green: role applier may not SET session_replication_role",
        "GRANT SET ON PARAMETER session_replication_role TO \"applier\"",
        "may not call pg_replication_origin_session_setup(text)",
        "may not read pg_replication_origin_status",
        "may not create the schema cutover",
        "green: role applier lacks SELECT, INSERT, UPDATE, DELETE, TRUNCATE on public.t"}) {
    EXPECT_NE(result.output.find(expected), std::string::npos) << expected << "\n" << result.output;
  }
  expect_nothing_created(harness);
}

TEST(Validation, UnreachableGreenIsNamedWithoutItsPassword) {
  ForwardHarness harness;
  harness.blue().execute("CREATE TABLE t (id int PRIMARY KEY)");
  const std::string plan = harness.work().write_file(
      "unreachable.yaml", "name: t\nblue:\n  dsn: \"" + harness.blue().dsn() +
                              "\"\ngreen:\n  dsn: \"host=127.0.0.1 port=1 user=x password=hunter2 "
                              "connect_timeout=2\"\nkafka:\n  brokers: embedded\ntables:\n"
                              "  - source: t\n");
  const Validation result = validate_connect(harness, plan);
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.output.find("cannot connect to green"), std::string::npos) << result.output;
  EXPECT_EQ(result.output.find("hunter2"), std::string::npos) << result.output;
  expect_nothing_created(harness);
}

// The example plans of config/ fit the schemas their comments describe.
TEST(Validation, ExamplePlansFitTheirSchemas) {
  ForwardHarness harness;
  const std::string blue_schema =
      "CREATE TABLE users (id int PRIMARY KEY, name text, email text, subscription text, "
      "balance numeric(12,2), deleted_at timestamptz);"
      "CREATE TABLE people (id int PRIMARY KEY, name text, street text, city text);"
      "CREATE TABLE eu_orders (id int PRIMARY KEY, total numeric(12,2));"
      "CREATE TABLE us_orders (id int PRIMARY KEY, total numeric(12,2));";
  harness.blue().execute(blue_schema);
  ASSERT_EQ(harness.pgbench({"-i", "-s", "1", "-q"}), 0);
  harness.blue().execute("ALTER TABLE pgbench_history REPLICA IDENTITY FULL");
  harness.create_pgbench_schema_on_green();
  harness.green().execute(
      "CREATE TABLE accounts (id bigint PRIMARY KEY, full_name text, email_lower text, "
      "tier text, balance_cents bigint);"
      "CREATE TABLE names (id int PRIMARY KEY, name text);"
      "CREATE TABLE addresses (person_id int PRIMARY KEY, street text, city text);"
      "CREATE TABLE orders (region text, id int, total numeric(12,2), PRIMARY KEY (region, id));"
      "CREATE TABLE users (id int PRIMARY KEY, name text, email text)");
  ::setenv("BLUE_DSN", harness.blue().dsn().c_str(), 1);
  ::setenv("GREEN_DSN", harness.green().dsn().c_str(), 1);
  for (const char* example : {"same-schema.yaml", "int-to-bigint.yaml", "split-merge.yaml",
                              "filtered.yaml"}) {
    const Validation result =
        validate_connect(harness, std::string(CUTOVER_SOURCE_DIR "/config/") + example);
    EXPECT_EQ(result.exit_code, 0) << example << "\n" << result.output;
    EXPECT_NE(result.output.find("fits blue and green"), std::string::npos) << result.output;
  }
  expect_nothing_created(harness);
}

// What a session cannot pin: a green whose encoding cannot hold blue's text, and a key whose
// collation calls equal what blue calls different (rows would merge), are refused; keys that
// the two sides only order differently are a warning.
TEST(Validation, EncodingsAndKeyCollationsThatWouldChangeDataAreRefused) {
  ForwardHarness harness(ClusterOptions{}, ClusterOptions{.encoding = "LATIN1"});
  harness.blue().execute(
      "CREATE COLLATION nocase (provider = icu, locale = 'und-u-ks-level2', deterministic = false);"
      "CREATE TABLE people (email text PRIMARY KEY, name text);"
      "CREATE TABLE tags (tag text COLLATE \"C\" PRIMARY KEY);"
      "CREATE TABLE labels (label text COLLATE nocase PRIMARY KEY);"
      "CREATE TABLE logins (id int PRIMARY KEY, email text)");
  harness.green().execute(
      "CREATE COLLATION nocase (provider = icu, locale = 'und-u-ks-level2', deterministic = false);"
      "CREATE COLLATION accentless (provider = icu, locale = 'und-u-ks-level1', deterministic = false);"
      "CREATE TABLE people (email text COLLATE nocase PRIMARY KEY, name text);"
      "CREATE TABLE tags (tag text COLLATE \"und-x-icu\" PRIMARY KEY);"
      "CREATE TABLE labels (label text COLLATE accentless PRIMARY KEY);"
      "CREATE TABLE logins (login text COLLATE nocase PRIMARY KEY, id int)");
  harness.write_plan("  - source: people\n  - source: tags\n  - source: labels\n"
                     "  - source: logins\n    key: [login]\n    columns:\n      login: lower(email)\n      id: id\n");
  const Validation result = validate_connect(harness, harness.plan_path());
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("green: server_encoding is LATIN1, blue's is UTF8"), std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("key public.people.email (from public.people.email): its collation is "
                               "deterministic on blue"),
            std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("nondeterministic on green (nocase (i und-u-ks-level2))"), std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("key public.tags.tag (from public.tags.tag): collation C (c C) on blue, "
                               "und-x-icu (i und) on green"),
            std::string::npos)
      << result.output;
  // Two nondeterministic collations that differ disagree on equality too.
  EXPECT_NE(result.output.find("key public.labels.label (from public.labels.label): its collation is "
                               "nondeterministic on blue (nocase (i und-u-ks-level2)) and nondeterministic on green "
                               "(accentless (i und-u-ks-level1))"),
            std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("key public.logins.login is computed (lower(email)) and its collation on green is "
                               "nondeterministic (nocase (i und-u-ks-level2))"),
            std::string::npos)
      << result.output;
  expect_nothing_created(harness);
}

// A LATIN1 blue: change events are JSON (UTF8), and verification hashes each side's text in its
// own encoding, so cutover cannot prove such a move; refused before anything is created.
TEST(Validation, ALatin1BlueIsRefusedByName) {
  ForwardHarness harness(ClusterOptions{.encoding = "LATIN1"}, ClusterOptions{});
  harness.blue().execute("CREATE TABLE items (id int PRIMARY KEY, name text)");
  harness.green().execute("CREATE TABLE items (id int PRIMARY KEY, name text)");
  harness.write_plan("  - source: items\n");
  expect_refused_with(harness, "blue: server_encoding is LATIN1; change events are JSON and need a UTF8 database");
}

// cutover carries money under lc_monetary C (2 decimal places). A side whose own lc_monetary
// has other places (ja_JP: none) stores amounts on another scale, so money would change
// amount on the way: refused, naming the column. Locales that only format money differently
// (de_DE, en_IN) are a warning.
TEST(Validation, MoneyUnderALocaleWithOtherDecimalPlacesIsRefused) {
  ForwardHarness harness(ClusterOptions{.locale = "de_DE.UTF-8"}, ClusterOptions{});
  harness.blue().execute("CREATE TABLE prices (id int PRIMARY KEY, amount money, history money[])");
  harness.green().execute("CREATE TABLE prices (id int PRIMARY KEY, amount money, history money[]);"
                          "ALTER DATABASE postgres SET lc_monetary = 'ja_JP.UTF-8'");
  harness.write_plan("  - source: prices\n");
  const Validation refused = validate_connect(harness, harness.plan_path());
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_NE(refused.output.find("green: lc_monetary is ja_JP.UTF-8, where money has 0 decimal places; cutover "
                                "reads and writes money under lc_monetary C (2 places), so public.prices.amount, "
                                "public.prices.history would change amount"),
            std::string::npos)
      << refused.output;
  EXPECT_EQ(refused.output.find("blue: lc_monetary"), std::string::npos) << refused.output;
  expect_nothing_created(harness);

  harness.green().execute("ALTER DATABASE postgres SET lc_monetary = 'en_IN.UTF-8'");
  const Validation warned = validate_connect(harness, harness.plan_path());
  EXPECT_EQ(warned.exit_code, 0) << warned.output;
  EXPECT_NE(warned.output.find("lc_monetary is de_DE.UTF-8 on blue and en_IN.UTF-8 on green: money keeps its amount"),
            std::string::npos)
      << warned.output;
}

// A rollback must find blue's rows from what green sends: green keyed on payment_id alone
// sends only payment_id for a delete, and blue's key also needs payment_date, so deletes
// made on green after a switch would match nothing on blue: said at validation, and the
// switch's rollback_possible guardrail refuses. And UNLOGGED and TEMPORARY tables, whose
// changes logical decoding never sees, are refused.
TEST(Validation, AReverseKeyGreenCannotSendAndUnloggedTablesAreRefused) {
  ForwardHarness harness;
  harness.blue().execute(
      "CREATE TABLE payment (payment_date date, payment_id int, amount numeric(8,2), "
      "PRIMARY KEY (payment_date, payment_id));"
      "CREATE UNLOGGED TABLE scratch (id int PRIMARY KEY);"
      "CREATE TABLE animals (id int PRIMARY KEY, name text); CREATE TABLE dogs (breed text) INHERITS (animals)");
  harness.green().execute(
      "CREATE TABLE payment (payment_id bigint PRIMARY KEY, payment_date date NOT NULL, amount numeric(8,2));"
      "CREATE TABLE scratch (id int PRIMARY KEY); CREATE TABLE animals (id int PRIMARY KEY, name text)");
  // A temporary table lives as long as the session that made it: this one stays open.
  pqxx::connection application(harness.blue().dsn());
  pqxx::nontransaction session(application);
  session.exec("CREATE TEMPORARY TABLE session_scratch (id int PRIMARY KEY)");
  const auto temporary_schema =
      session.exec("SELECT nspname FROM pg_namespace WHERE oid = pg_my_temp_schema()")[0][0].as<std::string>();
  harness.write_plan("  - source: payment\n    key: [payment_id]\n  - source: scratch\n  - source: animals\n"
                     "  - source: " + temporary_schema + ".session_scratch\n    target: scratch\n");
  const Validation refused = validate_connect(harness, harness.plan_path());
  EXPECT_NE(refused.output.find("tables[3].source: blue's " + temporary_schema +
                                ".session_scratch is TEMPORARY: PostgreSQL does not replicate its changes"),
            std::string::npos)
      << refused.output;
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_NE(refused.output.find("tables[1].source: blue's public.scratch is UNLOGGED: PostgreSQL does not "
                                "replicate its changes"),
            std::string::npos)
      << refused.output;
  EXPECT_NE(refused.output.find("tables[2].source: blue's public.animals has inheritance children (public.dogs)"),
            std::string::npos)
      << refused.output;
  harness.write_plan("  - source: payment\n    key: [payment_id]\n");
  // The move itself can go ahead; its switch is refused until the way back works.
  const Validation no_way_back = validate_connect(harness, harness.plan_path());
  EXPECT_EQ(no_way_back.exit_code, 0) << no_way_back.output;
  EXPECT_NE(no_way_back.output.find("warning: rollback: "), std::string::npos) << no_way_back.output;
  EXPECT_NE(no_way_back.output.find("key: target key payment_date is computed from payment_date, which "
                                    "green does not send for deletes"),
            std::string::npos)
      << no_way_back.output;
  EXPECT_NE(no_way_back.output.find("until then a switch is refused"), std::string::npos) << no_way_back.output;
  harness.green().execute("ALTER TABLE payment REPLICA IDENTITY FULL");
  const Validation fits = validate_connect(harness, harness.plan_path());
  EXPECT_EQ(fits.exit_code, 0) << fits.output;
  EXPECT_EQ(fits.output.find("does not send for deletes"), std::string::npos) << fits.output;
  expect_nothing_created(harness);
}

// Identity and generated columns on either side: a column blue generates is not in its change
// stream, so green's copy of it must be computed by the plan; green's identity column takes
// copied values, and its sequence must follow at the switch.
TEST(Validation, GeneratedAndIdentityColumnsOnEitherSide) {
  ForwardHarness harness;
  harness.blue().execute(
      "CREATE TABLE items (id int PRIMARY KEY, qty int, total int GENERATED ALWAYS AS (qty * 2) STORED)");
  harness.green().execute(
      "CREATE TABLE items (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, qty int, total int)");
  harness.write_plan("  - source: items\n");
  const Validation unmapped = validate_connect(harness, harness.plan_path());
  EXPECT_EQ(unmapped.exit_code, 2) << unmapped.output;
  EXPECT_NE(unmapped.output.find("tables[0].columns.total: reads blue's generated column public.items.total, which "
                                 "logical replication does not send: compute it from the columns it is made of "
                                 "(total: (qty * 2))"),
            std::string::npos)
      << unmapped.output;
  harness.write_plan("  - source: items\n    columns:\n      id: id\n      qty: qty\n      total: qty * 2\n");
  const Validation computed = validate_connect(harness, harness.plan_path());
  EXPECT_EQ(computed.exit_code, 0) << computed.output;
  EXPECT_NE(computed.output.find("green's public.items.id takes its default from sequence public.items_id_seq, which "
                                 "the plan's sequences do not list"),
            std::string::npos)
      << computed.output;
  expect_nothing_created(harness);
}

}  // namespace
}  // namespace cutover::testing
