// SnapshotCopy: copies blue's existing rows into green, through the plan's transforms.
//
// The orchestrator (cutover run) calls it once, right after creating the slot with an
// exported snapshot and before streaming starts, so the copy and the stream meet exactly at
// the slot's consistent point. `snapshot.parallelism` workers import the snapshot and copy
// chunks of about `snapshot.chunk_rows` rows each: page (ctid) ranges, which PostgreSQL scans
// directly (TID range scans) and which work for every table, with or without a key.
// Each chunk is `COPY (SELECT <source columns> ... WHERE <filter>) TO STDOUT` on blue piped into
// a staging table of the source's types on green, then `INSERT INTO target SELECT <transform>`
// there: the applier's own projection over rows of the same types, so that the snapshot and
// the stream give every value the same way (a char(n) to text keeps no padding in one and
// padding in the other; a value too long for its column fails both). A copy that stops half-way is never resumed: the
// orchestrator empties the targets and copies again, so a table is never half-copied.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <mutex>
#include <string>
#include <vector>

#include <libpq-fe.h>

#include "cutover/common/result.h"
#include "cutover/plan/plan.h"
#include "cutover/transform/table_transform.h"

namespace cutover {

struct TableCopyProgress {
  std::uint64_t rows = 0;  // committed in green
  std::uint64_t bytes = 0;
  std::uint64_t estimated_rows = 0;  // blue's reltuples when the copy started
  std::size_t chunks_done = 0;
  std::size_t chunks = 0;
  // Read from blue into chunks not committed yet: a big chunk shows its progress while it
  // copies, not only once it is done.
  std::uint64_t rows_copying = 0;
  std::optional<std::chrono::steady_clock::time_point> started;  // its first chunk began
};

// How far a table's copy is, and how long the rest should take at its pace so far.
struct CopyEstimate {
  std::uint64_t rows_seen = 0;           // committed and in flight
  std::optional<double> percent;         // of the estimate; none when blue had no estimate
  double rows_per_second = 0;            // since its first chunk began
  std::optional<double> eta_seconds;     // none until rows move, or without an estimate
};
CopyEstimate estimate_copy(const TableCopyProgress& table, std::chrono::steady_clock::time_point now);

// Per target table, shared with status reports.
struct SnapshotProgress {
  mutable std::mutex mutex;
  std::map<std::string, TableCopyProgress> tables;  // by target "schema.table"
};

class SnapshotCopy {
 public:
  SnapshotCopy(const SnapshotSettings& settings, const std::vector<TableTransform>& transforms,
               std::string blue_dsn, std::string green_dsn, std::string snapshot_name,
               SnapshotProgress& progress, const std::atomic<bool>& stop);

  // Empties every target on green (a fresh start, never a resume).
  Status empty_targets();
  // Copies every chunk; returns when all are committed in green, or at the first error.
  Status run();

 private:
  struct Chunk {
    const TableTransform* transform;
    std::int64_t first_page;
    std::int64_t end_page;  // -1: to the end of the table
  };

  struct ChunkCopied {
    std::uint64_t rows = 0;
    std::uint64_t bytes = 0;
  };

  Status plan_chunks();
  std::size_t transform_index(const TableTransform& transform) const;
  static std::string staging_table_sql(const TableTransform& transform, const std::string& staging);
  class RowsInFlight;
  Result<ChunkCopied> copy_chunk(PGconn* blue, PGconn* green, const Chunk& chunk, const std::string& staging,
                                 RowsInFlight& in_flight);
  void work(std::size_t worker, std::atomic<std::size_t>& next_chunk, Status& outcome,
            std::mutex& outcome_mutex);
  void report_progress(const std::atomic<bool>& finished) const;

  const SnapshotSettings& settings_;
  const std::vector<TableTransform>& transforms_;
  std::string blue_dsn_;
  std::string green_dsn_;
  std::string snapshot_name_;
  SnapshotProgress& progress_;
  const std::atomic<bool>& stop_;
  std::vector<Chunk> chunks_;
};

}  // namespace cutover
