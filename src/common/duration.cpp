#include "cutover/common/duration.h"

#include <charconv>
#include <ctime>
#include <limits>

namespace cutover {

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  std::int64_t amount = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), amount);
  if (error != std::errc() || end == text.data() || amount < 0) return std::nullopt;
  const std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  std::int64_t milliseconds_per_unit = 0;
  if (unit == "ms") milliseconds_per_unit = 1;
  if (unit == "s") milliseconds_per_unit = 1000;
  if (unit == "m") milliseconds_per_unit = 60000;
  if (unit == "h") milliseconds_per_unit = 3600000;
  if (unit == "d") milliseconds_per_unit = 86400000;
  if (milliseconds_per_unit == 0) return std::nullopt;
  if (amount > std::numeric_limits<std::int64_t>::max() / milliseconds_per_unit) return std::nullopt;
  return std::chrono::milliseconds(amount * milliseconds_per_unit);
}

std::string format_duration(std::chrono::milliseconds duration) {
  const auto count = duration.count();
  if (count != 0 && count % 86400000 == 0) return std::to_string(count / 86400000) + "d";
  if (count != 0 && count % 3600000 == 0) return std::to_string(count / 3600000) + "h";
  if (count % 60000 == 0) return std::to_string(count / 60000) + "m";
  if (count % 1000 == 0) return std::to_string(count / 1000) + "s";
  return std::to_string(count) + "ms";
}

std::string utc_now(const char* format) {
  const std::time_t now = std::time(nullptr);
  std::tm parts{};
  gmtime_r(&now, &parts);
  char text[64];
  const std::size_t length = std::strftime(text, sizeof text, format, &parts);
  return std::string(text, length);
}

}  // namespace cutover
