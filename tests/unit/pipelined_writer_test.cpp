// PipelinedWriter against a fake target: writes run in order on their own thread, commit and
// truncate wait for them, and after a failed write nothing queued behind it reaches the target.
#include "cutover/apply/pipelined_writer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace cutover {
namespace {

class RecordingTarget : public ChangeWriter {
 public:
  Status write(const TableTransform& target, const std::vector<SourceColumn>&,
               std::shared_ptr<const SourceBatch>) override {
    started++;
    while (hold.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::lock_guard lock(mutex);
    calls.push_back("write " + target.target.name);
    if (target.target.name == fail_on) return Status::error("green: applying changes: boom");
    return Status::ok();
  }
  Status truncate(const TableTransform& target) override {
    std::lock_guard lock(mutex);
    calls.push_back("truncate " + target.target.name);
    return Status::ok();
  }
  Status commit(Lsn, std::int64_t, std::int64_t) override {
    std::lock_guard lock(mutex);
    calls.push_back("commit");
    return Status::ok();
  }
  void rollback() override {
    std::lock_guard lock(mutex);
    calls.push_back("rollback");
  }
  std::vector<std::string> seen() {
    std::lock_guard lock(mutex);
    return calls;
  }

  std::atomic<bool> hold{false};
  std::atomic<int> started{0};
  std::string fail_on;
  std::mutex mutex;
  std::vector<std::string> calls;
};

TableTransform table(const std::string& name) {
  TableTransform transform;
  transform.target = {"public", name};
  return transform;
}

std::shared_ptr<const SourceBatch> batch() { return std::make_shared<SourceBatch>(std::vector<std::string>{"id"}); }

TEST(PipelinedWriter, WritesRunInOrderAndCommitWaitsForThem) {
  RecordingTarget target;
  PipelinedWriter writer(target);
  const TableTransform a = table("a"), b = table("b"), c = table("c");
  target.hold = true;
  ASSERT_TRUE(writer.write(a, {}, batch()));
  ASSERT_TRUE(writer.write(b, {}, batch()));
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    target.hold = false;
  });
  ASSERT_TRUE(writer.write(c, {}, batch()));  // waits for room in the queue
  ASSERT_TRUE(writer.truncate(a));
  ASSERT_TRUE(writer.commit(Lsn(1), 0, 1));
  release.join();
  EXPECT_EQ(target.seen(), (std::vector<std::string>{"write a", "write b", "write c", "truncate a", "commit"}));
}

TEST(PipelinedWriter, AFailedWriteDropsWhatIsQueuedBehindItAndIsReturnedUntilTheRollback) {
  RecordingTarget target;
  PipelinedWriter writer(target);
  const TableTransform a = table("a"), bad = table("bad"), c = table("c");
  target.fail_on = "bad";
  target.hold = true;
  ASSERT_TRUE(writer.write(bad, {}, batch()));
  ASSERT_TRUE(writer.write(c, {}, batch()));
  target.hold = false;
  const Status committed = writer.commit(Lsn(1), 0, 1);
  ASSERT_FALSE(committed);
  EXPECT_NE(committed.message().find("boom"), std::string::npos);
  EXPECT_FALSE(writer.write(a, {}, batch()));
  writer.rollback();
  ASSERT_TRUE(writer.write(a, {}, batch()));
  ASSERT_TRUE(writer.commit(Lsn(2), 0, 2));
  EXPECT_EQ(target.seen(), (std::vector<std::string>{"write bad", "rollback", "write a", "commit"}));
}

TEST(PipelinedWriter, ARollbackDropsQueuedWrites) {
  RecordingTarget target;
  PipelinedWriter writer(target);
  const TableTransform a = table("a"), b = table("b");
  target.hold = true;
  ASSERT_TRUE(writer.write(a, {}, batch()));
  while (target.started.load() == 0) std::this_thread::yield();  // a is under way
  ASSERT_TRUE(writer.write(b, {}, batch()));
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    target.hold = false;
  });
  writer.rollback();
  release.join();
  EXPECT_EQ(target.seen(), (std::vector<std::string>{"write a", "rollback"}));
}

}  // namespace
}  // namespace cutover
