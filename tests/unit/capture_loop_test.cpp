// The capture loop against fakes of its seams (the replication stream and the change-log
// sink), in milliseconds: a lost connection is tried again with backoff and the stream's
// transaction reaches the sink; a refusal stops at once; a stream cut mid-transaction is
// opened again and the whole transaction arrives, committed.
#include "cutover/capture/capture.h"

#include <gtest/gtest.h>

#include <mutex>
#include <thread>

#include "message_bytes.h"

namespace cutover {
namespace {

using namespace std::chrono_literals;
using testing::MessageBytes;

// One transaction inserting (1, 'one') into public.items, as pgoutput sends it.
std::vector<std::string> one_transaction() {
  return {MessageBytes('B').u64(0x200).u64(1000000).u32(7).bytes(),
          MessageBytes('R').u32(16384).text("public").text("items").u8('d').u16(2)
              .u8(1).text("id").u32(23).u32(0xFFFFFFFF).u8(0).text("name").u32(25).u32(0xFFFFFFFF).bytes(),
          MessageBytes('I').u32(16384).u8('N').u16(2).text_column("1").text_column("one").bytes(),
          MessageBytes('C').u8(0).u64(0x200).u64(0x230).u64(1000000).bytes()};
}

// Sends `payloads` as XLogData frames, then `ending` (ok: nothing more arrives).
class FakeStream final : public ReplicationStream {
 public:
  FakeStream(std::vector<std::string> payloads, Status ending) : payloads_(std::move(payloads)), ending_(ending) {}
  Result<std::optional<StreamFrame>> next(std::chrono::milliseconds timeout) override {
    if (sent_ < payloads_.size()) {
      StreamFrame frame;
      frame.start_lsn = Lsn(0x100 + sent_);
      frame.wal_end = Lsn(0x230);
      frame.payload = payloads_[sent_++];
      return std::optional<StreamFrame>(frame);
    }
    if (!ending_) return ending_;
    std::this_thread::sleep_for(std::min(timeout, std::chrono::milliseconds(2)));
    return std::optional<StreamFrame>();
  }
  Status send_status(Lsn, Lsn) override { return Status::ok(); }
  std::string database_name() const override { return "shop"; }
  StreamSource source() const override { return {"7001", 1, "shop", Lsn(0x230)}; }

 private:
  std::vector<std::string> payloads_;
  std::size_t sent_ = 0;
  Status ending_;
};

// What the sinks of one capture received, across the sinks each session opens.
class Received {
 public:
  void add(std::string value) {
    std::lock_guard lock(mutex_);
    values_.push_back(std::move(value));
  }
  std::vector<std::string> values() const {
    std::lock_guard lock(mutex_);
    return values_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> values_;
};

// Keeps every record offered in `received` and acknowledges it at once.
class FakeSink final : public ChangeLogSink {
 public:
  explicit FakeSink(Received& received) : received_(received) {}
  Result<Offer> offer(const ChangeRecord& record, std::uint64_t sequence) override {
    received_.add(record.value);
    acknowledged_ = sequence;
    return Offer::kQueued;
  }
  void serve(std::chrono::milliseconds wait) override { std::this_thread::sleep_for(std::min(wait, 1ms)); }
  std::uint64_t acknowledged_through() const override { return acknowledged_; }
  Status failure() const override { return Status::ok(); }
  Status flush(std::chrono::milliseconds) override { return Status::ok(); }

 private:
  Received& received_;
  std::atomic<std::uint64_t> acknowledged_{0};
};

class CaptureLoopTest : public ::testing::Test {
 protected:
  // Runs capture with streams from `open` until the sink holds a committed transaction (or
  // 5 s pass), then stops it.
  Status run(Capture::StreamFactory open) {
    CaptureSettings settings;
    settings.slot_advance = SlotAdvance::kOnKafkaAck;
    settings.initial_backoff = 1ms;
    settings.maximum_backoff = 4ms;
    Capture capture(settings, std::move(open), [this]() -> Result<std::unique_ptr<ChangeLogSink>> {
      return std::unique_ptr<ChangeLogSink>(std::make_unique<FakeSink>(received_));
    }, nullptr, Lsn(0x100), stop_);
    std::thread watcher([this] {
      const auto deadline = std::chrono::steady_clock::now() + 5s;
      while (!stop_ && !committed() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(1ms);
      }
      stop_ = true;
    });
    const Status outcome = capture.run();
    stop_ = true;
    watcher.join();
    return outcome;
  }

  bool committed() const {
    for (const auto& value : received_.values()) {
      if (value.find("\"END\"") != std::string::npos) return true;
    }
    return false;
  }

  std::size_t count_of(const std::string& text) const {
    std::size_t count = 0;
    for (const auto& value : received_.values()) count += value.find(text) != std::string::npos;
    return count;
  }

  Received received_;
  std::atomic<bool> stop_{false};
};

TEST_F(CaptureLoopTest, ALostConnectionIsTriedAgainAndTheTransactionArrives) {
  int opened = 0;
  const Status outcome = run([&]() -> Result<std::unique_ptr<ReplicationStream>> {
    if (++opened < 3) return Status::of(ErrorKind::kConnectionLost, "blue: connection refused");
    return std::unique_ptr<ReplicationStream>(std::make_unique<FakeStream>(one_transaction(), Status::ok()));
  });
  EXPECT_TRUE(outcome) << outcome.message();
  EXPECT_EQ(opened, 3);
  EXPECT_TRUE(committed());
  EXPECT_EQ(count_of("\"op\":\"c\""), 1u);
  EXPECT_EQ(count_of("\"name\":\"one\""), 1u);
}

TEST_F(CaptureLoopTest, ARefusalStopsAtOnceWithItsMessage) {
  int opened = 0;
  const Status outcome = run([&]() -> Result<std::unique_ptr<ReplicationStream>> {
    ++opened;
    return Status::error("blue: permission denied to start WAL sender");
  });
  EXPECT_FALSE(outcome);
  EXPECT_EQ(outcome.kind(), ErrorKind::kRefused);
  EXPECT_NE(outcome.message().find("permission denied"), std::string::npos);
  EXPECT_EQ(opened, 1);
  EXPECT_TRUE(received_.values().empty());
}

TEST_F(CaptureLoopTest, AStreamCutMidTransactionIsOpenedAgainAndTheTransactionArrivesWhole) {
  int opened = 0;
  const Status outcome = run([&]() -> Result<std::unique_ptr<ReplicationStream>> {
    auto payloads = one_transaction();
    if (++opened == 1) {
      payloads.pop_back();  // no COMMIT: the server went away
      return std::unique_ptr<ReplicationStream>(
          std::make_unique<FakeStream>(payloads, Status::of(ErrorKind::kConnectionLost, "server closed")));
    }
    return std::unique_ptr<ReplicationStream>(std::make_unique<FakeStream>(payloads, Status::ok()));
  });
  EXPECT_TRUE(outcome) << outcome.message();
  EXPECT_EQ(opened, 2);
  ASSERT_TRUE(committed());
  // The resent transaction ends the log: its row, then its END (the applier passes over the
  // records of the cut one, which never ended).
  const auto values = received_.values();
  ASSERT_GE(values.size(), 2u);
  EXPECT_NE(values.back().find("\"END\""), std::string::npos) << values.back();
  EXPECT_NE(values[values.size() - 2].find("\"name\":\"one\""), std::string::npos) << values[values.size() - 2];
}

}  // namespace
}  // namespace cutover
