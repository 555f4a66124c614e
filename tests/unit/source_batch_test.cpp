// SourceBatch keeps the net effect per source key: what green must delete and write.
#include "cutover/apply/source_batch.h"

#include <gtest/gtest.h>

#include "cutover/transform/table_transform.h"

namespace cutover {
namespace {

using nlohmann::json;

ChangeEvent row_event(char op, json before, json after, std::vector<std::string> unchanged = {}) {
  ChangeEvent event;
  event.kind = ChangeEvent::Kind::kRow;
  event.op = op;
  if (!before.is_null()) event.before = RowImage::of(before);
  if (!after.is_null()) event.after = RowImage::of(after);
  event.unchanged_toast = std::move(unchanged);
  event.bytes = 10;
  return event;
}

TEST(SourceBatch, ManyUpdatesOfOneRowBecomeOneUpsert) {
  SourceBatch batch({"id"});
  batch.add(row_event('c', nullptr, {{"id", 1}, {"v", "a"}}));
  batch.add(row_event('u', nullptr, {{"id", 1}, {"v", "b"}}));
  batch.add(row_event('u', nullptr, {{"id", 1}, {"v", "c"}}));
  ASSERT_EQ(batch.rows().size(), 1u);
  const PendingRow& row = batch.rows().begin()->second;
  EXPECT_FALSE(row.first_before.has_value());
  EXPECT_EQ(row.after->to_json()["v"], "c");
  EXPECT_EQ(batch.bytes(), 30u);
}

TEST(SourceBatch, KeyChangeDeletesTheOldKeyAndWritesTheNew) {
  SourceBatch batch({"id"});
  batch.add(row_event('u', {{"id", 1}}, {{"id", 2}, {"v", "x"}}));
  ASSERT_EQ(batch.rows().size(), 2u);
  const PendingRow& old_row = batch.rows().at(json::array({1}).dump());
  EXPECT_FALSE(old_row.after.has_value());
  EXPECT_EQ(old_row.first_before->to_json()["id"], 1);
  const PendingRow& new_row = batch.rows().at(json::array({2}).dump());
  EXPECT_EQ(new_row.after->to_json()["v"], "x");
}

TEST(SourceBatch, UpdateThenDeleteStillDeletesGreensRow) {
  SourceBatch batch({"id"});
  batch.add(row_event('u', nullptr, {{"id", 5}, {"v", "b"}}));
  batch.add(row_event('d', {{"id", 5}}, nullptr));
  const PendingRow& row = batch.rows().begin()->second;
  EXPECT_FALSE(row.after.has_value());
  ASSERT_TRUE(row.first_before.has_value());
  EXPECT_EQ(row.first_before->to_json()["id"], 5);
}

TEST(SourceBatch, AnUnchangedToastValueIsTakenFromAnEarlierChangeInTheBatch) {
  SourceBatch batch({"id"});
  batch.add(row_event('c', nullptr, {{"id", 1}, {"title", "a"}, {"body", "big"}}));
  batch.add(row_event('u', nullptr, {{"id", 1}, {"title", "b"}}, {"body"}));
  const PendingRow& row = batch.rows().begin()->second;
  EXPECT_EQ(row.after->to_json()["body"], "big");
  EXPECT_TRUE(row.unchanged_toast.empty());

  SourceBatch alone({"id"});
  alone.add(row_event('u', nullptr, {{"id", 1}, {"title", "b"}}, {"body"}));
  EXPECT_EQ(alone.rows().begin()->second.unchanged_toast, std::set<std::string>{"body"});
}

TEST(SourceBatch, ATableWithoutKeyKeepsEveryEventInOrder) {
  SourceBatch batch({});
  batch.add(row_event('c', nullptr, {{"v", 1}}));
  batch.add(row_event('c', nullptr, {{"v", 1}}));
  batch.add(row_event('d', {{"v", 1}}, nullptr));
  EXPECT_TRUE(batch.rows().empty());
  ASSERT_EQ(batch.unkeyed().size(), 3u);
  EXPECT_EQ(batch.unkeyed()[2].op, 'd');
  batch.clear();
  EXPECT_TRUE(batch.empty());
}

TEST(ReferencedIdentifiers, SkipsLiteralsAndFoldsUnquotedNames) {
  EXPECT_EQ(referenced_identifiers("coalesce(Subscription, 'free tier')"),
            (std::set<std::string>{"coalesce", "subscription"}));
  EXPECT_EQ(referenced_identifiers("\"Mixed Case\" || 'it''s' || x"),
            (std::set<std::string>{"Mixed Case", "x"}));
}

TEST(TableTransform, OnlyComputedColumnsOrAFilterNeedTheCompleteRow) {
  TableTransform transform;
  transform.columns = {make_target_column("id", "id", "integer"),
                       make_target_column("body", "\"body\"", "text"),
                       make_target_column("title", "title", "text")};
  EXPECT_TRUE(transform.columns[1].plain_copy);
  EXPECT_FALSE(transform.needs_complete_row({"body"}));
  transform.columns.push_back(make_target_column("body_md5", "md5(body)", "text"));
  EXPECT_FALSE(transform.columns[3].plain_copy);
  EXPECT_TRUE(transform.needs_complete_row({"body"}));
  EXPECT_FALSE(transform.needs_complete_row({"other"}));
  transform.columns.pop_back();
  transform.where = "title <> 'draft'";
  EXPECT_TRUE(transform.needs_complete_row({"body"}));
}

TEST(ChangeEventParsing, ReadsRowsTransactionsAndRejectsGarbage) {
  auto end = parse_change_event(
      R"({"status":"END","id":"7:0/10","source":{"commit_lsn":16,"end_lsn":64,"ts_ms":5}})", 3);
  ASSERT_TRUE(end);
  EXPECT_EQ(end->kind, ChangeEvent::Kind::kEnd);
  EXPECT_EQ(end->end_lsn.value(), 64u);
  auto row = parse_change_event(
      R"({"op":"u","before":null,"after":{"id":1},"unchanged_toast":["body"],)"
      R"("source":{"schema":"public","table":"t","commit_lsn":16}})", 4);
  ASSERT_TRUE(row);
  EXPECT_EQ(row->op, 'u');
  EXPECT_EQ(row->table.text(), "public.t");
  EXPECT_EQ(row->unchanged_toast, std::vector<std::string>{"body"});
  auto schema = parse_change_event(
      R"({"op":"schema","schema":{"columns":[{"name":"mood","type":"public.mood"},)"
      R"({"name":"n","type":"int4"},{"name":"tags","type":"text[]"},{"name":"moods","type":"public.mood[]"},)"
      R"({"name":"year","type":".int4"}]},"source":{"schema":"public","table":"t"}})", 5);
  ASSERT_TRUE(schema);
  ASSERT_EQ(schema->schema_columns.size(), 5u);
  EXPECT_EQ(schema->schema_columns[0].sql_type, "\"public\".\"mood\"");
  EXPECT_EQ(schema->schema_columns[1].sql_type, "\"int4\"");
  EXPECT_EQ(schema->schema_columns[2].sql_type, "\"text\"[]");
  EXPECT_EQ(schema->schema_columns[3].sql_type, "\"public\".\"mood\"[]");
  // pgoutput's name of a domain's pg_catalog base type has an empty schema.
  EXPECT_EQ(schema->schema_columns[4].sql_type, "\"pg_catalog\".\"int4\"");
  EXPECT_FALSE(parse_change_event(R"({"op":"schema","schema":{"columns":[{}]},)"
                                  R"("source":{"schema":"public","table":"t"}})", 6));
  auto garbage = parse_change_event("not json", 9);
  ASSERT_FALSE(garbage);
  EXPECT_NE(garbage.status().message().find("offset 9"), std::string::npos);
}

}  // namespace
}  // namespace cutover
