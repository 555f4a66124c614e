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
  std::string text;
  JsonWriter out(text);
  out.begin_object();
  bool replaced = false;
  for (const auto& field : fields_) {
    out.key(field.name);
    if (field.name == column) {
      out.raw(value);
      replaced = true;
    } else {
      out.raw(std::string_view(text_).substr(field.begin, field.length));
    }
  }
  if (!replaced) out.key(column).raw(value);
  out.end_object();
  auto row = parse(std::move(text));
  return row ? std::move(*row) : *this;
}

}  // namespace cutover
