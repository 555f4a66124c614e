#include "cutover/apply/change_event.h"

#include <optional>

namespace cutover {

using nlohmann::json;

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
}  // namespace

Result<ChangeEvent> parse_change_event(std::string_view value, std::int64_t offset) {
  const json document = json::parse(value, nullptr, false);
  auto malformed = [&](const std::string& why) {
    return Status::error("change log offset " + std::to_string(offset) +
                         " is not a cutover change event: " + why);
  };
  if (!document.is_object()) return malformed("not a JSON object");
  ChangeEvent event;
  event.offset = offset;
  event.bytes = value.size();
  try {
    const json& source = document.at("source");
    if (source.contains("commit_lsn")) event.commit_lsn = Lsn(source["commit_lsn"].get<std::uint64_t>());
    event.commit_ts_ms = source.value("ts_ms", std::int64_t{0});
    if (document.contains("status")) {
      const std::string status = document["status"];
      if (status == "BEGIN") {
        event.kind = ChangeEvent::Kind::kBegin;
      } else if (status == "END") {
        event.kind = ChangeEvent::Kind::kEnd;
        event.end_lsn = Lsn(source.at("end_lsn").get<std::uint64_t>());
      } else {
        return malformed("unknown status " + status);
      }
      return event;
    }
    const std::string op = document.at("op");
    if (op == "m") {
      event.kind = ChangeEvent::Kind::kMessage;
      event.message_prefix = document.at("message").at("prefix");
      auto content = bytes_of_hex(document["message"].at("content").get<std::string>());
      if (!content) return malformed("message content is not \\x hex");
      event.message_content = std::move(*content);
      return event;
    }
    event.table = {source.at("schema"), source.at("table")};
    if (op == "schema") {
      event.kind = ChangeEvent::Kind::kSchema;
      for (const auto& column : document.at("schema").at("columns")) {
        // The change log names a column's type without its modifier: unconstrained already.
        const std::string type = sql_type_name(column.at("type").get<std::string>());
        event.schema_columns.push_back(
            {column.at("name").get<std::string>(), type, type, type, column.value("type_oid", std::uint32_t{0})});
      }
      event.relation_oid = document.at("schema").value("relation_oid", std::uint32_t{0});
    } else if (op == "t") {
      event.kind = ChangeEvent::Kind::kTruncate;
    } else if (op == "c" || op == "u" || op == "d") {
      event.kind = ChangeEvent::Kind::kRow;
      event.op = op[0];
      event.before = document.value("before", json(nullptr));
      event.after = document.value("after", json(nullptr));
      if (document.contains("unchanged_toast")) {
        for (const auto& name : document["unchanged_toast"]) event.unchanged_toast.push_back(name);
      }
    } else {
      return malformed("unknown op " + op);
    }
  } catch (const json::exception& error) {
    return malformed(error.what());
  }
  return event;
}

}  // namespace cutover
