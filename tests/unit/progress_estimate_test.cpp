// The share done, pace and time left that status shows for a snapshot and a verification,
// from figures chosen here and worked out by hand.
#include <gtest/gtest.h>

#include "cutover/common/postgres_connection.h"
#include "cutover/snapshot/snapshot_copy.h"
#include "cutover/verify/verification_progress.h"

namespace cutover {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::seconds;

TEST(CopyEstimate, RowsInFlightCountAndTheRestTakesAsLongAtThePaceSoFar) {
  TableCopyProgress table;
  table.estimated_rows = 1000000;
  table.chunks = 5;
  table.rows = 200000;
  table.rows_copying = 50000;
  const auto start = Clock::now();
  table.started = start;
  const CopyEstimate estimate = estimate_copy(table, start + seconds(10));
  EXPECT_EQ(estimate.rows_seen, 250000u);
  EXPECT_DOUBLE_EQ(*estimate.percent, 25.0);
  EXPECT_DOUBLE_EQ(estimate.rows_per_second, 25000.0);
  EXPECT_DOUBLE_EQ(*estimate.eta_seconds, 30.0);  // 750,000 rows at 25,000 a second
}

TEST(CopyEstimate, NoEstimateMeansNoShareAndALowOneNeverPassesAHundred) {
  TableCopyProgress unknown;
  unknown.chunks = 1;
  unknown.rows_copying = 10;
  unknown.started = Clock::now();
  const CopyEstimate none = estimate_copy(unknown, *unknown.started + seconds(1));
  EXPECT_FALSE(none.percent.has_value());
  EXPECT_FALSE(none.eta_seconds.has_value());

  TableCopyProgress low;
  low.estimated_rows = 100;
  low.chunks = 2;
  low.chunks_done = 1;
  low.rows = 300;
  low.started = Clock::now();
  const CopyEstimate over = estimate_copy(low, *low.started + seconds(1));
  EXPECT_DOUBLE_EQ(*over.percent, 100.0);
  EXPECT_DOUBLE_EQ(*over.eta_seconds, 0.0);
  low.chunks_done = 2;
  EXPECT_DOUBLE_EQ(*estimate_copy(low, *low.started + seconds(1)).eta_seconds, 0.0);
}

TEST(VerificationProgress, EachTableHasItsShareAndTheWholeCountsBluesRowsOnly) {
  VerificationProgress progress;
  progress.tables_found({{"public.big", 9000}, {"public.small", 1000}});
  progress.chunks_planned(0, 10);
  for (int chunk = 0; chunk < 4; ++chunk) progress.chunk_compared(0, 900, 900);
  const nlohmann::json shown = progress.to_json(Clock::now());
  EXPECT_EQ(shown["rows"], 3600);
  EXPECT_EQ(shown["rows_green"], 3600);
  EXPECT_EQ(shown["estimated_rows"], 10000);
  EXPECT_EQ(shown["percent"], 36.0);
  EXPECT_EQ(shown["table"], "public.big");
  EXPECT_EQ(shown["tables_done"], 0);
  EXPECT_EQ(shown["by_table"][0]["percent"], 40.0);
  EXPECT_EQ(shown["by_table"][0]["state"], "comparing");
  EXPECT_EQ(shown["by_table"][1]["state"], "waiting");
  EXPECT_TRUE(shown["by_table"][1]["percent"].is_null());

  // The first table held fewer rows than estimated: the whole counts what it held.
  progress.table_done(0);
  progress.chunks_planned(1, 1);
  progress.chunk_compared(1, 1000, 1000);
  progress.table_done(1);
  const nlohmann::json finished = progress.to_json(Clock::now());
  EXPECT_EQ(finished["estimated_rows"], 4600);
  EXPECT_EQ(finished["percent"], 100.0);
  EXPECT_EQ(finished["eta_seconds"], 0.0);
  EXPECT_TRUE(finished["table"].is_null());
}

// The sizing queries name a table by a literal of its quoted name: a quote or a backslash in
// it must not end the literal (as PostgreSQL's quote_literal() writes them).
TEST(QuoteLiteral, QuotesAndBackslashesAreDoubled) {
  EXPECT_EQ(quote_literal("plain"), "'plain'");
  EXPECT_EQ(quote_literal("\"it's\""), "'\"it''s\"'");
  EXPECT_EQ(quote_literal("a\\b"), "E'a\\\\b'");
}

}  // namespace
}  // namespace cutover
