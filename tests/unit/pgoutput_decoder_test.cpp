#include "cutover/capture/pgoutput_decoder.h"

#include <gtest/gtest.h>

#include <deque>
#include <string>

#include "message_bytes.h"

namespace cutover::pgoutput {
namespace {

using testing::MessageBytes;

// Decoded values are views into the message buffer, as in capture, where the buffer outlives
// them: a test's buffers are kept here for the length of the test program.
Result<Message> decode_kept(const MessageBytes& message) {
  static std::deque<std::string> buffers;
  buffers.push_back(message.bytes());
  return decode(buffers.back());
}

TEST(PgoutputDecoder, BeginAndCommit) {
  auto begin = decode_kept(MessageBytes('B').u64(0x100).u64(1000000).u32(42));
  ASSERT_TRUE(begin) << begin.status().message();
  const auto& b = std::get<Begin>(*begin);
  EXPECT_EQ(b.final_lsn, Lsn(0x100));
  EXPECT_EQ(b.xid, 42u);
  EXPECT_EQ(to_unix_milliseconds(b.commit_time), 946684800000LL + 1000);

  auto commit = decode_kept(MessageBytes('C').u8(0).u64(0x100).u64(0x130).u64(5));
  ASSERT_TRUE(commit);
  EXPECT_EQ(std::get<Commit>(*commit).end_lsn, Lsn(0x130));
}

TEST(PgoutputDecoder, RelationWithKeyFlagsAndTypes) {
  auto relation = decode_kept(MessageBytes('R').u32(16384).text("public").text("users").u8('d').u16(2)
                             .u8(1).text("id").u32(23).u32(0xFFFFFFFF)
                             .u8(0).text("name").u32(1043).u32(68));
  ASSERT_TRUE(relation) << relation.status().message();
  const auto& r = std::get<Relation>(*relation);
  EXPECT_EQ(r.oid, 16384u);
  EXPECT_EQ(r.schema, "public");
  EXPECT_EQ(r.name, "users");
  ASSERT_EQ(r.columns.size(), 2u);
  EXPECT_TRUE(r.columns[0].is_key);
  EXPECT_EQ(r.columns[0].type_modifier, -1);
  EXPECT_FALSE(r.columns[1].is_key);
  EXPECT_EQ(r.columns[1].type_oid, 1043u);
}

TEST(PgoutputDecoder, TupleKindsNullUnchangedToastAndText) {
  auto update = decode_kept(MessageBytes('U').u32(7).u8('K').u16(1).text_column("1")
                           .u8('N').u16(3).text_column("1").u8('n').u8('u'));
  ASSERT_TRUE(update) << update.status().message();
  const auto& u = std::get<Update>(*update);
  EXPECT_EQ(u.old_kind, 'K');
  ASSERT_EQ(u.new_tuple.size(), 3u);
  EXPECT_EQ(u.new_tuple[0].kind, ValueKind::kText);
  EXPECT_EQ(u.new_tuple[0].data, "1");
  EXPECT_EQ(u.new_tuple[1].kind, ValueKind::kNull);
  EXPECT_EQ(u.new_tuple[2].kind, ValueKind::kUnchangedToast);
}

TEST(PgoutputDecoder, UpdateWithoutOldTupleAndDeleteWithFullRow) {
  auto update = decode_kept(MessageBytes('U').u32(7).u8('N').u16(1).text_column("x"));
  ASSERT_TRUE(update);
  EXPECT_EQ(std::get<Update>(*update).old_kind, 0);
  auto deletion = decode_kept(MessageBytes('D').u32(7).u8('O').u16(1).text_column("x"));
  ASSERT_TRUE(deletion);
  EXPECT_EQ(std::get<Delete>(*deletion).old_kind, 'O');
}

TEST(PgoutputDecoder, TruncateFlagsAndMessage) {
  auto truncate = decode_kept(MessageBytes('T').u32(2).u8(3).u32(10).u32(11));
  ASSERT_TRUE(truncate);
  const auto& t = std::get<Truncate>(*truncate);
  EXPECT_TRUE(t.cascade);
  EXPECT_TRUE(t.restart_identity);
  EXPECT_EQ(t.relations, (std::vector<std::uint32_t>{10, 11}));

  auto message = decode_kept(MessageBytes('M').u8(1).u64(0x55).text("cutover").u32(3).raw(std::string("a\0b", 3)));
  ASSERT_TRUE(message);
  const auto& m = std::get<LogicalMessage>(*message);
  EXPECT_TRUE(m.transactional);
  EXPECT_EQ(m.prefix, "cutover");
  EXPECT_EQ(m.content, std::string("a\0b", 3));
}

TEST(PgoutputDecoder, OriginAndType) {
  auto origin = decode_kept(MessageBytes('O').u64(0xAB).text("elsewhere"));
  ASSERT_TRUE(origin);
  EXPECT_EQ(std::get<Origin>(*origin).name, "elsewhere");
  auto type = decode_kept(MessageBytes('Y').u32(90000).text("public").text("mood"));
  ASSERT_TRUE(type);
  EXPECT_EQ(std::get<Type>(*type).name, "mood");
}

TEST(PgoutputDecoder, MalformedMessagesAreErrorsNotCrashes) {
  EXPECT_FALSE(decode(""));
  EXPECT_FALSE(decode("Z"));
  EXPECT_FALSE(decode(MessageBytes('B').u64(1).bytes()));  // short
  EXPECT_FALSE(decode(MessageBytes('I').u32(7).u8('N').u16(1).u8('t').u32(100).raw("ab").bytes()));
  EXPECT_FALSE(decode(MessageBytes('I').u32(7).u8('X').bytes()));
  const auto trailing = decode_kept(MessageBytes('O').u64(1).text("o").raw("junk"));
  ASSERT_FALSE(trailing);
  EXPECT_NE(trailing.status().message().find("trailing bytes"), std::string::npos);
}

}  // namespace
}  // namespace cutover::pgoutput
