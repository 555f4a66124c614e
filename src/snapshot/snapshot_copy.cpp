#include "cutover/snapshot/snapshot_copy.h"

#include <algorithm>
#include <memory>
#include <thread>

#include "cutover/common/libpq_session.h"
#include "cutover/common/logging.h"

namespace cutover {

namespace {

using Clock = std::chrono::steady_clock;

std::string tid(std::int64_t page) { return "'(" + std::to_string(page) + ",0)'::tid"; }

}  // namespace

SnapshotCopy::SnapshotCopy(const SnapshotSettings& settings,
                           const std::vector<TableTransform>& transforms, std::string blue_dsn,
                           std::string green_dsn, std::string snapshot_name,
                           SnapshotProgress& progress, const std::atomic<bool>& stop)
    : settings_(settings),
      transforms_(transforms),
      blue_dsn_(std::move(blue_dsn)),
      green_dsn_(std::move(green_dsn)),
      snapshot_name_(std::move(snapshot_name)),
      progress_(progress),
      stop_(stop) {}

Status SnapshotCopy::empty_targets() {
  auto green = connect_libpq(green_dsn_, "green");
  if (!green) return green.status();
  std::string targets;
  for (const auto& transform : transforms_) {
    const std::string name = transform.target.quoted();
    if (targets.find(name) == std::string::npos) targets += (targets.empty() ? "" : ", ") + name;
  }
  return run_libpq(green->get(), "TRUNCATE " + targets, "green: emptying the targets before the copy");
}

Status SnapshotCopy::plan_chunks() {
  auto blue = connect_libpq(blue_dsn_, "blue");
  if (!blue) return blue.status();
  for (const auto& transform : transforms_) {
    const std::string sql =
        "SELECT pg_relation_size(c.oid) / current_setting('block_size')::bigint, "
        "greatest(c.reltuples, 0)::bigint FROM pg_class c WHERE c.oid = to_regclass('" +
        transform.source.quoted() + "')";
    PgResult result(PQexec(blue->get(), sql.c_str()));
    if (PQresultStatus(result.get()) != PGRES_TUPLES_OK || PQntuples(result.get()) != 1) {
      return Status::error("blue: sizing " + transform.source.text() + ": " +
                           libpq_error(blue->get()));
    }
    const std::int64_t pages = std::stoll(PQgetvalue(result.get(), 0, 0));
    const std::int64_t tuples = std::stoll(PQgetvalue(result.get(), 0, 1));
    // Never analyzed: assume small rows; a wrong guess only changes the chunk count.
    const std::int64_t rows_per_page = pages > 0 && tuples > 0 ? std::max<std::int64_t>(1, tuples / pages) : 60;
    const std::int64_t pages_per_chunk = std::max<std::int64_t>(1, settings_.chunk_rows / rows_per_page);
    std::size_t count = 0;
    for (std::int64_t first = 0; first < pages; first += pages_per_chunk) {
      const bool last = first + pages_per_chunk >= pages;
      // The last chunk is open-ended: a row visible to the snapshot lies below the size
      // read now, and an open end costs nothing.
      chunks_.push_back({&transform, first, last ? -1 : first + pages_per_chunk});
      ++count;
    }
    if (count == 0) {
      chunks_.push_back({&transform, 0, -1});
      ++count;
    }
    std::lock_guard lock(progress_.mutex);
    auto& table = progress_.tables[transform.target.text()];
    table.estimated_rows += static_cast<std::uint64_t>(tuples);
    table.chunks += count;
  }
  // Big tables first would balance better; interleaving tables keeps every table moving.
  return Status::ok();
}

Status SnapshotCopy::run() {
  if (auto planned = plan_chunks(); !planned) return planned;
  spdlog::info("snapshot copy starting tables={} chunks={} workers={}", transforms_.size(),
               chunks_.size(), settings_.parallelism);
  std::atomic<std::size_t> next_chunk{0};
  Status outcome = Status::ok();
  std::mutex outcome_mutex;
  std::atomic<bool> finished{false};
  std::thread reporter([&] { report_progress(finished); });
  std::vector<std::thread> workers;
  const std::size_t count =
      std::min<std::size_t>(static_cast<std::size_t>(settings_.parallelism), chunks_.size());
  for (std::size_t worker = 0; worker < count; ++worker) {
    workers.emplace_back([&, worker] { work(worker, next_chunk, outcome, outcome_mutex); });
  }
  for (auto& worker : workers) worker.join();
  finished = true;
  reporter.join();
  if (outcome && stop_.load()) return Status::retryable("snapshot copy stopped before the end");
  if (outcome) {
    std::lock_guard lock(progress_.mutex);
    for (const auto& [table, copied] : progress_.tables) {
      spdlog::info("snapshot copied table={} rows={} bytes={}", table, copied.rows, copied.bytes);
    }
  }
  return outcome;
}

void SnapshotCopy::work(std::size_t worker, std::atomic<std::size_t>& next_chunk,
                        Status& outcome, std::mutex& outcome_mutex) {
  auto fail = [&](Status status) {
    std::lock_guard lock(outcome_mutex);
    if (outcome) outcome = std::move(status);
  };
  auto failed = [&] {
    std::lock_guard lock(outcome_mutex);
    return !outcome.is_ok();
  };
  auto blue = connect_libpq(blue_dsn_, "blue");
  if (!blue) return fail(blue.status());
  auto green = connect_libpq(green_dsn_, "green");
  if (!green) return fail(green.status());
  // Every worker sees blue exactly as of the slot's consistent point.
  if (auto status = run_libpq(blue->get(), "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "blue");
      !status) {
    return fail(status);
  }
  if (auto status = run_libpq(blue->get(), "SET TRANSACTION SNAPSHOT '" + snapshot_name_ + "'",
                        "blue: importing the slot's snapshot");
      !status) {
    return fail(status);
  }
  if (auto status = run_libpq(green->get(), "SET session_replication_role = replica", "green");
      !status) {
    return fail(status);
  }
  spdlog::debug("snapshot worker {} ready", worker);
  while (!stop_.load() && !failed()) {
    const std::size_t index = next_chunk++;
    if (index >= chunks_.size()) break;
    const Chunk& chunk = chunks_[index];
    const TableTransform& transform = *chunk.transform;
    std::string columns;
    for (const auto& column : transform.columns) {
      columns += (columns.empty() ? "" : ", ") + quote_identifier(column.name);
    }
    std::string range = "ctid >= " + tid(chunk.first_page);
    if (chunk.end_page >= 0) range += " AND ctid < " + tid(chunk.end_page);
    const std::string copy_out = "COPY (SELECT " + transform.projection() + " FROM " +
                                 transform.source.quoted() + " AS " +
                                 quote_identifier(transform.source.name) + " WHERE " + range +
                                 " AND " + transform.filter() + ") TO STDOUT";
    const std::string copy_in =
        "COPY " + transform.target.quoted() + " (" + columns + ") FROM STDIN";
    PgResult out(PQexec(blue->get(), copy_out.c_str()));
    if (PQresultStatus(out.get()) != PGRES_COPY_OUT) {
      return fail(Status::error("blue: copying " + transform.source.text() + ": " +
                                libpq_error(blue->get())));
    }
    PgResult in(PQexec(green->get(), copy_in.c_str()));
    if (PQresultStatus(in.get()) != PGRES_COPY_IN) {
      return fail(Status::error("green: copying into " + transform.target.text() + ": " +
                                libpq_error(green->get())));
    }
    std::uint64_t bytes = 0;
    Status copied = Status::ok();
    while (true) {
      char* buffer = nullptr;
      const int length = PQgetCopyData(blue->get(), &buffer, 0);
      if (length == -1) break;
      if (length < 0) {
        copied = Status::error("blue: copying " + transform.source.text() + ": " +
                               libpq_error(blue->get()));
        break;
      }
      const int put = PQputCopyData(green->get(), buffer, length);
      PQfreemem(buffer);
      bytes += static_cast<std::uint64_t>(length);
      if (put != 1) {
        copied = Status::error("green: copying into " + transform.target.text() + ": " +
                               libpq_error(green->get()));
        break;
      }
    }
    PgResult out_end(PQgetResult(blue->get()));
    if (copied && PQresultStatus(out_end.get()) != PGRES_COMMAND_OK) {
      copied = Status::error("blue: copying " + transform.source.text() + ": " +
                             libpq_error(blue->get()));
    }
    while (PgResult(PQgetResult(blue->get()))) {
    }
    PQputCopyEnd(green->get(), copied ? nullptr : "the copy from blue failed");
    PgResult in_end(PQgetResult(green->get()));
    if (copied && PQresultStatus(in_end.get()) != PGRES_COMMAND_OK) {
      copied = Status::error("green: copying into " + transform.target.text() + ": " +
                             libpq_error(green->get()));
    }
    const std::uint64_t rows = copied ? std::stoull(PQcmdTuples(in_end.get())) : 0;
    while (PgResult(PQgetResult(green->get()))) {
    }
    if (!copied) return fail(copied);
    std::lock_guard lock(progress_.mutex);
    auto& table = progress_.tables[transform.target.text()];
    table.rows += rows;
    table.bytes += bytes;
    table.chunks_done++;
  }
}

void SnapshotCopy::report_progress(const std::atomic<bool>& finished) const {
  auto last = Clock::now();
  while (!finished.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (Clock::now() - last < std::chrono::seconds(5)) continue;
    last = Clock::now();
    const double seconds =
        std::chrono::duration<double>(Clock::now() - progress_.started).count();
    std::lock_guard lock(progress_.mutex);
    for (const auto& [table, copied] : progress_.tables) {
      const double rate = static_cast<double>(copied.rows) / std::max(seconds, 0.001);
      const double remaining =
          copied.estimated_rows > copied.rows ? static_cast<double>(copied.estimated_rows - copied.rows) : 0.0;
      spdlog::info("snapshot progress table={} rows={} of_about={} bytes={} chunks={}/{} "
                   "rows_per_second={:.0f} eta_seconds={:.0f}",
                   table, copied.rows, copied.estimated_rows, copied.bytes, copied.chunks_done,
                   copied.chunks, rate, rate > 0 ? remaining / rate : 0.0);
    }
  }
}

}  // namespace cutover
