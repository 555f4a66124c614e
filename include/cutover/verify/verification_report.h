// What a verification found: per target table, rows and chunks compared and every key that
// differs, with the columns that differ.
//
// The status answer carries a capped copy (the first `key_cap` differing keys); the file under
// state_dir carries all of them.
#pragma once

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cutover/common/lsn.h"

namespace cutover {

// A key column's value in green's text form; nullopt for NULL.
using KeyValue = std::optional<std::string>;

struct KeyDifference {
  enum class Kind { kMissingInGreen, kExtraInGreen, kDifferent };
  Kind kind = Kind::kDifferent;
  std::vector<KeyValue> key;         // in the order of the table's key columns
  std::vector<std::string> columns;  // kDifferent: the columns whose values differ
  std::uint64_t count = 1;           // tables without a key: identical rows, counted
};

struct TableVerification {
  std::string target;                 // "schema.table" in green
  std::vector<std::string> sources;   // blue tables feeding it
  std::vector<std::string> key;       // target key columns; all columns for a keyless table
  bool keyless = false;
  std::uint64_t rows_blue = 0;
  std::uint64_t rows_green = 0;
  std::size_t chunks = 0;
  std::size_t chunks_differing = 0;
  std::vector<std::string> columns_not_compared;  // merged targets: not mapped by every source
  std::vector<KeyDifference> differences;
};

struct VerificationReport {
  std::string id;
  std::string state = "running";  // running | clean | differences | failed
  std::string error;              // failed: why
  std::string started_at;         // ISO 8601, UTC
  std::int64_t duration_ms = 0;
  Lsn consistent_point;           // blue's snapshot and green's state are both at this point
  Lsn green_applied;              // the end of the last source transaction green held
  std::int64_t apply_paused_ms = 0;
  std::string report_file;        // the complete report, when written
  std::vector<TableVerification> tables;

  std::uint64_t difference_count() const;
  // The report as JSON, listing at most `key_cap` differing keys in all (-1: all of them).
  nlohmann::json to_json(long key_cap) const;
};

const char* difference_kind_name(KeyDifference::Kind kind);

}  // namespace cutover
