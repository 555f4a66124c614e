// The scanner the applier reads change events with, against nlohmann::json as the oracle: the
// same texts accepted, the same strings decoded, on hand-picked and on mutated inputs.
#include "cutover/common/json_scan.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <random>

#include "cutover/apply/row_image.h"

namespace cutover {
namespace {

using nlohmann::json;

const std::vector<std::string> kSamples = {
    R"({"before":null,"after":{"id":1,"v":"row \"1\"\n","n":-0.5e+3,"t":true,"f":false},"op":"c"})",
    R"({"a":[1,[2,{"b":"\u00e9\ud83d\ude00"}],[]],"c":{},"d":"caf\u00e9 \u4e2d","e":"\/"})",
    R"(  {"k" : [ "x" , 2 , null ] , "empty" : "" }  )",
    "{\"utf8\":\"h\xc3\xa9llo \xe4\xb8\xad \xf0\x9f\x98\x80\"}",
};

TEST(JsonScan, AcceptsWhatAJsonParserAcceptsAndNothingElse) {
  const std::vector<std::string> invalid = {
      "", "{", "}", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "[1,]", "{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}",
      "{\"a\":-}", "{\"a\":1e}", "{\"a\":tru}", "{\"a\":nul}", "{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}",
      "{\"a\":\"\\udc00\"}", "{\"a\":\"\\ud800\"}", "{\"a\":\"\\ud800\\u0041\"}", "{\"a\":\"tab\there\"}",
      "{\"a\":\"\xc0\xaf\"}", "{\"a\":\"\xed\xa0\x80\"}", "{\"a\":\"\xf5\x80\x80\x80\"}", "{\"a\":\"\xe4\xb8\"}",
      "{\"a\":1}x", "{\"a\":1}{}", "{'a':1}", "{\"a\" 1}", "[1 2]", "\"open"};
  for (const auto& text : invalid) {
    EXPECT_FALSE(json_scan::is_value(text)) << text;
    EXPECT_FALSE(json::accept(text)) << "the oracle accepts " << text;
  }
  for (const auto& text : kSamples) {
    EXPECT_TRUE(json_scan::is_value(text)) << text;
    EXPECT_TRUE(json::accept(text)) << text;
  }
}

TEST(JsonScan, MutatedTextsAreJudgedAsTheOracleJudgesThem) {
  std::mt19937 random(20261130);
  const std::string alphabet = "{}[]\":,\\/0123456789.eE+-tfnul \t\nabu\x7f\xc3\xa9\xed\xf0";
  int differences = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string text = kSamples[random() % kSamples.size()];
    const int edits = 1 + static_cast<int>(random() % 3);
    for (int edit = 0; edit < edits && !text.empty(); ++edit) {
      const std::size_t at = random() % text.size();
      switch (random() % 3) {
        case 0: text[at] = alphabet[random() % alphabet.size()]; break;
        case 1: text.erase(at, 1); break;
        default: text.insert(at, 1, alphabet[random() % alphabet.size()]);
      }
    }
    if (json_scan::is_value(text) != json::accept(text)) {
      ADD_FAILURE() << "scanner " << json_scan::is_value(text) << ", oracle " << json::accept(text) << ": " << text;
      if (++differences > 10) return;
    }
  }
}

TEST(JsonScan, DecodesStringsAsTheOracleDoes) {
  for (const std::string literal : {R"("plain")", R"("q\"b\\s\/n\nr\rt\tb\bf\f")", R"("\u0000x\u001f")",
                                    R"("\u00e9\u4e2d\ud83d\ude00")", "\"h\xc3\xa9\""}) {
    auto decoded = json_scan::string_value(literal);
    ASSERT_TRUE(decoded) << literal;
    EXPECT_EQ(*decoded, json::parse(literal).get<std::string>()) << literal;
  }
  EXPECT_FALSE(json_scan::string_value("12"));
  EXPECT_FALSE(json_scan::string_value(R"("a" )"));
}

TEST(JsonScan, WalksMembersWithTheirValueText) {
  std::vector<std::pair<std::string, std::string>> members;
  ASSERT_TRUE(json_scan::for_each_member(R"( {"a" : [1, 2] , "b\"c":{"d":null}, "e":"x"} )",
                                         [&](std::string_view name, std::string_view value) {
                                           members.emplace_back(name, value);
                                           return true;
                                         }));
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"a", "[1, 2]"}, {"b\"c", R"({"d":null})"}, {"e", R"("x")"}};
  EXPECT_EQ(members, expected);
  EXPECT_FALSE(json_scan::for_each_member("[1]", [](auto, auto) { return true; }));
  EXPECT_FALSE(json_scan::for_each_member(R"({"a":1,"b":})", [](auto, auto) { return true; }));
  // Nesting beyond 64 levels is refused, not followed down the stack.
  EXPECT_FALSE(json_scan::is_value(std::string(100000, '[') + std::string(100000, ']')));
}

TEST(RowImage, FindsValuesKeepsTheTextAndSetsAColumn) {
  auto row = RowImage::parse(R"({"id":7,"name":"a\"b","gone":null})");
  ASSERT_TRUE(row);
  EXPECT_EQ(row->value("id"), "7");
  EXPECT_EQ(row->value("name"), R"("a\"b")");
  EXPECT_EQ(row->value_text("name"), "a\"b");
  EXPECT_EQ(row->value_text("gone"), "null");
  EXPECT_FALSE(row->has("missing"));
  const RowImage changed = row->with("name", R"("new")").with("added", "[1]");
  EXPECT_EQ(changed.to_json(), json::parse(R"({"id":7,"name":"new","gone":null,"added":[1]})"));
  EXPECT_EQ(changed.value("id"), "7");
  EXPECT_EQ(changed.value("name"), R"("new")");
  EXPECT_EQ(changed.value("added"), "[1]");
  EXPECT_EQ(RowImage::parse(changed.text())->value("gone"), changed.value("gone"));
  EXPECT_FALSE(RowImage::parse("[1]"));
  EXPECT_FALSE(RowImage::parse(R"({"id":)"));
}

}  // namespace
}  // namespace cutover
