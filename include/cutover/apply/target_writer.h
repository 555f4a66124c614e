// TargetWriter: the applier's session on the target (green; blue in the reverse direction,
// where the same code runs with the reverse plan). It turns SourceBatches into set-based
// statements through each target's transform, and commits them together with the applied
// source position, so that data and position are durable together or not at all.
//
// Every statement binds one JSON array of source rows ($1, and $2 where two sets meet) and
// decodes it with jsonb_to_recordset into the source table's own column types, then
// evaluates the plan's expressions: the same expressions the snapshot evaluates on blue.
#pragma once

#include <pqxx/pqxx>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cutover/apply/source_batch.h"
#include "cutover/common/lsn.h"
#include "cutover/common/result.h"
#include "cutover/transform/table_transform.h"

namespace cutover {

// Whose snapshot a position row records: the source database it copies and the plan's table
// pairs. Written when a snapshot starts; a later run resumes only a row that matches it.
struct PositionOwner {
  std::string source_system;    // the source cluster's system identifier
  std::string source_database;  // the source database's name
  std::string tables;           // "source>target" for each of the plan's tables, in plan order
  // "oid>target" for each of the plan's tables, in plan order ("missing>target" for a source
  // table that is gone): a source table renamed since keeps its OID, one dropped and created
  // again does not. Stored as a JSON array; empty in rows written before these were recorded.
  std::vector<std::string> relations;
};

// Where the applier stands: the end of the last source transaction applied, and the
// change-log offset just after it.
struct AppliedPosition {
  Lsn source_lsn;
  std::int64_t next_offset = -1;  // -1: unknown, read the log from its beginning
  bool snapshot_complete = false;
  bool recorded = false;  // green has a position row: a snapshot was at least started
  std::optional<PositionOwner> owner;  // absent in rows written before owners were recorded
};

// The position table and the plan's origin live in green; these read and write them.
// The position table's format, kept in its comment ("cutover state format 2"). 2 has the
// owner's columns (source_system, source_database, tables, relations); a table without the
// comment was made before the format was numbered (1, with or without those columns) and is
// brought to 2 by ensure_position_table. A newer format is refused by read_applied_position.
inline constexpr int kPositionFormat = 2;
std::string position_format_comment(int format);
int position_format_of(const std::string& comment);  // 1 for none, or one not cutover's

Status ensure_position_table(pqxx::connection& green);
// Records that a snapshot copy into green has begun (and is not complete), and whose it is.
Status record_snapshot_started(pqxx::connection& green, const Plan& plan, const PositionOwner& owner);
// Records the owner again, when a run goes on under new names for the same source tables.
Status record_position_owner(pqxx::connection& green, const Plan& plan, const PositionOwner& owner);
// Removes the plan's position row and origin, and the cutover schema if nothing else is left
// in it: what a first snapshot that failed leaves on green.
Status forget_plan(pqxx::connection& green, const Plan& plan);
// The names of the other plans recorded in green's position table.
Result<std::vector<std::string>> recorded_plans(pqxx::connection& green);
// Records that the snapshot is complete and streaming starts at `consistent_point`.
Status record_snapshot_complete(pqxx::connection& green, const Plan& plan, Lsn consistent_point);
Result<AppliedPosition> read_applied_position(pqxx::connection& green, const Plan& plan);

// What the applier writes through: a seam, so that its transaction boundaries can be driven
// against a fake target (tests/unit/applier_test.cpp).
class ChangeWriter {
 public:
  virtual ~ChangeWriter() = default;
  // Runs the batch's net changes on `target` inside the open target transaction. The batch is
  // shared: a writer may still hold it after returning (pipelined_writer.h).
  virtual Status write(const TableTransform& target, const std::vector<SourceColumn>& source_columns,
                       std::shared_ptr<const SourceBatch> batch) = 0;
  virtual Status truncate(const TableTransform& target) = 0;
  // Commits everything written since the last commit, with the position.
  virtual Status commit(Lsn source_end, std::int64_t commit_ts_ms, std::int64_t next_offset) = 0;
  virtual void rollback() = 0;
};

class TargetWriter final : public ChangeWriter {
 public:
  TargetWriter(std::unique_ptr<pqxx::connection> green, const Plan& plan);
  ~TargetWriter() override;

  // Prepares the session: replica role (no triggers, no FK checks, as for any replica) and
  // the replication origin that marks these changes as cutover's.
  Status open_session();

  Status write(const TableTransform& target, const std::vector<SourceColumn>& source_columns,
               std::shared_ptr<const SourceBatch> batch) override;
  Status truncate(const TableTransform& target) override;
  Status commit(Lsn source_end, std::int64_t commit_ts_ms, std::int64_t next_offset) override;
  void rollback() override;

 private:
  pqxx::work& transaction();
  Status write_keyed(const TableTransform& target, const std::vector<SourceColumn>& source_columns,
                     const SourceBatch& batch);
  Status write_unkeyed(const TableTransform& target, const std::vector<SourceColumn>& source_columns,
                       const SourceBatch& batch);

  std::unique_ptr<pqxx::connection> green_;
  std::string plan_name_;
  std::string origin_;
  std::unique_ptr<pqxx::work> transaction_;
};

}  // namespace cutover
