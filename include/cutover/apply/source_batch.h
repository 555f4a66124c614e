// SourceBatch: the net effect of a run of change events on one source table.
//
// The applier collects row events here between flushes and keeps, per source key, only what
// green needs: the row as green last saw it (`first_before`) and the row as it is now
// (`after`, absent when deleted). Ten updates to one row become one upsert; a key change
// becomes a delete of the old key and an upsert of the new. Memory is bounded because the
// applier flushes when the batch holds enough rows or bytes.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cutover/apply/change_event.h"

namespace cutover {

struct PendingRow {
  std::optional<RowImage> first_before;  // before image of the first change, if sent
  std::optional<RowImage> after;         // nullopt: the row is gone
  std::set<std::string> unchanged_toast;       // columns of `after` that green keeps
};

class SourceBatch {
 public:
  // `source_key`: the source table's key columns; empty for a table without a key, whose
  // events are kept in order instead of by key.
  explicit SourceBatch(std::vector<std::string> source_key) : source_key_(std::move(source_key)) {}

  void add(const ChangeEvent& event);
  bool empty() const { return rows_.empty() && unkeyed_.empty(); }
  const std::vector<std::string>& source_key() const { return source_key_; }
  std::size_t size() const { return rows_.size() + unkeyed_.size(); }
  std::size_t bytes() const { return bytes_; }
  void clear();

  const std::map<std::string, PendingRow>& rows() const { return rows_; }
  // Replaces the current row under `key` (a key of rows()) with a complete one.
  void replace_current(const std::string& key, RowImage row);
  // Events of a table without a key, in order.
  const std::vector<ChangeEvent>& unkeyed() const { return unkeyed_; }

 private:
  // The key columns' values as JSON text, "[1,\"a\"]": capture writes a value the same way
  // each time, so equal keys have equal text.
  std::string key_of(const RowImage& row) const;

  std::vector<std::string> source_key_;
  std::map<std::string, PendingRow> rows_;
  std::vector<ChangeEvent> unkeyed_;
  std::size_t bytes_ = 0;
};

}  // namespace cutover
