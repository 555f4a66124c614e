// Debezium's PostgreSQL type mapping: a column's Kafka Connect schema, and its value from the
// text form pgoutput sends, as Debezium's PostgreSQL connector (3.x, JsonConverter) writes
// them. The Debezium-form encoder (debezium/event_encoder.h) calls it for every column of
// every row; it is pure, so tests/unit/debezium_codec_test.cpp holds it to values read from
// Debezium's own connector.
//
// The text forms are those of capture's pinned session (common/postgres_connection.h): ISO
// dates, UTC, IntervalStyle postgres, shortest exact floats, hex bytea, lc_monetary C. Where
// Debezium's value is odd (a date 'infinity' as -2147472692 days, a timestamp 'infinity' as
// 9223372036825200000 microseconds, month lengths of 30.4375 days in durations), the odd
// value is kept: consumers compare against what Debezium wrote.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cutover/common/json_writer.h"
#include "cutover/common/result.h"
#include "cutover/debezium/stream_settings.h"

namespace cutover::debezium {

// A column's type as the catalog resolves it: a domain is its base type, an array names its
// element type (which carries the column's modifier, as PostgreSQL's does).
struct ColumnType {
  std::uint32_t oid = 0;
  std::int32_t modifier = -1;
  std::vector<std::string> enum_labels;  // an enum's labels in their order; empty otherwise
  std::vector<ColumnType> element;       // one entry for an array type
  std::string name;                      // for messages: "int4", "public.mood", "point"
  bool is_array() const { return !element.empty(); }
};

// Whether the type is one Debezium's mapping covers and this codec writes; `why` says what is
// not (for the refusal that names the column).
bool is_supported(const ColumnType& type, std::string* why = nullptr);

// The schema of a value of `type`, without "field", "optional" and "default" (the caller's):
// {"type":"int64","name":"io.debezium.time.MicroTimestamp","version":1} and the like.
void write_schema(JsonWriter& out, const ColumnType& type, const ValueModes& modes);
// The value from pgoutput's text form. An error means a text form the codec cannot read: a
// defect to report, never a value to guess at.
Status write_value(JsonWriter& out, const ColumnType& type, const ValueModes& modes,
                   std::string_view text);
// The value Debezium gives a column whose TOAST value pgoutput left out as unchanged (and no
// old row holds it): the placeholder in the column's own form.
void write_unavailable(JsonWriter& out, const ColumnType& type, const ValueModes& modes,
                       std::string_view placeholder);
// The schema's "default" of a column from its default expression (pg_get_expr), as
// Debezium's default-value converter reads it: a literal becomes its value, a clock function
// on a time column the epoch, nextval() on an integer column 0. Empty when Debezium gives no
// default; the JSON text of the value otherwise.
std::string default_value(const ColumnType& type, const ValueModes& modes, std::string_view expression);

// Standard base64 (RFC 4648, padded), as Kafka Connect's JsonConverter writes bytes.
std::string base64(std::string_view bytes);

}  // namespace cutover::debezium
