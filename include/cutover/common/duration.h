// Durations as the plan writes them: "250ms", "2s", "5m"; and the current time as text.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace cutover {

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

// The current UTC time in strftime's `format`, for example "%Y-%m-%dT%H:%M:%SZ".
std::string utc_now(const char* format);

}  // namespace cutover
