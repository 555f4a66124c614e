// TableComparison: the SQL that compares one green table with what blue holds for it,
// through the plan's transforms, one key range (chunk) at a time.
//
// Blue's side is the union of every transform that writes the table: the projection cast to
// green's column types, the row filter, and the chunk's key range. Green's side is the
// table's columns. A column whose conversion can lose data (TargetColumn::loss) is compared
// the other way round: green's value cast back to the value's type on blue, against blue's
// value itself, so that a value cut, rounded or changed on the way shows as a difference
// instead of being computed identically on both sides. Both render each row as ROW(...)::text under the same session settings
// (see session_pins) and sum a 64-bit hash of it per chunk, with its count and a second sum:
// equal rows give equal text whatever their physical order, so equal chunks give equal sums.
//
// Chunks are key ranges in green's order, so both sides must agree on that order: a key
// column the sides may order differently (TableTransform::key_ordered_differently) is ranged in
// byte order (COLLATE "C") on both, which no index serves, but a range is then the same set
// of keys on each side.
#pragma once

#include <string>
#include <vector>

#include "cutover/transform/table_transform.h"
#include "cutover/verify/verification_report.h"

namespace cutover {

// A chunk: key values from green's boundaries; no lower bound in the first chunk, no upper
// bound in the last.
struct KeyRange {
  std::vector<KeyValue> lower;  // empty: unbounded
  std::vector<KeyValue> upper;  // empty: unbounded
};

class TableComparison {
 public:
  // `transforms`: every transform that writes one target table.
  explicit TableComparison(std::vector<const TableTransform*> transforms);

  const QualifiedName& target() const { return transforms_.front()->target; }
  // Keyed tables are chunked by key range; a table without a key is one chunk, and its rows
  // are told apart by their whole content.
  bool keyless() const { return key_positions_.empty(); }
  const std::vector<std::string>& columns() const { return columns_; }
  // Positions in columns() of the key, in key order (every column for a keyless table).
  std::vector<std::size_t> identity_positions() const;
  // Whether blue can use an index for the chunk ranges (the key columns copied as they are).
  bool blue_range_uses_source_columns() const;
  // Whether a key column is ranged in byte order, which no index serves.
  bool ranged_in_byte_order() const;
  TableVerification describe() const;

  // Green: every `chunk_rows`-th key in key order, as text, key columns in order.
  std::string boundaries_sql(long chunk_rows) const;
  // Both sides: one row of count, sum and XOR of the rows' hashes, all as text.
  std::string blue_checksum_sql(const KeyRange& range) const;
  std::string green_checksum_sql(const KeyRange& range) const;
  // Both sides: the rows of the range, each column as text in columns() order.
  std::string blue_rows_sql(const KeyRange& range) const;
  std::string green_rows_sql(const KeyRange& range) const;

 private:
  const TargetColumn& column_of(const TableTransform& transform, const std::string& name) const;
  std::string typed_expression(const TableTransform& transform, const std::string& name) const;
  std::string blue_range(const TableTransform& transform, const KeyRange& range) const;
  std::string green_range(const KeyRange& range) const;
  // The union over every transform of `SELECT <row> FROM source WHERE filter AND range`.
  std::string blue_union(const KeyRange& range, bool hashed) const;
  std::string green_select(const KeyRange& range, bool hashed) const;

  std::vector<const TableTransform*> transforms_;
  std::vector<std::string> columns_;          // compared: mapped by every transform
  std::vector<std::string> column_types_;     // green's types of columns_
  std::vector<std::string> round_trip_types_; // per columns_: the value type green's is cast back to, or ""
  std::vector<std::string> not_compared_;
  std::vector<std::size_t> key_positions_;    // in columns_
  std::vector<bool> key_byte_ordered_;        // per key_positions_: ranged COLLATE "C"
};

// Groups the plan's transforms by target table, in plan order.
std::vector<TableComparison> comparisons_of(const std::vector<TableTransform>& transforms);

}  // namespace cutover
