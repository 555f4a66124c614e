#include "cutover/apply/pipelined_writer.h"

namespace cutover {

PipelinedWriter::PipelinedWriter(ChangeWriter& target) : target_(target), thread_([this] { work(); }) {}

PipelinedWriter::~PipelinedWriter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    queue_.clear();
  }
  changed_.notify_all();
  thread_.join();
}

void PipelinedWriter::work() {
  std::unique_lock lock(mutex_);
  while (true) {
    changed_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    Write next = std::move(queue_.front());
    queue_.pop_front();
    running_write_ = true;
    changed_.notify_all();  // room in the queue
    lock.unlock();
    Status written = target_.write(*next.target, next.source_columns, std::move(next.batch));
    lock.lock();
    running_write_ = false;
    if (!written) {
      // The target rolled its transaction back: what is queued after it must not run.
      if (failure_) failure_ = written;
      queue_.clear();
    }
    changed_.notify_all();
  }
}

Status PipelinedWriter::drained() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] { return queue_.empty() && !running_write_; });
  return failure_;
}

Status PipelinedWriter::write(const TableTransform& target, const std::vector<SourceColumn>& source_columns,
                              std::shared_ptr<const SourceBatch> batch) {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] { return queue_.size() < kMaxQueued || !failure_; });
  if (!failure_) return failure_;
  queue_.push_back({&target, source_columns, std::move(batch)});
  changed_.notify_all();
  return Status::ok();
}

Status PipelinedWriter::truncate(const TableTransform& target) {
  if (auto status = drained(); !status) return status;
  return target_.truncate(target);
}

Status PipelinedWriter::commit(Lsn source_end, std::int64_t commit_ts_ms, std::int64_t next_offset) {
  if (auto status = drained(); !status) return status;
  return target_.commit(source_end, commit_ts_ms, next_offset);
}

void PipelinedWriter::rollback() {
  {
    // What is queued would only be rolled back: it is dropped; a write under way finishes.
    std::lock_guard lock(mutex_);
    queue_.clear();
  }
  (void)drained();
  target_.rollback();
  std::lock_guard lock(mutex_);
  failure_ = Status::ok();
}

}  // namespace cutover
