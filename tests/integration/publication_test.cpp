// The publication decides what blue sends: one that leaves out an operation, filters rows or
// columns, or loses a table while cutover streams would lose changes without a word from
// PostgreSQL. cutover refuses such a publication before it starts and stops when one changes
// under it, with the reason.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "fixtures/forward_harness.h"

namespace cutover::testing {
namespace {

using namespace std::chrono_literals;

class PublicationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    h_.blue().execute(
        "CREATE TABLE items (id int PRIMARY KEY, v text);"
        "INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 20) g");
    h_.green().execute("CREATE TABLE items (id int PRIMARY KEY, v text)");
    h_.write_plan("  - source: items\n");
  }

  // `cutover run` to its end, for a start that must be refused.
  std::pair<int, std::string> refused_run() {
    auto& run = h_.start_run(false);
    const int code = run.wait(60s).value_or(-1);
    return {code, run.standard_error()};
  }

  ForwardHarness h_;
};

TEST_F(PublicationTest, AnExistingPublicationThatLeavesOutOperationsIsRefused) {
  h_.blue().execute("CREATE PUBLICATION cutover_t FOR TABLE items WITH (publish = 'insert')");
  const auto [code, output] = refused_run();
  EXPECT_EQ(code, 2) << output;
  EXPECT_NE(output.find("publication cutover_t does not publish update, delete, truncate"), std::string::npos)
      << output;
  EXPECT_EQ(h_.blue().query_value("SELECT count(*) FROM pg_replication_slots"), "0");
}

TEST_F(PublicationTest, AnExistingPublicationWithARowFilterOrColumnListIsRefused) {
  h_.blue().execute("CREATE PUBLICATION cutover_t FOR TABLE items WHERE (id > 10)");
  const auto [code, output] = refused_run();
  EXPECT_EQ(code, 2) << output;
  EXPECT_NE(output.find("publication cutover_t has a row filter on public.items"), std::string::npos) << output;
  h_.blue().execute("DROP PUBLICATION cutover_t; CREATE PUBLICATION cutover_t FOR TABLE items (id)");
  const auto [columns_code, columns_output] = refused_run();
  EXPECT_EQ(columns_code, 2) << columns_output;
  EXPECT_NE(columns_output.find("publication cutover_t has a column list on public.items"), std::string::npos)
      << columns_output;
  EXPECT_EQ(h_.blue().query_value("SELECT count(*) FROM pg_replication_slots"), "0");
}

TEST_F(PublicationTest, ATableDroppedFromThePublicationWhileStreamingStopsThePipeline) {
  auto& run = h_.start_run();
  h_.blue().execute("INSERT INTO items VALUES (21, 'before')");
  EXPECT_TRUE(h_.wait_until_equal("SELECT * FROM items", "SELECT * FROM items"));
  h_.blue().execute("ALTER PUBLICATION cutover_t DROP TABLE items; INSERT INTO items VALUES (22, 'lost')");
  // Halted, not gone: status says why until the operator stops the run.
  const nlohmann::json status = h_.wait_until_halted();
  EXPECT_NE(status.value("halted", "").find("publication cutover_t no longer publishes public.items"), std::string::npos)
      << status.dump(2);
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(60s).value_or(-1), 1) << run.standard_error();
  EXPECT_NE(run.standard_error().find("publication cutover_t no longer publishes public.items"), std::string::npos)
      << run.standard_error();
  // Started again, it does not put the table back and stream on over the gap.
  const auto [code, output] = refused_run();
  EXPECT_EQ(code, 1) << output;
  EXPECT_NE(output.find("publication cutover_t no longer publishes public.items although green holds a "
                        "finished snapshot"),
            std::string::npos)
      << output;
}

}  // namespace
}  // namespace cutover::testing
