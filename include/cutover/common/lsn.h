// Lsn: a PostgreSQL write-ahead log position.
//
// Used by capture (positions from the replication stream, slot confirmation), by the
// change events (every row event carries its commit LSN) and later by apply and verify.
// An LSN is a 64-bit number; it is printed and parsed in PostgreSQL's "X/X" form and is
// never compared as a string.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cutover {

class Lsn {
 public:
  constexpr Lsn() = default;
  constexpr explicit Lsn(std::uint64_t value) : value_(value) {}

  // Parses "16/B374D848"; nullopt for anything else.
  static std::optional<Lsn> parse(std::string_view text);

  constexpr std::uint64_t value() const { return value_; }
  constexpr bool is_zero() const { return value_ == 0; }
  std::string to_string() const;

  constexpr auto operator<=>(const Lsn&) const = default;

 private:
  std::uint64_t value_ = 0;
};

}  // namespace cutover
