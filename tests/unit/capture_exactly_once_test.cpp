// A capture session with the Debezium-form stream going exactly once, against fakes: what the
// transactional stream says Kafka committed is left out of what blue's slot sends again, to
// the record inside a transaction that was committed in part; what is new is committed with
// the position it reaches, and the slot is confirmed no further than Kafka committed.
#include "cutover/capture/capture.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "message_bytes.h"

namespace cutover {
namespace {

using namespace std::chrono_literals;
using testing::MessageBytes;

std::string relation() {
  return MessageBytes('R').u32(16384).text("public").text("items").u8('d').u16(2)
      .u8(1).text("id").u32(23).u32(0xFFFFFFFF).u8(0).text("name").u32(25).u32(0xFFFFFFFF).bytes();
}

// A transaction committed at `commit` inserting `ids`.
std::vector<std::string> inserts(std::uint64_t commit, std::uint32_t xid, const std::vector<std::string>& ids) {
  std::vector<std::string> messages = {MessageBytes('B').u64(commit).u64(1000000).u32(xid).bytes(), relation()};
  for (const auto& id : ids) {
    messages.push_back(MessageBytes('I').u32(16384).u8('N').u16(2).text_column(id).text_column("x").bytes());
  }
  messages.push_back(MessageBytes('C').u8(0).u64(commit).u64(commit + 0x30).u64(1000000).bytes());
  return messages;
}

class Frames final : public ReplicationStream {
 public:
  explicit Frames(std::vector<std::string> payloads) : payloads_(std::move(payloads)) {}
  Result<std::optional<StreamFrame>> next(std::chrono::milliseconds) override {
    if (sent_ == payloads_.size()) {
      std::this_thread::sleep_for(1ms);
      return std::optional<StreamFrame>();
    }
    StreamFrame frame;
    frame.start_lsn = Lsn(0x100 + sent_);
    frame.wal_end = Lsn(0x100 + sent_);
    frame.payload = payloads_[sent_++];
    return std::optional<StreamFrame>(frame);
  }
  Status send_status(Lsn, Lsn confirmed) override {
    confirmed_ = confirmed;
    return Status::ok();
  }
  std::string database_name() const override { return "shop"; }
  bool done() const { return sent_ == payloads_.size(); }
  Lsn confirmed_;

 private:
  std::vector<std::string> payloads_;
  std::size_t sent_ = 0;
};

class AcknowledgingSink final : public ChangeLogSink {
 public:
  Result<Offer> offer(const ChangeRecord&, std::uint64_t sequence) override {
    acknowledged_ = sequence;
    return Offer::kQueued;
  }
  void serve(std::chrono::milliseconds) override {}
  std::uint64_t acknowledged_through() const override { return acknowledged_; }
  Status failure() const override { return Status::ok(); }
  Status flush(std::chrono::milliseconds) override { return Status::ok(); }

 private:
  std::uint64_t acknowledged_ = 0;
};

class FakeTransactions final : public TransactionalStream {
 public:
  explicit FakeTransactions(StreamPosition committed) : committed_(committed) {}
  StreamPosition committed() const override { return committed_; }
  Result<ChangeLogSink::Offer> offer(const ChangeRecord& record) override {
    pending_.push_back(nlohmann::json::parse(record.value)["payload"]["after"]["id"].get<int>());
    return ChangeLogSink::Offer::kQueued;
  }
  void serve(std::chrono::milliseconds) override {}
  Status commit(const StreamPosition& position) override {
    committed_ids.insert(committed_ids.end(), pending_.begin(), pending_.end());
    pending_.clear();
    commits.push_back(position);
    committed_ = position;
    return Status::ok();
  }
  std::uint64_t uncommitted() const override { return pending_.size(); }

  std::vector<int> committed_ids;
  std::vector<StreamPosition> commits;

 private:
  StreamPosition committed_;
  std::vector<int> pending_;
};

class Catalog final : public debezium::TableCatalog {
 public:
  Result<debezium::CatalogTable> describe(std::uint32_t) override {
    return debezium::CatalogTable{{{"id", {23, -1, {}, {}, "int4"}, true, ""}, {"name", {25, -1, {}, {}, "text"}, false, ""}},
                                  {"id"}};
  }
  Result<debezium::ColumnType> resolve_type(std::uint32_t oid, std::int32_t modifier) override {
    return debezium::ColumnType{oid, modifier, {}, {}, "t"};
  }
};

TEST(CaptureExactlyOnce, WhatKafkaCommittedIsLeftOutToTheRecordAndTheRestCommittedWithItsPosition) {
  std::vector<std::string> payloads;
  for (const auto& transaction : {inserts(0x200, 7, {"1", "2"}), inserts(0x300, 8, {"3", "4", "5", "6", "7"}),
                                  inserts(0x400, 9, {"8"})}) {
    payloads.insert(payloads.end(), transaction.begin(), transaction.end());
  }
  Frames stream(payloads);
  AcknowledgingSink sink;
  // Kafka holds the first transaction and the first two records of the second.
  FakeTransactions transactions({Lsn(0x200), Lsn(0x230), Lsn(0x300), 2});
  CaptureSettings settings;
  settings.slot_advance = SlotAdvance::kOnKafkaAck;
  settings.debezium.enabled = true;
  settings.debezium.topic_prefix = "app";
  settings.debezium.transactions = false;
  settings.exactly_once_commit_interval = 0ms;
  settings.exactly_once_records_per_transaction = 2;  // the second transaction goes in pieces
  Catalog catalog;
  ChangeEncoder encoder("shop", "");
  debezium::EventEncoder debezium_encoder(settings.debezium, "shop", catalog);
  PositionTracker tracker;
  CaptureCounters counters;
  std::atomic<bool> stop{false};
  CaptureSession session(settings, stream, sink, encoder, &debezium_encoder, tracker, nullptr, Lsn(0x100), counters,
                         stop, &transactions);
  std::thread stopper([&] {
    while (!stream.done()) std::this_thread::sleep_for(1ms);
    std::this_thread::sleep_for(50ms);
    stop = true;
  });
  const Status ran = session.run();
  stopper.join();
  ASSERT_TRUE(ran) << ran.message();
  EXPECT_EQ(transactions.committed_ids, (std::vector<int>{5, 6, 7, 8}));
  ASSERT_FALSE(transactions.commits.empty());
  // A piece of the second transaction: records 3 and 4 of it, after the two Kafka had.
  EXPECT_EQ(transactions.commits.front(), (StreamPosition{Lsn(0x200), Lsn(0x230), Lsn(0x300), 4}));
  EXPECT_EQ(transactions.commits.back(), (StreamPosition{Lsn(0x400), Lsn(0x430), Lsn(), 0}));
  EXPECT_EQ(session.confirmed(), Lsn(0x430));
}

TEST(CaptureExactlyOnce, TheSlotWaitsForKafkaToCommitTheStream) {
  Frames stream(inserts(0x200, 7, {"1"}));
  AcknowledgingSink sink;
  FakeTransactions transactions({});
  CaptureSettings settings;
  settings.slot_advance = SlotAdvance::kOnKafkaAck;
  settings.debezium.enabled = true;
  settings.debezium.topic_prefix = "app";
  settings.debezium.transactions = false;
  settings.exactly_once_commit_interval = std::chrono::hours(1);  // never due while it runs
  Catalog catalog;
  ChangeEncoder encoder("shop", "");
  debezium::EventEncoder debezium_encoder(settings.debezium, "shop", catalog);
  PositionTracker tracker;
  CaptureCounters counters;
  std::atomic<bool> stop{false};
  CaptureSession session(settings, stream, sink, encoder, &debezium_encoder, tracker, nullptr, Lsn(0x100), counters,
                         stop, &transactions);
  std::thread stopper([&] {
    while (!stream.done()) std::this_thread::sleep_for(1ms);
    std::this_thread::sleep_for(50ms);
    // The change log is acknowledged, the stream not yet committed: the slot has not moved.
    EXPECT_EQ(stream.confirmed_, Lsn(0x100));
    stop = true;
  });
  const Status ran = session.run();
  stopper.join();
  ASSERT_TRUE(ran) << ran.message();
  // Stopping commits what is due, then the slot follows.
  ASSERT_EQ(transactions.commits.size(), 1u);
  EXPECT_EQ(session.confirmed(), Lsn(0x230));
}

}  // namespace
}  // namespace cutover
