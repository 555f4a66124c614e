#include "cutover/apply/change_event.h"

#include <optional>
#include <tuple>

#include <nlohmann/json.hpp>

#include "cutover/common/json_scan.h"

namespace cutover {

namespace {

// A logical message's content as capture wrote it: bytea's hex form, "\\x6375...".
std::optional<std::string> bytes_of_hex(const std::string& text) {
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x' || text.size() % 2 != 0) return std::nullopt;
  auto digit = [](char character) -> int {
    if (character >= '0' && character <= '9') return character - '0';
    if (character >= 'a' && character <= 'f') return character - 'a' + 10;
    if (character >= 'A' && character <= 'F') return character - 'A' + 10;
    return -1;
  };
  std::string bytes;
  for (std::size_t at = 2; at < text.size(); at += 2) {
    const int high = digit(text[at]);
    const int low = digit(text[at + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    bytes += static_cast<char>(high * 16 + low);
  }
  return bytes;
}
// A type named in a schema event, as SQL: "int4" or "public.mood", each part quoted. A type
// capture could not name ("oid:16404") is read as text.
std::string sql_type_name(const std::string& name) {
  if (name.rfind("oid:", 0) == 0) return "text";
  // An array ("int4[]", "app.mood[]") is its element's name, quoted, and the brackets.
  if (name.size() > 2 && name.compare(name.size() - 2, 2, "[]") == 0) {
    return sql_type_name(name.substr(0, name.size() - 2)) + "[]";
  }
  const auto dot = name.find('.');
  if (dot == std::string::npos) return quote_identifier(name);
  // pgoutput names a pg_catalog type with an empty schema (".int4", the base of a domain).
  const std::string schema = dot == 0 ? "pg_catalog" : name.substr(0, dot);
  return quote_identifier(schema) + "." + quote_identifier(name.substr(dot + 1));
}

// The envelope's members, as JSON text; empty when absent.
struct Envelope {
  std::string_view status, op, source, before, after, unchanged_toast, schema, message, event_count;
};

// The members of "source" the applier reads.
struct SourceFields {
  std::string_view commit_lsn, ts_ms, end_lsn, previous_end_lsn, schema, table, sequence;
};

bool is_null(std::string_view value) { return value.empty() || value == "null"; }

}  // namespace

Result<ChangeEvent> parse_change_event(std::string_view value, std::int64_t offset) {
  auto malformed = [&](const std::string& why) {
    return Status::error("change log offset " + std::to_string(offset) +
                         " is not a cutover change event: " + why);
  };
  Envelope envelope;
  const bool object = json_scan::for_each_member(value, [&](std::string_view name, std::string_view member) {
    if (name == "status") envelope.status = member;
    else if (name == "op") envelope.op = member;
    else if (name == "source") envelope.source = member;
    else if (name == "before") envelope.before = member;
    else if (name == "after") envelope.after = member;
    else if (name == "unchanged_toast") envelope.unchanged_toast = member;
    else if (name == "schema") envelope.schema = member;
    else if (name == "message") envelope.message = member;
    else if (name == "event_count") envelope.event_count = member;
    return true;
  });
  if (!object) return malformed("not a JSON object");
  if (envelope.source.empty()) return malformed("no source");
  SourceFields source;
  if (!json_scan::for_each_member(envelope.source, [&](std::string_view name, std::string_view member) {
        if (name == "commit_lsn") source.commit_lsn = member;
        else if (name == "ts_ms") source.ts_ms = member;
        else if (name == "end_lsn") source.end_lsn = member;
        else if (name == "previous_end_lsn") source.previous_end_lsn = member;
        else if (name == "schema") source.schema = member;
        else if (name == "table") source.table = member;
        else if (name == "sequence") source.sequence = member;
        return true;
      })) {
    return malformed("source is not an object");
  }

  ChangeEvent event;
  event.offset = offset;
  event.bytes = value.size();
  if (!source.commit_lsn.empty()) {
    auto lsn = json_scan::unsigned_value(source.commit_lsn);
    if (!lsn) return malformed("source.commit_lsn is not an unsigned number");
    event.commit_lsn = Lsn(*lsn);
  }
  if (!source.ts_ms.empty()) {
    auto milliseconds = json_scan::integer_value(source.ts_ms);
    if (!milliseconds) return malformed("source.ts_ms is not an integer");
    event.commit_ts_ms = *milliseconds;
  }
  if (!envelope.status.empty()) {
    const auto status = json_scan::string_value(envelope.status);
    if (status == "BEGIN") {
      event.kind = ChangeEvent::Kind::kBegin;
      if (!source.previous_end_lsn.empty()) {
        auto previous = json_scan::unsigned_value(source.previous_end_lsn);
        if (!previous) return malformed("source.previous_end_lsn is not an unsigned number");
        event.previous_end_lsn = Lsn(*previous);
      }
    } else if (status == "END") {
      event.kind = ChangeEvent::Kind::kEnd;
      auto end_lsn = json_scan::unsigned_value(source.end_lsn);
      if (!end_lsn) return malformed("an END without source.end_lsn");
      event.end_lsn = Lsn(*end_lsn);
      if (!envelope.event_count.empty()) {
        event.event_count = json_scan::unsigned_value(envelope.event_count);
        if (!event.event_count) return malformed("event_count is not an unsigned number");
      }
    } else {
      return malformed("unknown status " + std::string(envelope.status));
    }
    return event;
  }
  const auto op = json_scan::string_value(envelope.op);
  if (!op) return malformed("no op");
  if (*op == "m") {
    const nlohmann::json message = nlohmann::json::parse(envelope.message, nullptr, false);
    try {
      event.kind = ChangeEvent::Kind::kMessage;
      event.message_prefix = message.at("prefix");
      auto content = bytes_of_hex(message.at("content").get<std::string>());
      if (!content) return malformed("message content is not \\x hex");
      event.message_content = std::move(*content);
    } catch (const nlohmann::json::exception& error) {
      return malformed(std::string("message: ") + error.what());
    }
    return event;
  }
  auto schema = json_scan::string_value(source.schema);
  auto table = json_scan::string_value(source.table);
  if (!schema || !table) return malformed("no source.schema and source.table");
  event.table = {std::move(*schema), std::move(*table)};
  if (!source.sequence.empty()) {
    event.sequence = json_scan::unsigned_value(source.sequence);
    if (!event.sequence) return malformed("source.sequence is not an unsigned number");
  }
  if (*op == "schema") {
    event.kind = ChangeEvent::Kind::kSchema;
    const nlohmann::json document = nlohmann::json::parse(envelope.schema, nullptr, false);
    try {
      for (const auto& column : document.at("columns")) {
        // The change log names a column's type without its modifier: unconstrained already.
        const std::string type = sql_type_name(column.at("type").get<std::string>());
        event.schema_columns.push_back(
            {column.at("name").get<std::string>(), type, type, type, column.value("type_oid", std::uint32_t{0})});
      }
      event.relation_oid = document.value("relation_oid", std::uint32_t{0});
    } catch (const nlohmann::json::exception& error) {
      return malformed(std::string("schema: ") + error.what());
    }
  } else if (*op == "t") {
    event.kind = ChangeEvent::Kind::kTruncate;
  } else if (*op == "c" || *op == "u" || *op == "d") {
    event.kind = ChangeEvent::Kind::kRow;
    event.op = (*op)[0];
    for (auto [image, text, name] : {std::tuple(&event.before, envelope.before, "before"),
                                     std::tuple(&event.after, envelope.after, "after")}) {
      if (is_null(text)) continue;
      *image = RowImage::parse(std::string(text));
      if (!*image) return malformed(std::string(name) + " is not an object");
    }
    if (event.op == 'd' ? !event.before : !event.after) {
      return malformed(event.op == 'd' ? "a delete without before" : "an insert or update without after");
    }
    bool names = true;
    if (!envelope.unchanged_toast.empty() &&
        !json_scan::for_each_element(envelope.unchanged_toast, [&](std::string_view element) {
          auto name = json_scan::string_value(element);
          if (name) event.unchanged_toast.push_back(std::move(*name));
          names = name.has_value();
          return names;
        })) {
      names = false;
    }
    if (!names) return malformed("unchanged_toast is not an array of column names");
  } else {
    return malformed("unknown op " + *op);
  }
  return event;
}

}  // namespace cutover
