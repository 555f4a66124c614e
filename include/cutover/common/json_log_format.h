// Log lines as JSON objects, for log pipelines (`--log-format json`, CUTOVER_LOG_FORMAT=json).
//
// cutover logs "message key=value key=\"quoted value\" ..."; a JSON line carries the time, the
// level, the message and each field as its own member: {"ts", "level", "msg", <fields>}. A
// field whose value is a number is a JSON number. A line that is not message-then-fields (free
// text after a field) keeps its whole text in "msg", so nothing of it is lost.
#pragma once

#include <spdlog/formatter.h>

#include <memory>
#include <string>
#include <string_view>

namespace cutover {

// The JSON object of one log line's text (without the newline), at `timestamp` (UTC, ISO 8601).
std::string json_log_line(std::string_view timestamp, std::string_view level, std::string_view text);

class JsonLogFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& message, spdlog::memory_buf_t& destination) override;
  std::unique_ptr<spdlog::formatter> clone() const override;
};

}  // namespace cutover
