// The forward pipeline end to end: each transform of the plan, checked by comparing green
// with blue's rows transformed by an independent query written here, not by cutover's code.
#include <gtest/gtest.h>

#include <sstream>

#include "fixtures/forward_harness.h"
#include "fixtures/metrics_samples.h"

namespace cutover::testing {
namespace {

using namespace std::chrono_literals;

TEST(Forward, RenameCastComputedConstantFilterAndKeyChange) {
  ForwardHarness harness;
  harness.blue().execute(
      "CREATE TABLE users (id int PRIMARY KEY, name text, email text, subscription text, "
      "deleted_at timestamptz);"
      "INSERT INTO users SELECT g, 'name ' || g, 'User' || g || '@Example.COM', "
      "CASE WHEN g % 3 = 0 THEN 'gold' END, CASE WHEN g % 7 = 0 THEN now() END "
      "FROM generate_series(1, 5000) g");
  harness.green().execute(
      "CREATE TABLE accounts (id bigint PRIMARY KEY, full_name text, email_lower text, "
      "tier text, source text)");
  harness.write_plan(
      "  - source: public.users\n"
      "    target: public.accounts\n"
      "    columns:\n"
      "      id: id\n"
      "      full_name: name\n"
      "      email_lower: lower(email)\n"
      "      tier: \"coalesce(subscription, 'free')\"\n"
      "      source: \"'blue'\"\n"
      "    where: \"deleted_at IS NULL\"\n",
      "snapshot:\n  parallelism: 3\n  chunk_rows: 700\n");
  harness.start_run();
  harness.blue().execute(
      "UPDATE users SET name = 'renamed ' || id WHERE id <= 100;"
      "UPDATE users SET deleted_at = now() WHERE id BETWEEN 101 AND 150;"  // out of the filter
      "UPDATE users SET deleted_at = NULL WHERE id % 7 = 0 AND id < 700;"  // into the filter
      "DELETE FROM users WHERE id BETWEEN 200 AND 260;"
      "UPDATE users SET id = id + 100000 WHERE id BETWEEN 300 AND 320;"   // key change
      "INSERT INTO users SELECT g, 'late', 'LATE@x', 'silver', NULL FROM generate_series(9000, 9100) g;"
      "BEGIN; UPDATE users SET subscription = 'gold' WHERE id = 400; "
      "UPDATE users SET subscription = NULL WHERE id = 400; "
      "UPDATE users SET email = 'Twice@X' WHERE id = 400; COMMIT;");
  EXPECT_TRUE(harness.wait_until_equal(
      "SELECT id::bigint, name, lower(email), coalesce(subscription, 'free'), 'blue' "
      "FROM users WHERE deleted_at IS NULL",
      "SELECT id, full_name, email_lower, tier, source FROM accounts"));
}

TEST(Forward, SplitOneSourceIntoTwoTargets) {
  ForwardHarness harness;
  harness.blue().execute(
      "CREATE TABLE people (id int PRIMARY KEY, name text, street text, city text);"
      "INSERT INTO people SELECT g, 'p' || g, g || ' Main St', 'City ' || (g % 10) "
      "FROM generate_series(1, 2000) g");
  harness.green().execute(
      "CREATE TABLE names (id int PRIMARY KEY, name text);"
      "CREATE TABLE addresses (person_id int PRIMARY KEY, street text, city text)");
  harness.write_plan(
      "  - source: people\n    target: names\n    columns:\n      id: id\n      name: name\n"
      "  - source: people\n    target: addresses\n    columns:\n      person_id: id\n"
      "      street: street\n      city: upper(city)\n");
  harness.start_run();
  harness.blue().execute(
      "UPDATE people SET city = 'Elsewhere' WHERE id <= 50; DELETE FROM people WHERE id > 1900;"
      "INSERT INTO people VALUES (5000, 'new', '1 New St', 'Newtown')");
  EXPECT_TRUE(harness.wait_until_equal("SELECT id, name FROM people", "SELECT id, name FROM names"));
  EXPECT_TRUE(harness.wait_until_equal("SELECT id, street, upper(city) FROM people",
                                       "SELECT person_id, street, city FROM addresses"));
}

TEST(Forward, MergeTwoSourcesAndRefuseTruncateOfOne) {
  ForwardHarness harness;
  harness.blue().execute(
      "CREATE TABLE eu_orders (id int PRIMARY KEY, total numeric(12,2));"
      "CREATE TABLE us_orders (id int PRIMARY KEY, total numeric(12,2));"
      "INSERT INTO eu_orders SELECT g, g * 1.5 FROM generate_series(1, 1000) g;"
      "INSERT INTO us_orders SELECT g, g * 2.25 FROM generate_series(1, 1000) g");
  harness.green().execute(
      "CREATE TABLE orders (region text, id int, total numeric(12,2), PRIMARY KEY (region, id))");
  harness.write_plan(
      "  - source: eu_orders\n    target: orders\n    key: [region, id]\n    columns:\n"
      "      region: \"'eu'\"\n      id: id\n      total: total\n"
      "  - source: us_orders\n    target: orders\n    key: [region, id]\n    columns:\n"
      "      region: \"'us'\"\n      id: id\n      total: total\n");
  auto& run = harness.start_run();
  harness.blue().execute("UPDATE eu_orders SET total = 0 WHERE id <= 10; DELETE FROM us_orders WHERE id > 990");
  EXPECT_TRUE(harness.wait_until_equal(
      "SELECT 'eu', id, total FROM eu_orders UNION ALL SELECT 'us', id, total FROM us_orders",
      "SELECT region, id, total FROM orders"));

  // A TRUNCATE of one merged source cannot mean "empty orders": apply stops, says why,
  // and green keeps every row. The run stays up in phase failed, status naming the error,
  // the time and what to do, until it is stopped.
  harness.blue().execute("TRUNCATE eu_orders");
  const nlohmann::json failed = harness.wait_until_phase("failed");
  const std::string message = failed["failed"].value("message", "");
  EXPECT_NE(message.find("TRUNCATE of public.eu_orders"), std::string::npos) << failed.dump(2);
  EXPECT_NE(message.find("on_truncate"), std::string::npos) << failed.dump(2);
  EXPECT_GT(failed["failed"].value("unix_ms", 0L), 0) << failed.dump(2);
  EXPECT_NE(failed["failed"].value("next", "").find("start cutover run again"), std::string::npos) << failed.dump(2);
  EXPECT_NE(run.standard_error().find("pipeline failed reason="), std::string::npos) << run.standard_error();
  EXPECT_EQ(harness.green().query_number("SELECT count(*) FROM orders"), 1990);
  ChildProcess shown({CUTOVER_BINARY, "status", "--control", harness.control_url()}, harness.work().path());
  EXPECT_EQ(shown.wait(30s).value_or(-1), 0) << shown.standard_error();
  EXPECT_NE(shown.standard_output().find("plan t: failed\nFAILED: "), std::string::npos) << shown.standard_output();
  EXPECT_NE(shown.standard_output().find("\nwhat to do: "), std::string::npos) << shown.standard_output();
  const auto metrics = scraped_samples(harness.control_url(), harness.work().path());
  EXPECT_EQ(sample_value(metrics, "cutover_phase", {{"phase", "failed"}}), 1) << metrics.dump();
  harness.stop_failed_run("TRUNCATE of public.eu_orders");
}

TEST(Forward, TruncateOfAOneToOneSourceEmptiesItsTarget) {
  ForwardHarness harness;
  harness.blue().execute(
      "CREATE TABLE items (id int PRIMARY KEY, v text);"
      "INSERT INTO items SELECT g, 'v' FROM generate_series(1, 500) g");
  harness.green().execute("CREATE TABLE items (id int PRIMARY KEY, v text)");
  harness.write_plan("  - source: items\n");
  harness.start_run();
  harness.blue().execute("TRUNCATE items; INSERT INTO items VALUES (1, 'after')");
  EXPECT_TRUE(harness.wait_until_equal("SELECT * FROM items", "SELECT * FROM items"));
  EXPECT_EQ(harness.green().query_value("SELECT v FROM items"), "after");
}

TEST(Forward, UnchangedToastValuesKeepGreensValue) {
  ForwardHarness harness;
  // Random text does not compress, so it is stored out of line (TOAST).
  harness.blue().execute(
      "CREATE TABLE documents (id int PRIMARY KEY, title text, body text);"
      "INSERT INTO documents SELECT g, 't' || g, "
      "(SELECT string_agg(md5(random()::text || g || s), '') FROM generate_series(1, 400) s) "
      "FROM generate_series(1, 20) g");
  harness.green().execute("CREATE TABLE documents (id int PRIMARY KEY, title text, body text)");
  harness.write_plan("  - source: documents\n");
  harness.start_run();
  // Updates that leave body alone: pgoutput sends body as "unchanged".
  harness.blue().execute(
      "UPDATE documents SET title = 'retitled' WHERE id <= 10;"
      "BEGIN; UPDATE documents SET title = 'twice' WHERE id = 11; "
      "UPDATE documents SET title = 'thrice' WHERE id = 11; COMMIT;"
      "INSERT INTO documents SELECT 100, 'fresh', (SELECT string_agg(md5(s::text), '') "
      "FROM generate_series(1, 400) s); UPDATE documents SET title = 'fresh2' WHERE id = 100");
  EXPECT_TRUE(harness.wait_until_equal("SELECT id, title, md5(body) FROM documents",
                                       "SELECT id, title, md5(body) FROM documents"));
  EXPECT_EQ(harness.green().query_number("SELECT count(*) FROM documents WHERE body IS NULL"), 0);
}

TEST(Forward, ComputedColumnsAndFiltersOverUnchangedToastAreRecomputedFromBlue) {
  ForwardHarness harness;
  harness.blue().execute(
      "CREATE TABLE documents (id int PRIMARY KEY, title text, body text);"
      "INSERT INTO documents SELECT g, CASE WHEN g <= 10 THEN 'draft' ELSE 't' END, "
      "(SELECT string_agg(md5(random()::text || g || s), '') FROM generate_series(1, 400) s) "
      "FROM generate_series(1, 20) g");
  harness.green().execute(
      "CREATE TABLE summaries (id int PRIMARY KEY, title text, body_md5 text, body_length int)");
  harness.write_plan(
      "  - source: documents\n    target: summaries\n    columns:\n      id: id\n"
      "      title: title\n      body_md5: md5(body)\n      body_length: length(body)\n"
      "    where: \"title <> 'draft'\"\n");
  harness.start_run();
  // Neither update touches body: the computed columns need it, and rows 1-5 enter the filter.
  harness.blue().execute(
      "UPDATE documents SET title = 'published' WHERE id <= 5;"
      "UPDATE documents SET title = 'renamed' WHERE id > 15");
  EXPECT_TRUE(harness.wait_until_equal(
      "SELECT id, title, md5(body), length(body) FROM documents WHERE title <> 'draft'",
      "SELECT id, title, body_md5, body_length FROM summaries"));
  EXPECT_EQ(harness.green().query_number("SELECT count(*) FROM summaries WHERE body_md5 IS NULL"), 0);
}

TEST(Forward, TableWithoutKeyAppliesInsertsAndFullIdentityChanges) {
  ForwardHarness harness;
  harness.blue().execute(
      "CREATE TABLE events (at int, what text); ALTER TABLE events REPLICA IDENTITY FULL;"
      "INSERT INTO events SELECT g % 50, 'e' || g FROM generate_series(1, 300) g");
  harness.green().execute("CREATE TABLE events (at int, what text)");
  harness.write_plan("  - source: events\n");
  harness.start_run();
  harness.blue().execute(
      "INSERT INTO events SELECT 7, 'dup' FROM generate_series(1, 3);"
      "DELETE FROM events WHERE what = 'e10';"
      "UPDATE events SET what = 'changed' WHERE what = 'e20'");
  EXPECT_TRUE(harness.wait_until_equal("SELECT * FROM events", "SELECT * FROM events"));
}

TEST(Forward, SigtermAndSighupStopCleanlyAndRunResumes) {
  ForwardHarness harness;
  harness.blue().execute("CREATE TABLE items (id int PRIMARY KEY, v text);"
                         "INSERT INTO items SELECT g, 'v' FROM generate_series(1, 100) g");
  harness.green().execute("CREATE TABLE items (id int PRIMARY KEY, v text)");
  harness.write_plan("  - source: items\n");
  auto& first = harness.start_run();
  harness.blue().execute("UPDATE items SET v = 'first' WHERE id <= 10");
  EXPECT_TRUE(harness.wait_until_equal("SELECT * FROM items", "SELECT * FROM items"));
  first.signal(SIGTERM);
  ASSERT_EQ(first.wait(30s), 0) << first.standard_error();
  EXPECT_NE(first.standard_error().find("run stopped"), std::string::npos);
  // Written while nothing runs: the next start picks it up from blue's slot, with no new
  // snapshot (green already holds one).
  harness.blue().execute("UPDATE items SET v = 'while stopped' WHERE id > 90");
  auto& second = harness.start_run();
  EXPECT_TRUE(harness.wait_until_equal("SELECT * FROM items", "SELECT * FROM items"));
  EXPECT_EQ(second.standard_error().find("snapshot copy starting"), std::string::npos)
      << second.standard_error();
  // A hangup (the operator's terminal closed) stops it as cleanly.
  second.signal(SIGHUP);
  ASSERT_EQ(second.wait(30s), 0) << second.standard_error();
  EXPECT_NE(second.standard_error().find("run stopped"), std::string::npos);
  harness.blue().execute("UPDATE items SET v = 'after the hangup' WHERE id <= 5");
  harness.start_run();
  EXPECT_TRUE(harness.wait_until_equal("SELECT * FROM items", "SELECT * FROM items"));
}

TEST(Forward, BadInputChangesNothing) {
  ForwardHarness harness;
  harness.blue().execute("CREATE TABLE users (id int PRIMARY KEY, name text)");
  harness.green().execute("CREATE TABLE accounts (id bigint PRIMARY KEY)");
  harness.write_plan(
      "  - source: users\n    target: accounts\n    columns:\n      id: id\n      nmae: name\n"
      "  - source: missing_table\n");
  auto& run = harness.start_run(false);
  ASSERT_EQ(run.wait(60s), 2) << run.standard_error();
  const std::string error = run.standard_error();
  EXPECT_NE(error.find("tables[0].columns.nmae: green's public.accounts has no column nmae"),
            std::string::npos) << error;
  EXPECT_NE(error.find("tables[1].source: table public.missing_table does not exist on blue"),
            std::string::npos) << error;
  EXPECT_EQ(harness.blue().query_number("SELECT count(*) FROM pg_replication_slots"), 0);
  EXPECT_EQ(harness.blue().query_number("SELECT count(*) FROM pg_publication"), 0);
  EXPECT_EQ(harness.green().query_number(
                "SELECT count(*) FROM pg_namespace WHERE nspname = 'cutover'"), 0);
}

// CUTOVER_LOG_FORMAT=json: every line the run logs is one JSON object, read here by a JSON
// parser, with its fields as members.
TEST(Forward, JsonLogLinesCarryTheirFieldsAsMembers) {
  ForwardHarness harness;
  harness.blue().execute("CREATE TABLE items (id int PRIMARY KEY, v text)");
  harness.green().execute("CREATE TABLE items (id int PRIMARY KEY, v text)");
  harness.write_plan("  - source: items\n");
  ::setenv("CUTOVER_LOG_FORMAT", "json", 1);
  auto& run = harness.start_run();
  ::unsetenv("CUTOVER_LOG_FORMAT");
  harness.blue().execute("INSERT INTO items VALUES (1, 'logged')");
  ASSERT_TRUE(harness.wait_until_equal("SELECT * FROM items", "SELECT * FROM items"));
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(60s).value_or(-1), 0) << run.standard_error();
  std::istringstream lines(run.standard_error());
  int parsed = 0;
  bool saw_start = false;
  for (std::string line; std::getline(lines, line);) {
    const auto object = nlohmann::json::parse(line, nullptr, false);
    ASSERT_TRUE(object.is_object()) << "not a JSON line: " << line;
    EXPECT_TRUE(object["ts"].is_string() && object["level"].is_string() && object["msg"].is_string()) << line;
    ++parsed;
    if (object["msg"] == "pipeline starting") {
      saw_start = true;
      EXPECT_EQ(object["direction"], "forward") << line;
      EXPECT_EQ(object["topic"], "cutover.t.changes") << line;
    }
  }
  EXPECT_GT(parsed, 5);
  EXPECT_TRUE(saw_start) << run.standard_error();
}

}  // namespace
}  // namespace cutover::testing
