// ChangeEncoder: turns decoded pgoutput messages into change-log records for Kafka.
//
// Capture feeds it every message in stream order. Row changes become Debezium envelopes
// ({"before", "after", "source", "op", "ts_ms"}); Begin and Commit become transaction
// events ({"status": "BEGIN"|"END", ...}); Relation messages become schema events so that
// a consumer follows ALTER TABLE in order. Every record of a transaction carries its
// commit LSN and transaction id, and row records their position in the transaction, so the
// applier can skip what it has already applied. The format is documented in
// docs/change-events.md.
//
// Transactions written by cutover's own applier of the other direction (its replication
// origin, `echo_origin`) are left out: after a switch the reverse pipeline's slot on green
// exists from before the freeze, and the rows the forward applier wrote there must not come
// back to blue. pgoutput sends a transaction's Origin right after its Begin, so BEGIN is
// written once the next message shows which transaction this is. Such a transaction's
// Relation messages are kept (the applier follows the table's columns by them), in a
// transaction of no row events.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cutover/capture/pgoutput_decoder.h"
#include "cutover/capture/relation_cache.h"
#include "cutover/common/lsn.h"
#include "cutover/common/result.h"
#include "cutover/transport/change_record.h"

namespace cutover {

class ChangeEncoder {
 public:
  explicit ChangeEncoder(std::string database_name, std::string echo_origin = "")
      : database_name_(std::move(database_name)), echo_origin_(std::move(echo_origin)) {}

  // `message_lsn` is the XLogData start position of the message. Appends 0..n records.
  Status encode(const pgoutput::Message& message, Lsn message_lsn,
                std::vector<ChangeRecord>& records);

  bool in_transaction() const { return transaction_.has_value(); }
  // Transactions of `echo_origin` left out so far.
  std::uint64_t echoes_left_out() const { return echoes_left_out_; }

 private:
  struct Transaction {
    pgoutput::Begin begin;
    Lsn begin_lsn;
    std::uint64_t events = 0;
    std::string origin;
    bool begin_written = false;
    bool echo = false;
  };

  class Visitor;
  friend class Visitor;

  std::string database_name_;
  std::string echo_origin_;
  std::uint64_t echoes_left_out_ = 0;
  RelationCache relations_;
  std::optional<Transaction> transaction_;
  // The end of the last transaction this encoder wrote: each BEGIN after the first names it
  // (source.previous_end_lsn), so that a reader finds a transaction missing from the log even
  // where the offsets run on without a hole (a broker that lost its log and filled it again).
  std::optional<Lsn> last_end_written_;
};

}  // namespace cutover
