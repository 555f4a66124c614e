// Every supported PostgreSQL major, as blue and as green: a move from blue N to green M runs
// the snapshot, streaming under pgbench through PgBouncer, verification, the switch (with the
// reverse pipeline reading green M) and the rollback (the forward one reading blue N again),
// and every pgbench transaction is on both sides at the end, compared by plain SQL.
//
// The pairs here are the ones CI runs; scripts/version-matrix runs every pair.
#include <cstdlib>

#include "fixtures/cutover_fixture.h"

namespace cutover::testing {
namespace {

struct Versions {
  int blue;
  int green;
};
void PrintTo(const Versions& pair, std::ostream* out) { *out << pair.blue << " to " << pair.green; }

// CUTOVER_VERSION_PAIR=13:16 (set by scripts/version-matrix) runs that pair instead.
std::vector<Versions> pairs_to_run() {
  if (const char* chosen = std::getenv("CUTOVER_VERSION_PAIR"); chosen && *chosen) {
    const std::string text = chosen;
    const auto colon = text.find(':');
    if (colon != std::string::npos) {
      return {{std::atoi(text.substr(0, colon).c_str()), std::atoi(text.substr(colon + 1).c_str())}};
    }
  }
  return {{13, 17}, {14, 16}, {15, 18}, {16, 17}, {17, 18}};
}

class VersionMatrixTest : public CutoverTest, public ::testing::WithParamInterface<Versions> {
 protected:
  VersionMatrixTest()
      : CutoverTest(ClusterOptions{.major = GetParam().blue}, ClusterOptions{.major = GetParam().green}) {}
};

TEST_P(VersionMatrixTest, SwitchAndRollbackUnderLoadLoseNothing) {
  ASSERT_EQ(h_.blue().query_number("SHOW server_version_num") / 10000, GetParam().blue);
  ASSERT_EQ(h_.green().query_number("SHOW server_version_num") / 10000, GetParam().green);
  h_.write_plan(kPgbenchTables + "  - source: events\n",
                plan_extra("  max_lag: 60s\n  freeze_timeout: 5s\n  drain_timeout: 15s\n  fence_blue: true\n",
                           "none"));
  h_.start_run();
  expect_verification_clean("the snapshot");

  auto load = start_load(30, 300);
  std::this_thread::sleep_for(std::chrono::seconds(4));

  const auto switched = h_.cli({"switch"});
  ASSERT_EQ(switched.exit_code, 0) << switched.errors << switched.output.dump(2) << h_.run().standard_error();
  EXPECT_EQ(system_reached(), system_of(h_.green()));
  // PostgreSQL 13's pgoutput sends no logical messages: the capture wrote the drain's marker.
  const bool marker_written_by_capture =
      h_.run().standard_error().find("drain marker put into the change log") != std::string::npos;
  EXPECT_EQ(marker_written_by_capture, GetParam().blue < 14) << h_.run().standard_error();
  ASSERT_TRUE(wait_for_direction("reverse")) << h_.run().standard_error();
  std::this_thread::sleep_for(std::chrono::seconds(3));
  expect_verification_clean("the switch");

  const auto rolled_back = h_.cli({"rollback"});
  ASSERT_EQ(rolled_back.exit_code, 0) << rolled_back.errors << rolled_back.output.dump(2)
                                      << h_.run().standard_error();
  EXPECT_EQ(system_reached(), system_of(h_.blue()));
  ASSERT_TRUE(wait_for_direction("forward")) << h_.run().standard_error();

  const long processed = processed_without_failures(*load);
  expect_every_transaction_in(h_.blue(), processed);
  EXPECT_TRUE(h_.wait_until_equal("SELECT * FROM pgbench_history", "SELECT * FROM pgbench_history"));
  EXPECT_TRUE(h_.wait_until_equal("SELECT * FROM pgbench_accounts", "SELECT * FROM pgbench_accounts"));
  expect_every_transaction_in(h_.green(), processed);
  expect_verification_clean("the rollback");
}

INSTANTIATE_TEST_SUITE_P(Majors, VersionMatrixTest, ::testing::ValuesIn(pairs_to_run()),
                         [](const ::testing::TestParamInfo<Versions>& pair) {
                           return "pg" + std::to_string(pair.param.blue) + "_to_pg" +
                                  std::to_string(pair.param.green);
                         });

}  // namespace
}  // namespace cutover::testing
