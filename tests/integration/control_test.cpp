// The control API of a running `cutover run`: every endpoint's success and error answers,
// the token, the CLI's pause and resume, and the dashboard rendered by headless Chromium.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <filesystem>
#include <vector>
#include <fstream>
#include <sstream>
#include <regex>
#include <thread>

#include "cutover/control/http_client.h"
#include "fixtures/forward_harness.h"
#include "fixtures/metrics_samples.h"
#include "fixtures/test_certificates.h"

namespace cutover::testing {
namespace {

constexpr const char* kToken = "control-test-token";

class ControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv("CUTOVER_TOKEN", kToken, 1);
    const std::string table = "CREATE TABLE items(id int PRIMARY KEY, v text)";
    h_.blue().execute(table);
    h_.green().execute(table);
    h_.blue().execute("INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 100) g");
    h_.write_plan("  - source: items\n", "state_dir: " + h_.work().path() + "/state\n");
    h_.start_run();
  }

  HttpResponse call(const std::string& method, const std::string& path, const std::string& token = kToken,
                    const std::string& body = "") {
    auto answer = http_call(h_.control_url(), method, path, token, body);
    EXPECT_TRUE(answer) << method << " " << path << ": " << answer.status().message();
    return answer ? *answer : HttpResponse{};
  }

  static std::string error_of(const HttpResponse& answer) {
    const auto body = nlohmann::json::parse(answer.body, nullptr, false);
    return body.is_object() ? body.value("error", std::string()) : "";
  }

  ForwardHarness h_;
};

TEST_F(ControlTest, EveryEndpointAnswersWithItsStatusCodes) {
  EXPECT_EQ(call("GET", "/healthz", "").status, 200);
  const auto status = call("GET", "/api/v1/status", "");
  ASSERT_EQ(status.status, 200);
  const auto body = nlohmann::json::parse(status.body);
  for (const char* field : {"phase", "lag_bytes", "lag_seconds", "applied_lsn", "tables", "last_verification", "cutover"}) {
    EXPECT_TRUE(body.contains(field)) << field << " missing from " << status.body;
  }
  EXPECT_EQ(body["phase"], "streaming");
  const auto page = call("GET", "/", "");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.content_type.find("text/html"), std::string::npos);
  EXPECT_NE(page.body.find("id=\"phase\""), std::string::npos);
  EXPECT_EQ(call("GET", "/metrics", "").status, 200);
  EXPECT_EQ(call("GET", "/nowhere", "").status, 404);
  EXPECT_EQ(call("DELETE", "/api/v1/status", "").status, 405);

  // The token, on every POST.
  for (const char* path : {"/api/v1/verify", "/api/v1/switch", "/api/v1/rollback", "/api/v1/pause",
                           "/api/v1/resume", "/api/v1/abort"}) {
    const auto missing = call("POST", path, "");
    EXPECT_EQ(missing.status, 401) << path;
    EXPECT_EQ(error_of(missing), "missing bearer token") << path;
    const auto wrong = call("POST", path, "not-the-token");
    EXPECT_EQ(wrong.status, 401) << path;
    EXPECT_EQ(error_of(wrong), "wrong bearer token") << path;
  }

  // Request limits: a body over 64 KiB, headers over 8 KiB.
  EXPECT_EQ(call("POST", "/api/v1/switch", kToken, std::string(100 * 1024, ' ')).status, 413);
  EXPECT_EQ(call("POST", "/api/v1/pause", std::string(9 * 1024, 't')).status, 431);

  // Bad bodies.
  const auto not_json = call("POST", "/api/v1/switch", kToken, "{not json");
  EXPECT_EQ(not_json.status, 400);
  EXPECT_EQ(error_of(not_json), "the body must be a JSON object");
  const auto unknown = call("POST", "/api/v1/switch", kToken, R"({"dry_runn": true})");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_NE(error_of(unknown).find("unknown field 'dry_runn'"), std::string::npos);
  const auto not_boolean = call("POST", "/api/v1/rollback", kToken, R"({"dry_run": "yes"})");
  EXPECT_EQ(not_boolean.status, 400);
  EXPECT_EQ(call("POST", "/api/v1/rollback", kToken, R"({"force_without_rollback": true})").status, 400);

  // What the phase does not allow: 409 with the reason.
  const auto switch_refused = call("POST", "/api/v1/switch");
  EXPECT_EQ(switch_refused.status, 409);
  EXPECT_NE(error_of(switch_refused).find("guardrails refuse the switch"), std::string::npos);
  EXPECT_NE(error_of(switch_refused).find("switch_target: the plan has no cutover.switch"), std::string::npos)
      << error_of(switch_refused);
  const auto rollback_refused = call("POST", "/api/v1/rollback");
  EXPECT_EQ(rollback_refused.status, 409);
  EXPECT_NE(error_of(rollback_refused).find("side: clients on blue"), std::string::npos)
      << error_of(rollback_refused);
  const auto dry = call("POST", "/api/v1/rollback", kToken, R"({"dry_run": true})");
  EXPECT_EQ(dry.status, 200);
  EXPECT_EQ(nlohmann::json::parse(dry.body)["ready"], false);
  const auto no_cutover = call("POST", "/api/v1/abort");
  EXPECT_EQ(no_cutover.status, 409);
  EXPECT_EQ(error_of(no_cutover), "no cutover is running");

  // Pause holds the applier: blue's new rows wait; verification is refused meanwhile.
  EXPECT_EQ(call("POST", "/api/v1/pause").status, 200);
  EXPECT_EQ(nlohmann::json::parse(call("GET", "/api/v1/status", "").body)["phase"], "paused");
  const auto metrics = call("GET", "/metrics", "");
  EXPECT_NE(metrics.body.find("cutover_phase{plan=\"t\",phase=\"paused\"} 1"), std::string::npos) << metrics.body;
  EXPECT_NE(metrics.body.find("cutover_direction_reverse{plan=\"t\"} 0"), std::string::npos) << metrics.body;
  h_.blue().execute("INSERT INTO items VALUES (1000, 'while paused')");
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(h_.green().query_number("SELECT count(*) FROM items WHERE id = 1000"), 0);
  const auto verify_paused = call("POST", "/api/v1/verify");
  EXPECT_EQ(verify_paused.status, 409);
  EXPECT_EQ(error_of(verify_paused), "streaming is paused; resume it first");
  EXPECT_EQ(call("POST", "/api/v1/resume").status, 200);
  EXPECT_TRUE(h_.wait_until_equal("SELECT * FROM items", "SELECT * FROM items"));
  const auto verify = call("POST", "/api/v1/verify");
  EXPECT_EQ(verify.status, 202);
  EXPECT_FALSE(nlohmann::json::parse(verify.body).value("id", std::string()).empty());
}

// /metrics read by an independent parser: every sample carries the plan, counters are exact
// integers split by direction, and the figures equal what green holds, counted by SQL.
TEST_F(ControlTest, MetricsParseWithAnIndependentParserAndEqualWhatGreenHolds) {
  // 1,234,567 bytes must not read as 1.23457e+06: a big row makes the byte counts big.
  for (int id = 101; id <= 150; ++id) {
    h_.blue().execute("INSERT INTO items VALUES (" + std::to_string(id) + ", repeat('x', " +
                      std::to_string(id == 150 ? 1234567 : 10) + "))");
  }
  ASSERT_TRUE(h_.wait_until_equal("SELECT * FROM items", "SELECT * FROM items"));
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const std::string exposition = call("GET", "/metrics", "").body;
  const auto samples = parsed_samples(exposition, h_.work().path());
  ASSERT_TRUE(samples.is_array() && !samples.empty());
  for (const auto& sample : samples) EXPECT_EQ(sample["labels"].value("plan", ""), "t") << sample.dump();

  const long green_rows = h_.green().query_number("SELECT count(*) FROM items");
  const long snapshot_rows = 100;  // blue held them before the run began
  EXPECT_EQ(sample_value(samples, "cutover_snapshot_rows_total", {{"table", "public.items"}}),
            static_cast<double>(snapshot_rows));
  const std::map<std::string, std::string> forward{{"direction", "forward"}};
  const std::map<std::string, std::string> reverse{{"direction", "reverse"}};
  EXPECT_EQ(sample_value(samples, "cutover_rows_applied_total", forward), static_cast<double>(green_rows - snapshot_rows));
  EXPECT_EQ(sample_value(samples, "cutover_table_rows_applied_total", {{"direction", "forward"}, {"table", "public.items"}}),
            static_cast<double>(green_rows - snapshot_rows));
  EXPECT_EQ(sample_value(samples, "cutover_transactions_applied_total", forward), 50.0);
  EXPECT_EQ(sample_value(samples, "cutover_transactions_captured_total", forward), 50.0);
  // Every transaction's BEGIN, row and END (and the table's schema record) went to the change log.
  EXPECT_GE(sample_value(samples, "cutover_events_captured_total", forward), 150.0);
  EXPECT_EQ(sample_value(samples, "cutover_rows_applied_total", reverse), 0.0);
  EXPECT_EQ(sample_value(samples, "cutover_pipeline_restarts_total", forward), 0.0);
  EXPECT_EQ(sample_value(samples, "cutover_last_failure_timestamp_seconds"), 0.0);
  EXPECT_EQ(sample_value(samples, "cutover_direction_reverse"), 0.0);
  EXPECT_EQ(sample_value(samples, "cutover_phase", {{"phase", "streaming"}}), 1.0);
  EXPECT_EQ(sample_value(samples, "cutover_apply_batch_rows_count"),
            sample_value(samples, "cutover_apply_batch_rows_bucket", {{"le", "+Inf"}}));
  // A byte count past a million, written with every digit (six significant ones made
  // 1.23457e+06 of it, and rate() wrong).
  EXPECT_GT(sample_value(samples, "cutover_bytes_captured_total", forward), 1234567.0);
  EXPECT_TRUE(std::regex_search(exposition, std::regex("\ncutover_bytes_captured_total\\{plan=\"t\",direction=\"forward\"\\} "
                                                       "[1-9][0-9]{6,}\n")))
      << exposition;
  EXPECT_EQ(exposition.find("e+"), std::string::npos) << exposition;
  const double build = sample_value(samples, "cutover_build_info");
  EXPECT_EQ(build, 1.0);
  bool named_commit = false;
  for (const auto& sample : samples) {
    if (sample["name"] == "cutover_build_info") named_commit = !sample["labels"].value("commit", "").empty();
  }
  EXPECT_TRUE(named_commit);
}

// One request as raw bytes on a socket of its own, answered before the server closes it: for
// what http_call would not send (a lower-case scheme, a byte that is not UTF-8).
// A TCP connection to the control endpoint, or -1.
int connect_to(const std::string& control_url) {
  const int port = std::stoi(control_url.substr(control_url.rfind(':') + 1));
  const int socket = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(socket, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(socket);
    return -1;
  }
  return socket;
}

std::string raw_request(const std::string& control_url, const std::string& request) {
  const int socket = connect_to(control_url);
  if (socket < 0) return "";
  timeval timeout{10, 0};
  ::setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::send(socket, request.data(), request.size(), 0);
  std::string answer;
  char buffer[4096];
  for (ssize_t got; (got = ::recv(socket, buffer, sizeof buffer, 0)) > 0;) answer.append(buffer, static_cast<std::size_t>(got));
  ::close(socket);
  return answer;
}

// Requests read strictly: a key given twice is refused rather than guessed at, the scheme of
// the token is case-insensitive, and a path of bytes that are not UTF-8 is a 404 whose bytes
// never reach the log.
TEST_F(ControlTest, BodiesSchemesAndOddPathsAreReadStrictly) {
  const auto twice = call("POST", "/api/v1/switch", kToken, R"({"dry_run": true, "dry_run": false})");
  EXPECT_EQ(twice.status, 400);
  EXPECT_EQ(error_of(twice), "the body gives a key twice");
  const auto cutover = nlohmann::json::parse(call("GET", "/api/v1/status", "").body)["cutover"];
  EXPECT_TRUE(cutover.is_null() || cutover.value("cutover_id", "").empty()) << "a switch was started: " << cutover;

  const std::string lower_case = raw_request(
      h_.control_url(), "POST /api/v1/pause HTTP/1.1\r\nHost: x\r\nauthorization: bearer  " + std::string(kToken) +
                            "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(lower_case.rfind("HTTP/1.1 200", 0), 0u) << lower_case;
  EXPECT_EQ(call("POST", "/api/v1/resume").status, 200);

  const std::string odd = raw_request(h_.control_url(), "GET /\xff\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(odd.rfind("HTTP/1.1 404", 0), 0u) << odd;
  EXPECT_EQ(h_.run().standard_error().find('\xff'), std::string::npos);
}

// More idle connections than the endpoint has places, and one that sends half a request:
// a client that asks for something is still answered, the token's POSTs included.
TEST_F(ControlTest, IdleAndSlowConnectionsCannotLockClientsOut) {
  std::vector<int> idle;
  for (int i = 0; i < 70; ++i) {
    const int socket = connect_to(h_.control_url());
    ASSERT_GE(socket, 0);
    idle.push_back(socket);
  }
  EXPECT_EQ(call("GET", "/api/v1/status", "").status, 200);
  EXPECT_EQ(call("POST", "/api/v1/resume").status, 200);
  const auto abort = call("POST", "/api/v1/abort");
  EXPECT_EQ(abort.status, 409);
  EXPECT_EQ(error_of(abort), "no cutover is running");

  const int slow = connect_to(h_.control_url());
  ASSERT_GE(slow, 0);
  const std::string half = "GET /api/v1/status HTTP/1.1\r\nHost: x\r\n";
  ::send(slow, half.data(), half.size(), 0);
  timeval timeout{20, 0};
  ::setsockopt(slow, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  const auto started = std::chrono::steady_clock::now();
  char byte = 0;
  const ssize_t got = ::recv(slow, &byte, 1, 0);
  EXPECT_LE(got, 0) << "the server answered half a request";
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(15)) << "a half request held its place";
  ::close(slow);
  for (const int socket : idle) ::close(socket);
}

TEST_F(ControlTest, StatusReadsAtAGlance) {
  ChildProcess status({CUTOVER_BINARY, "status", "--control", h_.control_url()}, h_.work().path());
  ASSERT_EQ(status.wait(std::chrono::seconds(30)).value_or(-1), 0) << status.standard_error();
  const std::string text = status.standard_output();
  EXPECT_NE(text.find("plan t: streaming"), std::string::npos) << text;
  EXPECT_NE(text.find("forward pipeline, blue to green; lag "), std::string::npos) << text;
  EXPECT_NE(text.find("rows/s"), std::string::npos) << text;
  // Blue was never analysed here: no estimate, so no share done; the copy is over.
  EXPECT_TRUE(std::regex_search(text, std::regex(R"(public\.items +public\.items +0  100 rows, 1/1 chunks)")))
      << text;
  EXPECT_NE(text.find("no verification yet"), std::string::npos) << text;
}

// The CLI reaches a control API behind a TLS proxy with an https:// URL, from $CUTOVER_CONTROL
// as from --control, trusting the CA in $CUTOVER_CONTROL_CA; without that CA it refuses the
// certificate with a message that says so (exit 2, not the "cannot reach" of 3).
TEST_F(ControlTest, TheCliTakesHttpsAndItsUrlFromTheEnvironment) {
  const TestCertificates certificates = make_certificates(h_.work(), "control");
  const std::string port = h_.control_url().substr(h_.control_url().rfind(':') + 1);
  ChildProcess proxy({"/usr/bin/python3", CUTOVER_SOURCE_DIR "/tests/integration/tls_proxy.py", certificates.certificate,
                      certificates.key, port},
                     h_.work().path());
  ASSERT_TRUE(proxy.wait_for_output("listening on ", std::chrono::seconds(30))) << proxy.standard_error();
  const std::string said = proxy.standard_error();
  const std::string url = "https://127.0.0.1:" + std::to_string(std::stoi(said.substr(said.find("listening on ") + 13)));

  ::setenv("CUTOVER_CONTROL", url.c_str(), 1);
  ::setenv("CUTOVER_CONTROL_CA", certificates.ca.c_str(), 1);
  ChildProcess trusted({CUTOVER_BINARY, "status", "--json"}, h_.work().path());
  EXPECT_EQ(trusted.wait(std::chrono::seconds(30)).value_or(-1), 0) << trusted.standard_error();
  const auto status = nlohmann::json::parse(trusted.standard_output(), nullptr, false);
  EXPECT_EQ(status.value("plan", ""), "t") << trusted.standard_output();
  EXPECT_EQ(status.value("phase", ""), "streaming") << trusted.standard_output();
  ChildProcess paused({CUTOVER_BINARY, "pause"}, h_.work().path());  // a POST, with the token
  EXPECT_EQ(paused.wait(std::chrono::seconds(30)).value_or(-1), 0) << paused.standard_error();
  EXPECT_TRUE(call("GET", "/api/v1/status").body.find("\"paused\":true") != std::string::npos);

  ::unsetenv("CUTOVER_CONTROL_CA");
  ChildProcess untrusted({CUTOVER_BINARY, "resume"}, h_.work().path());
  EXPECT_EQ(untrusted.wait(std::chrono::seconds(30)).value_or(-1), 2) << untrusted.standard_error();
  EXPECT_NE(untrusted.standard_error().find("cannot be trusted: "), std::string::npos) << untrusted.standard_error();
  EXPECT_NE(untrusted.standard_error().find("CUTOVER_CONTROL_CA"), std::string::npos) << untrusted.standard_error();
  EXPECT_TRUE(call("GET", "/api/v1/status").body.find("\"paused\":true") != std::string::npos) << "it was resumed";

  // --control wins over the environment.
  ChildProcess flag({CUTOVER_BINARY, "resume", "--control", h_.control_url()}, h_.work().path());
  EXPECT_EQ(flag.wait(std::chrono::seconds(30)).value_or(-1), 0) << flag.standard_error();
  ::unsetenv("CUTOVER_CONTROL");
  EXPECT_TRUE(call("GET", "/api/v1/status").body.find("\"paused\":false") != std::string::npos);
}

TEST_F(ControlTest, CliPauseAndResumeExitZeroAndShowInStatus) {
  const auto paused = h_.cli({"pause"});
  EXPECT_EQ(paused.exit_code, 0) << paused.errors;
  EXPECT_EQ(paused.output["paused"], true);
  EXPECT_EQ(h_.cli({"status"}).output["phase"], "paused");
  const auto resumed = h_.cli({"resume"});
  EXPECT_EQ(resumed.exit_code, 0) << resumed.errors;
  EXPECT_EQ(h_.cli({"status"}).output["phase"], "streaming");
  ::setenv("CUTOVER_TOKEN", "wrong", 1);
  const auto refused = h_.cli({"pause"});
  EXPECT_EQ(refused.exit_code, 1) << refused.errors;
  EXPECT_NE(refused.errors.find("wrong bearer token"), std::string::npos) << refused.errors;
}

// The page as headless Chromium shows it after its script ran.
std::string rendered(const std::string& url, const std::string& profile) {
  ChildProcess chromium({"/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                         "--no-first-run", "--disable-background-networking", "--disable-component-update",
                         "--disable-sync", "--user-data-dir=" + profile, "--virtual-time-budget=5000",
                         "--dump-dom", url},
                        profile);
  if (chromium.wait(std::chrono::seconds(90)).value_or(-1) != 0) {
    ADD_FAILURE() << "chromium failed: " << chromium.standard_error();
    return "";
  }
  return chromium.standard_output();
}

// What headless Chromium shows as the phase after the page's script ran.
std::string phase_shown(const std::string& url, const std::string& profile) {
  const std::regex phase(R"(<span id="phase"[^>]*>([^<]*)</span>)");
  std::smatch match;
  const std::string dom = rendered(url, profile);
  if (!std::regex_search(dom, match, phase)) {
    ADD_FAILURE() << "no phase in the rendered page: " << dom.substr(0, 2000);
    return "";
  }
  return match[1];
}

TEST_F(ControlTest, TheDashboardShowsThePhaseAsItChanges) {
  if (!std::filesystem::exists("/usr/bin/chromium")) GTEST_SKIP() << "chromium is not installed";
  const std::string profile = h_.work().path() + "/chromium";
  std::filesystem::create_directories(profile);
  EXPECT_EQ(phase_shown(h_.control_url() + "/", profile), "streaming");
  ASSERT_EQ(h_.cli({"pause"}).exit_code, 0);
  EXPECT_EQ(phase_shown(h_.control_url() + "/", profile), "paused");
  ASSERT_EQ(h_.cli({"resume"}).exit_code, 0);
  EXPECT_EQ(phase_shown(h_.control_url() + "/", profile), "streaming");
  // The slot panel shows blue's slot as blue does.
  const std::string page = rendered(h_.control_url() + "/", profile);
  EXPECT_NE(page.find("cutover_t: streaming, wal_status reserved, keeps "), std::string::npos)
      << page.substr(page.find("id=\"slot\""), 400);
  // Actions are offered only where the phase allows them: streaming forward, the switch and
  // a dry run but no rollback, abort or resume; paused, only resume.
  const auto enabled = [](const std::string& dom, const std::string& button) {
    const std::regex tag("<button id=\"" + button + "\"([^>]*)>");
    std::smatch match;
    if (!std::regex_search(dom, match, tag)) {
      ADD_FAILURE() << "no button " << button;
      return false;
    }
    return match[1].str().find("disabled") == std::string::npos;
  };
  for (const char* button : {"verify", "dryrun", "switch", "pause"}) EXPECT_TRUE(enabled(page, button)) << button;
  for (const char* button : {"rollback", "abort", "resume"}) EXPECT_FALSE(enabled(page, button)) << button;
  EXPECT_NE(page.find("<dd id=\"budget_lag\">2.0 s</dd>"), std::string::npos) << "the plan's default max_lag";
  ASSERT_EQ(h_.cli({"pause"}).exit_code, 0);
  const std::string paused = rendered(h_.control_url() + "/", profile);
  EXPECT_TRUE(enabled(paused, "resume"));
  for (const char* button : {"verify", "switch", "pause", "rollback"}) EXPECT_FALSE(enabled(paused, button)) << button;
  ASSERT_EQ(h_.cli({"resume"}).exit_code, 0);

  // The lag chart draws what the run kept, not only what this page saw.
  std::this_thread::sleep_for(std::chrono::seconds(6));
  auto history = http_call(h_.control_url(), "GET", "/api/v1/lag_history", "");
  ASSERT_TRUE(history) << history.status().message();
  const auto kept = nlohmann::json::parse(history->body, nullptr, false);
  EXPECT_GE(kept["samples"].size(), 1u) << history->body;
  EXPECT_EQ(kept["max_lag_seconds"], 2.0) << history->body;
  const std::string charted = rendered(h_.control_url() + "/", profile);
  std::smatch samples;
  ASSERT_TRUE(std::regex_search(charted, samples, std::regex(R"re(id="chart"[^>]*data-samples="(\d+)")re")));
  EXPECT_GE(std::stoi(samples[1]), 1) << "the chart was empty on a new page";

  // A screenshot of the page as it stands; CUTOVER_UPDATE_SCREENSHOTS=1 puts it in docs/.
  const std::string shot = h_.work().path() + "/dashboard.png";
  ChildProcess camera({"/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                       "--no-first-run", "--user-data-dir=" + profile, "--virtual-time-budget=5000",
                       "--window-size=1280,1500", "--screenshot=" + shot, h_.control_url() + "/"},
                      profile);
  ASSERT_EQ(camera.wait(std::chrono::seconds(90)).value_or(-1), 0) << camera.standard_error();
  std::ifstream png(shot, std::ios::binary);
  std::string magic(8, '\0');
  png.read(magic.data(), 8);
  EXPECT_EQ(magic, std::string("\x89PNG\r\n\x1a\n", 8));
  if (const char* update = std::getenv("CUTOVER_UPDATE_SCREENSHOTS"); update != nullptr && std::string(update) == "1") {
    std::filesystem::copy_file(shot, CUTOVER_SOURCE_DIR "/docs/dashboard.png",
                               std::filesystem::copy_options::overwrite_existing);
  }
}

// A reverse mapping that leaves a NOT NULL column of blue without a default unwritten would
// fail on its first insert after a switch: the switch is refused before anything moves. (A
// plan that starts so is refused by `run` itself; here blue gains the column while streaming.)
TEST(ReverseGuardrail, ABlueColumnTheReverseCannotWriteRefusesTheSwitch) {
  ::setenv("CUTOVER_TOKEN", kToken, 1);
  ForwardHarness h;
  h.blue().execute("CREATE TABLE people(id int PRIMARY KEY, name text NOT NULL)");
  h.green().execute("CREATE TABLE people(id bigint PRIMARY KEY, name text NOT NULL)");
  h.write_plan("  - source: people\n    columns:\n      id: id::bigint\n      name: name\n",
               "state_dir: " + h.work().path() + "/state\n");
  h.start_run();
  h.blue().execute("ALTER TABLE people ADD COLUMN nickname text NOT NULL DEFAULT 'x';"
                   "ALTER TABLE people ALTER COLUMN nickname DROP DEFAULT");
  const auto dry = h.cli({"switch", "--dry-run"});
  EXPECT_EQ(dry.exit_code, 1) << dry.errors;
  bool found = false;
  for (const auto& guardrail : dry.output["guardrails"]) {
    if (guardrail["name"] != "rollback_possible") continue;
    found = true;
    EXPECT_FALSE(guardrail["passed"].get<bool>());
    EXPECT_NE(guardrail["value"].get<std::string>().find(
                  "leaves blue's NOT NULL columns without a default unwritten: public.people.nickname"),
              std::string::npos)
        << guardrail.dump();
  }
  EXPECT_TRUE(found) << dry.output.dump(2);
}

// Passwords in DSNs and the control token never show: not in the log, status, metrics, the
// dashboard, errors or anything written to the state directory.
TEST(Secrets, PasswordsAndTheTokenAppearNowhere) {
  const std::string password = "S3cret-Passw0rd-7781";
  const std::string token = "T0ken-Never-Shown-4410";
  ::setenv("CUTOVER_TOKEN", token.c_str(), 1);
  ForwardHarness h;
  const std::string table = "CREATE TABLE items(id int PRIMARY KEY, v text)";
  h.blue().execute(table);
  h.green().execute(table);
  h.blue().execute("INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 50) g");
  const std::string path = h.write_plan("  - source: items\n", "state_dir: " + h.work().path() + "/state\n");
  for (PostgresCluster* side : {&h.blue(), &h.green()}) {
    h.replace_in_plan(side->dsn(), side->dsn() + " password=" + password);
  }
  h.start_run();
  std::vector<std::string> outputs;
  const auto verified = h.cli({"verify", "--token", token});
  EXPECT_EQ(verified.exit_code, 0) << verified.errors;
  outputs.push_back(verified.output.dump() + verified.errors);
  const auto dry = h.cli({"switch", "--dry-run", "--token", token});
  outputs.push_back(dry.output.dump() + dry.errors);
  const auto wrong = h.cli({"pause", "--token", "wrong"});
  outputs.push_back(wrong.output.dump() + wrong.errors);
  for (const char* resource : {"/api/v1/status", "/metrics", "/"}) {
    auto answer = http_call(h.control_url(), "GET", resource, "");
    ASSERT_TRUE(answer);
    outputs.push_back(answer->body);
  }
  // An unreachable green: its error names the DSN, redacted.
  h.green().stop_fast();
  ChildProcess failing({CUTOVER_BINARY, "validate", "--connect", path}, h.work().path());
  EXPECT_NE(failing.wait(std::chrono::seconds(60)).value_or(0), 0);
  outputs.push_back(failing.standard_output() + failing.standard_error());
  EXPECT_NE(outputs.back().find("password=***"), std::string::npos) << outputs.back();
  h.kill_run();
  outputs.push_back(h.run().standard_error());
  for (const auto& entry : std::filesystem::recursive_directory_iterator(h.work().path() + "/state")) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    outputs.push_back(entry.path().string() + ": " + text.str());
  }
  for (const auto& output : outputs) {
    EXPECT_EQ(output.find(password), std::string::npos) << output.substr(0, 3000);
    EXPECT_EQ(output.find(token), std::string::npos) << output.substr(0, 3000);
  }
}

}  // namespace
}  // namespace cutover::testing
