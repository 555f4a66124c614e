// Durations as the plan writes them: "250ms", "2s", "5m", "1h", "7d"; and the current time as text.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace cutover {

// Nothing for text that is not a duration, or one too long to hold in milliseconds.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

// A duration in the plan's words: "250ms", "2s", "10m", "1h", "7d", in the largest unit that is whole.
std::string format_duration(std::chrono::milliseconds duration);

// The current UTC time in strftime's `format`, for example "%Y-%m-%dT%H:%M:%SZ".
std::string utc_now(const char* format);

}  // namespace cutover
