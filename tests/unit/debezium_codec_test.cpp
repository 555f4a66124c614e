// The Debezium type mapping against values Debezium 3.6's own PostgreSQL connector wrote for
// the same text forms (read back from Kafka in a run of it against PostgreSQL 15; the golden
// test in tests/integration/debezium_stream_test.cpp runs the connector itself).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cutover/debezium/column_codec.h"

namespace cutover::debezium {
namespace {

ColumnType type(std::uint32_t oid, std::int32_t modifier = -1) {
  ColumnType column;
  column.oid = oid;
  column.modifier = modifier;
  column.name = std::to_string(oid);
  return column;
}

// numeric(p,s) as PostgreSQL's atttypmod writes it.
std::int32_t numeric_modifier(int precision, int scale) { return (precision << 16 | scale) + 4; }

nlohmann::json value(const ColumnType& column, const std::string& text, ValueModes modes = {}) {
  std::string json;
  JsonWriter out(json);
  const Status written = write_value(out, column, modes, text);
  EXPECT_TRUE(written) << text << ": " << written.message();
  return nlohmann::json::parse(json, nullptr, false);
}

nlohmann::json schema(const ColumnType& column, ValueModes modes = {}) {
  std::string json = "{";
  JsonWriter out(json);
  write_schema(out, column, modes);
  return nlohmann::json::parse(json + "}", nullptr, false);
}

TEST(DebeziumCodec, NumbersAsDebeziumWritesThem) {
  EXPECT_EQ(value(type(1700, numeric_modifier(12, 3)), "123456789.125"), "HL6ZGoU=");
  EXPECT_EQ(value(type(1700, numeric_modifier(12, 3)), "-0.500"), "/gw=");
  EXPECT_EQ(value(type(1700, numeric_modifier(6, 2)), "12.50"), "BOI=");
  EXPECT_EQ(value(type(1700, numeric_modifier(6, 2)), "-0.01"), "/w==");
  EXPECT_EQ(value(type(1700, numeric_modifier(6, 2)), "9999.99"), "D0I/");
  EXPECT_TRUE(value(type(1700, numeric_modifier(6, 2)), "NaN").is_null());
  // Without a modifier: its own scale, trailing fractional zeros dropped.
  EXPECT_EQ(value(type(1700), "2.50"), nlohmann::json({{"scale", 1}, {"value", "GQ=="}}));
  EXPECT_EQ(value(type(1700), "100"), nlohmann::json({{"scale", 0}, {"value", "ZA=="}}));
  EXPECT_EQ(value(type(1700), "0"), nlohmann::json({{"scale", 0}, {"value", "AA=="}}));
  EXPECT_EQ(value(type(1700), "-1.000"), nlohmann::json({{"scale", 0}, {"value", "/w=="}}));
  EXPECT_EQ(value(type(1700), "-0.000000000000000000012345678901234567890"),
            nlohmann::json({{"scale", 38}, {"value", "7t3vC4IWfus="}}));
  EXPECT_EQ(value(type(1700), "123456789012345678901234567890.123456789"),
            nlohmann::json({{"scale", 9}, {"value", "XODppWAV/sWq36MorjmBFQ=="}}));
  EXPECT_TRUE(value(type(1700), "NaN").is_null());
  EXPECT_EQ(value(type(790), "$12.34"), "BNI=");
  EXPECT_EQ(value(type(700), "NaN"), "NaN");
  EXPECT_EQ(value(type(701), "-Infinity"), "-Infinity");
  EXPECT_DOUBLE_EQ(value(type(701), "-2.25e-300").get<double>(), -2.25e-300);
  EXPECT_EQ(value(type(20), "9223372036854775807"), 9223372036854775807LL);
  EXPECT_EQ(value(type(26), "4000000000"), 4000000000LL);
  // The other decimal modes.
  EXPECT_EQ(value(type(1700, numeric_modifier(6, 2)), "12.50", {DecimalHandling::kString}), "12.50");
  EXPECT_DOUBLE_EQ(value(type(1700), "12.5", {DecimalHandling::kDouble}).get<double>(), 12.5);
}

TEST(DebeziumCodec, DatesAndTimesAsDebeziumWritesThem) {
  EXPECT_EQ(value(type(1082), "2024-02-29"), 19782);
  EXPECT_EQ(value(type(1082), "0044-03-15 BC"), -735160);
  EXPECT_EQ(value(type(1082), "1970-01-01"), 0);
  EXPECT_EQ(value(type(1082), "infinity"), -2147472692);
  EXPECT_EQ(value(type(1082), "-infinity"), -2147472691);
  EXPECT_EQ(value(type(1083), "23:59:59.999999"), 86399999999LL);
  EXPECT_EQ(value(type(1083, 3), "12:00:00.123"), 43200123);
  EXPECT_EQ(value(type(1083, 0), "01:02:03"), 3723000);
  EXPECT_EQ(value(type(1266), "10:11:12.5+05:30"), "04:41:12.5Z");
  EXPECT_EQ(value(type(1266), "10:11:12-08"), "18:11:12Z");
  EXPECT_EQ(value(type(1266), "23:59:59.999999+14"), "09:59:59.999999Z");
  EXPECT_EQ(value(type(1114), "2024-03-04 05:06:07.891234"), 1709528767891234LL);
  EXPECT_EQ(value(type(1114, 3), "2024-03-04 05:06:07.891"), 1709528767891LL);
  EXPECT_EQ(value(type(1114, 0), "2024-03-04 05:06:07"), 1709528767000LL);
  EXPECT_EQ(value(type(1114, 3), "1969-12-31 23:59:59.999"), -1);
  EXPECT_EQ(value(type(1114), "0001-01-01 00:00:00 BC"), -62167219200000000LL);
  EXPECT_EQ(value(type(1114), "infinity"), 9223372036825200000LL);
  EXPECT_EQ(value(type(1114), "-infinity"), -9223372036832400000LL);
  EXPECT_EQ(value(type(1114, 3), "infinity"), 9223372036825200LL);
  EXPECT_EQ(value(type(1184), "2024-03-04 08:00:00.5+00"), "2024-03-04T08:00:00.500000Z");
  EXPECT_EQ(value(type(1184, 3), "2024-03-04 06:00:00.5+00"), "2024-03-04T06:00:00.500Z");
  EXPECT_EQ(value(type(1184, 0), "1999-12-31 22:59:59+00"), "1999-12-31T22:59:59Z");
  EXPECT_EQ(value(type(1184), "0001-01-01 00:00:00+00"), "0001-01-01T00:00:00.000000Z");
  EXPECT_EQ(value(type(1184), "-infinity"), "-infinity");
  EXPECT_EQ(value(type(1186), "1 year 2 mons 3 days 04:05:06.789"), 37091106789000LL);
  EXPECT_EQ(value(type(1186), "-3 days -00:00:01"), -259201000000LL);
  EXPECT_EQ(schema(type(1083, 3))["name"], "io.debezium.time.Time");
  EXPECT_EQ(schema(type(1083))["name"], "io.debezium.time.MicroTime");
  EXPECT_EQ(schema(type(1114, 3))["name"], "io.debezium.time.Timestamp");
  EXPECT_EQ(schema(type(1114))["name"], "io.debezium.time.MicroTimestamp");
  EXPECT_EQ(schema(type(1114), {DecimalHandling::kPrecise, BinaryHandling::kBytes, TimePrecision::kConnect})["name"],
            "org.apache.kafka.connect.data.Timestamp");
}

TEST(DebeziumCodec, BytesBitsArraysAndTheRest) {
  EXPECT_EQ(value(type(17), "\\x00ff10"), "AP8Q");
  EXPECT_EQ(value(type(17), "\\x00ff10", {DecimalHandling::kPrecise, BinaryHandling::kHex}), "00ff10");
  EXPECT_EQ(value(type(1560, 10), "1011000001"), "wQI=");
  EXPECT_EQ(value(type(1560, 8), "11111111"), "/w==");
  EXPECT_EQ(value(type(1560, 8), "00000001"), "AQ==");
  EXPECT_EQ(value(type(1560, 4), "0000"), "");
  EXPECT_EQ(value(type(1560, 4), "1000"), "CA==");
  EXPECT_EQ(value(type(1562), "101"), "BQ==");
  EXPECT_EQ(value(type(1560, 1), "1"), true);
  EXPECT_EQ(schema(type(1562))["parameters"]["length"], "2147483647");
  ColumnType ints = type(1007);
  ints.element.push_back(type(23));
  EXPECT_EQ(value(ints, "{1,NULL,3}"), nlohmann::json::parse("[1,null,3]"));
  ColumnType texts = type(1009);
  texts.element.push_back(type(25));
  EXPECT_EQ(value(texts, "{\"a b\",c,\"q\\\"uote\",\"NULL\"}"), nlohmann::json::parse(R"(["a b","c","q\"uote","NULL"])"));
  ColumnType numerics = type(1231);
  numerics.element.push_back(type(1700));
  EXPECT_EQ(value(numerics, "{1.5,NULL}"), nlohmann::json::parse(R"([{"scale":1,"value":"Dw=="},null])"));
  ColumnType mood = type(16384);
  mood.enum_labels = {"sad", "ok", "happy"};
  EXPECT_EQ(value(mood, "happy"), "happy");
  EXPECT_EQ(schema(mood)["parameters"]["allowed"], "sad,ok,happy");
  ColumnType point = type(600);
  point.name = "point";
  std::string why;
  EXPECT_FALSE(is_supported(point, &why));
  EXPECT_NE(why.find("point"), std::string::npos);
  ColumnType nested = type(1007);
  nested.element.push_back(ints);
  EXPECT_FALSE(is_supported(nested));
}

TEST(DebeziumCodec, DefaultsAsDebeziumReadsThem) {
  ValueModes modes;
  EXPECT_EQ(default_value(type(1082), modes, "'2024-01-01'::date"), "19723");
  EXPECT_EQ(default_value(type(1700, numeric_modifier(5, 1)), modes, "1.5"), "\"Dw==\"");
  EXPECT_EQ(default_value(type(16), modes, "true"), "true");
  EXPECT_EQ(default_value(type(23), modes, "'-3'::integer"), "-3");
  EXPECT_EQ(default_value(type(23), modes, "'-3'::integer"), "-3");
  EXPECT_EQ(default_value(type(20), modes, "7"), "7");
  EXPECT_EQ(default_value(type(1184), modes, "now()"), "\"1970-01-01T00:00:00.000000Z\"");
  EXPECT_EQ(default_value(type(20), modes, "nextval('edge_d_serial_seq'::regclass)"), "0");
  EXPECT_EQ(default_value(type(1043, 14), modes, "'abc'::character varying"), "\"abc\"");
  EXPECT_EQ(default_value(type(25), modes, "'x'::text"), "\"x\"");
  EXPECT_EQ(default_value(type(17), modes, "'\\x0102'::bytea"), "");
  EXPECT_EQ(default_value(type(25), modes, "('a'::text || 'b'::text)"), "");
  EXPECT_EQ(default_value(type(25), modes, "upper('a'::text)"), "");
}

TEST(DebeziumCodec, AnUnreadableTextFormIsAnErrorNotAGuess) {
  std::string json;
  JsonWriter out(json);
  EXPECT_FALSE(write_value(out, type(1082), {}, "not a date"));
  EXPECT_FALSE(write_value(out, type(23), {}, "12abc"));
  EXPECT_FALSE(write_value(out, type(1700, numeric_modifier(6, 2)), {}, "1.234"));
  EXPECT_FALSE(write_value(out, type(1186), {}, "3 fortnights"));
}

}  // namespace
}  // namespace cutover::debezium
