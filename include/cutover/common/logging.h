// Structured logging for every module: one line per event, "message key=value ...".
//
// Secrets never reach a log: DSNs are passed through redact_dsn() before they are logged
// or put into an error message.
#pragma once

#include <spdlog/spdlog.h>

#include <string>
#include <string_view>

namespace cutover {

// Sets the global logger: human lines on stderr, level from CUTOVER_LOG_LEVEL or `level`.
void configure_logging(std::string_view level = "info");

// Replaces the value of password=... in a libpq keyword/value DSN, and the password part of
// a postgres:// URI, by "***".
std::string redact_dsn(std::string_view dsn);

}  // namespace cutover
