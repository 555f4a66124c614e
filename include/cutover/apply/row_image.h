// RowImage: a source row as the change log carries it, one JSON object kept as its text.
//
// The applier sends rows to the target as a JSON array, which PostgreSQL decodes with
// jsonb_to_recordset: a row that is only passed on never needs a document built for it. Its
// top-level fields are located once, so that the key and the columns the plan reads can be
// found; a value is decoded only where the applier computes with it (rare paths: unchanged
// TOAST values, rows read back from the source).
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cutover {

class RowImage {
 public:
  // The row of a JSON object's text; nullopt when `text` is not one.
  static std::optional<RowImage> parse(std::string text);
  static RowImage of(const nlohmann::json& object);

  const std::string& text() const { return text_; }
  // The column's value as JSON text (`"abc"`, `12`, `null`); nullopt when the row lacks it.
  std::optional<std::string_view> value(std::string_view column) const;
  bool has(std::string_view column) const { return value(column).has_value(); }
  // The column's value as the text a SQL literal of it would hold: a JSON string's content,
  // any other value's JSON text.
  std::optional<std::string> value_text(std::string_view column) const;
  nlohmann::json to_json() const;
  // This row with `column` set to `value` (JSON text), added when the row lacks it.
  RowImage with(std::string_view column, std::string_view value) const;

 private:
  struct Field {
    std::string name;
    std::size_t begin = 0;
    std::size_t length = 0;
  };
  RowImage() = default;

  std::string text_;
  std::vector<Field> fields_;
};

}  // namespace cutover
