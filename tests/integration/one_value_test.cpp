// One value on every path: the snapshot and the applier give a transformed column the same
// value, a conversion that can lose data never cuts a value silently, and verification proves
// such a column by casting green's values back to blue's type. Green is checked against blue
// by SQL written here, which shares no code with cutover's transforms.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <pqxx/pqxx>

#include <chrono>
#include <set>
#include <string>

#include "fixtures/forward_harness.h"

namespace cutover::testing {
namespace {

using namespace std::chrono_literals;

class OneValueTest : public ::testing::Test {
 protected:
  void SetUp() override { ::setenv("CUTOVER_TOKEN", "one-value-token", 1); }

  std::string state() const { return "state_dir: " + h_.work().path() + "/state\n"; }

  struct Outcome {
    int exit_code;
    std::string output;
  };
  Outcome validate_connect() {
    ChildProcess child({CUTOVER_BINARY, "validate", "--connect", h_.plan_path()}, h_.work().path());
    const int code = child.wait(60s).value_or(-1);
    return {code, child.standard_output() + child.standard_error()};
  }

  ForwardHarness h_;
};

// pgbench's filler char(84) into text: SQL's conversion drops the padding. Rows copied by the
// snapshot and rows streamed afterwards must agree, and equal blue's rtrim().
TEST_F(OneValueTest, PaddedCharacterIntoTextIsTheSameValueFromTheSnapshotAndTheStream) {
  h_.blue().execute(
      "CREATE TABLE codes (id int PRIMARY KEY, filler char(20), code varchar(10));"
      "INSERT INTO codes SELECT g, 'f' || g, 'c' || g FROM generate_series(1, 200) g");
  h_.green().execute("CREATE TABLE codes (id bigint PRIMARY KEY, filler text, code text)");
  h_.write_plan("  - source: codes\n", state());
  const auto validated = validate_connect();
  EXPECT_EQ(validated.exit_code, 0) << validated.output;
  // Forward, nothing to say (the way back, text into char(20), is another matter).
  EXPECT_EQ(validated.output.find("tables[0].columns."), std::string::npos) << validated.output;
  h_.start_run();
  h_.blue().execute(
      "INSERT INTO codes SELECT g, 'f' || g, 'c' || g FROM generate_series(201, 400) g;"
      "UPDATE codes SET filler = 'changed ' || id WHERE id % 50 = 0");
  EXPECT_TRUE(h_.wait_until_equal("SELECT id, rtrim(filler), code FROM codes", "SELECT id, filler, code FROM codes"));
  EXPECT_EQ(h_.green().query_value("SELECT count(*) FROM codes WHERE filler LIKE '% '"), "0");
  EXPECT_EQ(h_.cli({"verify"}).exit_code, 0);
}

// Every conversion of the type table, lossless and lossy, on two servers whose defaults are
// unlike anyone's and unlike each other's (day-first and German dates, time zones 12:45 and
// -3:30 from UTC, SQL-standard and ISO 8601 intervals, few float digits, escaped bytea): each
// row the snapshot copied has a twin streamed afterwards from identical source values, and
// the two must hold identical values in green.
TEST_F(OneValueTest, EveryConversionGivesTheSameValueFromTheSnapshotAndTheStreamWhateverTheSettings) {
  h_.blue().execute("ALTER DATABASE postgres SET DateStyle = 'SQL, DMY'; "
                    "ALTER DATABASE postgres SET TimeZone = 'Pacific/Chatham'; "
                    "ALTER DATABASE postgres SET IntervalStyle = 'sql_standard'; "
                    "ALTER DATABASE postgres SET extra_float_digits = -3; "
                    "ALTER DATABASE postgres SET bytea_output = 'escape'");
  h_.green().execute("ALTER DATABASE postgres SET DateStyle = 'German, MDY'; "
                     "ALTER DATABASE postgres SET TimeZone = 'America/St_Johns'; "
                     "ALTER DATABASE postgres SET IntervalStyle = 'iso_8601'; "
                     "ALTER DATABASE postgres SET extra_float_digits = 0");
  const std::string source_columns =
      "a smallint, b integer, c bigint, d numeric(10,2), e real, f varchar(10), g char(8), h date, "
      "i timestamp(3), j json, k text, l integer[], m timestamptz, n numeric(12,4), o double precision, "
      "p interval, q bytea, r tstzrange, s char(3), t release_year";
  // A domain blue has and green does not: values travel as its base type.
  h_.blue().execute("CREATE DOMAIN release_year AS integer CHECK (VALUE > 1900)");
  h_.blue().execute("CREATE TABLE conv (id int PRIMARY KEY, " + source_columns + ")");
  h_.green().execute(
      "CREATE TABLE conv (id int PRIMARY KEY, a integer, b bigint, c numeric, d numeric(12,4), "
      "e double precision, f text, g text, h timestamptz, i timestamp, j jsonb, k varchar(20), l bigint[], "
      "m date, n numeric(10,2), o integer, p interval, q bytea, r tstzrange, s varchar(3), t bigint)");
  const std::string values =
      "SELECT %s, g::smallint, g * 1000, g * 10000000000, g + 0.25, g + 0.5, 'f' || g, 'g' || g, "
      "date '2024-02-27' + g, timestamp '2024-02-27 23:59:58.123' + g * interval '1 hour', "
      "('{\"k\": ' || g || ', \"a\": [1, 2]}')::json, 'text ' || g, ARRAY[g, g * 2], "
      "timestamptz '2024-03-30 11:00:00+00' + g * interval '1 day', g + 0.5, (g * 2)::float8, "
      "g * interval '1 day 2 hours 3.5 seconds', ('\\x' || lpad(to_hex(g), 4, '0'))::bytea, "
      "tstzrange(timestamptz '2024-01-01 00:00+00', timestamptz '2024-01-01 00:00+00' + g * interval '1 day'), "
      "'ab', 1990 + g FROM generate_series(1, 50) g";
  auto rows_of = [&](const std::string& id) {
    std::string sql = values;
    return sql.replace(sql.find("%s"), 2, id);
  };
  h_.blue().execute("INSERT INTO conv " + rows_of("g"));
  h_.write_plan("  - source: conv\n", state());
  const auto validated = validate_connect();
  EXPECT_EQ(validated.exit_code, 0) << validated.output;
  for (const char* lossy : {"columns.m: timestamp with time zone to green's date can lose",
                            "columns.n: numeric(12,4) to green's numeric(10,2) can lose",
                            "columns.o: double precision to green's integer can lose",
                            "columns.j: json to green's jsonb drops whitespace, key order and every repeated key"}) {
    EXPECT_NE(validated.output.find(lossy), std::string::npos) << lossy << "\n" << validated.output;
  }
  h_.start_run();
  h_.blue().execute("INSERT INTO conv " + rows_of("g + 1000"));
  ASSERT_TRUE(h_.wait_until_equal("SELECT id FROM conv", "SELECT id FROM conv"));
  // Read under fixed settings: the snapshot's row and its streamed twin must be equal.
  pqxx::connection green(h_.green().dsn());
  pqxx::nontransaction query(green);
  query.exec("SET DateStyle = 'ISO, YMD'; SET TimeZone = 'UTC'; SET IntervalStyle = 'postgres'; "
             "SET extra_float_digits = 3; SET bytea_output = 'hex'");
  const auto unpaired = query.exec(
      "SELECT id, a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, r, s, t FROM conv c1 WHERE NOT EXISTS ("
      "SELECT 1 FROM conv c2 WHERE c2.id = CASE WHEN c1.id > 1000 THEN c1.id - 1000 ELSE c1.id + 1000 END "
      "AND (c2.a, c2.b, c2.c, c2.d, c2.e, c2.f, c2.g, c2.h, c2.i, c2.j::text, c2.k, c2.l, c2.m, c2.n, c2.o, "
      "c2.p, c2.q, c2.r, c2.s, c2.t) IS NOT DISTINCT FROM (c1.a, c1.b, c1.c, c1.d, c1.e, c1.f, c1.g, c1.h, c1.i, "
      "c1.j::text, c1.k, c1.l, c1.m, c1.n, c1.o, c1.p, c1.q, c1.r, c1.s, c1.t)) ORDER BY id LIMIT 5");
  std::string shown;
  for (const auto& row : unpaired) {
    for (const auto& field : row) shown += std::string(field.is_null() ? "NULL" : field.c_str()) + " | ";
    shown += "\n";
  }
  EXPECT_TRUE(unpaired.empty()) << "rows whose snapshot and stream values differ:\n" << shown;
  // And against blue by SQL of this test: char(8) loses its padding, a whole date at UTC midnight.
  EXPECT_EQ(query.exec("SELECT count(*) FROM conv WHERE g LIKE '% '")[0][0].as<long>(), 0);
  EXPECT_EQ(query.exec("SELECT g || '|' || h::text || '|' || m::text || '|' || o FROM conv WHERE id = 1")[0][0]
                .as<std::string>(),
            "g1|2024-02-28 00:00:00+00|2024-03-31|2");
}

// text into varchar(10): validation says what can be lost; a value that does not fit stops
// the stream with PostgreSQL's error instead of being cut to ten characters.
TEST_F(OneValueTest, AValueTooLongForItsColumnStopsTheStreamInsteadOfBeingCut) {
  h_.blue().execute(
      "CREATE TABLE items (id int PRIMARY KEY, code text);"
      "INSERT INTO items SELECT g, 'short' || g FROM generate_series(1, 50) g");
  h_.green().execute("CREATE TABLE items (id int PRIMARY KEY, code varchar(10))");
  h_.write_plan("  - source: items\n", state());
  const auto validated = validate_connect();
  EXPECT_EQ(validated.exit_code, 0) << validated.output;
  EXPECT_NE(validated.output.find("tables[0].columns.code: text to green's character varying(10) can lose "
                                  "values longer than 10 characters"),
            std::string::npos)
      << validated.output;
  // The same finding, for a script: valid, with the warning in its list.
  ChildProcess as_json({CUTOVER_BINARY, "validate", "--connect", "--json", h_.plan_path()}, h_.work().path());
  EXPECT_EQ(as_json.wait(60s).value_or(-1), 0) << as_json.standard_error();
  const auto found = nlohmann::json::parse(as_json.standard_output(), nullptr, false);
  EXPECT_EQ(found["valid"], true) << as_json.standard_output();
  EXPECT_EQ(found["connected"], true) << as_json.standard_output();
  EXPECT_EQ(found["problems"].size(), 0u) << as_json.standard_output();
  bool warned = false;
  for (const auto& warning : found["warnings"]) {
    warned = warned || warning.get<std::string>().find("tables[0].columns.code: text to green's character "
                                                       "varying(10) can lose") != std::string::npos;
  }
  EXPECT_TRUE(warned) << as_json.standard_output();
  auto& run = h_.start_run();
  h_.blue().execute("INSERT INTO items VALUES (51, 'THIRTY-CHARACTERS-LONG-CODE-XX')");
  EXPECT_TRUE(run.wait_for_output("value too long for type character varying(10)", 60s)) << run.standard_error();
  EXPECT_EQ(h_.green().query_value("SELECT count(*) FROM items WHERE id = 51"), "0");
  EXPECT_EQ(h_.green().query_value("SELECT count(*) FROM items WHERE code = 'THIRTY-CHA'"), "0");
}

// Blue's column widened while cutover streams: a longer value is read whole, and refused by
// green's narrower column, never cut to the length blue's column had at the start.
TEST_F(OneValueTest, AColumnWidenedOnBlueWhileStreamingIsNotCutToItsOldLength) {
  h_.blue().execute(
      "CREATE TABLE items (id int PRIMARY KEY, code varchar(10));"
      "INSERT INTO items SELECT g, 'short' || g FROM generate_series(1, 50) g");
  h_.green().execute("CREATE TABLE items (id int PRIMARY KEY, code varchar(10))");
  h_.write_plan("  - source: items\n", state());
  auto& run = h_.start_run();
  h_.blue().execute(
      "ALTER TABLE items ALTER COLUMN code TYPE varchar(50);"
      "INSERT INTO items VALUES (51, 'THIRTY-CHARACTERS-LONG-CODE-XX')");
  EXPECT_TRUE(run.wait_for_output("value too long for type character varying(10)", 60s)) << run.standard_error();
  EXPECT_EQ(h_.green().query_value("SELECT count(*) FROM items WHERE id = 51"), "0");
}

// The same value present before the start fails the snapshot, which leaves nothing behind.
TEST_F(OneValueTest, AValueTooLongForItsColumnFailsTheSnapshotWhichLeavesNothing) {
  h_.blue().execute(
      "CREATE TABLE items (id int PRIMARY KEY, code text);"
      "INSERT INTO items SELECT g, 'short' || g FROM generate_series(1, 50) g;"
      "INSERT INTO items VALUES (51, 'THIRTY-CHARACTERS-LONG-CODE-XX')");
  h_.green().execute("CREATE TABLE items (id int PRIMARY KEY, code varchar(10))");
  h_.write_plan("  - source: items\n", state());
  h_.start_run(false);
  const nlohmann::json failed = h_.wait_until_phase("failed");
  EXPECT_NE(failed["failed"].value("message", "").find("value too long for type character varying(10)"),
            std::string::npos)
      << failed.dump(2);
  EXPECT_EQ(h_.green().query_value("SELECT count(*) FROM items"), "0");
  EXPECT_EQ(h_.blue().query_value("SELECT count(*) FROM pg_replication_slots"), "0");
  h_.stop_failed_run("value too long for type character varying(10)");
}

// numeric(12,4) into numeric(10,2): PostgreSQL rounds on both paths without a word. The
// rounded rows are reported by verification, which casts green's values back.
TEST_F(OneValueTest, VerificationReportsValuesAConversionRounded) {
  h_.blue().execute(
      "CREATE TABLE prices (id int PRIMARY KEY, amount numeric(12,4), label text);"
      "INSERT INTO prices SELECT g, g + 0.25, 'p' || g FROM generate_series(1, 100) g;"
      "UPDATE prices SET amount = 7.1234 WHERE id = 7");
  h_.green().execute("CREATE TABLE prices (id bigint PRIMARY KEY, amount numeric(10,2), label text)");
  h_.write_plan("  - source: prices\n", state());
  const auto validated = validate_connect();
  EXPECT_EQ(validated.exit_code, 0) << validated.output;
  EXPECT_NE(validated.output.find("tables[0].columns.amount: numeric(12,4) to green's numeric(10,2) can lose"),
            std::string::npos)
      << validated.output;
  // The int to bigint key widens: nothing to say about it.
  EXPECT_EQ(validated.output.find("tables[0].columns.id:"), std::string::npos) << validated.output;
  h_.start_run();
  h_.blue().execute("UPDATE prices SET amount = 42.4242 WHERE id = 42; UPDATE prices SET label = 'x' WHERE id = 3");
  EXPECT_TRUE(h_.wait_until_equal("SELECT id, round(amount, 2), label FROM prices", "SELECT * FROM prices"));
  const auto verified = h_.cli({"verify"});
  EXPECT_EQ(verified.exit_code, 1) << verified.errors;
  std::set<std::string> rounded;
  for (const auto& table : verified.output["tables"]) {
    for (const auto& entry : table["different"]) {
      rounded.insert(entry["key"]["id"].get<std::string>());
      EXPECT_EQ(entry["columns"], nlohmann::json::array({"amount"})) << entry.dump();
    }
  }
  EXPECT_EQ(rounded, std::set<std::string>({"7", "42"})) << verified.output.dump(2);
}

// A key whose conversion could change a value silently is refused: a key cut short would
// match another row. One into a narrower integer only ever fails loudly, so it is a warning.
TEST_F(OneValueTest, AKeyThatCouldChangeSilentlyIsRefused) {
  h_.blue().execute("CREATE TABLE accounts (code text PRIMARY KEY, name text)");
  h_.green().execute("CREATE TABLE accounts (code varchar(8) PRIMARY KEY, name text)");
  h_.write_plan("  - source: accounts\n", state());
  const auto validated = validate_connect();
  EXPECT_EQ(validated.exit_code, 2) << validated.output;
  EXPECT_NE(validated.output.find("tables[0].columns.code: text to green's character varying(8) can lose values "
                                  "longer than 8 characters; a key must convert without loss"),
            std::string::npos)
      << validated.output;

  h_.blue().execute("CREATE TABLE counters (id bigint PRIMARY KEY, n int)");
  h_.green().execute("CREATE TABLE counters (id int PRIMARY KEY, n int)");
  h_.write_plan("  - source: counters\n", state());
  const auto narrowing = validate_connect();
  EXPECT_EQ(narrowing.exit_code, 0) << narrowing.output;
  EXPECT_NE(narrowing.output.find("tables[0].columns.id: bigint to green's integer can lose values beyond "
                                  "integer's range; the first value that does not fit stops the pipeline"),
            std::string::npos)
      << narrowing.output;
}

// A role that may create functions in public (granted here, as it is by default before
// PostgreSQL 15) adds lower(varchar), a closer match for a varchar column than the built-in
// lower(text): every session cutover opens searches pg_catalog and the plan's search_path
// only, so the transform stays the built-in, in the snapshot, the applier and verification.
// A function of the plan's own is found once the plan lists its schema.
TEST_F(OneValueTest, AFunctionSlippedIntoPublicIsNotCalledByATransform) {
  const std::string slipped =
      "GRANT CREATE ON SCHEMA public TO PUBLIC;"
      "CREATE FUNCTION public.lower(varchar) RETURNS text IMMUTABLE LANGUAGE sql AS $$ SELECT 'slipped' $$;";
  h_.blue().execute(slipped +
      "CREATE TABLE people (id int PRIMARY KEY, email varchar(80));"
      "INSERT INTO people SELECT g, 'Person' || g || '@Example.COM' FROM generate_series(1, 100) g");
  h_.green().execute(slipped +
      "CREATE SCHEMA helpers;"
      "CREATE FUNCTION helpers.domain_of(text) RETURNS text IMMUTABLE LANGUAGE sql AS $$ SELECT split_part($1, '@', 2) $$;"
      "CREATE TABLE people (id bigint PRIMARY KEY, email_lower text, email_domain text)");
  h_.blue().execute("CREATE SCHEMA helpers;"
      "CREATE FUNCTION helpers.domain_of(text) RETURNS text IMMUTABLE LANGUAGE sql AS $$ SELECT split_part($1, '@', 2) $$");
  const std::string table =
      "  - source: people\n    columns:\n      id: id\n      email_lower: lower(email)\n"
      "      email_domain: domain_of(email)\n";
  h_.write_plan(table, state());
  const auto unlisted = validate_connect();
  EXPECT_EQ(unlisted.exit_code, 2) << unlisted.output;
  EXPECT_NE(unlisted.output.find("domain_of"), std::string::npos) << unlisted.output;
  h_.write_plan(table, state() + "search_path: [helpers]\n");
  const auto listed = validate_connect();
  EXPECT_EQ(listed.exit_code, 0) << listed.output;
  h_.write_plan(table, state() + "search_path: [helpers, public]\n");
  const auto with_public = validate_connect();
  EXPECT_NE(with_public.output.find("search_path: every role may CREATE in blue's schema public"), std::string::npos)
      << with_public.output;

  h_.write_plan(table, state() + "search_path: [helpers]\n");
  h_.start_run();
  h_.blue().execute("INSERT INTO people SELECT g, 'Late' || g || '@Example.ORG' FROM generate_series(101, 150) g");
  EXPECT_TRUE(h_.wait_until_equal("SELECT id, pg_catalog.lower(email::text), split_part(email, '@', 2) FROM people",
                                  "SELECT id, email_lower, email_domain FROM people"));
  EXPECT_EQ(h_.green().query_value("SELECT count(*) FROM people WHERE email_lower = 'slipped'"), "0");
  EXPECT_EQ(h_.cli({"verify"}).exit_code, 0);
}

// The snapshot copies tables of plain built-in types in their binary form. From a PostgreSQL
// 13 blue to an 18 green in other locales, with every text-form setting different (blue's
// sessions in LATIN1 unless they say otherwise), edge
// values of each such type (NaN, infinities, -0, microseconds, BC dates, 24:00, escapes,
// repeated json keys, NULLs) arrive equal to blue's, and equal to their streamed twins, which
// cross as text.
class BinarySnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override { ::setenv("CUTOVER_TOKEN", "binary-snapshot-token", 1); }
};

TEST_F(BinarySnapshotTest, EdgeValuesOfPlainTypesAreTheSameFromTheBinarySnapshotAndTheStream) {
  ForwardHarness h(ClusterOptions{.major = 13, .locale = "de_DE.UTF-8"},
                   ClusterOptions{.major = 18, .locale = "en_IN.UTF-8"});
  h.blue().execute("ALTER DATABASE postgres SET DateStyle = 'SQL, DMY'; ALTER DATABASE postgres SET TimeZone = 'Asia/Kathmandu';"
                   "ALTER DATABASE postgres SET IntervalStyle = 'sql_standard'; ALTER DATABASE postgres SET extra_float_digits = -3;"
                   "ALTER DATABASE postgres SET client_encoding = 'LATIN1'");
  h.green().execute("ALTER DATABASE postgres SET DateStyle = 'German, MDY'; ALTER DATABASE postgres SET TimeZone = 'Pacific/Chatham';"
                    "ALTER DATABASE postgres SET IntervalStyle = 'iso_8601'; ALTER DATABASE postgres SET extra_float_digits = 0");
  const std::string columns =
      "(id int PRIMARY KEY, a smallint, b integer, c bigint, d numeric, e real, f double precision, g boolean, "
      "h text, i varchar(12), j char(6), k bytea, l uuid, m date, n time, o timestamp, p timestamptz, q interval, "
      "r json, s jsonb)";
  h.blue().execute("CREATE TABLE plain " + columns);
  h.green().execute("CREATE TABLE plain " + columns);
  // Row g of the edge values; every ninth row is all NULLs.
  auto rows = [](int offset) {
    const std::string id = std::to_string(offset) + " + g";
    return "INSERT INTO plain SELECT " + id + ", x.* FROM generate_series(1, 45) g, LATERAL (SELECT "
           "(ARRAY[-32768, 0, 32767])[1 + g % 3]::smallint, (ARRAY[-2147483648, 7, 2147483647])[1 + g % 3]::int,"
           " (ARRAY[-9223372036854775808, 0, 9223372036854775807])[1 + g % 3]::bigint,"
           " (ARRAY['NaN', '123456789012345678901234567890.123456789012345', '-0.000000000000000000001', '0'])[1 + g % 4]::numeric,"
           " (ARRAY['Infinity', '-0', '1.1', '3.4028235e38', '1e-45'])[1 + g % 5]::real,"
           " (ARRAY['NaN', '-Infinity', '0.1', '1e-300', '-0', '1.7976931348623157e308'])[1 + g % 6]::float8,"
           " g % 2 = 0,"
           " (ARRAY[E'tab\\there', E'line\\nbreak\\r', E'back\\\\slash', '\\N', '', 'caf' || chr(233) || ' ' || g])[1 + g % 6],"
           " 'v' || g, (ARRAY['ab', '', 'abcdef'])[1 + g % 3],"
           " (ARRAY['\\x'::bytea, '\\x00ff5c0a0d09'::bytea, convert_to(g::text, 'UTF8')])[1 + g % 3],"
           " md5(g::text)::uuid,"
           " (ARRAY['infinity', '-infinity', '4713-01-01 BC', '2024-02-29'])[1 + g % 4]::date,"
           " (ARRAY['24:00', '00:00:00.000001', '13:14:15.5'])[1 + g % 3]::time,"
           " (ARRAY['infinity', '2000-01-01 00:00:00.123456', '1900-03-04 05:06:07'])[1 + g % 3]::timestamp,"
           " (ARRAY['-infinity', '2024-03-31 01:59:59.999999+00', '1880-01-01 00:00:00+00'])[1 + g % 3]::timestamptz,"
           " (ARRAY['1 year 2 mons -3 days 04:05:06.789', '-178000000 years', '0'])[1 + g % 3]::interval,"
           " ('{\"a\" : ' || g || ',  \"a\": \"caf' || chr(233) || '\"}')::json,"
           " ('{\"n\": [1, null, \"' || chr(233) || '\"], \"z\": 1.50}')::jsonb"
           " WHERE g % 9 <> 0) x UNION ALL SELECT " + std::to_string(offset) + " + g, NULL, NULL, NULL, NULL, NULL,"
           " NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL"
           " FROM generate_series(1, 45) g WHERE g % 9 = 0";
  };
  h.blue().execute(rows(0));
  h.write_plan("  - source: plain\n", "state_dir: " + h.work().path() + "/state\n");
  h.start_run();
  ASSERT_TRUE(h.run().wait_for_output("table=public.plain chunks=1 format=binary", std::chrono::seconds(5)))
      << h.run().standard_error();
  h.blue().execute(rows(1000));
  // Every column as text, read the same way on both sides, compared here.
  auto read = [](PostgresCluster& side) {
    pqxx::connection connection(side.dsn());
    pqxx::nontransaction query(connection);
    query.exec("SET client_encoding = 'UTF8'; SET DateStyle = 'ISO, YMD'; SET TimeZone = 'UTC';"
               "SET IntervalStyle = 'postgres'; SET extra_float_digits = 3; SET bytea_output = 'hex'");
    std::string text;
    for (const auto& row : query.exec("SELECT w::text FROM plain w ORDER BY id")) text += row[0].as<std::string>() + "\n";
    return text;
  };
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  std::string blue_rows = read(h.blue());
  std::string green_rows = read(h.green());
  while (blue_rows != green_rows && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(200ms);
    green_rows = read(h.green());
  }
  EXPECT_EQ(green_rows, blue_rows);
  EXPECT_NE(blue_rows.find("caf\u00e9"), std::string::npos) << blue_rows;
  // The snapshot's row and its streamed twin, compared inside green.
  EXPECT_EQ(h.green().query_value(
                "SELECT count(*) FROM plain s JOIN plain t ON t.id = s.id + 1000 WHERE s.id < 1000 AND "
                "(s.a, s.b, s.c, s.d, s.e, s.f, s.g, s.h, s.i, s.j, s.k, s.l, s.m, s.n, s.o, s.p, s.q, s.r::text, s.s) "
                "IS NOT DISTINCT FROM "
                "(t.a, t.b, t.c, t.d, t.e, t.f, t.g, t.h, t.i, t.j, t.k, t.l, t.m, t.n, t.o, t.p, t.q, t.r::text, t.s)"),
            "45");
  EXPECT_EQ(h.cli({"verify"}).exit_code, 0);
}

}  // namespace
}  // namespace cutover::testing
