// TableTransform: one target table of the plan, resolved against blue's and green's catalogs,
// and the SQL that evaluates its column expressions.
//
// The snapshot runs the projection on blue inside COPY; the applier runs the same projection
// on green over source rows decoded from change events. Both therefore go through
// PostgreSQL's own evaluation of the same expressions, which is what makes the two paths
// agree (and what the verifier relies on).
#pragma once

#include <pqxx/pqxx>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "cutover/common/postgres_connection.h"
#include "cutover/common/result.h"
#include "cutover/plan/plan.h"
#include "cutover/transform/column_collation.h"

namespace cutover {

// A column of a table as its catalog describes it: blue's source columns, green's targets.
struct SourceColumn {
  std::string name;
  std::string sql_type;  // format_type() form
  // The same type without its modifier (`character varying`, `bpchar`, `numeric`), a domain's
  // base type: what the applier and the snapshot read source values as on the target, so that
  // a value blue's column now holds (widened on blue while streaming) is never cut to the
  // length it had when cutover started.
  std::string unconstrained_type;
  // The declared type, or a domain's base type with its modifier: what the value is once the
  // domain's checks are left behind, and what verification casts green's values back to.
  std::string base_type;
  // pg_attribute.atttypid (a domain's own OID), as pgoutput names the column's type; 0 unknown.
  std::uint32_t type_oid = 0;
};

struct TargetColumn {
  std::string name;
  std::string expression;  // SQL over the source row's columns
  std::string sql_type;    // green's type, format_type() form
  std::set<std::string> reads;  // identifiers the expression mentions
  bool plain_copy = false;      // the expression is one source column, as it is
  // The source column a copy or a plain cast of one column (`code`, `code::varchar(10)`)
  // carries; empty for any other expression.
  std::string carried_column;
  // The type the value has on the source before it becomes green's: the carried column's, or
  // the expression's. Empty until resolve_transforms has asked the source.
  std::string value_type;
  // What converting value_type to sql_type can lose (conversion_loss); empty when nothing.
  std::string loss;

  // The expression cast explicitly to green's type: `((expr)::type)`.
  std::string typed_expression() const { return "((" + expression + ")::" + sql_type + ")"; }
  // The value before conversion: the carried source column, or the expression.
  std::string value_expression() const {
    return carried_column.empty() ? "(" + expression + ")" : quote_identifier(carried_column);
  }
};

struct TableTransform {
  std::size_t plan_index = 0;  // its entry in the plan's tables list
  QualifiedName source;
  std::uint32_t source_oid = 0;              // the source table's OID on blue
  std::vector<SourceColumn> source_columns;  // blue's columns, in order
  QualifiedName target;
  std::vector<TargetColumn> columns;
  std::vector<std::string> key;         // target key columns; empty: inserts only
  std::vector<std::string> source_key;  // blue's primary key (or replica identity) columns
  // The collations of the target's collatable key columns, and of the source column each
  // carries (empty for a computed key), read once by resolve_transforms: validation checks
  // them (pipeline/server_compatibility), verification orders by them.
  struct KeyCollations {
    Collation source;
    Collation target;
  };
  std::map<std::string, KeyCollations> key_collations;
  std::string where;                    // empty: every row
  bool merged = false;                  // other sources feed the same target
  bool truncate_target_on_truncate = true;

  // `(expr) AS "column", ...` over a relation named like the source table: what the
  // snapshot and the applier insert, each value converted to green's column type by the
  // INSERT's assignment, which refuses a value that does not fit rather than cutting it.
  std::string projection() const;
  // The same, each expression cast explicitly to green's column type: for comparisons with
  // green's rows (keys, keyless matching), where the conversion is lossless.
  std::string typed_projection() const;
  // The source columns the expressions and the filter read: what the snapshot copies.
  std::vector<SourceColumn> columns_read() const;
  // The row filter as a boolean SQL expression.
  std::string filter() const { return where.empty() ? "true" : "(" + where + ")"; }
  // Whether the two sides may order key column `column` differently (collations that differ, or
  // a computed key of a collatable type): verification ranges it in byte order, the one
  // order both sides agree on.
  bool key_ordered_differently(const std::string& column) const;
  // Target columns whose expression reads any of `source_column_names`.
  std::set<std::string> columns_reading(const std::set<std::string>& source_column_names) const;
  // A row whose `unchanged` columns (unchanged TOAST values) are missing cannot be written
  // from the change event alone: a computed column reads one of them, or the row filter
  // may be letting the row in, so that green lacks it.
  bool needs_complete_row(const std::set<std::string>& unchanged) const;
};

// A target column of `expression`, with what it reads worked out once.
TargetColumn make_target_column(std::string name, std::string expression, std::string sql_type);

// Resolves every target of the plan. Reads catalogs only; creates nothing. Errors name the
// plan's table entry and what is missing.
// With `problems`, what does not resolve is listed there and the rest is returned.
Result<std::vector<TableTransform>> resolve_transforms(const Plan& plan, pqxx::connection& blue,
                                                       pqxx::connection& green,
                                                       std::vector<std::string>* problems = nullptr);

// Columns of the transform's target that are NOT NULL without a default and that the
// transform does not write: every insert there would fail. Throws what libpqxx throws.
std::vector<std::string> unwritten_required_columns(pqxx::connection& target_database,
                                                    const TableTransform& transform);

// The reverse plan against green (its source) and blue (its target): every table maps back,
// and no NOT NULL column of blue without a default is left unwritten, which would make every
// reverse insert fail after a switch. Returns the reverse transforms.
Result<std::vector<TableTransform>> check_reverse_mapping(const Plan& reverse, pqxx::connection& green,
                                                          pqxx::connection& blue);

// The targets (each named once) that already hold rows in green.
std::vector<QualifiedName> targets_holding_rows(pqxx::connection& green,
                                                const std::vector<TableTransform>& transforms);

// Identifiers an SQL expression mentions, lower-cased unless quoted; words inside string
// literals are skipped. Enough to know which source columns an expression depends on.
std::set<std::string> referenced_identifiers(const std::string& expression);

}  // namespace cutover
