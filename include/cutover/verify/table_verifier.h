// TableVerifier: compares one target table between blue and green, chunk by chunk, with
// sessions already inside the verification's consistent snapshots.
//
// Each worker owns a blue and a green session and sends a chunk's checksum query to both at
// once, so the two servers scan in parallel. A chunk whose count, sum or XOR differs is read
// row by row on both sides and compared by key. Keys found missing in one chunk and extra in
// another (blue and green ordering a text key differently) are matched up at the end, so a
// row is reported only when it truly differs.
#pragma once

#include <atomic>
#include <vector>

#include "cutover/common/libpq_session.h"
#include "cutover/verify/table_comparison.h"
#include "cutover/verify/verification_progress.h"
#include "cutover/verify/verification_report.h"

namespace cutover {

// A blue and a green session of one worker.
struct SessionPair {
  PgConnection blue;
  PgConnection green;
};

class TableVerifier {
 public:
  // `planner`: a green session in the same snapshot, for the chunk boundaries.
  TableVerifier(long chunk_rows, std::vector<SessionPair>& workers, PGconn* planner,
                VerificationProgress& progress, const std::atomic<bool>& stop);

  // `progress_index`: the table's place in the verification's progress.
  Result<TableVerification> verify(const TableComparison& table, std::size_t progress_index);

 private:
  long chunk_rows_;
  std::vector<SessionPair>& workers_;
  PGconn* planner_;
  VerificationProgress& progress_;
  const std::atomic<bool>& stop_;
};

}  // namespace cutover
