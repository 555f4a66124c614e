// ChangeEncoder: turns decoded pgoutput messages into change-log records for Kafka.
//
// Capture feeds it every message in stream order. Row changes become Debezium envelopes
// ({"before", "after", "source", "op", "ts_ms"}); Begin and Commit become transaction
// events ({"status": "BEGIN"|"END", ...}); Relation messages become schema events so that
// a consumer follows ALTER TABLE in order. Every record of a transaction carries its
// commit LSN and transaction id, and row records their position in the transaction, so the
// applier can skip what it has already applied. The format is documented in
// docs/change-events.md.
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
  explicit ChangeEncoder(std::string database_name) : database_name_(std::move(database_name)) {}

  // `message_lsn` is the XLogData start position of the message. Appends 0..n records.
  Status encode(const pgoutput::Message& message, Lsn message_lsn,
                std::vector<ChangeRecord>& records);

  bool in_transaction() const { return transaction_.has_value(); }
  // Forgets a transaction cut off by a lost connection; the server sends it again whole.
  void reset_transaction() { transaction_.reset(); }

 private:
  struct Transaction {
    pgoutput::Begin begin;
    std::uint64_t events = 0;
    std::string origin;
  };

  class Visitor;
  friend class Visitor;

  std::string database_name_;
  RelationCache relations_;
  std::optional<Transaction> transaction_;
};

}  // namespace cutover
