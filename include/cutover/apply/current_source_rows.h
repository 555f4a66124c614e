// CurrentSourceRows: reads current rows from the source (blue; green in the reverse
// direction) by key, for the one case the change log cannot
// serve: an UPDATE that left a TOAST value unchanged (pgoutput does not send it) while a
// target column computed from it, or the row filter, needs the value. Rows come back in the
// change log's own form (every value as PostgreSQL text), so the applier treats them like any
// row event. Blue's current row may be newer than the event; the events after it in the log
// bring green to the same state.
#pragma once

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <memory>
#include <string>
#include <vector>

#include "cutover/common/result.h"
#include "cutover/transform/table_transform.h"

namespace cutover {

class RowSource {
 public:
  virtual ~RowSource() = default;
  // The rows of `source` whose key columns equal those of `keys` (JSON objects); rows that no
  // longer exist are absent from the answer.
  virtual Result<std::vector<nlohmann::json>> current_rows(
      const QualifiedName& source, const std::vector<SourceColumn>& columns,
      const std::vector<std::string>& key_columns, const std::vector<nlohmann::json>& keys) = 0;
};

class CurrentSourceRows final : public RowSource {
 public:
  explicit CurrentSourceRows(std::string blue_dsn) : blue_dsn_(std::move(blue_dsn)) {}
  ~CurrentSourceRows() override;
  Result<std::vector<nlohmann::json>> current_rows(
      const QualifiedName& source, const std::vector<SourceColumn>& columns,
      const std::vector<std::string>& key_columns, const std::vector<nlohmann::json>& keys) override;

 private:
  std::string blue_dsn_;
  std::unique_ptr<pqxx::connection> blue_;
};

}  // namespace cutover
