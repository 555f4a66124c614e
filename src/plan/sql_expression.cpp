#include "cutover/plan/sql_expression.h"

#include <cctype>
#include <cstddef>

namespace cutover {

namespace {

bool is_identifier_character(char character) {
  const auto byte = static_cast<unsigned char>(character);
  return std::isalnum(byte) || character == '_' || byte >= 0x80;
}

// At a '$': the length of a dollar-quote tag `$tag$` starting there, or 0 when it is not one
// (a positional parameter such as $1 is not).
std::size_t dollar_tag_length(const std::string& text, std::size_t at) {
  std::size_t end = at + 1;
  if (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) return 0;
  while (end < text.size() && is_identifier_character(text[end])) ++end;
  if (end < text.size() && text[end] == '$') return end - at + 1;
  return 0;
}

// Past a string literal whose opening quote is at `at`: where it ends, or nothing when it is
// not closed. In an E'...' literal a backslash escapes the next character; in a standard one
// it is refused (`backslash` set), since standard_conforming_strings decides what it means.
std::optional<std::size_t> end_of_literal(const std::string& text, std::size_t at, bool escapes, bool& backslash) {
  ++at;
  while (at < text.size()) {
    if (text[at] == '\\') {
      if (!escapes) {
        backslash = true;
        return std::nullopt;
      }
      at += 2;
    } else if (text[at] == '\'' && at + 1 < text.size() && text[at + 1] == '\'') {
      at += 2;
    } else if (text[at] == '\'') {
      return at + 1;
    } else {
      ++at;
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> single_expression_problem(const std::string& text) {
  int depth = 0;
  std::size_t at = 0;
  while (at < text.size()) {
    const char character = text[at];
    const char next = at + 1 < text.size() ? text[at + 1] : '\0';
    // A dollar sign inside a word (an identifier such as a$b) is part of the word.
    if (is_identifier_character(character) || (character == '$' && at > 0 && is_identifier_character(text[at - 1]))) {
      const bool escape_string = (character == 'e' || character == 'E') && next == '\'' &&
                                 (at == 0 || !is_identifier_character(text[at - 1]));
      if (!escape_string) {
        ++at;
        continue;
      }
      bool backslash = false;
      const auto end = end_of_literal(text, at + 1, true, backslash);
      if (!end) return "an E'...' string literal is not closed";
      at = *end;
      continue;
    }
    switch (character) {
      case '\'': {
        bool backslash = false;
        const auto end = end_of_literal(text, at, false, backslash);
        if (backslash) {
          return "a backslash inside a '...' literal reads differently under "
                 "standard_conforming_strings; write E'...' for escapes";
        }
        if (!end) return "a '...' string literal is not closed";
        at = *end;
        continue;
      }
      case '"': {
        const std::size_t close = text.find('"', at + 1);
        if (close == std::string::npos) return "a \"...\" quoted name is not closed";
        // "" inside a quoted name is an escaped quote: the scan goes on from the second one,
        // which opens what reads as a new quoted name up to the real end.
        at = close + 1;
        continue;
      }
      case '$': {
        const std::size_t tag = dollar_tag_length(text, at);
        if (tag == 0) {
          ++at;
          continue;
        }
        const std::string delimiter = text.substr(at, tag);
        const std::size_t close = text.find(delimiter, at + tag);
        if (close == std::string::npos) return "a " + delimiter + "..." + delimiter + " string is not closed";
        at = close + tag;
        continue;
      }
      case '(':
        ++depth;
        break;
      case ')':
        if (--depth < 0) return "a ')' closes more than the expression opened";
        break;
      case ';':
        return "a ';' would end the statement; an expression has none";
      case '-':
        if (next == '-') return "a '--' comment would hide the rest of the statement";
        break;
      case '/':
        if (next == '*') return "a '/* */' comment is not allowed in an expression";
        break;
      default:
        break;
    }
    ++at;
  }
  if (depth > 0) return "a '(' is not closed";
  return std::nullopt;
}

}  // namespace cutover
