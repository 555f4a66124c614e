// 10-million-row source transactions: through capture alone into Kafka, and through capture,
// Kafka and apply into green, where it lands whole (one green transaction; a source
// transaction is never split). Memory stays bounded because rows stream through in batches
// and nothing holds the transaction. These are the suite's longest tests; their own
// executable lets ctest start them first.
#include <gtest/gtest.h>

#include <thread>

#include "cutover/transport/change_log_consumer.h"
#include "fixtures/capture_harness.h"
#include "fixtures/forward_harness.h"

namespace cutover::testing {
namespace {

using namespace std::chrono_literals;

TEST(BigTransaction, RunAppliesTenMillionRowsInBoundedMemory) {
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
  std::cout << "[ MEASURED ] cutover run peak RSS for a 10M-row transaction: " << peak_kib / 1024 << " MiB\n";
  EXPECT_GT(peak_kib, 0);
  EXPECT_LT(peak_kib, 512 * 1024) << "cutover run's memory grew with the transaction";
}

TEST(BigTransaction, CaptureStreamsTenMillionRowsInBoundedMemory) {
  CaptureHarness harness;
  harness.blue().execute("CREATE TABLE load (id bigint PRIMARY KEY, v text)");
  harness.write_plan("  - source: load\n");
  auto& capture = harness.start_capture();
  const long rows = 10'000'000;
  harness.blue().execute("INSERT INTO load SELECT g, 'row' FROM generate_series(1, " +
                         std::to_string(rows) + ") g");
  // BEGIN, the schema event, every row, END. The embedded broker keeps only the newest few
  // MiB, so the count is the partition's high watermark, and only the last event is read.
  const std::int64_t expected = rows + 3;
  const auto deadline = std::chrono::steady_clock::now() + 900s;
  std::int64_t written = 0;
  // The end offset counts every message ever written, even those retention dropped since.
  auto end_offset = [&] {
    auto end = change_log_end_offset(harness.broker().bootstrap(), harness.topic(), {});
    return end ? *end : std::int64_t{-1};
  };
  while ((written = end_offset()) < expected &&
         std::chrono::steady_clock::now() < deadline && capture.running()) {
    std::this_thread::sleep_for(1s);
  }
  ASSERT_EQ(written, expected) << capture.standard_error();
  ChangeLogReader last_event(harness.broker().bootstrap(), harness.topic(), expected - 1);
  ASSERT_TRUE(last_event.wait_until([](const auto& events) { return !events.empty(); }, 60s));
  const auto last = last_event.events().back();
  EXPECT_EQ(last.value["status"], "END");
  EXPECT_EQ(last.value["event_count"], rows);
  const long peak_kib = capture.peak_memory_kib();
  std::cout << "[ MEASURED ] capture peak RSS for a " << rows << "-row transaction: " << peak_kib / 1024
            << " MiB\n";
  EXPECT_GT(peak_kib, 0);
  EXPECT_LT(peak_kib, 512 * 1024) << "capture must not hold the transaction in memory";
}

}  // namespace
}  // namespace cutover::testing
