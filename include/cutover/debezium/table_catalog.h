// What the Debezium-form stream needs of a source table that pgoutput does not send: which
// columns are NOT NULL and their defaults (Debezium's schemas carry both), enum labels,
// array element and domain base types, and the primary key (Debezium's key struct, which
// pgoutput's replica identity is not when the identity is FULL).
//
// The encoder (debezium/event_encoder.h) asks once per Relation message, so a table described
// again after an ALTER TABLE is read again. PostgresTableCatalog reads blue's catalog;
// tests hand the encoder a fake.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cutover/common/postgres_connection.h"
#include "cutover/common/result.h"
#include "cutover/debezium/column_codec.h"

namespace cutover::debezium {

struct CatalogColumn {
  std::string name;
  ColumnType type;
  bool not_null = false;
  std::string default_expression;  // pg_get_expr of the default; empty when none
};

struct CatalogTable {
  std::vector<CatalogColumn> columns;  // in attribute order, dropped ones left out
  std::vector<std::string> primary_key;  // in the key's order; empty when the table has none
};

class TableCatalog {
 public:
  virtual ~TableCatalog() = default;
  // The table whose OID pgoutput names. Retryable when the source cannot be reached.
  virtual Result<CatalogTable> describe(std::uint32_t relation_oid) = 0;
  // A type by OID and modifier, resolved (domain to base, array to element, enum labels).
  virtual Result<ColumnType> resolve_type(std::uint32_t type_oid, std::int32_t modifier) = 0;
};

class PostgresTableCatalog final : public TableCatalog {
 public:
  // `role` names the source in messages ("blue", or "green" for the reverse direction).
  PostgresTableCatalog(std::string dsn, std::string role);
  ~PostgresTableCatalog() override;
  Result<CatalogTable> describe(std::uint32_t relation_oid) override;
  Result<ColumnType> resolve_type(std::uint32_t type_oid, std::int32_t modifier) override;

 private:
  Status connect();
  Result<ColumnType> resolve(pqxx::transaction_base& query, std::uint32_t type_oid, std::int32_t modifier, int depth);

  std::string dsn_;
  std::string role_;
  std::unique_ptr<pqxx::connection> connection_;
};

}  // namespace cutover::debezium
