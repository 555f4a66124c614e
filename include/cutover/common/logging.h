// Structured logging for every module: one line per event, "message key=value ...".
//
// Secrets never reach a log: DSNs are passed through redact_dsn() before they are logged
// or put into an error message.
#pragma once

#include <spdlog/spdlog.h>

#include <optional>
#include <string>
#include <string_view>

namespace cutover {

// A level's name, in any case: trace, debug, info, warning (or warn), error, critical, off.
std::optional<spdlog::level::level_enum> parse_log_level(std::string_view name);

// Colours of the level names when stderr is a terminal; none when NO_COLOR is set to anything
// but the empty string (https://no-color.org).
spdlog::color_mode color_mode_for(const char* no_color);

// Sets the global logger on stderr: lines in `format` ("text" or "json"; empty: from
// CUTOVER_LOG_FORMAT, else text), level from CUTOVER_LOG_LEVEL or `level`. An empty string
// when done; otherwise what is wrong, and nothing set (a misspelt level must not silence the
// log).
std::string configure_logging(std::string_view format = "", std::string_view level = "info");

// Replaces the value of password=... in a libpq keyword/value DSN, and the password part of
// a postgres:// URI, by "***".
std::string redact_dsn(std::string_view dsn);

}  // namespace cutover
