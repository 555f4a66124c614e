// The Debezium-form snapshot's publisher on rows and a sink of the test's own: the markers
// Debezium's snapshot gives its first and last rows, the source block of an `r` event, a
// full producer queue waited out, and the acknowledgement it waits for before it says done.
// (The golden test holds the records to what Debezium's own snapshot writes.)
#include <gtest/gtest.h>

#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "cutover/debezium/snapshot_events.h"

namespace cutover::debezium {
namespace {

class FakeCatalog final : public TableCatalog {
 public:
  Result<CatalogTable> describe(std::uint32_t oid) override {
    if (oid == 3) return CatalogTable{{{"id", int4(), false, ""}, {"note", text(), false, ""}}, {}};
    return CatalogTable{{{"id", int4(), true, ""}, {"note", text(), false, ""}}, {"id"}};
  }
  Result<ColumnType> resolve_type(std::uint32_t oid, std::int32_t modifier) override {
    return ColumnType{oid, modifier, {}, {}, "t"};
  }
  static ColumnType int4() { return ColumnType{23, -1, {}, {}, "int4"}; }
  static ColumnType text() { return ColumnType{25, -1, {}, {}, "text"}; }
};

// Tables "a" (three rows), "b" (one), "empty", "c" (two, no key), by OID 1, 2, 4, 3.
class FakeRows final : public SnapshotRows {
 public:
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> rows = {
      {"a", {{"1", "x"}, {"2", "y"}, {"3", "z"}}}, {"b", {{"9", "only"}}}, {"empty", {}}, {"c", {{"5", "p"}, {"6", "q"}}}};
  std::string database_name() const override { return "shop"; }
  Result<EventEncoder::SnapshotPoint> point(Lsn consistent_point) override {
    return EventEncoder::SnapshotPoint{7001, consistent_point, 1700000000123456};
  }
  Result<pgoutput::Relation> describe(const std::string& schema, const std::string& table) override {
    const std::map<std::string, std::uint32_t> oids = {{"a", 1}, {"b", 2}, {"c", 3}, {"empty", 4}};
    pgoutput::Relation relation;
    relation.oid = oids.at(table);
    relation.schema = schema;
    relation.name = table;
    relation.columns = {{true, "id", 23, -1}, {false, "note", 25, -1}};
    return relation;
  }
  Status read(const pgoutput::Relation& table, const RowHandler& handle) override {
    const auto& table_rows = rows.at(table.name);
    for (std::size_t index = 0; index < table_rows.size(); ++index) {
      const pgoutput::Tuple tuple = {{pgoutput::ValueKind::kText, table_rows[index].first},
                                     {pgoutput::ValueKind::kText, table_rows[index].second}};
      if (auto handled = handle(tuple, index + 1 == table_rows.size()); !handled) return handled;
    }
    return Status::ok();
  }
};

// Keeps what it is offered; refuses every `refuse_every`th offer once as a full queue, and
// acknowledges only when served or flushed.
class FakeSink final : public ChangeLogSink {
 public:
  std::vector<ChangeRecord> records;
  int queue_full_answers = 0;
  bool acknowledge_on_flush = true;
  Status fail_with = Status::ok();

  Result<Offer> offer(const ChangeRecord& record, std::uint64_t sequence) override {
    if (sequence % 3 == 0 && refused_.insert(sequence).second) {
      ++queue_full_answers;
      return Offer::kQueueFull;
    }
    records.push_back(record);
    offered_ = sequence;
    return Offer::kQueued;
  }
  void serve(std::chrono::milliseconds) override { acknowledged_ = std::max(acknowledged_, offered_ - 1); }
  std::uint64_t acknowledged_through() const override { return acknowledged_; }
  Status failure() const override { return fail_with; }
  Status flush(std::chrono::milliseconds) override {
    if (acknowledge_on_flush) acknowledged_ = offered_;
    return Status::ok();
  }

 private:
  std::set<std::uint64_t> refused_;
  std::uint64_t offered_ = 0;
  std::uint64_t acknowledged_ = 0;
};

StreamSettings settings() {
  StreamSettings stream;
  stream.enabled = true;
  stream.topic_prefix = "app";
  return stream;
}

const std::vector<SnapshotTableName> kTables = {{"public", "a"}, {"public", "b"}, {"public", "empty"}, {"public", "c"}};

TEST(DebeziumSnapshotEvents, EveryRowIsAReadEventMarkedAsDebeziumsSnapshotMarksIt) {
  FakeCatalog catalog;
  EventEncoder encoder(settings(), "shop", catalog);
  FakeRows rows;
  FakeSink sink;
  SnapshotEventCounts counts;
  const std::atomic<bool> stop{false};
  ASSERT_TRUE(publish_snapshot_events(encoder, rows, kTables, Lsn(0x5000), sink, stop, counts));
  ASSERT_EQ(sink.records.size(), 6u);  // no tombstones, no transaction records
  EXPECT_GT(sink.queue_full_answers, 0);
  EXPECT_EQ(counts.rows.load(), 6u);
  EXPECT_EQ(counts.tables_done.load(), 4u);
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"app.public.a", "first"},   {"app.public.a", "true"}, {"app.public.a", "last_in_data_collection"},
      {"app.public.b", "last_in_data_collection"}, {"app.public.c", "first_in_data_collection"},
      {"app.public.c", "last"}};
  for (std::size_t index = 0; index < expected.size(); ++index) {
    const ChangeRecord& record = sink.records[index];
    EXPECT_EQ(record.topic, expected[index].first) << index;
    const auto payload = nlohmann::json::parse(record.value)["payload"];
    EXPECT_EQ(payload["op"], "r") << index;
    EXPECT_TRUE(payload["before"].is_null());
    EXPECT_TRUE(payload["transaction"].is_null());
    const auto& source = payload["source"];
    EXPECT_EQ(source["snapshot"], expected[index].second) << index;
    EXPECT_EQ(source["lsn"], 0x5000);
    EXPECT_EQ(source["sequence"], "[null,\"20480\"]");
    EXPECT_EQ(source["txId"], 7001);
    EXPECT_EQ(source["ts_us"], 1700000000123456);
    EXPECT_EQ(source["ts_ms"], 1700000000123);
    EXPECT_EQ(source["db"], "shop");
  }
  EXPECT_EQ(nlohmann::json::parse(sink.records[1].key)["payload"], nlohmann::json::parse(R"({"id":2})"));
  EXPECT_EQ(nlohmann::json::parse(sink.records[1].value)["payload"]["after"],
            nlohmann::json::parse(R"({"id":2,"note":"y"})"));
  EXPECT_TRUE(sink.records[4].key_null);  // c has no primary key
}

TEST(DebeziumSnapshotEvents, ItIsDoneOnlyOnceKafkaAcknowledgedEveryRecord) {
  FakeCatalog catalog;
  EventEncoder encoder(settings(), "shop", catalog);
  FakeRows rows;
  FakeSink sink;
  sink.acknowledge_on_flush = false;
  SnapshotEventCounts counts;
  const std::atomic<bool> stop{false};
  const Status published = publish_snapshot_events(encoder, rows, kTables, Lsn(0x5000), sink, stop, counts);
  ASSERT_FALSE(published);
  EXPECT_TRUE(published.is_retryable());
  EXPECT_NE(published.message().find("Kafka acknowledged"), std::string::npos) << published.message();

  FakeSink failing;
  failing.fail_with = Status::error("broker said no");
  EventEncoder again(settings(), "shop", catalog);
  const Status failed = publish_snapshot_events(again, rows, kTables, Lsn(0x5000), failing, stop, counts);
  ASSERT_FALSE(failed);
  EXPECT_NE(failed.message().find("broker said no"), std::string::npos) << failed.message();
}

TEST(DebeziumSnapshotEvents, AStopEndsItAsRetryable) {
  FakeCatalog catalog;
  EventEncoder encoder(settings(), "shop", catalog);
  FakeRows rows;
  FakeSink sink;
  SnapshotEventCounts counts;
  const std::atomic<bool> stop{true};
  const Status published = publish_snapshot_events(encoder, rows, kTables, Lsn(0x5000), sink, stop, counts);
  ASSERT_FALSE(published);
  EXPECT_TRUE(published.is_retryable());
  EXPECT_TRUE(sink.records.empty());
}

}  // namespace
}  // namespace cutover::debezium
