#include "cutover/apply/source_batch.h"

namespace cutover {

std::string SourceBatch::key_of(const RowImage& row) const {
  std::string key = "[";
  for (const auto& column : source_key_) {
    if (key.size() > 1) key += ',';
    const auto value = row.value(column);
    key += value ? *value : "null";
  }
  return key + "]";
}

void SourceBatch::replace_current(const std::string& key, RowImage row) {
  auto found = rows_.find(key);
  if (found == rows_.end()) return;
  found->second.after = std::move(row);
  found->second.unchanged_toast.clear();
}

void SourceBatch::clear() {
  rows_.clear();
  unkeyed_.clear();
  bytes_ = 0;
}

void SourceBatch::add(const ChangeEvent& event) {
  bytes_ += event.bytes;
  if (source_key_.empty()) {
    unkeyed_.push_back(event);
    return;
  }
  if (event.op == 'd') {
    PendingRow& pending = rows_[key_of(*event.before)];
    if (!pending.first_before) pending.first_before = event.before;
    pending.after.reset();
    pending.unchanged_toast.clear();
    return;
  }
  const std::string new_key = key_of(*event.after);
  if (event.op == 'u' && event.before) {
    const std::string old_key = key_of(*event.before);
    if (old_key != new_key) {
      // The key changed: the old key's row is gone.
      PendingRow& old_row = rows_[old_key];
      if (!old_row.first_before) old_row.first_before = event.before;
      old_row.after.reset();
      old_row.unchanged_toast.clear();
    }
  }
  PendingRow& pending = rows_[new_key];
  if (event.op == 'u' && event.before && !pending.first_before) {
    pending.first_before = event.before;
  }
  RowImage row = *event.after;
  std::set<std::string> unchanged(event.unchanged_toast.begin(), event.unchanged_toast.end());
  if (pending.after) {
    // An earlier change in this batch may hold the value this one left unchanged.
    for (auto name = unchanged.begin(); name != unchanged.end();) {
      const auto earlier = pending.after->value(*name);
      if (earlier && !pending.unchanged_toast.count(*name)) {
        row = row.with(*name, *earlier);
        name = unchanged.erase(name);
      } else {
        ++name;
      }
    }
  }
  pending.after = std::move(row);
  pending.unchanged_toast = std::move(unchanged);
}

}  // namespace cutover
