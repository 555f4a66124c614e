// PipelinedWriter: runs another ChangeWriter's batch writes on a thread of their own, so that
// the applier reads and sorts the next batch while the target applies the current one.
//
// Writes are queued (at most kMaxQueued batch waiting, each bounded by apply.batch_rows
// and batch_bytes) and run in order, in the open target transaction. A write that fails
// rolls that transaction back; the failure is returned by the applier's next call, and every
// write queued after it is dropped, so nothing after a failure reaches the target in another
// transaction. Truncate and commit first wait for the queue to empty, rollback drops it and
// waits for the write under way; then they run on the caller's thread: the target's
// connection is only ever used by one thread at a time.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "cutover/apply/target_writer.h"

namespace cutover {

class PipelinedWriter final : public ChangeWriter {
 public:
  static constexpr std::size_t kMaxQueued = 1;

  explicit PipelinedWriter(ChangeWriter& target);
  ~PipelinedWriter() override;

  Status write(const TableTransform& target, const std::vector<SourceColumn>& source_columns,
               std::shared_ptr<const SourceBatch> batch) override;
  Status truncate(const TableTransform& target) override;
  Status commit(Lsn source_end, std::int64_t commit_ts_ms, std::int64_t next_offset) override;
  void rollback() override;

 private:
  struct Write {
    const TableTransform* target;
    std::vector<SourceColumn> source_columns;
    std::shared_ptr<const SourceBatch> batch;
  };

  void work();
  // Waits until every queued write has run; the first failure since the last rollback.
  Status drained();

  ChangeWriter& target_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Write> queue_;  // guarded by mutex_, with the three below
  bool running_write_ = false;
  Status failure_ = Status::ok();
  bool stopping_ = false;
  std::thread thread_;  // last: starts once the rest exists
};

}  // namespace cutover
