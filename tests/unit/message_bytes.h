// Builds pgoutput messages byte by byte, as PostgreSQL sends them, for decoder tests.
#pragma once

#include <cstdint>
#include <string>

namespace cutover::testing {

class MessageBytes {
 public:
  explicit MessageBytes(char type) { bytes_.push_back(type); }
  MessageBytes& u8(std::uint8_t value) { bytes_.push_back(static_cast<char>(value)); return *this; }
  MessageBytes& u16(std::uint16_t value) { return big_endian(value, 2); }
  MessageBytes& u32(std::uint32_t value) { return big_endian(value, 4); }
  MessageBytes& u64(std::uint64_t value) { return big_endian(value, 8); }
  MessageBytes& text(const std::string& value) { bytes_ += value; bytes_.push_back('\0'); return *this; }
  MessageBytes& raw(const std::string& value) { bytes_ += value; return *this; }
  MessageBytes& text_column(const std::string& value) {
    u8('t');
    u32(static_cast<std::uint32_t>(value.size()));
    return raw(value);
  }
  const std::string& bytes() const { return bytes_; }

 private:
  MessageBytes& big_endian(std::uint64_t value, int size) {
    for (int shift = (size - 1) * 8; shift >= 0; shift -= 8) {
      bytes_.push_back(static_cast<char>((value >> shift) & 0xFF));
    }
    return *this;
  }
  std::string bytes_;
};

}  // namespace cutover::testing
