#include "cutover/verify/table_verifier.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <thread>

#include "cutover/common/logging.h"

namespace cutover {

namespace {

using Row = std::vector<KeyValue>;
using RowsByIdentity = std::map<std::string, std::vector<Row>>;

struct Checksum {
  std::uint64_t rows = 0;
  std::string sum;
  std::string product_sum_of_hashes;
  bool operator==(const Checksum&) const = default;
};

// The result of one statement sent with PQsendQueryParams.
Result<PgResult> collect(PGconn* connection, const std::string& role) {
  PgResult last;
  while (PgResult next{PQgetResult(connection)}) last = std::move(next);
  const auto status = PQresultStatus(last.get());
  if (!last || (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK)) {
    const std::string reason = role + ": " + libpq_error(connection);
    return PQstatus(connection) == CONNECTION_OK ? Status::error(reason) : Status::retryable(reason);
  }
  return last;
}

// Runs one query on each side at the same time, through the extended protocol: one statement
// at most, whatever the plan's expressions hold.
Result<std::pair<PgResult, PgResult>> query_both(SessionPair& sessions, const std::string& blue_sql,
                                                 const std::string& green_sql) {
  if (!PQsendQueryParams(sessions.blue.get(), blue_sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0)) {
    return Status::retryable("blue: " + libpq_error(sessions.blue.get()));
  }
  if (!PQsendQueryParams(sessions.green.get(), green_sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0)) {
    collect(sessions.blue.get(), "blue");
    return Status::retryable("green: " + libpq_error(sessions.green.get()));
  }
  auto blue = collect(sessions.blue.get(), "blue");
  auto green = collect(sessions.green.get(), "green");
  if (!blue) return blue.status();
  if (!green) return green.status();
  return std::make_pair(std::move(blue.value()), std::move(green.value()));
}

Checksum checksum_of(const PgResult& result) {
  return {std::stoull(PQgetvalue(result.get(), 0, 0)), PQgetvalue(result.get(), 0, 1),
          PQgetvalue(result.get(), 0, 2)};
}

Row row_at(const PgResult& result, int row) {
  Row values;
  for (int column = 0; column < PQnfields(result.get()); ++column) {
    if (PQgetisnull(result.get(), row, column)) {
      values.emplace_back();
    } else {
      values.emplace_back(std::string(PQgetvalue(result.get(), row, column),
                                      PQgetlength(result.get(), row, column)));
    }
  }
  return values;
}

// A row's identity as one string: its key columns (every column when keyless), with NULL
// told apart from any text.
std::string identity_of(const Row& row, const std::vector<std::size_t>& positions) {
  std::string identity;
  for (const auto position : positions) {
    identity += row[position] ? "v" + *row[position] : std::string("n");
    identity += '\x1f';
  }
  return identity;
}

Row key_of(const Row& row, const std::vector<std::size_t>& positions) {
  Row key;
  for (const auto position : positions) key.push_back(row[position]);
  return key;
}

std::vector<std::string> differing_columns(const Row& blue, const Row& green,
                                           const std::vector<std::string>& names) {
  std::vector<std::string> columns;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (blue[i] != green[i]) columns.push_back(names[i]);
  }
  return columns;
}

// What drilling into differing chunks found, gathered across the table's chunks.
struct Findings {
  std::mutex mutex;
  RowsByIdentity only_blue;
  RowsByIdentity only_green;
  std::vector<KeyDifference> different;
  std::uint64_t rows_blue = 0;
  std::uint64_t rows_green = 0;
  std::size_t chunks_differing = 0;
};

// Pairs up the rows of one identity that both sides hold: a keyed pair whose columns differ
// is a difference. Paired rows leave both lists; what remains is one side's alone.
void pair_up(std::vector<Row>& blue, std::vector<Row>& green, const TableComparison& table,
             std::vector<KeyDifference>& differences) {
  const std::size_t paired = std::min(blue.size(), green.size());
  if (!table.keyless()) {
    for (std::size_t i = 0; i < paired; ++i) {
      auto columns = differing_columns(blue[i], green[i], table.columns());
      if (!columns.empty()) {
        differences.push_back({KeyDifference::Kind::kDifferent,
                               key_of(blue[i], table.identity_positions()), std::move(columns), 1});
      }
    }
  }
  blue.erase(blue.begin(), blue.begin() + static_cast<std::ptrdiff_t>(paired));
  green.erase(green.begin(), green.begin() + static_cast<std::ptrdiff_t>(paired));
}

RowsByIdentity rows_by_identity(const PgResult& result, const std::vector<std::size_t>& positions) {
  RowsByIdentity rows;
  for (int i = 0; i < PQntuples(result.get()); ++i) {
    Row row = row_at(result, i);
    rows[identity_of(row, positions)].push_back(std::move(row));
  }
  return rows;
}

void compare_rows(const PgResult& blue, const PgResult& green, const TableComparison& table,
                  Findings& findings) {
  const auto positions = table.identity_positions();
  RowsByIdentity blue_rows = rows_by_identity(blue, positions);
  RowsByIdentity green_rows = rows_by_identity(green, positions);
  std::lock_guard lock(findings.mutex);
  for (auto& [identity, rows] : blue_rows) {
    if (auto found = green_rows.find(identity); found != green_rows.end()) {
      pair_up(rows, found->second, table, findings.different);
    }
    for (auto& row : rows) findings.only_blue[identity].push_back(std::move(row));
  }
  for (auto& [identity, rows] : green_rows) {
    for (auto& row : rows) findings.only_green[identity].push_back(std::move(row));
  }
}

// Rows only one side had in its chunk may sit in another chunk on the other side; matched
// up here, they are the same row, a different row, or truly missing or extra.
void settle(Findings& findings, const TableComparison& table, TableVerification& report) {
  const auto positions = table.identity_positions();
  report.differences = std::move(findings.different);
  for (auto& [identity, blue_rows] : findings.only_blue) {
    if (auto found = findings.only_green.find(identity); found != findings.only_green.end()) {
      pair_up(blue_rows, found->second, table, report.differences);
    }
    if (!blue_rows.empty()) {
      report.differences.push_back({KeyDifference::Kind::kMissingInGreen,
                                    key_of(blue_rows.front(), positions), {}, blue_rows.size()});
    }
  }
  for (auto& [identity, green_rows] : findings.only_green) {
    if (green_rows.empty()) continue;
    report.differences.push_back({KeyDifference::Kind::kExtraInGreen,
                                  key_of(green_rows.front(), positions), {}, green_rows.size()});
  }
}

}  // namespace

TableVerifier::TableVerifier(long chunk_rows, std::vector<SessionPair>& workers, PGconn* planner,
                             VerificationProgress& progress, const std::atomic<bool>& stop)
    : chunk_rows_(chunk_rows), workers_(workers), planner_(planner), progress_(progress), stop_(stop) {}

Result<TableVerification> TableVerifier::verify(const TableComparison& table, std::size_t progress_index) {
  TableVerification report = table.describe();
  std::vector<KeyRange> ranges;
  if (table.keyless()) {
    ranges.emplace_back();
  } else {
    auto boundaries = query_libpq(planner_, table.boundaries_sql(chunk_rows_),
                                  "green: chunk boundaries of " + report.target);
    if (!boundaries) return boundaries.status();
    std::vector<KeyValue> previous;
    for (int i = 0; i < PQntuples(boundaries->get()); ++i) {
      Row boundary = row_at(*boundaries, i);
      ranges.push_back({previous, boundary});
      previous = std::move(boundary);
    }
    ranges.push_back({previous, {}});
    if (!table.blue_range_uses_source_columns() && ranges.size() > 1) {
      spdlog::warn("verify table={} key is computed on blue, so each of its {} chunks scans "
                   "the source fully",
                   report.target, ranges.size());
    }
    if (table.ranged_in_byte_order() && ranges.size() > 1) {
      spdlog::warn("verify table={} key collations differ between the sides, so its {} chunks are "
                   "ranged in byte order and each scans both tables fully",
                   report.target, ranges.size());
    }
  }
  report.chunks = ranges.size();
  progress_.chunks_planned(progress_index, ranges.size());

  Findings findings;
  std::atomic<std::size_t> next{0};
  std::mutex failure_mutex;
  Status failure = Status::ok();
  auto work = [&](SessionPair& sessions) {
    for (std::size_t index = next++; index < ranges.size() && !stop_.load(); index = next++) {
      const KeyRange& range = ranges[index];
      auto sums = query_both(sessions, table.blue_checksum_sql(range), table.green_checksum_sql(range));
      Status outcome = sums.status();
      if (sums) {
        const Checksum blue = checksum_of(sums->first);
        const Checksum green = checksum_of(sums->second);
        {
          std::lock_guard lock(findings.mutex);
          findings.rows_blue += blue.rows;
          findings.rows_green += green.rows;
          if (!(blue == green)) findings.chunks_differing++;
        }
        if (!(blue == green)) {
          auto rows = query_both(sessions, table.blue_rows_sql(range), table.green_rows_sql(range));
          if (rows) compare_rows(rows->first, rows->second, table, findings);
          outcome = rows.status();
        }
        progress_.chunk_compared(progress_index, blue.rows, green.rows);
      }
      if (!outcome) {
        std::lock_guard lock(failure_mutex);
        if (failure) failure = outcome.with_context("verifying " + report.target);
        return;
      }
    }
  };
  std::vector<std::thread> threads;
  for (auto& sessions : workers_) threads.emplace_back(work, std::ref(sessions));
  for (auto& thread : threads) thread.join();
  if (!failure) return failure;
  if (stop_.load()) return Status::error("verification stopped");
  report.rows_blue = findings.rows_blue;
  report.rows_green = findings.rows_green;
  report.chunks_differing = findings.chunks_differing;
  settle(findings, table, report);
  return report;
}

}  // namespace cutover
