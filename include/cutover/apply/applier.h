// Applier: reads the change log and applies it to green, exactly once in effect.
//
// Source transactions are applied whole: rows collect in per-table SourceBatches, which are
// flushed into the open green transaction when they grow past the plan's apply bounds, and
// the green transaction commits, with the applied source position, only at a source
// transaction's END, once a bound (rows, bytes, time) is reached or the log goes quiet.
// A transaction whose commit lies below the applied position is skipped, so duplicates from
// a capture restart change nothing. A transaction cut off by a capture crash (BEGIN and rows,
// no END, then its BEGIN again) is discarded: the green transaction rolls back and the log is
// read again from the last commit, without the cut-off part.
// An ApplyHold stops it between source transactions at a position another part asks for.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "cutover/apply/apply_hold.h"
#include "cutover/apply/current_source_rows.h"
#include "cutover/apply/target_writer.h"
#include "cutover/apply/source_batch.h"
#include "cutover/common/histogram.h"
#include "cutover/common/steady_clock.h"
#include "cutover/plan/plan.h"
#include "cutover/transform/table_transform.h"
#include "cutover/transport/change_log_consumer.h"

namespace cutover {

// What the applier has done, read by status reports from other threads.
struct ApplyCounters {
  std::atomic<std::uint64_t> applied_lsn{0};
  std::atomic<std::int64_t> applied_commit_ts_ms{0};
  std::atomic<std::uint64_t> transactions{0};
  std::atomic<std::uint64_t> rows{0};
  std::atomic<std::int64_t> next_offset{-1};
  std::atomic<std::uint64_t> consumed_bytes{0};  // every message read, applied or skipped
  std::atomic<std::uint64_t> consume_errors{0};  // reads of the change log that failed
  std::atomic<bool> caught_up{false};  // the log is read to its end and everything committed
  // Per green transaction: the rows it wrote and the seconds its flush and commit took.
  Histogram batch_rows{1, 10, 100, 1000, 10000, 100000};
  Histogram batch_seconds{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
  mutable std::mutex mutex;
  std::map<std::string, std::uint64_t> rows_by_source;  // guarded by mutex
  std::string last_message;                             // prefix:content of the last applied
                                                        // logical message, guarded by mutex
  std::condition_variable message_applied;              // notified when last_message changes
  // Schema changes on the source seen while streaming (guarded by mutex): what the plan
  // still maps (a column it does not read, added), and the change it cannot map that stopped
  // the applier ("" while none has).
  std::vector<std::string> schema_notices;
  std::string halted_by;
};

// Offsets [first, last) of cut-off transactions to pass over; kept across applier restarts.
using DiscardedRanges = std::vector<std::pair<std::int64_t, std::int64_t>>;

class Applier {
 public:
  Applier(const ApplySettings& settings, const std::vector<TableTransform>& transforms,
          ChangeLogSource& log, ChangeWriter& writer, AppliedPosition start,
          ApplyCounters& counters, DiscardedRanges& discarded, const std::atomic<bool>& stop,
          RowSource& current_rows, ApplyHold& hold, SteadyNow now = real_steady_clock());

  // Runs until `stop` or an error; commits what is complete before returning on stop.
  Status run();

 private:
  struct SourceTable {
    std::vector<SourceColumn> columns;
    std::vector<const TableTransform*> targets;
    std::unique_ptr<SourceBatch> batch;
    std::uint32_t oid = 0;                  // the table's OID on the source when resolved
    std::map<std::string, std::uint32_t> reads;  // columns the targets read, with their type OIDs
  };

  Status handle(const ChangeEvent& event);
  Status on_begin(const ChangeEvent& event);
  Status on_end(const ChangeEvent& event);
  Status on_row(const ChangeEvent& event);
  Status on_truncate(const ChangeEvent& event);
  Status on_schema(const ChangeEvent& event);
  // Runs a table's description that arrived in a transaction green already held (kept in
  // deferred_schemas_) before the first change of that table green does not hold yet.
  Status apply_deferred_schema(const QualifiedName& table);
  // A row or truncate event numbered other than the next of its transaction, or an END whose
  // count differs from the events read: the log lost events, and the transaction must not commit.
  Status check_numbering(const ChangeEvent& event);
  // A BEGIN whose predecessor (previous_end_lsn) ended after the last transaction read:
  // transactions are missing from the log even though its offsets have no hole.
  Status check_chain(const ChangeEvent& event) const;
  // What in a schema event the plan cannot map ("" when it maps all of it); notes the rest.
  std::string unmappable_schema_change(const ChangeEvent& event, SourceTable* source);
  // Stops at the transaction being read: what is complete before it commits (read again from
  // the last commit if it was rolled back), nothing of it is written.
  Status halt_before_current_transaction(const std::string& reason);
  Status halted();
  Status flush();
  // Replaces rows whose unchanged TOAST values a computed column or the filter needs.
  Status complete_unchanged_values(SourceTable& source);
  Status commit();
  Status discard_cut_off_transaction(std::int64_t next_begin_offset);
  // Forgets everything of the green transaction after it committed or rolled back.
  void reset_green_transaction();
  bool discarded(std::int64_t offset) const;
  bool bounds_reached() const;

  const ApplySettings& settings_;
  ChangeLogSource& log_;
  ChangeWriter& writer_;
  ApplyCounters& counters_;
  DiscardedRanges& discarded_;
  const std::atomic<bool>& stop_;
  RowSource& current_rows_;
  ApplyHold& hold_;
  SteadyNow now_;  // what the batch interval is measured by
  std::map<std::string, SourceTable> sources_;  // by "schema.table"

  Lsn applied_;                          // end of the last committed source transaction
  std::optional<Lsn> last_end_read_;     // end of the last transaction read, applied or skipped
  std::int64_t uncommitted_from_ = -1;   // first offset read since the last commit
  bool in_transaction_ = false;
  bool skipping_ = false;
  // Descriptions read in skipped transactions, by "schema.table", until a change of the table
  // in a transaction green does not hold, or a newer description of it.
  std::map<std::string, ChangeEvent> deferred_schemas_;
  std::int64_t transaction_begin_offset_ = 0;
  std::uint64_t events_in_transaction_ = 0;  // row and truncate events read of the open one
  // Complete source transactions written to the open green transaction, not yet committed.
  std::size_t completed_ = 0;
  Lsn completed_end_;
  std::int64_t completed_ts_ms_ = 0;
  std::int64_t completed_next_offset_ = -1;
  std::string completed_message_;
  std::string pending_message_;
  std::size_t rows_in_green_transaction_ = 0;
  std::size_t bytes_in_green_transaction_ = 0;
  std::size_t rows_in_batches_ = 0;
  std::size_t bytes_in_batches_ = 0;
  std::chrono::steady_clock::time_point green_transaction_started_;
  std::map<std::string, std::uint64_t> uncommitted_rows_by_source_;
  std::string halt_reason_;
  std::int64_t halt_offset_ = -1;  // the BEGIN at which to halt once what precedes it commits
};

}  // namespace cutover
