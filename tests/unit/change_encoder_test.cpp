#include "cutover/capture/change_encoder.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace cutover {
namespace {

using nlohmann::json;
using namespace pgoutput;

Relation users() {
  Relation relation;
  relation.oid = 1;
  relation.schema = "public";
  relation.name = "users";
  relation.columns = {{true, "id", 20, -1}, {false, "active", 16, -1}, {false, "bio", 25, -1}};
  return relation;
}

TEST(ChangeEncoder, RowEventsCarryTransactionPositionAndKey) {
  ChangeEncoder encoder("app");
  std::vector<ChangeRecord> records;
  ASSERT_TRUE(encoder.encode(Begin{Lsn(0x200), 0, 9}, Lsn(0x100), records));
  ASSERT_TRUE(encoder.encode(users(), Lsn(0), records));
  Insert insert{1, {{ValueKind::kText, "9223372036854775807"}, {ValueKind::kText, "f"}, {ValueKind::kNull, {}}}};
  ASSERT_TRUE(encoder.encode(insert, Lsn(0x150), records));
  Update update{1, 0, {}, {{ValueKind::kText, "5"}, {ValueKind::kText, "t"}, {ValueKind::kUnchangedToast, {}}}};
  ASSERT_TRUE(encoder.encode(update, Lsn(0x160), records));
  ASSERT_TRUE(encoder.encode(Commit{0, Lsn(0x200), Lsn(0x230), 0}, Lsn(0x230), records));
  ASSERT_EQ(records.size(), 5u);

  const json inserted = json::parse(records[2].value);
  EXPECT_EQ(inserted["after"]["id"], 9223372036854775807LL);
  EXPECT_EQ(inserted["after"]["active"], false);
  EXPECT_TRUE(inserted["after"]["bio"].is_null());
  EXPECT_EQ(inserted["source"]["commit_lsn"], 0x200);
  EXPECT_EQ(inserted["source"]["lsn"], 0x150);
  EXPECT_EQ(inserted["source"]["txId"], 9);
  EXPECT_EQ(inserted["source"]["sequence"], 0);
  EXPECT_EQ(json::parse(records[2].key)["key"], (json{{"id", 9223372036854775807LL}}));

  const json updated = json::parse(records[3].value);
  EXPECT_EQ(updated["source"]["sequence"], 1);
  EXPECT_FALSE(updated["after"].contains("bio"));
  EXPECT_EQ(updated["unchanged_toast"], json::array({"bio"}));

  const json end = json::parse(records[4].value);
  EXPECT_EQ(end["status"], "END");
  EXPECT_EQ(end["event_count"], 2);
  EXPECT_EQ(end["source"]["end_lsn"], 0x230);
  EXPECT_FALSE(encoder.in_transaction());
}

TEST(ChangeEncoder, SchemaTruncateAndMessageEventsCarryTheirFields) {
  ChangeEncoder encoder("app");
  std::vector<ChangeRecord> records;
  ASSERT_TRUE(encoder.encode(Begin{Lsn(0x200), 0, 9}, Lsn(0x100), records));
  ASSERT_TRUE(encoder.encode(users(), Lsn(0x110), records));
  ASSERT_TRUE(encoder.encode(Truncate{true, false, {1}}, Lsn(0x120), records));
  ASSERT_TRUE(encoder.encode(LogicalMessage{true, Lsn(0x130), "cutover", "id \"1\""}, Lsn(0x130), records));
  ASSERT_EQ(records.size(), 4u);

  const json schema = json::parse(records[1].value);
  EXPECT_EQ(schema["op"], "schema");
  EXPECT_EQ(schema["schema"]["columns"][0]["name"], "id");
  EXPECT_EQ(schema["schema"]["columns"][0]["type_oid"], 20);
  EXPECT_EQ(schema["schema"]["columns"][0]["key"], true);
  EXPECT_EQ(schema["schema"]["replica_identity"], "d");
  EXPECT_EQ(schema["source"]["table"], "users");
  EXPECT_FALSE(schema["source"].contains("sequence"));  // not a row change
  EXPECT_TRUE(json::parse(records[1].key)["key"].is_null());

  const json truncated = json::parse(records[2].value);
  EXPECT_EQ(truncated["op"], "t");
  EXPECT_EQ(truncated["truncate"]["cascade"], true);
  EXPECT_EQ(truncated["truncate"]["relations"], json::array({"public.users"}));
  EXPECT_EQ(truncated["source"]["sequence"], 0);
  EXPECT_EQ(truncated["source"]["commit_lsn"], 0x200);
  EXPECT_EQ(json::parse(records[2].key)["key"], (json{{"id", nullptr}}));

  const json message = json::parse(records[3].value);
  EXPECT_EQ(message["op"], "m");
  EXPECT_EQ(message["message"]["prefix"], "cutover");
  EXPECT_EQ(message["message"]["content"], "\\x69642022312" "2");
  EXPECT_EQ(message["source"]["lsn"], 0x130);
  EXPECT_EQ(message["source"]["txId"], 9);
  EXPECT_FALSE(message["source"].contains("table"));
  EXPECT_EQ(json::parse(records[3].key)["message_prefix"], "cutover");
}

TEST(ChangeEncoder, ChangeBeforeRelationIsAnError) {
  ChangeEncoder encoder("app");
  std::vector<ChangeRecord> records;
  const auto status = encoder.encode(Insert{77, {}}, Lsn(1), records);
  ASSERT_FALSE(status);
  EXPECT_NE(status.message().find("relation 77"), std::string::npos);
}

TEST(ChangeEncoder, TupleOfTheWrongWidthIsAnError) {
  ChangeEncoder encoder("app");
  std::vector<ChangeRecord> records;
  ASSERT_TRUE(encoder.encode(users(), Lsn(0), records));
  EXPECT_FALSE(encoder.encode(Insert{1, {{ValueKind::kText, "1"}}}, Lsn(1), records));
}

// The other direction's applier writes into this source: its transactions are cutover's own
// echo. Left out (their Relation kept, for the columns), while a transaction of another
// origin, such as a subscription the source has of its own, is kept whole with its origin.
TEST(ChangeEncoder, TransactionsOfTheEchoOriginAreLeftOut) {
  ChangeEncoder encoder("app", "cutover_shop");
  std::vector<ChangeRecord> records;
  Insert insert{1, {{ValueKind::kText, "1"}, {ValueKind::kText, "t"}, {ValueKind::kNull, {}}}};

  // Its first change of a table comes with the table's Relation: kept, in an empty transaction.
  ASSERT_TRUE(encoder.encode(Begin{Lsn(0x200), 0, 9}, Lsn(0x100), records));
  ASSERT_TRUE(encoder.encode(Origin{Lsn(0x50), "cutover_shop"}, Lsn(0x100), records));
  ASSERT_TRUE(encoder.encode(users(), Lsn(0x110), records));
  ASSERT_TRUE(encoder.encode(insert, Lsn(0x120), records));
  ASSERT_TRUE(encoder.encode(Commit{0, Lsn(0x200), Lsn(0x230), 0}, Lsn(0x230), records));
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(json::parse(records[0].value)["status"], "BEGIN");
  EXPECT_EQ(json::parse(records[0].value)["source"]["lsn"], 0x100);
  EXPECT_EQ(json::parse(records[1].value)["op"], "schema");
  EXPECT_EQ(json::parse(records[2].value)["event_count"], 0);
  EXPECT_EQ(encoder.echoes_left_out(), 0u);

  records.clear();
  ASSERT_TRUE(encoder.encode(Begin{Lsn(0x400), 0, 10}, Lsn(0x300), records));
  ASSERT_TRUE(encoder.encode(Origin{Lsn(0x60), "cutover_shop"}, Lsn(0x300), records));
  ASSERT_TRUE(encoder.encode(insert, Lsn(0x320), records));
  ASSERT_TRUE(encoder.encode(Truncate{false, false, {1}}, Lsn(0x330), records));
  ASSERT_TRUE(encoder.encode(LogicalMessage{true, Lsn(0x340), "cutover", "x"}, Lsn(0x340), records));
  ASSERT_TRUE(encoder.encode(Commit{0, Lsn(0x400), Lsn(0x430), 0}, Lsn(0x430), records));
  EXPECT_TRUE(records.empty());
  EXPECT_EQ(encoder.echoes_left_out(), 1u);
  EXPECT_FALSE(encoder.in_transaction());

  records.clear();
  ASSERT_TRUE(encoder.encode(Begin{Lsn(0x600), 0, 11}, Lsn(0x500), records));
  ASSERT_TRUE(encoder.encode(Origin{Lsn(0x70), "upstream_subscription"}, Lsn(0x500), records));
  ASSERT_TRUE(encoder.encode(insert, Lsn(0x520), records));
  ASSERT_TRUE(encoder.encode(Commit{0, Lsn(0x600), Lsn(0x630), 0}, Lsn(0x630), records));
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(json::parse(records[1].value)["source"]["origin"], "upstream_subscription");
  EXPECT_EQ(json::parse(records[2].value)["event_count"], 1);

  // A client's transaction (no Origin) is kept too.
  records.clear();
  ASSERT_TRUE(encoder.encode(Begin{Lsn(0x800), 0, 12}, Lsn(0x700), records));
  ASSERT_TRUE(encoder.encode(insert, Lsn(0x720), records));
  ASSERT_TRUE(encoder.encode(Commit{0, Lsn(0x800), Lsn(0x830), 0}, Lsn(0x830), records));
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(json::parse(records[0].value)["source"]["lsn"], 0x700);
  EXPECT_FALSE(json::parse(records[1].value)["source"].contains("origin"));
}

// Each BEGIN names the end of the transaction this encoder wrote before it, so that the
// applier finds a transaction missing even where the offsets have no hole; the first of a
// session names none, and a transaction left out (an echo) is no link of the chain.
TEST(ChangeEncoder, EachBeginNamesTheEndOfTheTransactionWrittenBeforeIt) {
  ChangeEncoder encoder("app", "cutover_shop");
  std::vector<ChangeRecord> records;
  Insert insert{1, {{ValueKind::kText, "1"}, {ValueKind::kText, "t"}, {ValueKind::kNull, {}}}};
  auto transaction = [&](std::uint64_t commit, const std::string& origin) {
    records.clear();
    EXPECT_TRUE(encoder.encode(Begin{Lsn(commit), 0, 9}, Lsn(commit - 0x100), records));
    if (!origin.empty()) {
      EXPECT_TRUE(encoder.encode(Origin{Lsn(0x50), origin}, Lsn(commit - 0x100), records));
    }
    if (commit == 0x200) {  // described once
      EXPECT_TRUE(encoder.encode(users(), Lsn(commit - 0x90), records));
    }
    EXPECT_TRUE(encoder.encode(insert, Lsn(commit - 0x80), records));
    EXPECT_TRUE(encoder.encode(Commit{0, Lsn(commit), Lsn(commit + 0x30), 0}, Lsn(commit + 0x30), records));
    return records.empty() ? json() : json::parse(records.front().value);
  };
  EXPECT_FALSE(transaction(0x200, "")["source"].contains("previous_end_lsn"));
  EXPECT_EQ(transaction(0x400, "")["source"]["previous_end_lsn"], 0x230);
  EXPECT_TRUE(transaction(0x600, "cutover_shop").is_null()) << "an echo is left out";
  const json after_echo = transaction(0x800, "");
  EXPECT_EQ(after_echo["status"], "BEGIN");
  EXPECT_EQ(after_echo["source"]["previous_end_lsn"], 0x430);
}

// Without an echo origin (cutover capture alone), nothing is left out.
TEST(ChangeEncoder, WithoutAnEchoOriginEveryTransactionIsKept) {
  ChangeEncoder encoder("app");
  std::vector<ChangeRecord> records;
  ASSERT_TRUE(encoder.encode(Begin{Lsn(0x200), 0, 9}, Lsn(0x100), records));
  ASSERT_TRUE(encoder.encode(Origin{Lsn(0x50), ""}, Lsn(0x100), records));
  ASSERT_TRUE(encoder.encode(Commit{0, Lsn(0x200), Lsn(0x230), 0}, Lsn(0x230), records));
  EXPECT_EQ(records.size(), 2u);
  EXPECT_EQ(encoder.echoes_left_out(), 0u);
}

}  // namespace
}  // namespace cutover
