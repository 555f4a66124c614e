#include "cutover/common/json_log_format.h"

#include <nlohmann/json.hpp>

#include <cctype>
#include <charconv>
#include <chrono>
#include <ctime>
#include <optional>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace cutover {

namespace {

bool is_key_character(char c, bool first) {
  const auto u = static_cast<unsigned char>(c);
  return std::islower(u) || c == '_' || (!first && (std::isdigit(u) || c == '.'));
}

// `key=value` or `key="quoted \" value"` at `at`; the key, the value and where the token ends.
struct Field {
  std::string key;
  std::string value;
  bool quoted = false;
};
std::optional<std::pair<Field, std::size_t>> field_at(std::string_view text, std::size_t at) {
  std::size_t end = at;
  while (end < text.size() && is_key_character(text[end], end == at)) ++end;
  if (end == at || end >= text.size() || text[end] != '=') return std::nullopt;
  Field field;
  field.key = std::string(text.substr(at, end - at));
  std::size_t value = end + 1;
  if (value < text.size() && text[value] == '"') {
    field.quoted = true;
    for (++value; value < text.size() && text[value] != '"'; ++value) {
      if (text[value] == '\\' && value + 1 < text.size()) ++value;
      field.value += text[value];
    }
    if (value >= text.size()) return std::nullopt;  // no closing quote: not a field
    ++value;
  } else {
    while (value < text.size() && text[value] != ' ') field.value += text[value++];
  }
  if (value < text.size() && text[value] != ' ') return std::nullopt;
  return std::make_pair(std::move(field), value);
}

// A bare value that reads whole as a number is one; anything else stays text.
nlohmann::ordered_json value_of(const Field& field) {
  if (field.quoted || field.value.empty()) return field.value;
  const char* first = field.value.data();
  const char* last = first + field.value.size();
  std::int64_t integer = 0;
  if (auto [end, error] = std::from_chars(first, last, integer); error == std::errc() && end == last) return integer;
  double real = 0;
  if (auto [end, error] = std::from_chars(first, last, real); error == std::errc() && end == last) return real;
  return field.value;
}

}  // namespace

std::string json_log_line(std::string_view timestamp, std::string_view level, std::string_view text) {
  nlohmann::ordered_json line = {{"ts", timestamp}, {"level", level}};
  // The message runs to the first token that is a field; every token after it must be one.
  std::vector<Field> fields;
  std::size_t message_end = text.size();
  bool fits = true;
  std::size_t at = 0;
  while (at < text.size()) {
    if (at > 0) {  // a token after a space
      if (auto found = field_at(text, at)) {
        if (fields.empty()) message_end = at - 1;
        fields.push_back(std::move(found->first));
        at = found->second + 1;
        continue;
      }
      if (!fields.empty()) {
        fits = false;
        break;
      }
    }
    const std::size_t space = text.find(' ', at);
    if (space == std::string_view::npos) break;
    at = space + 1;
  }
  if (!fits) {
    line["msg"] = text;
    return line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  }
  line["msg"] = text.substr(0, message_end);
  for (const Field& field : fields) {
    // The three members of every line keep their meaning.
    const std::string key = field.key == "ts" || field.key == "level" || field.key == "msg" ? "field_" + field.key
                                                                                             : field.key;
    line[key] = value_of(field);
  }
  return line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

void JsonLogFormatter::format(const spdlog::details::log_msg& message, spdlog::memory_buf_t& destination) {
  const auto since_epoch = message.time.time_since_epoch();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count();
  const std::time_t whole = seconds.count();
  std::tm utc{};
  gmtime_r(&whole, &utc);
  const std::string timestamp =
      fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday,
                  utc.tm_hour, utc.tm_min, utc.tm_sec, millis);
  const auto level = spdlog::level::to_string_view(message.level);
  const std::string line = json_log_line(timestamp, std::string_view(level.data(), level.size()),
                                         std::string_view(message.payload.data(), message.payload.size()));
  destination.append(line.data(), line.data() + line.size());
  destination.push_back('\n');
}

std::unique_ptr<spdlog::formatter> JsonLogFormatter::clone() const { return std::make_unique<JsonLogFormatter>(); }

}  // namespace cutover
