// A 10-million-row source transaction through capture, Kafka and apply: it lands in green
// whole (one green transaction; a source transaction is never split) while cutover run's
// memory stays bounded, because rows stream through in batches and nothing holds the
// transaction.
#include <gtest/gtest.h>

#include <thread>

#include "fixtures/forward_harness.h"

namespace cutover::testing {
namespace {

using namespace std::chrono_literals;

TEST(ForwardBigTransaction, TenMillionRowsInBoundedMemory) {
  ForwardHarness harness;
  harness.blue().execute("CREATE TABLE load (id bigint PRIMARY KEY, v text)");
  harness.green().execute("CREATE TABLE load (id bigint PRIMARY KEY, v text)");
  harness.write_plan("  - source: load\n");
  auto& run = harness.start_run();
  const long rows = 10'000'000;
  harness.blue().execute("INSERT INTO load SELECT g, 'row' FROM generate_series(1, " +
                         std::to_string(rows) + ") g");
  // Green shows nothing until the whole transaction commits there.
  const auto deadline = std::chrono::steady_clock::now() + 1500s;
  long seen = 0;
  long partial_views = 0;
  while ((seen = harness.green().query_number("SELECT count(*) FROM load")) < rows &&
         std::chrono::steady_clock::now() < deadline && run.running()) {
    partial_views += seen != 0;
    std::this_thread::sleep_for(5s);
  }
  ASSERT_EQ(seen, rows) << run.standard_error();
  EXPECT_EQ(partial_views, 0) << "green showed part of a source transaction";
  EXPECT_EQ(harness.green().query_value("SELECT md5(string_agg(id::text, ',' ORDER BY id)) FROM load"),
            harness.blue().query_value("SELECT md5(string_agg(id::text, ',' ORDER BY id)) FROM load"));
  const long peak_kib = run.peak_memory_kib();
  RecordProperty("peak_rss_kib", std::to_string(peak_kib));
  std::cout << "cutover run peak RSS for a 10M-row transaction: " << peak_kib / 1024 << " MiB\n";
  EXPECT_GT(peak_kib, 0);
  EXPECT_LT(peak_kib, 512 * 1024) << "cutover run's memory grew with the transaction";
}

}  // namespace
}  // namespace cutover::testing
