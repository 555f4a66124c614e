// The Debezium-form encoder on decoded pgoutput messages, with a catalog of the test's own:
// what the golden test against Debezium's connector does not reach (a table without a key,
// cutover's own echo transactions, the settings that turn parts off, the HashMap order).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cutover/debezium/event_encoder.h"

namespace cutover::debezium {
namespace {

class FakeCatalog final : public TableCatalog {
 public:
  std::map<std::uint32_t, CatalogTable> tables;
  Result<CatalogTable> describe(std::uint32_t oid) override { return tables.at(oid); }
  Result<ColumnType> resolve_type(std::uint32_t oid, std::int32_t modifier) override {
    return ColumnType{oid, modifier, {}, {}, "t"};
  }
};

ColumnType int4() { return ColumnType{23, -1, {}, {}, "int4"}; }
ColumnType text() { return ColumnType{25, -1, {}, {}, "text"}; }

pgoutput::Relation relation(std::uint32_t oid, const std::string& name, bool keyed) {
  pgoutput::Relation described;
  described.oid = oid;
  described.schema = "public";
  described.name = name;
  described.replica_identity = keyed ? 'd' : 'f';
  described.columns = {{keyed, "id", 23, -1}, {!keyed, "note", 25, -1}};
  return described;
}

pgoutput::Tuple row(std::string_view id, std::string_view note) {
  return {{pgoutput::ValueKind::kText, id}, {pgoutput::ValueKind::kText, note}};
}

struct Encoded {
  Status status = Status::ok();
  std::vector<ChangeRecord> records;
};

class DebeziumEncoderTest : public ::testing::Test {
 protected:
  DebeziumEncoderTest() {
    catalog_.tables[1] = CatalogTable{{{"id", int4(), true, ""}, {"note", text(), false, ""}}, {"id"}};
    catalog_.tables[2] = CatalogTable{{{"id", int4(), false, ""}, {"note", text(), false, ""}}, {}};
  }

  Encoded transaction(EventEncoder& encoder, const std::vector<pgoutput::Message>& changes,
                      const std::string& origin = "") {
    Encoded encoded;
    std::vector<pgoutput::Message> messages = {relation(1, "keyed", true), relation(2, "loose", false),
                                               pgoutput::Begin{Lsn(900), 0, 77}};
    if (!origin.empty()) messages.push_back(pgoutput::Origin{Lsn(5), origin});
    messages.insert(messages.end(), changes.begin(), changes.end());
    messages.push_back(pgoutput::Commit{0, Lsn(900), Lsn(950), 0});
    std::uint64_t lsn = 100;
    for (const auto& message : messages) {
      if (auto status = encoder.encode(message, Lsn(lsn++), encoded.records); !status) encoded.status = status;
    }
    return encoded;
  }

  StreamSettings settings(bool schemas = true, bool tombstones = true) {
    StreamSettings stream;
    stream.enabled = true;
    stream.topic_prefix = "app";
    stream.schemas = schemas;
    stream.tombstones = tombstones;
    return stream;
  }

  FakeCatalog catalog_;
};

TEST_F(DebeziumEncoderTest, ATableWithoutAKeyHasRecordsWithoutKeysAndNoTombstones) {
  EventEncoder encoder(settings(), "db", catalog_);
  const auto encoded = transaction(encoder, {pgoutput::Insert{2, row("1", "a")},
                                             pgoutput::Delete{2, 'O', row("1", "a")}});
  ASSERT_TRUE(encoded.status) << encoded.status.message();
  ASSERT_EQ(encoded.records.size(), 4u);  // BEGIN, c, d, END
  EXPECT_EQ(encoded.records[1].topic, "app.public.loose");
  EXPECT_TRUE(encoded.records[1].key_null);
  EXPECT_TRUE(encoded.records[2].key_null);
  EXPECT_FALSE(encoded.records[2].value_null);
  EXPECT_EQ(nlohmann::json::parse(encoded.records[2].value)["payload"]["before"]["note"], "a");
  EXPECT_EQ(encoded.records[3].topic, "app.transaction");
}

TEST_F(DebeziumEncoderTest, CutoversOwnEchoTransactionsAreLeftOut) {
  EventEncoder encoder(settings(), "db", catalog_, "cutover_t_reverse");
  const auto echo = transaction(encoder, {pgoutput::Insert{1, row("1", "a")}}, "cutover_t_reverse");
  ASSERT_TRUE(echo.status);
  EXPECT_TRUE(echo.records.empty());
  const auto other = transaction(encoder, {pgoutput::Insert{1, row("2", "b")}}, "someone_else");
  ASSERT_EQ(other.records.size(), 3u);
  EXPECT_EQ(nlohmann::json::parse(other.records[1].value)["payload"]["source"]["origin"], "someone_else");
}

TEST_F(DebeziumEncoderTest, WithoutSchemasAndTombstonesOnlyThePayloadsAreWritten) {
  EventEncoder encoder(settings(false, false), "db", catalog_);
  // A key-only old row: pgoutput sends the other columns as NULL.
  const pgoutput::Tuple key_only = {{pgoutput::ValueKind::kText, "7"}, {pgoutput::ValueKind::kNull, ""}};
  const auto encoded = transaction(encoder, {pgoutput::Delete{1, 'K', key_only}});
  ASSERT_TRUE(encoded.status) << encoded.status.message();
  ASSERT_EQ(encoded.records.size(), 3u);  // BEGIN, d, END: no tombstone
  EXPECT_EQ(nlohmann::json::parse(encoded.records[1].key), nlohmann::json::parse(R"({"id":7})"));
  const auto value = nlohmann::json::parse(encoded.records[1].value);
  EXPECT_FALSE(value.contains("schema"));
  EXPECT_EQ(value["op"], "d");
  EXPECT_EQ(value["before"], nlohmann::json::parse(R"({"id":7,"note":null})"));
  EXPECT_EQ(value["source"]["sequence"], "[null,\"103\"]");
}

// A real NULL in a column that has a default: Kafka Connect's JsonConverter, with its
// replace.null.with.default on (its default), writes the default, which is what the golden test
// found in Debezium's records; turned off, null.
TEST_F(DebeziumEncoderTest, ARealNullInAColumnWithADefaultIsWrittenAsTheDefaultUnlessTurnedOff) {
  catalog_.tables[1].columns[1].default_expression = "'none'::text";
  for (bool replace : {true, false}) {
    auto stream = settings();
    stream.replace_null_with_default = replace;
    EventEncoder encoder(stream, "db", catalog_);
    const pgoutput::Tuple with_null = {{pgoutput::ValueKind::kText, "3"}, {pgoutput::ValueKind::kNull, ""}};
    const auto encoded = transaction(encoder, {pgoutput::Insert{1, with_null}});
    ASSERT_TRUE(encoded.status) << encoded.status.message();
    ASSERT_EQ(encoded.records.size(), 3u);
    const auto after = nlohmann::json::parse(encoded.records[1].value)["payload"]["after"];
    EXPECT_EQ(after["note"], replace ? nlohmann::json("none") : nlohmann::json()) << after.dump();
  }
}

TEST_F(DebeziumEncoderTest, ATransactionsEndListsItsTablesAsJavasHashMapDoes) {
  // "public.kinds" and "public.edge" fall in buckets 8 and 4 of a HashMap of 16.
  EXPECT_EQ(in_java_hash_map_order({{"public.kinds", 1}, {"public.edge", 2}}),
            (std::vector<std::pair<std::string, std::uint64_t>>{{"public.edge", 2}, {"public.kinds", 1}}));
}

TEST_F(DebeziumEncoderTest, AColumnOfATypeWithoutADebeziumFormStopsWithItsName) {
  catalog_.tables[1].columns[1].type = ColumnType{600, -1, {}, {}, "point"};
  EventEncoder encoder(settings(), "db", catalog_);
  const auto encoded = transaction(encoder, {});
  ASSERT_FALSE(encoded.status);
  EXPECT_NE(encoded.status.message().find("public.keyed.note: type point"), std::string::npos)
      << encoded.status.message();
}

}  // namespace
}  // namespace cutover::debezium
