// Capture against real PostgreSQL 15 and the embedded broker: every pgoutput message type
// reaches Kafka as the change events of docs/change-events.md, read back by a consumer.
// Note: one execute() with several statements is one transaction (simple query protocol).
#include <gtest/gtest.h>

#include "fixtures/capture_harness.h"

namespace cutover::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const ChangeLogEvent* find_op(const std::vector<ChangeLogEvent>& events, const std::string& op,
                              std::size_t nth = 0) {
  for (const auto& event : events) {
    if (event.value.value("op", "") == op && nth-- == 0) return &event;
  }
  return nullptr;
}

TEST(Capture, EveryColumnTypeArrivesInPostgresTextForm) {
  CaptureHarness harness;
  harness.blue().execute(R"sql(
    CREATE TYPE mood AS ENUM ('sad', 'happy');
    CREATE DOMAIN positive AS int CHECK (VALUE > 0);
    CREATE TABLE kinds (
      id bigint PRIMARY KEY, n numeric, n_nan numeric, f float8, m money, b bytea,
      a int[], j jsonb, r int4range, u uuid, i interval, t timestamptz, t_inf timestamptz,
      e mood, d positive, flag boolean, big text, nothing text);
  )sql");
  harness.write_plan("  - source: public.kinds\n");
  harness.start_capture();
  harness.blue().execute(R"sql(
    INSERT INTO kinds VALUES (1, 12345678901234567890.123456789, 'NaN', 'Infinity', 12.34,
      '\x00ff10', ARRAY[1, NULL, 3], '{"k": [1, 2.50, null]}', '[1,10)',
      'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '1 day 02:03:04.5', '2024-02-29 12:34:56.789+00',
      '-infinity', 'happy', 7, true, repeat('x', 1100000), NULL);
    INSERT INTO kinds (id, t) VALUES (2, 'infinity');
  )sql");
  ASSERT_TRUE(harness.wait_for_transactions(1, 60s)) << harness.capture().standard_error();

  const auto rows = row_events(harness.reader().events(), "kinds");
  ASSERT_EQ(rows.size(), 2u);
  const json& after = rows[0].value["after"];
  EXPECT_EQ(rows[0].value["op"], "c");
  EXPECT_EQ(after["id"], 1);
  EXPECT_EQ(after["n"], "12345678901234567890.123456789");
  EXPECT_EQ(after["n_nan"], "NaN");
  EXPECT_EQ(after["f"], "Infinity");
  EXPECT_EQ(after["m"], "$12.34");
  EXPECT_EQ(after["b"], "\\x00ff10");
  EXPECT_EQ(after["a"], "{1,NULL,3}");
  EXPECT_EQ(after["j"], "{\"k\": [1, 2.50, null]}");
  EXPECT_EQ(after["r"], "[1,10)");
  EXPECT_EQ(after["u"], "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
  EXPECT_EQ(after["i"], "1 day 02:03:04.5");
  EXPECT_EQ(after["t"], "2024-02-29 12:34:56.789+00");
  EXPECT_EQ(after["t_inf"], "-infinity");
  EXPECT_EQ(after["e"], "happy");
  EXPECT_EQ(after["d"], "7");
  EXPECT_EQ(after["flag"], true);
  EXPECT_EQ(after["big"].get<std::string>().size(), 1100000u);
  EXPECT_TRUE(after["nothing"].is_null());
  EXPECT_EQ(rows[0].key, (json{{"schema", "public"}, {"table", "kinds"}, {"key", {{"id", 1}}}}));
  EXPECT_EQ(rows[1].value["after"]["t"], "infinity");

  // The schema event names the enum and domain by the Type messages pgoutput sent.
  const auto events = harness.reader().events();
  const auto* schema = find_op(events, "schema");
  ASSERT_NE(schema, nullptr);
  bool saw_enum = false;
  for (const auto& column : schema->value["schema"]["columns"]) {
    if (column["name"] == "e") saw_enum = column["type"] == "public.mood";
  }
  EXPECT_TRUE(saw_enum) << schema->value.dump();
}

// The change log does not depend on blue's settings: a day-first DateStyle, a far time zone,
// SQL-standard intervals, few float digits and escaped bytea as the database's defaults
// change nothing in the events (the walsender's session is pinned).
TEST(Capture, EventsDoNotDependOnBluesSettings) {
  CaptureHarness harness;
  harness.blue().execute(
      "ALTER DATABASE postgres SET DateStyle = 'SQL, DMY'; ALTER DATABASE postgres SET TimeZone = 'Asia/Kolkata';"
      "ALTER DATABASE postgres SET IntervalStyle = 'sql_standard'; ALTER DATABASE postgres SET extra_float_digits = -3;"
      "ALTER DATABASE postgres SET bytea_output = 'escape'; ALTER DATABASE postgres SET lc_monetary = 'POSIX'");
  harness.blue().execute(
      "CREATE TABLE settled (id int PRIMARY KEY, d date, t timestamptz, i interval, f float8, b bytea, m money)");
  harness.write_plan("  - source: public.settled\n");
  harness.start_capture();
  harness.blue().execute(
      "INSERT INTO settled VALUES (1, '2024-03-04', '2024-03-04 10:00:00+00', '-1 day -02:03:04', 1 / 3.0, "
      "'\\x00ff', 1234.56)");
  ASSERT_TRUE(harness.wait_for_transactions(1, 60s)) << harness.capture().standard_error();
  const auto rows = row_events(harness.reader().events(), "settled");
  ASSERT_EQ(rows.size(), 1u);
  const json& after = rows[0].value["after"];
  EXPECT_EQ(after["d"], "2024-03-04");
  EXPECT_EQ(after["t"], "2024-03-04 10:00:00+00");
  EXPECT_EQ(after["i"], "-1 days -02:03:04");
  EXPECT_EQ(after["f"], "0.3333333333333333");
  EXPECT_EQ(after["b"], "\\x00ff");
  EXPECT_EQ(after["m"], "$1,234.56");
}

TEST(Capture, UnchangedToastIsDistinguishedFromNull) {
  CaptureHarness harness;
  harness.blue().execute(
      "CREATE TABLE docs (id int PRIMARY KEY, body text, note text);"
      "ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL;"
      "INSERT INTO docs VALUES (1, repeat('y', 1100000), 'first');");
  harness.write_plan("  - source: public.docs\n");
  harness.start_capture();
  harness.blue().execute("UPDATE docs SET note = 'second' WHERE id = 1;"
                         "UPDATE docs SET body = NULL, note = 'third' WHERE id = 1;");
  ASSERT_TRUE(harness.wait_for_transactions(1, 60s)) << harness.capture().standard_error();

  const auto rows = row_events(harness.reader().events(), "docs");
  ASSERT_EQ(rows.size(), 2u);
  const json& unchanged = rows[0].value;
  EXPECT_EQ(unchanged["after"]["note"], "second");
  EXPECT_FALSE(unchanged["after"].contains("body")) << "an unchanged TOAST value is left out";
  EXPECT_EQ(unchanged["unchanged_toast"], json::array({"body"}));
  const json& nulled = rows[1].value;
  EXPECT_TRUE(nulled["after"]["body"].is_null()) << "a real NULL stays NULL";
  EXPECT_FALSE(nulled.contains("unchanged_toast"));
}

TEST(Capture, TableWithoutPrimaryKeyUsesReplicaIdentityFull) {
  CaptureHarness harness;
  harness.blue().execute("CREATE TABLE logbook (who text, what text);"
                         "ALTER TABLE logbook REPLICA IDENTITY FULL;");
  harness.write_plan("  - source: public.logbook\n");
  harness.start_capture();
  harness.blue().execute("INSERT INTO logbook VALUES ('ann', 'came'), ('bob', 'went');"
                         "UPDATE logbook SET what = 'left' WHERE who = 'bob';"
                         "DELETE FROM logbook WHERE who = 'ann';");
  ASSERT_TRUE(harness.wait_for_transactions(1, 60s)) << harness.capture().standard_error();

  const auto rows = row_events(harness.reader().events(), "logbook");
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[2].value["op"], "u");
  EXPECT_EQ(rows[2].value["before_kind"], "full");
  EXPECT_EQ(rows[2].value["before"], (json{{"who", "bob"}, {"what", "went"}}));
  EXPECT_EQ(rows[2].value["after"], (json{{"who", "bob"}, {"what", "left"}}));
  EXPECT_EQ(rows[3].value["op"], "d");
  EXPECT_EQ(rows[3].value["before"], (json{{"who", "ann"}, {"what", "came"}}));
}

TEST(Capture, KeyChangeCarriesTheOldKey) {
  CaptureHarness harness;
  harness.blue().execute("CREATE TABLE items (id int PRIMARY KEY, label text);"
                         "INSERT INTO items VALUES (1, 'one');");
  harness.write_plan("  - source: public.items\n");
  harness.start_capture();
  harness.blue().execute("UPDATE items SET id = 10 WHERE id = 1; DELETE FROM items WHERE id = 10;");
  ASSERT_TRUE(harness.wait_for_transactions(1, 60s)) << harness.capture().standard_error();
  const auto rows = row_events(harness.reader().events(), "items");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].value["before"], (json{{"id", 1}})) << "key-only old tuple: key columns only";
  EXPECT_EQ(rows[0].value["after"], (json{{"id", 10}, {"label", "one"}}));
  EXPECT_EQ(rows[1].value["before"], (json{{"id", 10}}));
  // Both rows belong to one transaction: same commit LSN and txId, rising sequence.
  EXPECT_EQ(rows[0].value["source"]["commit_lsn"], rows[1].value["source"]["commit_lsn"]);
  EXPECT_EQ(rows[0].value["source"]["txId"], rows[1].value["source"]["txId"]);
  EXPECT_EQ(rows[0].value["source"]["sequence"], 0);
  EXPECT_EQ(rows[1].value["source"]["sequence"], 1);
}

TEST(Capture, TruncateCarriesCascadeAndRestartIdentity) {
  CaptureHarness harness;
  harness.blue().execute(
      "CREATE TABLE parent (id serial PRIMARY KEY);"
      "CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent(id));"
      "INSERT INTO parent DEFAULT VALUES; INSERT INTO child VALUES (1, 1);");
  harness.write_plan("  - source: public.parent\n  - source: public.child\n");
  harness.start_capture();
  harness.blue().execute("TRUNCATE parent RESTART IDENTITY CASCADE;");
  ASSERT_TRUE(harness.wait_for_transactions(1, 60s)) << harness.capture().standard_error();

  const auto events = harness.reader().events();
  const auto parent = row_events(events, "parent");
  const auto child = row_events(events, "child");
  ASSERT_EQ(parent.size(), 1u);
  ASSERT_EQ(child.size(), 1u);
  EXPECT_EQ(parent[0].value["op"], "t");
  EXPECT_EQ(parent[0].value["truncate"]["cascade"], true);
  EXPECT_EQ(parent[0].value["truncate"]["restart_identity"], true);
  EXPECT_EQ(child[0].value["op"], "t");
}

TEST(Capture, FollowsAlterTableWhileStreaming) {
  CaptureHarness harness;
  harness.blue().execute("CREATE TABLE people (id int PRIMARY KEY, name text);");
  harness.write_plan("  - source: public.people\n");
  harness.start_capture();
  harness.blue().execute("INSERT INTO people VALUES (1, 'a');"
                         "ALTER TABLE people ADD COLUMN age int;"
                         "INSERT INTO people VALUES (2, 'b', 42);"
                         "ALTER TABLE people DROP COLUMN name;"
                         "INSERT INTO people VALUES (3, 7);");
  ASSERT_TRUE(harness.wait_for_transactions(1, 60s)) << harness.capture().standard_error();
  const auto rows = row_events(harness.reader().events(), "people");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].value["after"], (json{{"id", 1}, {"name", "a"}}));
  EXPECT_EQ(rows[1].value["after"], (json{{"id", 2}, {"name", "b"}, {"age", 42}}));
  EXPECT_EQ(rows[2].value["after"], (json{{"id", 3}, {"age", 7}}));
}

TEST(Capture, LogicalMessagesAndOriginsAndTransactionBoundaries) {
  CaptureHarness harness;
  harness.blue().execute("CREATE TABLE notes (id int PRIMARY KEY);");
  harness.write_plan("  - source: public.notes\n");
  harness.start_capture();
  harness.blue().execute(
      "BEGIN; INSERT INTO notes VALUES (1);"
      "SELECT pg_logical_emit_message(true, 'cutover', 'marker-1'); COMMIT;"
      "SELECT pg_logical_emit_message(false, 'other', 'loose');");
  harness.blue().execute(
      "SELECT pg_replication_origin_create('elsewhere');"
      "SELECT pg_replication_origin_session_setup('elsewhere');"
      "SELECT pg_replication_origin_xact_setup('0/AB', now());"
      "INSERT INTO notes VALUES (2);");
  ASSERT_TRUE(harness.wait_for_transactions(2, 60s)) << harness.capture().standard_error();

  const auto events = harness.reader().events();
  const auto* marker = find_op(events, "m", 0);
  const auto* loose = find_op(events, "m", 1);
  ASSERT_NE(marker, nullptr);
  ASSERT_NE(loose, nullptr);
  EXPECT_EQ(marker->value["message"]["prefix"], "cutover");
  EXPECT_EQ(marker->value["message"]["content"], "\\x6d61726b65722d31");  // 'marker-1'
  EXPECT_EQ(marker->value["message"]["transactional"], true);
  EXPECT_TRUE(marker->value["source"].contains("commit_lsn"));
  EXPECT_EQ(loose->value["message"]["transactional"], false);

  // BEGIN, row, message, END in that order for the first transaction.
  std::vector<std::string> shape;
  for (const auto& event : events) {
    shape.push_back(event.value.contains("status") ? event.value["status"].get<std::string>()
                                                   : event.value["op"].get<std::string>());
  }
  const std::vector<std::string> first(shape.begin(), shape.begin() + 5);
  EXPECT_EQ(first, (std::vector<std::string>{"BEGIN", "schema", "c", "m", "END"}));

  const auto rows = row_events(events, "notes");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].value["source"]["origin"], "elsewhere");
}

}  // namespace
}  // namespace cutover::testing
