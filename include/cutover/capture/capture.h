// Capture: blue's pgoutput stream into the Kafka change log, with the slot confirmed only
// as far as is safe.
//
// `cutover capture` (and later `cutover run`) builds one Capture and calls run() until a
// stop is requested. run() owns reconnection: a lost replication connection, a restarted
// blue or a failed Kafka delivery is retried with backoff from the slot's confirmed
// position, which is why a retry can repeat events but never lose one. CaptureSession is
// one connection's worth of streaming. Both see only interfaces (ReplicationStream,
// ChangeLogSink, AppliedPositionSource): tests/unit/capture_loop_test.cpp drives the loop
// with fakes of them.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>

#include "cutover/capture/change_encoder.h"
#include "cutover/capture/drain_markers.h"
#include "cutover/capture/replication_stream.h"
#include "cutover/capture/safe_position.h"
#include "cutover/common/result.h"
#include "cutover/debezium/event_encoder.h"
#include "cutover/plan/plan.h"
#include "cutover/transport/change_log_producer.h"
#include "cutover/transport/transactional_stream.h"

namespace cutover {

struct CaptureCounters {
  std::atomic<std::uint64_t> events{0};
  std::atomic<std::uint64_t> bytes{0};
  std::atomic<std::uint64_t> transactions{0};
  std::atomic<std::uint64_t> echoes_left_out{0};
  std::atomic<std::uint64_t> debezium_records{0};  // of the Debezium-form stream, tombstones too
  std::atomic<std::uint64_t> retries{0};  // sessions started again after a retryable failure
  std::atomic<std::uint64_t> produce_errors{0};  // records or transactions Kafka refused or failed
  std::atomic<std::uint64_t> confirmed_lsn{0};
  std::atomic<std::uint64_t> received_lsn{0};
};

struct CaptureSettings {
  std::string source_side = "blue";  // in messages: blue, or green in the reverse direction
  SlotAdvance slot_advance = SlotAdvance::kOnApply;
  std::chrono::milliseconds status_interval{1000};
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds maximum_backoff{5000};
  // Markers to put into the change log for a source that cannot send them; none when null.
  DrainMarkers* drain_markers = nullptr;
  // The other direction's applier origin, whose transactions are left out (change_encoder.h).
  std::string echo_origin;
  // The Debezium-form stream next to the change log (debezium/event_encoder.h), when
  // `debezium.enabled`; its catalog reads the source's tables.
  debezium::StreamSettings debezium;
  std::function<std::unique_ptr<debezium::TableCatalog>()> open_catalog;
  // With it, the Debezium-form records go exactly once through Kafka transactions
  // (transport/transactional_stream.h), one stream per session; without it they go with the
  // change log, at least once.
  std::function<Result<std::unique_ptr<TransactionalStream>>()> open_exactly_once;
  // Kafka transactions of the Debezium-form stream: how often one is committed between
  // source transactions, and how many records one source transaction puts in each.
  std::chrono::milliseconds exactly_once_commit_interval{100};
  std::uint64_t exactly_once_records_per_transaction = 20000;
};

// Why a committed position of the Debezium-form stream cannot guide a session reading
// `source`, or empty when it can: it was written from another system, timeline or database
// (an earlier move of the same plan name and topic prefix, a restored blue), or it lies
// beyond the source's WAL. Trusted, such a position would leave out changes Kafka never had.
std::string foreign_position(const StreamPosition& committed, const StreamSource& source);

class CaptureSession {
 public:
  CaptureSession(const CaptureSettings& settings, ReplicationStream& stream, ChangeLogSink& sink,
                 ChangeEncoder& encoder, debezium::EventEncoder* debezium_encoder,
                 PositionTracker& tracker, AppliedPositionSource* applied, Lsn confirmed,
                 CaptureCounters& counters, const std::atomic<bool>& stop,
                 TransactionalStream* exactly_once = nullptr);
  // Streams until stop (ok) or an error; retryable errors mean "reconnect".
  Status run();
  Lsn confirmed() const { return confirmed_; }

 private:
  Status handle_frame(const StreamFrame& frame);
  Status offer(const ChangeRecord& record, std::optional<Lsn> commit_end);
  Status offer_drain_markers(Lsn commit_lsn);
  // The Debezium-form records of one message, when they go exactly once: those Kafka already
  // holds are left out, and a big transaction is committed in pieces.
  Status offer_exactly_once(const std::vector<ChangeRecord>& records);
  // Commits what was offered since the last commit, when due (or `now`) and between source
  // transactions.
  Status commit_exactly_once(bool now);
  Status keep_up(bool force_status);
  Lsn safe_position();
  Lsn applied_position();

  const CaptureSettings& settings_;
  ReplicationStream& stream_;
  ChangeLogSink& sink_;
  ChangeEncoder& encoder_;
  debezium::EventEncoder* debezium_encoder_;  // null without the Debezium-form stream
  PositionTracker& tracker_;
  AppliedPositionSource* applied_;
  CaptureCounters& counters_;
  const std::atomic<bool>& stop_;

  Lsn confirmed_;
  Lsn received_;
  Lsn idle_position_;  // the last keepalive's position, reached with nothing outstanding
  std::uint32_t transaction_xid_ = 0;  // of the transaction being read
  Lsn applied_cache_;
  std::chrono::steady_clock::time_point last_status_{};
  std::chrono::steady_clock::time_point last_applied_read_{};
  std::vector<ChangeRecord> records_;
  std::vector<ChangeRecord> debezium_records_;

  // Exactly-once delivery of the Debezium-form records; null when they go with the change log.
  TransactionalStream* exactly_once_;
  // What Kafka holds of this source's stream: the committed position, when it is this
  // source's (else none), then each commit's.
  StreamPosition kafka_holds_;
  StreamPosition offered_position_;  // how far the records offered to exactly_once_ reach
  bool in_source_transaction_ = false;
  Lsn source_commit_lsn_;                // of the transaction being read (its Begin's final LSN)
  std::uint64_t source_records_ = 0;     // its Debezium-form records so far, left out ones too
  std::chrono::steady_clock::time_point last_exactly_once_commit_{};
};

class Capture {
 public:
  // Opens a replication connection and starts streaming from the slot's confirmed position.
  using StreamFactory = std::function<Result<std::unique_ptr<ReplicationStream>>()>;
  using SinkFactory = std::function<Result<std::unique_ptr<ChangeLogSink>>()>;

  // `shared_counters`, if given, receives the counts instead of the capture's own (a pipeline
  // keeps totals across capture restarts).
  Capture(CaptureSettings settings, StreamFactory open_stream, SinkFactory open_sink,
          std::unique_ptr<AppliedPositionSource> applied, Lsn slot_confirmed,
          const std::atomic<bool>& stop, CaptureCounters* shared_counters = nullptr);
  // Runs until stop is set (ok) or a non-retryable error.
  Status run();
  const CaptureCounters& counters() const { return counters_; }

 private:
  void report_progress(const std::atomic<bool>& finished);

  CaptureSettings settings_;
  StreamFactory open_stream_;
  SinkFactory open_sink_;
  std::unique_ptr<AppliedPositionSource> applied_;
  std::unique_ptr<debezium::TableCatalog> catalog_;
  Lsn confirmed_;
  const std::atomic<bool>& stop_;
  CaptureCounters own_counters_;
  CaptureCounters& counters_;
};

}  // namespace cutover
