// Verification end to end: `cutover run` streams blue to green, `cutover verify` asks it for a
// verification over the control API, and the tests check the report against divergences
// they injected into green behind the applier's back, or against a green that must be clean
// while blue keeps changing.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>

#include "cutover/control/http_client.h"
#include "fixtures/forward_harness.h"
#include "fixtures/metrics_samples.h"

namespace cutover::testing {
namespace {

constexpr const char* kToken = "verify-test-token";

class VerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv("CUTOVER_TOKEN", kToken, 1);
  }

  // The plan's control and verify sections.
  std::string extra(long chunk_rows) const {
    return "verify:\n  chunk_rows: " +
           std::to_string(chunk_rows) + "\nstate_dir: " + h_.work().path() + "/state\n";
  }

  // `cutover verify`; the report is the outcome's output.
  ForwardHarness::CliOutcome verify(const std::vector<std::string>& more = {}) {
    std::vector<std::string> arguments = {"verify"};
    arguments.insert(arguments.end(), more.begin(), more.end());
    return h_.cli(arguments);
  }

  // The table's entry of a report.
  static nlohmann::json table_of(const nlohmann::json& report, const std::string& name) {
    for (const auto& table : report["tables"]) {
      if (table["table"] == name) return table;
    }
    ADD_FAILURE() << name << " is not in the report: " << report.dump(2);
    return nlohmann::json::object();
  }

  static std::set<std::string> keys_of(const nlohmann::json& entries, const std::string& column) {
    std::set<std::string> keys;
    for (const auto& entry : entries) keys.insert(entry["key"][column].get<std::string>());
    return keys;
  }

  static std::map<std::string, std::vector<std::string>> different_of(const nlohmann::json& table,
                                                                       const std::string& column) {
    std::map<std::string, std::vector<std::string>> different;
    for (const auto& entry : table["different"]) {
      different[entry["key"][column].get<std::string>()] = entry["columns"].get<std::vector<std::string>>();
    }
    return different;
  }

  void expect_clean(const ForwardHarness::CliOutcome& outcome) {
    EXPECT_EQ(outcome.exit_code, 0) << outcome.errors << outcome.output.dump(2);
    EXPECT_EQ(outcome.output.value("state", std::string()), "clean") << outcome.output.dump(2);
  }

  ForwardHarness h_;
};

// Every column type of the issue, one divergence each, in rows 2 to 12.
const char* const kKindsTable =
    "CREATE TABLE kinds(id int PRIMARY KEY, i int, n numeric, t text, e text, b bytea, j jsonb, "
    "a int[], ts timestamptz, iv interval, u uuid, r int4range)";

TEST_F(VerifyTest, EveryInjectedDivergenceIsReportedWithItsKeyAndColumnAndNothingElse) {
  h_.blue().execute(kKindsTable);
  h_.green().execute(kKindsTable);
  h_.blue().execute(
      "INSERT INTO kinds SELECT g, g * 10, g / 3.0, 'text ' || g, '', decode('deadbeef', 'hex'), "
      "jsonb_build_object('k', g, 'list', jsonb_build_array(g, 'x')), ARRAY[g, g + 1], "
      "'2026-01-01 12:00:00+02'::timestamptz + g * interval '1 hour 1.5 seconds', "
      "g * interval '1 day 1 minute', md5(g::text)::uuid, int4range(g, g + 5) "
      "FROM generate_series(1, 30) g");
  h_.write_plan("  - source: kinds\n", extra(10000));
  h_.start_run();
  ASSERT_TRUE(h_.wait_until_equal("SELECT * FROM kinds", "SELECT * FROM kinds"));
  expect_clean(verify());

  h_.green().execute(
      "DELETE FROM kinds WHERE id = 1;"
      "INSERT INTO kinds (id, i) VALUES (1000, 1);"
      "UPDATE kinds SET i = i + 1 WHERE id = 2;"
      "UPDATE kinds SET n = n + 0.000000001 WHERE id = 3;"
      "UPDATE kinds SET t = t || ' ' WHERE id = 4;"
      "UPDATE kinds SET e = NULL WHERE id = 5;"
      "UPDATE kinds SET b = decode('deadbeee', 'hex') WHERE id = 6;"
      "UPDATE kinds SET j = '{\"k\": 7.0, \"list\": [7, \"x\"]}' WHERE id = 7;"
      "UPDATE kinds SET a = ARRAY[8, 10] WHERE id = 8;"
      "UPDATE kinds SET ts = ts + interval '1 microsecond' WHERE id = 9;"
      "UPDATE kinds SET iv = iv + interval '1 second' WHERE id = 10;"
      "UPDATE kinds SET u = md5('other')::uuid WHERE id = 11;"
      "UPDATE kinds SET r = int4range(12, 18) WHERE id = 12;");
  const auto outcome = verify();
  EXPECT_EQ(outcome.exit_code, 1) << outcome.errors;
  ASSERT_EQ(outcome.output.value("state", std::string()), "differences") << outcome.output.dump(2);
  const auto table = table_of(outcome.output, "public.kinds");
  EXPECT_EQ(keys_of(table["missing_in_green"], "id"), std::set<std::string>({"1"}));
  EXPECT_EQ(keys_of(table["extra_in_green"], "id"), std::set<std::string>({"1000"}));
  const std::map<std::string, std::vector<std::string>> expected = {
      {"2", {"i"}},  {"3", {"n"}},  {"4", {"t"}},   {"5", {"e"}},   {"6", {"b"}}, {"7", {"j"}},
      {"8", {"a"}},  {"9", {"ts"}}, {"10", {"iv"}}, {"11", {"u"}}, {"12", {"r"}}};
  EXPECT_EQ(different_of(table, "id"), expected);
  EXPECT_EQ(outcome.output["differences"], 13);
  EXPECT_EQ(table["rows_blue"], 30);
  EXPECT_EQ(table["rows_green"], 30);

  // The complete report is on disk too.
  const std::string file = outcome.output.value("report_file", std::string());
  ASSERT_FALSE(file.empty());
  std::ifstream stored(file);
  EXPECT_EQ(nlohmann::json::parse(stored, nullptr, false)["differences"], 13);

  // A POST without the right token is refused and starts nothing.
  const auto refused = verify({"--token", "wrong"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.errors.find("401"), std::string::npos) << refused.errors;
}

TEST_F(VerifyTest, OneBadRowInTheLastChunkOfAManyChunkTableIsFound) {
  const std::string table = "CREATE TABLE big(id bigint PRIMARY KEY, v text, w double precision)";
  h_.blue().execute(table);
  h_.green().execute(table);
  h_.blue().execute("INSERT INTO big SELECT g, md5(g::text), g / 7.0 FROM generate_series(1, 1050) g");
  h_.write_plan("  - source: big\n", extra(100));
  h_.start_run();
  ASSERT_TRUE(h_.wait_until_equal("SELECT * FROM big", "SELECT * FROM big"));
  h_.green().execute("UPDATE big SET w = w + 1e-9 WHERE id = 1050");
  const auto outcome = verify();
  EXPECT_EQ(outcome.exit_code, 1) << outcome.errors;
  const auto report = table_of(outcome.output, "public.big");
  EXPECT_EQ(report["chunks"], 11);
  EXPECT_EQ(report["chunks_differing"], 1);
  EXPECT_EQ(report["rows_blue"], 1050);
  EXPECT_EQ(report["missing_in_green"].size(), 0u);
  EXPECT_EQ(report["extra_in_green"].size(), 0u);
  const std::map<std::string, std::vector<std::string>> expected = {{"1050", {"w"}}};
  EXPECT_EQ(different_of(report, "id"), expected);
}

TEST_F(VerifyTest, CorrectGreenVerifiesCleanFiveTimesWhilePgbenchWritesAtFullRate) {
  ASSERT_EQ(h_.pgbench({"-i", "-s", "2", "-q"}), 0);
  h_.blue().execute("ALTER TABLE pgbench_history REPLICA IDENTITY FULL");
  h_.create_pgbench_schema_on_green();
  h_.write_plan(kPgbenchTables, extra(20000));
  h_.start_run();
  ChildProcess load({kPostgresBin + "pgbench", "-h", "127.0.0.1", "-p", std::to_string(h_.blue().port()),
                     "-U", "postgres", "-c", "4", "-j", "2", "-T", "600", "postgres"},
                    h_.work().path());
  std::this_thread::sleep_for(std::chrono::seconds(3));
  for (int run = 0; run < 5; ++run) {
    const auto outcome = verify();
    expect_clean(outcome);
    EXPECT_GT(table_of(outcome.output, "public.pgbench_accounts")["rows_blue"].get<long>(), 199999);
    EXPECT_GT(table_of(outcome.output, "public.pgbench_history")["rows_green"].get<long>(), 0)
        << "pgbench was not writing";
  }
  ASSERT_TRUE(load.running()) << "pgbench stopped early: " << load.standard_error();
  load.signal(SIGINT);
  load.wait(std::chrono::seconds(30));
}

TEST_F(VerifyTest, VerifiesThroughTransformsWhileBlueChangesAndFindsWhatDiffers) {
  h_.blue().execute(
      "CREATE TABLE users(id int PRIMARY KEY, name text NOT NULL, email text NOT NULL, "
      "active boolean NOT NULL);"
      "INSERT INTO users SELECT g, 'user ' || g, 'u' || g || '@d' || g % 7 || '.example', g % 4 <> 0 "
      "FROM generate_series(1, 3000) g");
  h_.green().execute(
      "CREATE TABLE accounts(id bigint PRIMARY KEY, full_name text NOT NULL, email_domain text);"
      "CREATE TABLE user_emails(user_id bigint PRIMARY KEY, email text NOT NULL)");
  h_.write_plan(
      "  - source: users\n    target: accounts\n    columns:\n      id: id\n"
      "      full_name: name\n      email_domain: \"split_part(email, '@', 2)\"\n"
      "    where: active\n"
      "  - source: users\n    target: user_emails\n    key: [user_id]\n    columns:\n"
      "      user_id: id\n      email: email\n",
      extra(500));
  h_.start_run();
  ASSERT_TRUE(h_.wait_until_equal(
      "SELECT id::bigint, name, split_part(email, '@', 2) FROM users WHERE active",
      "SELECT * FROM accounts"));
  const std::string script = h_.work().write_file(
      "churn.sql",
      "\\set id random(1, 3000)\n"
      "UPDATE users SET active = NOT active, email = 'u' || :id || '@d' || (random() * 9)::int || "
      "'.example' WHERE id = :id;\n");
  ChildProcess load({kPostgresBin + "pgbench", "-h", "127.0.0.1", "-p", std::to_string(h_.blue().port()),
                     "-U", "postgres", "-n", "-c", "2", "-T", "600", "-f", script, "postgres"},
                    h_.work().path());
  std::this_thread::sleep_for(std::chrono::seconds(2));
  for (int run = 0; run < 3; ++run) expect_clean(verify());
  load.signal(SIGINT);
  load.wait(std::chrono::seconds(30));
  ASSERT_TRUE(h_.wait_until_equal(
      "SELECT id::bigint, name, split_part(email, '@', 2) FROM users WHERE active",
      "SELECT * FROM accounts"));

  const std::string inactive = h_.blue().query_value("SELECT min(id) FROM users WHERE NOT active");
  const std::string active = h_.blue().query_value("SELECT min(id) FROM users WHERE active");
  h_.green().execute("INSERT INTO accounts VALUES (" + inactive + ", 'ghost', 'nowhere');"
                     "UPDATE accounts SET email_domain = 'changed' WHERE id = " + active + ";"
                     "DELETE FROM user_emails WHERE user_id = 2999");
  const auto outcome = verify();
  EXPECT_EQ(outcome.exit_code, 1) << outcome.errors;
  const auto accounts = table_of(outcome.output, "public.accounts");
  EXPECT_EQ(keys_of(accounts["extra_in_green"], "id"), std::set<std::string>({inactive}));
  EXPECT_EQ(accounts["missing_in_green"].size(), 0u);
  const std::map<std::string, std::vector<std::string>> expected = {{active, {"email_domain"}}};
  EXPECT_EQ(different_of(accounts, "id"), expected);
  const auto emails = table_of(outcome.output, "public.user_emails");
  EXPECT_EQ(keys_of(emails["missing_in_green"], "user_id"), std::set<std::string>({"2999"}));
  EXPECT_EQ(emails["differences"], 1);
  EXPECT_EQ(emails["chunks"], 6);
}

// Metrics in Prometheus' text format, read by an independent parser, with the figures the
// pipeline and verification have.
TEST_F(VerifyTest, MetricsExposeLagThroughputBatchesAndTheLastVerification) {
  const std::string table = "CREATE TABLE items(id int PRIMARY KEY, v text)";
  h_.blue().execute(table);
  h_.green().execute(table);
  h_.write_plan("  - source: items\n", extra(100));
  h_.start_run();
  h_.blue().execute("INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 500) g");
  ASSERT_TRUE(h_.wait_until_equal("SELECT * FROM items", "SELECT * FROM items"));
  h_.green().execute("UPDATE items SET v = 'changed' WHERE id IN (7, 8)");
  EXPECT_EQ(verify().exit_code, 1);

  auto answer = http_call(h_.control_url(), "GET", "/metrics", "");
  ASSERT_TRUE(answer) << answer.status().message();
  EXPECT_EQ(answer->status, 200);
  EXPECT_NE(answer->content_type.find("text/plain; version=0.0.4"), std::string::npos);
  const std::string& text = answer->body;
  EXPECT_NE(text.find("# TYPE cutover_apply_batch_rows histogram"), std::string::npos) << text;
  const auto samples = parsed_samples(text, h_.work().path());
  const std::map<std::string, std::string> plan = {{"plan", "t"}};
  const std::map<std::string, std::string> forward = {{"plan", "t"}, {"direction", "forward"}};
  EXPECT_EQ(sample_value(samples, "cutover_phase", {{"plan", "t"}, {"phase", "streaming"}}), 1) << text;
  EXPECT_EQ(sample_value(samples, "cutover_verification_differences", plan), 2) << text;
  EXPECT_EQ(sample_value(samples, "cutover_verification_clean", plan), 0) << text;
  EXPECT_GE(sample_value(samples, "cutover_rows_applied_total", forward), 500) << text;
  EXPECT_GE(sample_value(samples, "cutover_events_captured_total", forward), 502) << text;  // BEGIN, rows, END
  const double batches = sample_value(samples, "cutover_apply_batch_rows_count", plan);
  EXPECT_GE(batches, 1) << text;
  EXPECT_EQ(sample_value(samples, "cutover_apply_batch_rows_bucket", {{"plan", "t"}, {"le", "+Inf"}}), batches)
      << text;
  EXPECT_GE(sample_value(samples, "cutover_lag_bytes", forward), 0) << text;
}

// GET /api/v1/status, or null while nothing answers.
nlohmann::json status_now(const std::string& control_url) {
  auto answer = http_call(control_url, "GET", "/api/v1/status", "");
  if (!answer || answer->status != 200) return nullptr;
  return nlohmann::json::parse(answer->body, nullptr, false);
}

// A snapshot of one big chunk shows its rows while it copies, not 0 until it is done, and the
// lag of what blue writes meanwhile (which streaming applies after it); a verification shows each table's share, its pace and the time left, counting blue's rows
// (not both sides'). Counts are checked against green and blue by SQL of their own.
TEST_F(VerifyTest, LongWorkShowsItsShareDoneRateAndTimeLeftAsItGoes) {
  constexpr long kRows = 500000;
  h_.blue().execute("CREATE TABLE items(id int PRIMARY KEY, v text);"
                    "INSERT INTO items SELECT g, repeat('v', 40) || g FROM generate_series(1, " +
                    std::to_string(kRows) + ") g; ANALYZE items; CREATE TABLE outside_the_plan(v text)");
  h_.green().execute("CREATE TABLE items(id int PRIMARY KEY, v text)");
  h_.write_plan("  - source: items\n",
                "snapshot:\n  parallelism: 1\n  chunk_rows: 2000000\n" + extra(10000));
  // Lag never counts WAL from before the run: no status may show more than blue wrote since.
  const std::string wal_before_run = h_.blue().query_value("SELECT pg_current_wal_lsn()::text");
  long most_lag_bytes = 0;
  h_.start_run(false);
  nlohmann::json inside_the_chunk;  // a status of the copy with rows moving and none committed
  nlohmann::json lagging;  // a status of the copy with blue's writes since it began waiting
  bool blue_written = false;
  nlohmann::json shown;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(300);
  while (std::chrono::steady_clock::now() < deadline) {
    shown = status_now(h_.control_url());
    if (!shown.is_object()) continue;
    most_lag_bytes = std::max(most_lag_bytes, shown.value("lag_bytes", 0L));
    if (shown.value("phase", "") == "streaming") break;
    const auto& tables = shown["tables"];
    if (!tables.is_array() || tables.empty() || !tables[0].contains("snapshot")) continue;
    const auto& copy = tables[0]["snapshot"];
    if (copy.value("chunks_done", 1) == 0 && copy.value("rows_copying", 0) > 0 && inside_the_chunk.is_null()) {
      inside_the_chunk = copy;
    }
    if (!inside_the_chunk.is_null() && !blue_written) {
      h_.blue().execute("INSERT INTO outside_the_plan SELECT repeat('w', 100) FROM generate_series(1, 20000)");
      blue_written = true;
    }
    if (blue_written && lagging.is_null() && shown.value("phase", "") == "snapshotting" &&
        shown.value("lag_bytes", 0L) > 1000000 && shown.value("lag_seconds", 0.0) > 0) {
      lagging = shown;
    }
  }
  ASSERT_EQ(shown.value("phase", ""), "streaming") << shown.dump(2) << h_.run().standard_error();
  ASSERT_TRUE(inside_the_chunk.is_object()) << "no status showed the chunk's rows while it copied";
  EXPECT_TRUE(lagging.is_object()) << "no status showed blue's writes during the copy as lag";
  EXPECT_LE(most_lag_bytes, h_.blue().query_number("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '" +
                                                   wal_before_run + "')"));
  EXPECT_GT(inside_the_chunk["percent"].get<double>(), 0) << inside_the_chunk.dump();
  EXPECT_GT(inside_the_chunk["rows_per_second"].get<double>(), 0) << inside_the_chunk.dump();
  EXPECT_TRUE(inside_the_chunk["eta_seconds"].is_number()) << inside_the_chunk.dump();
  const auto& done = shown["tables"][0]["snapshot"];
  EXPECT_EQ(done["rows"].get<long>(), h_.green().query_number("SELECT count(*) FROM items")) << done.dump();
  EXPECT_EQ(done["rows"].get<long>(), kRows) << done.dump();
  EXPECT_EQ(done["rows_copying"], 0) << done.dump();
  EXPECT_EQ(done["percent"], 100.0) << done.dump();
  EXPECT_EQ(done["eta_seconds"], 0.0) << done.dump();

  h_.green().execute("ANALYZE items");
  ChildProcess verification({CUTOVER_BINARY, "verify", "--control", h_.control_url()}, h_.work().path());
  nlohmann::json midway;  // a status with the table part compared
  nlohmann::json last;
  while (!verification.wait(std::chrono::milliseconds(20)).has_value()) {
    const nlohmann::json now = status_now(h_.control_url());
    if (!now.is_object() || !now["last_verification"].is_object()) continue;
    const auto& report = now["last_verification"];
    if (report.value("state", "") != "running") continue;
    last = report["progress"];
    EXPECT_LE(last.value("rows", 0L), kRows) << "rows counts blue's side only: " << last.dump();
    if (!last["by_table"].is_array() || last["by_table"].empty()) continue;  // not planned yet
    const auto& table = last["by_table"][0];
    if (midway.is_null() && table.value("state", "") == "comparing" && table["percent"].is_number() &&
        table["percent"].get<double>() > 0 && table["percent"].get<double>() < 100) {
      midway = last;
    }
  }
  EXPECT_EQ(verification.wait(std::chrono::seconds(0)).value_or(-1), 0) << verification.standard_error();
  ASSERT_TRUE(midway.is_object()) << "no status showed the verification part done; last: " << last.dump(2);
  const auto& table = midway["by_table"][0];
  EXPECT_EQ(table["target"], "public.items") << midway.dump(2);
  EXPECT_NEAR(table["chunks"].get<double>(), 50, 1) << midway.dump(2);  // chunks of 10000 rows
  EXPECT_NEAR(table["estimated_rows"].get<double>(), kRows, kRows / 20) << midway.dump(2);  // ANALYZE's
  EXPECT_GT(midway["percent"].get<double>(), 0) << midway.dump(2);
  EXPECT_LT(midway["percent"].get<double>(), 100) << midway.dump(2);
  EXPECT_TRUE(midway["eta_seconds"].is_number()) << midway.dump(2);
  EXPECT_EQ(midway["table"], "public.items") << midway.dump(2);
  EXPECT_NE(verification.standard_error().find("cutover: verification "), std::string::npos);
}

TEST(VerifyCommand, UnreachableServiceExitsThree) {
  TemporaryDirectory work;
  ChildProcess child({CUTOVER_BINARY, "verify", "--control",
                      "http://127.0.0.1:" + std::to_string(free_loopback_port())},
                     work.path());
  EXPECT_EQ(child.wait(std::chrono::seconds(30)).value_or(-1), 3);
  EXPECT_NE(child.standard_error().find("cannot reach cutover"), std::string::npos)
      << child.standard_error();
}

}  // namespace
}  // namespace cutover::testing
