// VerificationProgress: how far a running verification is, table by table, for status, the
// dashboard and the progress log.
//
// Tables are compared one after another, each in chunks of green's key order. A table's share
// done is its chunks compared over its chunks planned (they hold about verify.chunk_rows rows
// each); the whole verification's is blue's rows compared over green's row estimates
// (reltuples, read when it starts), and its pace and time left come from that.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace cutover {

class VerificationProgress {
 public:
  using Clock = std::chrono::steady_clock;

  // The tables to compare, in order, with green's estimate of their rows (0: none).
  void tables_found(const std::vector<std::pair<std::string, std::uint64_t>>& targets);
  // Table `index` is being compared now, in `chunks` chunks.
  void chunks_planned(std::size_t index, std::size_t chunks);
  void chunk_compared(std::size_t index, std::uint64_t rows_blue, std::uint64_t rows_green);
  void table_done(std::size_t index);

  // {tables_done, tables, chunks_done, chunks, rows (blue's, compared), rows_green,
  //  estimated_rows, percent, rows_per_second, eta_seconds, table (the one being compared),
  //  by_table: [{target, state, rows, rows_green, estimated_rows, chunks_done, chunks, percent,
  //  rows_per_second, eta_seconds}]}; percent and eta_seconds are null when unknown.
  nlohmann::json to_json(Clock::time_point now) const;
  // One line for the log: "tables=1/3 table=public.items chunks=4/10 rows=40000 percent=12.5 ...".
  std::string log_fields(Clock::time_point now) const;

 private:
  struct Table {
    std::string target;
    std::uint64_t estimated_rows = 0;
    std::uint64_t rows_blue = 0;
    std::uint64_t rows_green = 0;
    std::size_t chunks_done = 0;
    std::size_t chunks = 0;
    bool done = false;
    std::optional<Clock::time_point> started;
    std::optional<Clock::time_point> finished;
  };
  struct Totals {
    std::uint64_t rows_blue = 0, rows_green = 0, estimated_rows = 0;
    std::size_t chunks_done = 0, chunks = 0, tables_done = 0;
    std::optional<double> percent;
    double rows_per_second = 0;
    std::optional<double> eta_seconds;
    std::string current;
  };
  Totals totals(Clock::time_point now) const;  // with mutex_ held

  mutable std::mutex mutex_;
  std::vector<Table> tables_;  // guarded by mutex_
  const Clock::time_point started_ = Clock::now();
};

}  // namespace cutover
