// Durations as the plan writes them: "250ms", "2s", "5m".
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace cutover {

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

}  // namespace cutover
