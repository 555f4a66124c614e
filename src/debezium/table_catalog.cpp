#include "cutover/debezium/table_catalog.h"

#include "cutover/common/database_errors.h"

namespace cutover::debezium {

namespace {
// Domains over domains over arrays: deeper than this is a cycle, not a schema.
constexpr int kDeepestType = 8;
}  // namespace

PostgresTableCatalog::PostgresTableCatalog(std::string dsn, std::string role)
    : dsn_(std::move(dsn)), role_(std::move(role)) {}

PostgresTableCatalog::~PostgresTableCatalog() = default;

Status PostgresTableCatalog::connect() {
  if (connection_ && connection_->is_open()) return Status::ok();
  auto opened = open_postgres(dsn_, role_);
  if (!opened) return opened.status();
  connection_ = std::move(opened.value());
  return Status::ok();
}

Result<ColumnType> PostgresTableCatalog::resolve(pqxx::transaction_base& query, std::uint32_t type_oid,
                                                 std::int32_t modifier, int depth) {
  if (depth > kDeepestType) return Status::error(role_ + ": type " + std::to_string(type_oid) + " nests too deep");
  const auto rows = query.exec_params(
      "SELECT t.typtype::text, t.typbasetype::int8, t.typtypmod, t.typelem::int8, t.typcategory::text, "
      "CASE WHEN n.nspname = 'pg_catalog' THEN t.typname::text ELSE n.nspname || '.' || t.typname END, "
      "(SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid) "
      "FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.oid = $1::int8::oid",
      static_cast<std::int64_t>(type_oid));
  if (rows.empty()) return Status::error(role_ + ": no type with OID " + std::to_string(type_oid));
  const auto& row = rows[0];
  const std::string kind = row[0].c_str();
  if (kind == "d") {
    const auto base_modifier = row[2].as<std::int32_t>();
    return resolve(query, static_cast<std::uint32_t>(row[1].as<std::int64_t>()),
                   base_modifier >= 0 ? base_modifier : modifier, depth + 1);
  }
  ColumnType type;
  type.oid = type_oid;
  type.modifier = modifier;
  type.name = row[5].c_str();
  if (std::string(row[4].c_str()) == "A" && row[3].as<std::int64_t>() != 0) {
    auto element = resolve(query, static_cast<std::uint32_t>(row[3].as<std::int64_t>()), modifier, depth + 1);
    if (!element) return element.status();
    type.element.push_back(std::move(element.value()));
  }
  if (kind == "e" && !row[6].is_null()) {
    auto labels = row[6].as_array();
    for (auto item = labels.get_next(); item.first != pqxx::array_parser::juncture::done; item = labels.get_next()) {
      if (item.first == pqxx::array_parser::juncture::string_value) type.enum_labels.push_back(item.second);
    }
  }
  return type;
}

Result<ColumnType> PostgresTableCatalog::resolve_type(std::uint32_t type_oid, std::int32_t modifier) {
  if (auto connected = connect(); !connected) return connected;
  try {
    pqxx::read_transaction query(*connection_);
    return resolve(query, type_oid, modifier, 0);
  } catch (const std::exception& error) {
    connection_.reset();
    return status_of(error, role_ + ": reading type " + std::to_string(type_oid) + " for the Debezium stream");
  }
}

Result<CatalogTable> PostgresTableCatalog::describe(std::uint32_t relation_oid) {
  if (auto connected = connect(); !connected) return connected;
  try {
    pqxx::read_transaction query(*connection_);
    const auto oid = static_cast<std::int64_t>(relation_oid);
    CatalogTable table;
    const auto columns = query.exec_params(
        "SELECT a.attname::text, a.attnotnull, pg_get_expr(d.adbin, d.adrelid), a.atttypid::int8, a.atttypmod "
        "FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
        "WHERE a.attrelid = $1::int8::oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        oid);
    for (const auto& row : columns) {
      CatalogColumn column;
      column.name = row[0].c_str();
      column.not_null = row[1].as<bool>();
      if (!row[2].is_null()) column.default_expression = row[2].c_str();
      auto type = resolve(query, static_cast<std::uint32_t>(row[3].as<std::int64_t>()), row[4].as<std::int32_t>(), 0);
      if (!type) return type.status();
      column.type = std::move(type.value());
      table.columns.push_back(std::move(column));
    }
    const auto key = query.exec_params(
        "SELECT a.attname::text FROM pg_index i, unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, position) "
        "JOIN pg_attribute a ON a.attnum = k.attnum WHERE i.indrelid = $1::int8::oid AND i.indisprimary "
        "AND a.attrelid = i.indrelid ORDER BY k.position",
        oid);
    for (const auto& row : key) table.primary_key.emplace_back(row[0].c_str());
    return table;
  } catch (const std::exception& error) {
    connection_.reset();
    return status_of(error, role_ + ": describing table " + std::to_string(relation_oid) + " for the Debezium stream");
  }
}

}  // namespace cutover::debezium
