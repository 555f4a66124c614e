#include "cutover/verify/verification_progress.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace cutover {

namespace {

double seconds_between(VerificationProgress::Clock::time_point from, VerificationProgress::Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

// One decimal is what a person reads; JSON keeps it a number.
nlohmann::json rounded(const std::optional<double>& value) {
  return value ? nlohmann::json(std::round(*value * 10) / 10) : nlohmann::json();
}

}  // namespace

void VerificationProgress::tables_found(const std::vector<std::pair<std::string, std::uint64_t>>& targets) {
  std::lock_guard lock(mutex_);
  tables_.clear();
  for (const auto& [target, estimate] : targets) {
    Table table;
    table.target = target;
    table.estimated_rows = estimate;
    tables_.push_back(std::move(table));
  }
}

void VerificationProgress::chunks_planned(std::size_t index, std::size_t chunks) {
  std::lock_guard lock(mutex_);
  if (index >= tables_.size()) return;
  tables_[index].chunks = chunks;
  tables_[index].started = Clock::now();
}

void VerificationProgress::chunk_compared(std::size_t index, std::uint64_t rows_blue, std::uint64_t rows_green) {
  std::lock_guard lock(mutex_);
  if (index >= tables_.size()) return;
  Table& table = tables_[index];
  table.rows_blue += rows_blue;
  table.rows_green += rows_green;
  table.chunks_done++;
}

void VerificationProgress::table_done(std::size_t index) {
  std::lock_guard lock(mutex_);
  if (index >= tables_.size()) return;
  tables_[index].done = true;
  tables_[index].finished = Clock::now();
}

VerificationProgress::Totals VerificationProgress::totals(Clock::time_point now) const {
  Totals totals;
  for (const Table& table : tables_) {
    totals.rows_blue += table.rows_blue;
    totals.rows_green += table.rows_green;
    // A table whose estimate was low counts as what it held, so the share never passes 100.
    totals.estimated_rows += table.done ? table.rows_blue : std::max(table.estimated_rows, table.rows_blue);
    totals.chunks_done += table.chunks_done;
    totals.chunks += table.chunks;
    if (table.done) totals.tables_done++;
    if (table.started && !table.done && totals.current.empty()) totals.current = table.target;
  }
  const bool all_done = !tables_.empty() && totals.tables_done == tables_.size();
  if (all_done) {
    totals.percent = 100.0;
  } else if (totals.estimated_rows > 0) {
    totals.percent = 100.0 * static_cast<double>(totals.rows_blue) / static_cast<double>(totals.estimated_rows);
  }
  const double elapsed = seconds_between(started_, now);
  if (elapsed > 0) totals.rows_per_second = static_cast<double>(totals.rows_blue) / elapsed;
  if (all_done) {
    totals.eta_seconds = 0.0;
  } else if (totals.estimated_rows > 0 && totals.rows_per_second > 0) {
    totals.eta_seconds = static_cast<double>(totals.estimated_rows - totals.rows_blue) / totals.rows_per_second;
  }
  return totals;
}

nlohmann::json VerificationProgress::to_json(Clock::time_point now) const {
  std::lock_guard lock(mutex_);
  const Totals all = totals(now);
  nlohmann::json by_table = nlohmann::json::array();
  for (const Table& table : tables_) {
    std::optional<double> percent;
    std::optional<double> eta;
    double rate = 0;
    if (table.done) {
      percent = 100.0;
      eta = 0.0;
    } else if (table.chunks > 0) {
      percent = 100.0 * static_cast<double>(table.chunks_done) / static_cast<double>(table.chunks);
    }
    if (table.started) {
      const double seconds = seconds_between(*table.started, table.finished.value_or(now));
      if (seconds > 0) rate = static_cast<double>(table.rows_blue) / seconds;
      if (!table.done && table.chunks_done > 0 && seconds > 0) {
        eta = seconds * static_cast<double>(table.chunks - table.chunks_done) / static_cast<double>(table.chunks_done);
      }
    }
    by_table.push_back({{"target", table.target},
                        {"state", table.done ? "done" : table.started ? "comparing" : "waiting"},
                        {"rows", table.rows_blue},
                        {"rows_green", table.rows_green},
                        {"estimated_rows", table.estimated_rows},
                        {"chunks_done", table.chunks_done},
                        {"chunks", table.chunks},
                        {"percent", rounded(percent)},
                        {"rows_per_second", std::round(rate)},
                        {"eta_seconds", rounded(eta)}});
  }
  return {{"tables_done", all.tables_done},
          {"tables", tables_.size()},
          {"chunks_done", all.chunks_done},
          {"chunks", all.chunks},
          {"rows", all.rows_blue},
          {"rows_green", all.rows_green},
          {"estimated_rows", all.estimated_rows},
          {"percent", rounded(all.percent)},
          {"rows_per_second", std::round(all.rows_per_second)},
          {"eta_seconds", rounded(all.eta_seconds)},
          {"table", all.current.empty() ? nlohmann::json() : nlohmann::json(all.current)},
          {"by_table", std::move(by_table)}};
}

std::string VerificationProgress::log_fields(Clock::time_point now) const {
  std::lock_guard lock(mutex_);
  const Totals all = totals(now);
  return fmt::format("tables={}/{} table={} chunks={}/{} rows={} rows_green={} of_about={} percent={} "
                     "rows_per_second={:.0f} eta_seconds={}",
                     all.tables_done, tables_.size(), all.current.empty() ? "-" : all.current, all.chunks_done,
                     all.chunks, all.rows_blue, all.rows_green, all.estimated_rows,
                     all.percent ? fmt::format("{:.1f}", *all.percent) : "unknown", all.rows_per_second,
                     all.eta_seconds ? fmt::format("{:.0f}", *all.eta_seconds) : "unknown");
}

}  // namespace cutover
