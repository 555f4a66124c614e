#include "cutover/common/json_scan.h"

#include <charconv>

namespace cutover::json_scan {

namespace {

bool is_space(char character) {
  return character == ' ' || character == '\t' || character == '\n' || character == '\r';
}

std::size_t skip_space(std::string_view text, std::size_t at) {
  while (at < text.size() && is_space(text[at])) ++at;
  return at;
}

bool is_digit(char character) { return character >= '0' && character <= '9'; }

int hex_digit(char character) {
  if (character >= '0' && character <= '9') return character - '0';
  if (character >= 'a' && character <= 'f') return character - 'a' + 10;
  if (character >= 'A' && character <= 'F') return character - 'A' + 10;
  return -1;
}

std::optional<unsigned> hex4(std::string_view text, std::size_t at) {
  if (at + 4 > text.size()) return std::nullopt;
  unsigned value = 0;
  for (std::size_t index = at; index < at + 4; ++index) {
    const int digit = hex_digit(text[index]);
    if (digit < 0) return std::nullopt;
    value = value * 16 + static_cast<unsigned>(digit);
  }
  return value;
}

// The length of the UTF-8 sequence at `at` (its first byte 0x80 or above), or 0 if invalid.
std::size_t utf8_length(std::string_view text, std::size_t at) {
  const auto lead = static_cast<unsigned char>(text[at]);
  std::size_t length = 0;
  unsigned code = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    code = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    code = lead & 0x0F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    code = lead & 0x07;
  } else {
    return 0;
  }
  if (at + length > text.size()) return 0;
  for (std::size_t index = at + 1; index < at + length; ++index) {
    const auto continuation = static_cast<unsigned char>(text[index]);
    if ((continuation & 0xC0) != 0x80) return 0;
    code = (code << 6) | (continuation & 0x3F);
  }
  // Overlong forms, surrogates and code points past U+10FFFF are not UTF-8.
  if ((length == 3 && code < 0x800) || (length == 4 && (code < 0x10000 || code > 0x10FFFF)) ||
      (code >= 0xD800 && code <= 0xDFFF)) {
    return 0;
  }
  return length;
}

void append_utf8(std::string& out, unsigned code) {
  if (code < 0x80) {
    out += static_cast<char>(code);
  } else if (code < 0x800) {
    out += static_cast<char>(0xC0 | (code >> 6));
    out += static_cast<char>(0x80 | (code & 0x3F));
  } else if (code < 0x10000) {
    out += static_cast<char>(0xE0 | (code >> 12));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code >> 18));
    out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code & 0x3F));
  }
}

// Scans the string literal at `at` (its opening quote); appends what it stands for to `out`
// when given. The position past its closing quote, or nullopt.
std::optional<std::size_t> scan_string(std::string_view text, std::size_t at, std::string* out) {
  if (at >= text.size() || text[at] != '"') return std::nullopt;
  ++at;
  std::size_t plain_from = at;
  while (at < text.size()) {
    const auto character = static_cast<unsigned char>(text[at]);
    if (character == '"') {
      if (out) out->append(text.data() + plain_from, at - plain_from);
      return at + 1;
    }
    if (character < 0x20) return std::nullopt;
    if (character >= 0x80) {
      const std::size_t length = utf8_length(text, at);
      if (length == 0) return std::nullopt;
      at += length;
      continue;
    }
    if (character != '\\') {
      ++at;
      continue;
    }
    if (out) out->append(text.data() + plain_from, at - plain_from);
    if (at + 1 >= text.size()) return std::nullopt;
    const char escaped = text[at + 1];
    at += 2;
    char plain = 0;
    switch (escaped) {
      case '"': plain = '"'; break;
      case '\\': plain = '\\'; break;
      case '/': plain = '/'; break;
      case 'b': plain = '\b'; break;
      case 'f': plain = '\f'; break;
      case 'n': plain = '\n'; break;
      case 'r': plain = '\r'; break;
      case 't': plain = '\t'; break;
      case 'u': {
        auto code = hex4(text, at);
        if (!code) return std::nullopt;
        at += 4;
        if (*code >= 0xDC00 && *code <= 0xDFFF) return std::nullopt;  // a lone low surrogate
        if (*code >= 0xD800 && *code <= 0xDBFF) {
          if (at + 6 > text.size() || text[at] != '\\' || text[at + 1] != 'u') return std::nullopt;
          auto low = hex4(text, at + 2);
          if (!low || *low < 0xDC00 || *low > 0xDFFF) return std::nullopt;
          at += 6;
          *code = 0x10000 + ((*code - 0xD800) << 10) + (*low - 0xDC00);
        }
        if (out) append_utf8(*out, *code);
        plain_from = at;
        continue;
      }
      default:
        return std::nullopt;
    }
    if (out) *out += plain;
    plain_from = at;
  }
  return std::nullopt;
}

std::optional<std::size_t> scan_number(std::string_view text, std::size_t at) {
  if (at < text.size() && text[at] == '-') ++at;
  if (at >= text.size() || !is_digit(text[at])) return std::nullopt;
  if (text[at] == '0') {
    ++at;
  } else {
    while (at < text.size() && is_digit(text[at])) ++at;
  }
  if (at < text.size() && text[at] == '.') {
    ++at;
    if (at >= text.size() || !is_digit(text[at])) return std::nullopt;
    while (at < text.size() && is_digit(text[at])) ++at;
  }
  if (at < text.size() && (text[at] == 'e' || text[at] == 'E')) {
    ++at;
    if (at < text.size() && (text[at] == '+' || text[at] == '-')) ++at;
    if (at >= text.size() || !is_digit(text[at])) return std::nullopt;
    while (at < text.size() && is_digit(text[at])) ++at;
  }
  return at;
}

std::optional<std::size_t> scan_literal(std::string_view text, std::size_t at, std::string_view word) {
  if (text.substr(at, word.size()) != word) return std::nullopt;
  return at + word.size();
}

std::optional<std::size_t> scan_value(std::string_view text, std::size_t at, int depth);

// An object or array at `at` (its opening bracket); `member` tells whether names come first.
std::optional<std::size_t> scan_container(std::string_view text, std::size_t at, int depth, bool object) {
  if (depth <= 0) return std::nullopt;
  const char close = object ? '}' : ']';
  at = skip_space(text, at + 1);
  if (at < text.size() && text[at] == close) return at + 1;
  while (true) {
    if (object) {
      auto name_end = scan_string(text, at, nullptr);
      if (!name_end) return std::nullopt;
      at = skip_space(text, *name_end);
      if (at >= text.size() || text[at] != ':') return std::nullopt;
      at = skip_space(text, at + 1);
    }
    auto end = scan_value(text, at, depth - 1);
    if (!end) return std::nullopt;
    at = skip_space(text, *end);
    if (at >= text.size()) return std::nullopt;
    if (text[at] == close) return at + 1;
    if (text[at] != ',') return std::nullopt;
    at = skip_space(text, at + 1);
  }
}

std::optional<std::size_t> scan_value(std::string_view text, std::size_t at, int depth) {
  at = skip_space(text, at);
  if (at >= text.size()) return std::nullopt;
  switch (text[at]) {
    case '"': return scan_string(text, at, nullptr);
    case '{': return scan_container(text, at, depth, true);
    case '[': return scan_container(text, at, depth, false);
    case 't': return scan_literal(text, at, "true");
    case 'f': return scan_literal(text, at, "false");
    case 'n': return scan_literal(text, at, "null");
    default: return scan_number(text, at);
  }
}

// Walks the container that is the whole of `text`, giving each member's name (objects) and
// value text, checking the syntax as it goes: false when it is malformed, which a caller may
// learn only after it saw the members before the fault.
bool walk(std::string_view text, bool object,
          const std::function<bool(std::string_view name, std::string_view value)>& visit) {
  constexpr int kDepth = 64;
  std::size_t at = skip_space(text, 0);
  const char close = object ? '}' : ']';
  if (at >= text.size() || text[at] != (object ? '{' : '[')) return false;
  at = skip_space(text, at + 1);
  if (at < text.size() && text[at] == close) return skip_space(text, at + 1) == text.size();
  std::string decoded;
  while (true) {
    std::string_view name;
    if (object) {
      const std::size_t name_start = at;
      auto name_end = scan_string(text, at, nullptr);
      if (!name_end) return false;
      name = text.substr(name_start + 1, *name_end - name_start - 2);
      if (name.find('\\') != std::string_view::npos) {
        decoded.clear();
        scan_string(text, name_start, &decoded);
        name = decoded;
      }
      at = skip_space(text, *name_end);
      if (at >= text.size() || text[at] != ':') return false;
      at = skip_space(text, at + 1);
    }
    const std::size_t value_start = at;
    auto value_stop = scan_value(text, at, kDepth - 1);
    if (!value_stop) return false;
    if (!visit(name, text.substr(value_start, *value_stop - value_start))) return true;
    at = skip_space(text, *value_stop);
    if (at >= text.size()) return false;
    if (text[at] == close) return skip_space(text, at + 1) == text.size();
    if (text[at] != ',') return false;
    at = skip_space(text, at + 1);
  }
}

}  // namespace

bool is_value(std::string_view text) {
  auto end = scan_value(text, 0, 64);
  return end && skip_space(text, *end) == text.size();
}

bool for_each_member(std::string_view text,
                     const std::function<bool(std::string_view name, std::string_view value)>& member) {
  return walk(text, true, member);
}

bool for_each_element(std::string_view text, const std::function<bool(std::string_view value)>& element) {
  return walk(text, false, [&](std::string_view, std::string_view value) { return element(value); });
}

std::optional<std::string> string_value(std::string_view literal) {
  std::string decoded;
  auto end = scan_string(literal, 0, &decoded);
  if (!end || *end != literal.size()) return std::nullopt;
  return decoded;
}

std::optional<std::uint64_t> unsigned_value(std::string_view literal) {
  std::uint64_t value = 0;
  auto [end, error] = std::from_chars(literal.data(), literal.data() + literal.size(), value);
  if (error != std::errc() || end != literal.data() + literal.size() || literal.empty()) return std::nullopt;
  return value;
}

std::optional<std::int64_t> integer_value(std::string_view literal) {
  std::int64_t value = 0;
  auto [end, error] = std::from_chars(literal.data(), literal.data() + literal.size(), value);
  if (error != std::errc() || end != literal.data() + literal.size() || literal.empty()) return std::nullopt;
  return value;
}

}  // namespace cutover::json_scan
