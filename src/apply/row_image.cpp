#include "cutover/apply/row_image.h"

#include "cutover/common/json_scan.h"
#include "cutover/common/json_writer.h"

namespace cutover {

std::optional<RowImage> RowImage::parse(std::string text) {
  RowImage row;
  row.text_ = std::move(text);
  const std::string_view whole = row.text_;
  const bool object = json_scan::for_each_member(whole, [&](std::string_view name, std::string_view value) {
    row.fields_.push_back({std::string(name), static_cast<std::size_t>(value.data() - whole.data()), value.size()});
    return true;
  });
  if (!object) return std::nullopt;
  return row;
}

RowImage RowImage::of(const nlohmann::json& object) {
  auto row = parse(object.dump());
  return row ? std::move(*row) : RowImage();
}

std::optional<std::string_view> RowImage::value(std::string_view column) const {
  for (const auto& field : fields_) {
    if (field.name == column) return std::string_view(text_).substr(field.begin, field.length);
  }
  return std::nullopt;
}

std::optional<std::string> RowImage::value_text(std::string_view column) const {
  auto found = value(column);
  if (!found) return std::nullopt;
  if (!found->empty() && found->front() == '"') return json_scan::string_value(*found);
  return std::string(*found);
}

nlohmann::json RowImage::to_json() const { return nlohmann::json::parse(text_, nullptr, false); }

RowImage RowImage::with(std::string_view column, std::string_view value) const {
  // Built field by field from values already checked: it cannot fail, so no value is lost to
  // a fallback.
  RowImage row;
  JsonWriter out(row.text_);
  out.begin_object();
  auto put = [&](std::string_view name, std::string_view json) {
    out.key(name);
    row.fields_.push_back({std::string(name), row.text_.size(), json.size()});
    out.raw(json);
  };
  bool replaced = false;
  for (const auto& field : fields_) {
    const bool is_column = field.name == column;
    put(field.name, is_column ? value : std::string_view(text_).substr(field.begin, field.length));
    replaced = replaced || is_column;
  }
  if (!replaced) put(column, value);
  out.end_object();
  return row;
}

}  // namespace cutover
