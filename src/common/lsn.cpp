#include "cutover/common/lsn.h"

#include <charconv>
#include <cstdio>

namespace cutover {

namespace {
std::optional<std::uint32_t> parse_hex_half(std::string_view text) {
  if (text.empty() || text.size() > 8) return std::nullopt;
  std::uint32_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}
}  // namespace

std::optional<Lsn> Lsn::parse(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const auto high = parse_hex_half(text.substr(0, slash));
  const auto low = parse_hex_half(text.substr(slash + 1));
  if (!high || !low) return std::nullopt;
  return Lsn((static_cast<std::uint64_t>(*high) << 32) | *low);
}

std::string Lsn::to_string() const {
  char buffer[24];
  std::snprintf(buffer, sizeof buffer, "%X/%X", static_cast<unsigned>(value_ >> 32),
                static_cast<unsigned>(value_ & 0xFFFFFFFFu));
  return buffer;
}

}  // namespace cutover
