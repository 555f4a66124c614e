#include "cutover/apply/current_source_rows.h"

#include "cutover/common/database_errors.h"

namespace cutover {

using nlohmann::json;

CurrentSourceRows::~CurrentSourceRows() = default;

Result<std::vector<json>> CurrentSourceRows::current_rows(const QualifiedName& source,
                                                      const std::vector<SourceColumn>& columns,
                                                      const std::vector<std::string>& key_columns,
                                                      const std::vector<json>& keys) {
  if (!blue_ || !blue_->is_open()) {
    auto opened = open_postgres(blue_dsn_, "blue");
    if (!opened) return opened.status();
    blue_ = std::move(opened.value());
  }
  std::string as_text;
  for (const auto& column : columns) {
    const std::string name = quote_identifier(column.name);
    as_text += (as_text.empty() ? "" : ", ") + std::string("s.") + name + "::text AS " + name;
  }
  std::string key_list;
  std::string key_types;
  std::string key_casts;
  for (const auto& key : key_columns) {
    const std::string name = quote_identifier(key);
    std::string type = "text";
    for (const auto& column : columns) {
      if (column.name == key) type = column.sql_type;
    }
    key_list += (key_list.empty() ? "" : ", ") + std::string("s.") + name;
    key_types += (key_types.empty() ? "" : ", ") + name + " text";
    key_casts += (key_casts.empty() ? "" : ", ") + std::string("(k.") + name + ")::" + type;
  }
  const std::string sql = "SELECT row_to_json(r)::text FROM (SELECT " + as_text + " FROM " +
                          source.quoted() + " AS s WHERE (" + key_list + ") IN (SELECT " +
                          key_casts + " FROM jsonb_to_recordset($1::jsonb) AS k(" + key_types +
                          "))) AS r";
  try {
    pqxx::nontransaction query(*blue_);
    std::vector<json> rows;
    for (const auto& row : query.exec_params(sql, json(keys).dump())) {
      rows.push_back(json::parse(row[0].c_str()));
    }
    return rows;
  } catch (const std::exception& error) {
    const Status failed = status_of(error, "blue: reading current rows of " + source.text());
    if (failed.kind() == ErrorKind::kConnectionLost) blue_.reset();
    return failed;
  }
}

}  // namespace cutover
