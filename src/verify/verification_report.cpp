#include "cutover/verify/verification_report.h"

namespace cutover {

const char* difference_kind_name(KeyDifference::Kind kind) {
  switch (kind) {
    case KeyDifference::Kind::kMissingInGreen:
      return "missing_in_green";
    case KeyDifference::Kind::kExtraInGreen:
      return "extra_in_green";
    case KeyDifference::Kind::kDifferent:
      return "different";
  }
  return "unknown";
}

std::uint64_t VerificationReport::difference_count() const {
  std::uint64_t count = 0;
  for (const auto& table : tables) count += table.differences.size();
  return count;
}

nlohmann::json VerificationReport::to_json(long key_cap) const {
  nlohmann::json tables_json = nlohmann::json::array();
  long listed = 0;
  bool truncated = false;
  for (const auto& table : tables) {
    nlohmann::json missing = nlohmann::json::array();
    nlohmann::json extra = nlohmann::json::array();
    nlohmann::json different = nlohmann::json::array();
    for (const auto& difference : table.differences) {
      if (key_cap >= 0 && listed >= key_cap) {
        truncated = true;
        break;
      }
      ++listed;
      nlohmann::json key = nlohmann::json::object();
      for (std::size_t i = 0; i < table.key.size() && i < difference.key.size(); ++i) {
        key[table.key[i]] = difference.key[i] ? nlohmann::json(*difference.key[i]) : nlohmann::json();
      }
      nlohmann::json entry = {{"key", key}};
      if (table.keyless) entry["count"] = difference.count;
      switch (difference.kind) {
        case KeyDifference::Kind::kMissingInGreen:
          missing.push_back(std::move(entry));
          break;
        case KeyDifference::Kind::kExtraInGreen:
          extra.push_back(std::move(entry));
          break;
        case KeyDifference::Kind::kDifferent:
          entry["columns"] = difference.columns;
          different.push_back(std::move(entry));
          break;
      }
    }
    tables_json.push_back({{"table", table.target},
                           {"sources", table.sources},
                           {"key", table.keyless ? nlohmann::json() : nlohmann::json(table.key)},
                           {"rows_blue", table.rows_blue},
                           {"rows_green", table.rows_green},
                           {"chunks", table.chunks},
                           {"chunks_differing", table.chunks_differing},
                           {"columns_not_compared", table.columns_not_compared},
                           {"differences", table.differences.size()},
                           {"missing_in_green", std::move(missing)},
                           {"extra_in_green", std::move(extra)},
                           {"different", std::move(different)}});
  }
  nlohmann::json report = {{"id", id},
                           {"state", state},
                           {"started_at", started_at},
                           {"duration_ms", duration_ms},
                           {"consistent_lsn", consistent_point.to_string()},
                           {"green_applied_lsn", green_applied.to_string()},
                           {"apply_paused_ms", apply_paused_ms},
                           {"differences", difference_count()},
                           {"keys_truncated", truncated},
                           {"tables", std::move(tables_json)}};
  if (!error.empty()) report["error"] = error;
  if (!report_file.empty()) report["report_file"] = report_file;
  return report;
}

}  // namespace cutover
