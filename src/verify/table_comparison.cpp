#include "cutover/verify/table_comparison.h"

#include <algorithm>
#include <map>

namespace cutover {

namespace {

std::string literal(const std::string& text) {
  std::string quoted = "'";
  for (const char character : text) {
    quoted += character;
    if (character == '\'') quoted += '\'';
  }
  return quoted + "'";
}

// The source column a target column copies as it is; null for any other expression.
const SourceColumn* copied_source(const TableTransform& transform, const TargetColumn& column) {
  if (!column.plain_copy) return nullptr;
  const std::string& name = *column.reads.begin();
  for (const auto& source : transform.source_columns) {
    if (source.name == name) return &source;
  }
  return nullptr;
}

std::string typed_literal(const KeyValue& value, const std::string& type) {
  return (value ? literal(*value) : std::string("NULL")) + "::" + type;
}

bool integer_type(const std::string& type) {
  return type == "smallint" || type == "integer" || type == "bigint";
}

// Byte order for a key the sides may order differently, written after the value.
std::string ordered(const std::string& value, bool byte_ordered) {
  return byte_ordered ? "(" + value + ") COLLATE \"C\"" : value;
}

// `(a, b) >= (x, y) AND (a, b) < (z, w)`: a row comparison, which btree indexes serve.
std::string range_predicate(const std::vector<std::string>& columns, const std::vector<std::string>& types,
                            const std::vector<bool>& byte_ordered, const KeyRange& range) {
  auto tuple = [](const std::vector<std::string>& items) {
    std::string text;
    for (const auto& item : items) text += (text.empty() ? "" : ", ") + item;
    return items.size() == 1 ? text : "(" + text + ")";
  };
  auto literals = [&](const std::vector<KeyValue>& values) {
    std::vector<std::string> items;
    for (std::size_t i = 0; i < values.size(); ++i) {
      items.push_back(ordered(typed_literal(values[i], types[i]), byte_ordered[i]));
    }
    return tuple(items);
  };
  std::vector<std::string> keys;
  for (std::size_t i = 0; i < columns.size(); ++i) keys.push_back(ordered(columns[i], byte_ordered[i]));
  std::string predicate;
  if (!range.lower.empty()) predicate = tuple(keys) + " >= " + literals(range.lower);
  if (!range.upper.empty()) {
    predicate += (predicate.empty() ? "" : " AND ") + tuple(keys) + " < " + literals(range.upper);
  }
  return predicate.empty() ? "true" : predicate;
}

std::string hashed_row(const std::vector<std::string>& values) {
  std::string row;
  for (const auto& value : values) row += (row.empty() ? "" : ", ") + value;
  return "hashtextextended(ROW(" + row + ")::text, 0) AS h";
}

std::string texts(const std::vector<std::string>& values) {
  std::string list;
  for (const auto& value : values) list += (list.empty() ? "" : ", ") + ("(" + value + ")::text");
  return list;
}

}  // namespace

TableComparison::TableComparison(std::vector<const TableTransform*> transforms)
    : transforms_(std::move(transforms)) {
  const TableTransform& first = *transforms_.front();
  std::vector<std::string> every;
  for (const auto* transform : transforms_) {
    for (const auto& column : transform->columns) {
      if (std::find(every.begin(), every.end(), column.name) == every.end()) every.push_back(column.name);
    }
  }
  for (const auto& name : every) {
    const bool in_all = std::all_of(transforms_.begin(), transforms_.end(), [&](const TableTransform* t) {
      return std::any_of(t->columns.begin(), t->columns.end(),
                         [&](const TargetColumn& column) { return column.name == name; });
    });
    if (!in_all) {
      not_compared_.push_back(name);
      continue;
    }
    columns_.push_back(name);
    column_types_.push_back(column_of(first, name).sql_type);
    // Proven by the way back when a conversion can lose data and every source gives the
    // value the same type (validation refuses the rest).
    bool lossy = false;
    bool one_value_type = true;
    for (const auto* transform : transforms_) {
      const TargetColumn& column = column_of(*transform, name);
      lossy = lossy || !column.loss.empty();
      one_value_type = one_value_type && column.value_type == column_of(first, name).value_type;
    }
    round_trip_types_.push_back(lossy && one_value_type ? column_of(first, name).value_type : "");
  }
  for (const auto& key_column : first.key) {
    const auto found = std::find(columns_.begin(), columns_.end(), key_column);
    if (found != columns_.end()) key_positions_.push_back(static_cast<std::size_t>(found - columns_.begin()));
  }
  // A key column some transform does not map cannot be compared by: treat the table as keyless.
  if (key_positions_.size() != first.key.size()) key_positions_.clear();
  for (const auto position : key_positions_) {
    key_byte_ordered_.push_back(std::any_of(transforms_.begin(), transforms_.end(), [&](const TableTransform* t) {
      return t->key_ordered_differently(columns_[position]);
    }));
  }
}

const TargetColumn& TableComparison::column_of(const TableTransform& transform,
                                               const std::string& name) const {
  return *std::find_if(transform.columns.begin(), transform.columns.end(),
                       [&](const TargetColumn& column) { return column.name == name; });
}

std::string TableComparison::typed_expression(const TableTransform& transform,
                                              const std::string& name) const {
  const TargetColumn& column = column_of(transform, name);
  const auto position = static_cast<std::size_t>(std::find(columns_.begin(), columns_.end(), name) - columns_.begin());
  if (position < round_trip_types_.size() && !round_trip_types_[position].empty()) return column.value_expression();
  // A column copied into the same type needs no cast; skipping it spares blue work per row.
  if (const SourceColumn* source = copied_source(transform, column);
      source && source->sql_type == column.sql_type) {
    return quote_identifier(source->name);
  }
  return column.typed_expression();
}

std::vector<std::size_t> TableComparison::identity_positions() const {
  if (!keyless()) return key_positions_;
  std::vector<std::size_t> all(columns_.size());
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
  return all;
}

bool TableComparison::blue_range_uses_source_columns() const {
  return std::all_of(transforms_.begin(), transforms_.end(), [&](const TableTransform* transform) {
    return std::all_of(key_positions_.begin(), key_positions_.end(), [&](std::size_t position) {
      const TargetColumn& column = column_of(*transform, columns_[position]);
      const SourceColumn* source = copied_source(*transform, column);
      if (!source) return false;
      // The comparison with green's literal must order as green does: the same type, or
      // integers of another width.
      return source->sql_type == column.sql_type ||
             (integer_type(source->sql_type) && integer_type(column.sql_type));
    });
  });
}

bool TableComparison::ranged_in_byte_order() const {
  return std::find(key_byte_ordered_.begin(), key_byte_ordered_.end(), true) != key_byte_ordered_.end();
}

TableVerification TableComparison::describe() const {
  TableVerification table;
  table.target = target().text();
  for (const auto* transform : transforms_) table.sources.push_back(transform->source.text());
  for (const auto position : identity_positions()) table.key.push_back(columns_[position]);
  table.keyless = keyless();
  table.columns_not_compared = not_compared_;
  return table;
}

std::string TableComparison::boundaries_sql(long chunk_rows) const {
  std::string columns;
  std::string order;
  std::string select;
  for (std::size_t i = 0; i < key_positions_.size(); ++i) {
    const std::string column = quote_identifier(columns_[key_positions_[i]]);
    columns += (columns.empty() ? "" : ", ") + column;
    order += (order.empty() ? "" : ", ") + ordered(column, key_byte_ordered_[i]);
    select += (select.empty() ? "" : ", ") + column + "::text";
  }
  return "SELECT " + select + " FROM (SELECT " + columns + ", row_number() OVER (ORDER BY " + order +
         ") AS position FROM " + target().quoted() + ") numbered WHERE position % " +
         std::to_string(chunk_rows) + " = 1 AND position > 1 ORDER BY position";
}

std::string TableComparison::blue_range(const TableTransform& transform, const KeyRange& range) const {
  if (range.lower.empty() && range.upper.empty()) return "true";
  std::vector<std::string> columns;
  std::vector<std::string> types;
  const bool direct = blue_range_uses_source_columns();
  for (const auto position : key_positions_) {
    const TargetColumn& column = column_of(transform, columns_[position]);
    columns.push_back(direct ? quote_identifier(*column.reads.begin())
                             : typed_expression(transform, columns_[position]));
    types.push_back(column.sql_type);
  }
  return range_predicate(columns, types, key_byte_ordered_, range);
}

std::string TableComparison::green_range(const KeyRange& range) const {
  std::vector<std::string> columns;
  std::vector<std::string> types;
  for (const auto position : key_positions_) {
    columns.push_back(quote_identifier(columns_[position]));
    types.push_back(column_types_[position]);
  }
  return range_predicate(columns, types, key_byte_ordered_, range);
}

std::string TableComparison::blue_union(const KeyRange& range, bool hashed) const {
  std::string sql;
  for (const auto* transform : transforms_) {
    std::vector<std::string> values;
    for (const auto& name : columns_) values.push_back(typed_expression(*transform, name));
    if (!sql.empty()) sql += " UNION ALL ";
    sql += "SELECT " + (hashed ? hashed_row(values) : texts(values)) + " FROM " +
           transform->source.quoted() + " WHERE " + transform->filter() + " AND " +
           blue_range(*transform, range);
  }
  return sql;
}

std::string TableComparison::green_select(const KeyRange& range, bool hashed) const {
  std::vector<std::string> values;
  for (std::size_t i = 0; i < columns_.size(); ++i) {
    const std::string name = quote_identifier(columns_[i]);
    values.push_back(round_trip_types_[i].empty() ? name : "(" + name + ")::" + round_trip_types_[i]);
  }
  return "SELECT " + (hashed ? hashed_row(values) : texts(values)) + " FROM " +
         target().quoted() + " WHERE " + green_range(range);
}

namespace {
// OFFSET 0 keeps the planner from pulling the subquery up, which would compute each row's
// hash once per aggregate. The third figure, a sum of a product of the hash's halves, catches
// changes whose hashes cancel out in the plain sum; it is built from operators every supported
// major has (bit_xor, used before, came in PostgreSQL 14), and cannot overflow: |h >> 33| is
// below 2^30 and h & 2^31-1 below 2^31.
std::string checksum_over(const std::string& hashed_rows) {
  return "SELECT count(*)::text, coalesce(sum(h), 0)::text, "
         "coalesce(sum((h >> 33) * (h & 2147483647)), 0)::text FROM "
         "(SELECT h FROM (" + hashed_rows + ") rows_of_chunk OFFSET 0) hashed";
}
}  // namespace

std::string TableComparison::blue_checksum_sql(const KeyRange& range) const {
  return checksum_over(blue_union(range, true));
}

std::string TableComparison::green_checksum_sql(const KeyRange& range) const {
  return checksum_over(green_select(range, true));
}

std::string TableComparison::blue_rows_sql(const KeyRange& range) const {
  return blue_union(range, false);
}

std::string TableComparison::green_rows_sql(const KeyRange& range) const {
  return green_select(range, false);
}

std::vector<TableComparison> comparisons_of(const std::vector<TableTransform>& transforms) {
  std::vector<QualifiedName> order;
  std::map<std::string, std::vector<const TableTransform*>> by_target;
  for (const auto& transform : transforms) {
    auto& group = by_target[transform.target.text()];
    if (group.empty()) order.push_back(transform.target);
    group.push_back(&transform);
  }
  std::vector<TableComparison> comparisons;
  for (const auto& target : order) comparisons.emplace_back(by_target[target.text()]);
  return comparisons;
}

}  // namespace cutover
