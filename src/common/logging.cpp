#include "cutover/common/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <cstdlib>
#include <regex>

namespace cutover {

void configure_logging(std::string_view level) {
  auto logger = spdlog::stderr_color_mt("cutover");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);
  const char* from_environment = std::getenv("CUTOVER_LOG_LEVEL");
  logger->set_level(spdlog::level::from_str(from_environment ? from_environment
                                                             : std::string(level)));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

std::string redact_dsn(std::string_view dsn) {
  static const std::regex keyword_password(R"((password\s*=\s*)('([^'\\]|\\.)*'|\S+))",
                                           std::regex::icase);
  static const std::regex uri_password(R"((postgres(ql)?://[^:/@\s]+:)[^@\s]*@)",
                                       std::regex::icase);
  std::string redacted = std::regex_replace(std::string(dsn), keyword_password, "$1***");
  return std::regex_replace(redacted, uri_password, "$1***@");
}

}  // namespace cutover
