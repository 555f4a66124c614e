#include "cutover/common/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include "cutover/common/json_log_format.h"

#include <cstdlib>
#include <algorithm>
#include <cctype>

namespace cutover {

std::optional<spdlog::level::level_enum> parse_log_level(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "warn") lower = "warning";
  for (const auto level : {spdlog::level::trace, spdlog::level::debug, spdlog::level::info, spdlog::level::warn,
                           spdlog::level::err, spdlog::level::critical, spdlog::level::off}) {
    // spdlog names them trace, debug, info, warning, error, critical, off.
    if (lower == std::string_view(spdlog::level::to_string_view(level).data(),
                                  spdlog::level::to_string_view(level).size())) {
      return level;
    }
  }
  return std::nullopt;
}

spdlog::color_mode color_mode_for(const char* no_color) {
  return no_color != nullptr && *no_color != '\0' ? spdlog::color_mode::never : spdlog::color_mode::automatic;
}

std::string configure_logging(std::string_view format, std::string_view level) {
  const char* from_environment = std::getenv("CUTOVER_LOG_LEVEL");
  const std::string_view wanted = from_environment && *from_environment ? from_environment : level;
  const auto parsed = parse_log_level(wanted);
  if (!parsed) {
    return "CUTOVER_LOG_LEVEL is \"" + std::string(wanted) +
           "\": use one of trace, debug, info, warning, error, critical, off";
  }
  const char* format_from_environment = std::getenv("CUTOVER_LOG_FORMAT");
  const std::string_view shape =
      !format.empty() ? format : format_from_environment && *format_from_environment ? format_from_environment : "text";
  if (shape != "text" && shape != "json") {
    return std::string(format.empty() ? "CUTOVER_LOG_FORMAT" : "--log-format") + " is \"" + std::string(shape) +
           "\": use text or json";
  }
  // JSON lines are for machines: no colour codes in them.
  auto logger = spdlog::stderr_color_mt("cutover", shape == "json" ? spdlog::color_mode::never
                                                                    : color_mode_for(std::getenv("NO_COLOR")));
  if (shape == "json") {
    logger->set_formatter(std::make_unique<JsonLogFormatter>());
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);
  }
  logger->set_level(*parsed);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  return "";
}

namespace {

bool starts_with_word(std::string_view text, std::size_t at, std::string_view word) {
  if (text.size() - at < word.size()) return false;
  for (std::size_t i = 0; i < word.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[at + i])) != word[i]) return false;
  }
  return true;
}

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

}  // namespace

// A scan by hand, in one pass: std::regex recursed per character of a long password and
// overflowed the stack.
std::string redact_dsn(std::string_view dsn) {
  std::string redacted;
  redacted.reserve(dsn.size());
  std::size_t at = 0;
  while (at < dsn.size()) {
    // postgres://user:secret@host
    for (std::string_view scheme : {"postgresql://", "postgres://"}) {
      if (!starts_with_word(dsn, at, scheme)) continue;
      const std::size_t user = at + scheme.size();
      std::size_t colon = user;
      while (colon < dsn.size() && dsn[colon] != ':' && dsn[colon] != '/' && dsn[colon] != '@' && !is_space(dsn[colon])) ++colon;
      std::size_t end = colon + 1;
      while (end < dsn.size() && dsn[end] != '@' && !is_space(dsn[end])) ++end;
      redacted += dsn.substr(at, colon - at);
      at = colon;
      if (colon > user && colon < dsn.size() && dsn[colon] == ':' && end < dsn.size() && dsn[end] == '@') {
        redacted += ":***@";
        at = end + 1;
      }
      break;
    }
    // password = secret, or password = 'sec ret' (with \ escapes)
    if (at < dsn.size() && starts_with_word(dsn, at, "password")) {
      std::size_t value = at + 8;
      while (value < dsn.size() && is_space(dsn[value])) ++value;
      if (value < dsn.size() && dsn[value] == '=') {
        ++value;
        while (value < dsn.size() && is_space(dsn[value])) ++value;
        redacted += dsn.substr(at, value - at);
        redacted += "***";
        if (value < dsn.size() && dsn[value] == '\'') {
          ++value;
          while (value < dsn.size() && dsn[value] != '\'') value += dsn[value] == '\\' ? 2 : 1;
          at = std::min(dsn.size(), value + 1);
        } else {
          while (value < dsn.size() && !is_space(dsn[value])) ++value;
          at = value;
        }
        continue;
      }
    }
    if (at < dsn.size()) redacted += dsn[at++];
  }
  return redacted;
}

}  // namespace cutover
