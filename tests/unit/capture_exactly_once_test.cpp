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

// The system, timeline and database the fake stream reads; its WAL reaches 0x10000.
const StreamSource kSource{"7001", 1, "shop", Lsn(0x10000)};

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
  StreamSource source() const override { return kSource; }
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

// What a session over `payloads` committed to Kafka, which held `committed`, once every frame
// was read and it stopped.
struct SessionOutcome {
  std::vector<int> committed_ids;
  std::vector<StreamPosition> commits;
  Lsn confirmed;
};

SessionOutcome run_session(const std::vector<std::string>& payloads, const StreamPosition& committed,
                           std::uint64_t records_per_transaction = 20000) {
  Frames stream(payloads);
  AcknowledgingSink sink;
  FakeTransactions transactions(committed);
  CaptureSettings settings;
  settings.slot_advance = SlotAdvance::kOnKafkaAck;
  settings.debezium.enabled = true;
  settings.debezium.topic_prefix = "app";
  settings.debezium.transactions = false;
  settings.exactly_once_commit_interval = 0ms;
  settings.exactly_once_records_per_transaction = records_per_transaction;
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
  EXPECT_TRUE(ran) << ran.message();
  for (const auto& position : transactions.commits) EXPECT_EQ(position.source, kSource.id());
  return {transactions.committed_ids, transactions.commits, session.confirmed()};
}

std::vector<int> committed_ids_after(const std::vector<std::string>& payloads, const StreamPosition& committed) {
  return run_session(payloads, committed).committed_ids;
}

TEST(CaptureExactlyOnce, WhatKafkaCommittedIsLeftOutToTheRecordAndTheRestCommittedWithItsPosition) {
  std::vector<std::string> payloads;
  for (const auto& transaction : {inserts(0x200, 7, {"1", "2"}), inserts(0x300, 8, {"3", "4", "5", "6", "7"}),
                                  inserts(0x400, 9, {"8"})}) {
    payloads.insert(payloads.end(), transaction.begin(), transaction.end());
  }
  // Kafka holds the first transaction and the first two records of the second, which goes in
  // pieces of two.
  const SessionOutcome outcome = run_session(payloads, {Lsn(0x200), Lsn(0x230), Lsn(0x300), 2, kSource.id()}, 2);
  EXPECT_EQ(outcome.committed_ids, (std::vector<int>{5, 6, 7, 8}));
  ASSERT_FALSE(outcome.commits.empty());
  // A piece of the second transaction: records 3 and 4 of it, after the two Kafka had.
  EXPECT_EQ(outcome.commits.front(), (StreamPosition{Lsn(0x200), Lsn(0x230), Lsn(0x300), 4, kSource.id()}));
  EXPECT_EQ(outcome.commits.back(), (StreamPosition{Lsn(0x400), Lsn(0x430), Lsn(), 0, kSource.id()}));
  EXPECT_EQ(outcome.confirmed, Lsn(0x430));
}

// A position another source wrote (an earlier move of the same plan name and topic prefix on
// other databases, whose LSNs are higher) is set aside: everything blue sends is published.
TEST(CaptureExactlyOnce, APositionOfAnotherSourceIsSetAsideAndNothingIsLeftOut) {
  std::vector<std::string> payloads = inserts(0x200, 7, {"1", "2"});
  const auto second = inserts(0x300, 8, {"3"});
  payloads.insert(payloads.end(), second.begin(), second.end());
  const std::vector<int> everything{1, 2, 3};
  EXPECT_EQ(committed_ids_after(payloads, {Lsn(0x5000), Lsn(0x5030), Lsn(), 0, "9999/1/shop"}), everything);
  EXPECT_EQ(committed_ids_after(payloads, {Lsn(0x5000), Lsn(0x5030), Lsn(), 0, "7001/2/shop"}), everything);
  EXPECT_EQ(committed_ids_after(payloads, {Lsn(0x5000), Lsn(0x5030), Lsn(), 0, "7001/1/other"}), everything);
  EXPECT_EQ(committed_ids_after(payloads, {Lsn(0x5000), Lsn(0x5030), Lsn(), 0, ""}), everything);
  // This source's own name, but past its WAL: not written from this history of it.
  EXPECT_EQ(committed_ids_after(payloads, {Lsn(0x20000), Lsn(0x20030), Lsn(), 0, kSource.id()}), everything);
  // This source's, within its WAL: what it says Kafka holds is left out.
  EXPECT_EQ(committed_ids_after(payloads, {Lsn(0x200), Lsn(0x230), Lsn(), 0, kSource.id()}), std::vector<int>{3});
}

TEST(CaptureExactlyOnce, ForeignPositionSaysWhyAPositionIsNotThisSources) {
  EXPECT_EQ(foreign_position({}, kSource), "");
  EXPECT_EQ(foreign_position({Lsn(0x200), Lsn(0x230), Lsn(), 0, "7001/1/shop"}, kSource), "");
  EXPECT_EQ(foreign_position({Lsn(0x200), Lsn(0x230), Lsn(), 0, "9999/1/shop"}, kSource),
            "it was written from another source (9999/1/shop, this one is 7001/1/shop)");
  EXPECT_EQ(foreign_position({Lsn(0x200), Lsn(0x230), Lsn(), 0, ""}, kSource),
            "it was written from another source (none named, this one is 7001/1/shop)");
  EXPECT_EQ(foreign_position({Lsn(0x200), Lsn(0x230), Lsn(0x20000), 5, "7001/1/shop"}, kSource),
            "it reaches 0/20000, past the source's WAL at 0/10000");
}

TEST(CaptureExactlyOnce, APositionRecordReadsBackWithItsSource) {
  const StreamPosition position{Lsn(0x200), Lsn(0x230), Lsn(0x300), 4, "7001/1/shop"};
  const auto parsed = StreamPosition::parse(position.to_json());
  ASSERT_TRUE(parsed) << parsed.status().message();
  EXPECT_EQ(*parsed, position);
  // One written without a source reads as of none.
  const auto older = StreamPosition::parse(
      R"({"commit_lsn":"0/200","end_lsn":"0/230","partial_commit_lsn":"0/0","partial_records":0})");
  ASSERT_TRUE(older) << older.status().message();
  EXPECT_EQ(older->source, "");
  EXPECT_FALSE(StreamPosition::parse(R"({"commit_lsn":"x"})"));
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
