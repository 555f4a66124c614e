// JSON scanning without a document: finds where values begin and end in a text, checks
// their syntax on the way, and decodes strings. The applier's hot path reads a change event's
// few envelope fields this way and keeps the row images as the text they came in, which is
// what it sends to the target anyway (see apply/row_image.h).
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace cutover::json_scan {

// `text` is exactly one JSON value, with whitespace around it at most; objects and arrays
// nest at most 64 deep.
bool is_value(std::string_view text);

// Calls `member(name, value)` for each member of the object that is the whole of `text`
// (whitespace around it allowed), in order; `value` is the member's JSON text. False when
// `text` is not an object, checked as it goes: a caller may have seen members before the fault
// and must then drop what it gathered. `member` returning false stops early (result true).
bool for_each_member(std::string_view text,
                     const std::function<bool(std::string_view name, std::string_view value)>& member);

// Calls `element(value)` for each element of the array that is the whole of `text`.
bool for_each_element(std::string_view text, const std::function<bool(std::string_view value)>& element);

// The string a JSON string literal (with its quotes) stands for; nullopt if it is not one.
std::optional<std::string> string_value(std::string_view literal);

// The unsigned integer a JSON number literal stands for; nullopt if it is not one.
std::optional<std::uint64_t> unsigned_value(std::string_view literal);
// The signed integer a JSON number literal stands for; nullopt if it is not one.
std::optional<std::int64_t> integer_value(std::string_view literal);

}  // namespace cutover::json_scan
