#include "cutover/transform/type_conversion.h"

#include <map>
#include <vector>

namespace cutover {

namespace {

// A format_type() name split into its base and its modifiers:
// "timestamp(3) without time zone" is base "timestamp without time zone", modifiers {3}.
struct TypeName {
  std::string base;
  std::vector<long> modifiers;
};

TypeName parse_type(const std::string& text) {
  TypeName type;
  const std::size_t open = text.find('(');
  const std::size_t close = open == std::string::npos ? std::string::npos : text.find(')', open);
  if (close == std::string::npos) {
    type.base = text;
    return type;
  }
  type.base = text.substr(0, open) + text.substr(close + 1);
  long value = 0;
  bool digits = false;
  for (std::size_t at = open + 1; at <= close; ++at) {
    if (text[at] >= '0' && text[at] <= '9') {
      value = value * 10 + (text[at] - '0');
      digits = true;
    } else if (text[at] == ',' || text[at] == ')') {
      if (digits) type.modifiers.push_back(value);
      value = 0;
      digits = false;
    }
  }
  return type;
}

long modifier(const TypeName& type, std::size_t index, long otherwise) {
  return index < type.modifiers.size() ? type.modifiers[index] : otherwise;
}

// Bits and decimal digits each integer type holds.
const std::map<std::string, std::pair<int, int>>& integer_types() {
  static const std::map<std::string, std::pair<int, int>> types = {
      {"smallint", {16, 5}}, {"integer", {32, 10}}, {"bigint", {64, 19}}};
  return types;
}

bool is_time_type(const std::string& base) {
  return base == "timestamp without time zone" || base == "timestamp with time zone" ||
         base == "time without time zone" || base == "time with time zone" || base == "interval";
}

std::string scalar_loss(const TypeName& from, const TypeName& to, const std::string& to_text) {
  const auto& integers = integer_types();
  // Every value has a text form that reads back as the same value.
  if (to.base == "text" || (to.base == "character varying" && to.modifiers.empty())) return "";
  if (to.base == "character varying" || to.base == "character") {
    const long length = modifier(to, 0, 1);
    const bool bounded_text = (from.base == "character varying" || from.base == "character") && !from.modifiers.empty();
    if (bounded_text && from.modifiers[0] <= length &&
        (to.base == "character varying" || from.base == "character")) {
      return "";
    }
    return to.base == "character" ? "values longer than " + std::to_string(length) + " characters, and trailing spaces"
                                  : "values longer than " + std::to_string(length) + " characters";
  }
  if (integers.count(from.base)) {
    const auto [bits, digits] = integers.at(from.base);
    if (integers.count(to.base)) {
      return bits <= integers.at(to.base).first ? "" : "values beyond " + to_text + "'s range";
    }
    if (to.base == "numeric") {
      if (to.modifiers.empty() || modifier(to, 0, 0) - modifier(to, 1, 0) >= digits) return "";
      return "values of more than " + std::to_string(modifier(to, 0, 0) - modifier(to, 1, 0)) + " integer digits";
    }
    if (to.base == "real") return bits <= 16 ? "" : "integers beyond 2^24, which real rounds";
    if (to.base == "double precision") return bits <= 32 ? "" : "integers beyond 2^53, which double precision rounds";
  }
  if (from.base == "numeric" && to.base == "numeric") {
    if (to.modifiers.empty()) return "";
    const long scale = modifier(to, 1, 0);
    if (!from.modifiers.empty() && modifier(from, 1, 0) <= scale &&
        modifier(from, 0, 0) - modifier(from, 1, 0) <= modifier(to, 0, 0) - scale) {
      return "";
    }
    return "digits beyond " + to_text + ", which are rounded away or refused";
  }
  if (from.base == "real" && to.base == "double precision") return "";
  if (from.base == "date" && (to.base == "timestamp without time zone" || to.base == "timestamp with time zone")) {
    return "";
  }
  if (is_time_type(from.base) && from.base == to.base) {
    if (to.modifiers.empty() || (!from.modifiers.empty() && from.modifiers[0] <= to.modifiers[0])) return "";
    return "fractional seconds beyond " + to_text + "'s precision";
  }
  // jsonb is json's canonical form: whitespace, key order and repeated keys are the only
  // difference, and verification compares the canonical forms.
  if (from.base == "json" && to.base == "jsonb") return "";
  return "values that do not convert back to the same value";
}

}  // namespace

bool conversion_refuses_what_it_cannot_carry(const std::string& from, const std::string& to) {
  const auto& integers = integer_types();
  return integers.count(parse_type(from).base) && integers.count(parse_type(to).base);
}

std::string conversion_loss(const std::string& from, const std::string& to) {
  if (from == to) return "";
  const bool from_array = from.size() > 2 && from.compare(from.size() - 2, 2, "[]") == 0;
  const bool to_array = to.size() > 2 && to.compare(to.size() - 2, 2, "[]") == 0;
  if (from_array != to_array) return "values that do not convert back to the same value";
  const std::string from_element = from_array ? from.substr(0, from.size() - 2) : from;
  const std::string to_element = to_array ? to.substr(0, to.size() - 2) : to;
  if (from_element == to_element) return "";
  return scalar_loss(parse_type(from_element), parse_type(to_element), to);
}

}  // namespace cutover
