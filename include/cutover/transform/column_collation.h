// A column's collation as what decides order and equality on its server: validation compares
// the two sides' key collations, and verification orders keys by bytes where they differ.
#pragma once

#include <pqxx/pqxx>

#include <string>

#include "cutover/common/postgres_connection.h"

namespace cutover {

// Provider and locale (the database's when the column uses the default), and whether equal
// means byte-equal. Empty when the column's type has no collation.
struct Collation {
  std::string description;  // "name (provider locale)"
  std::string order;        // what decides the order: "provider locale", or "bytes" for C and POSIX
  bool deterministic = true;
  // Two collations under other names that order and compare alike.
  bool same_order_as(const Collation& other) const {
    return order == other.order && deterministic == other.deterministic;
  }
};

// Reads `table`.`column`'s collation in `query`'s transaction. Throws what libpqxx throws.
Collation collation_of(pqxx::transaction_base& query, const QualifiedName& table, const std::string& column);

}  // namespace cutover
