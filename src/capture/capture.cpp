#include "cutover/capture/capture.h"

#include <thread>
#include <type_traits>

#include "cutover/common/backoff.h"
#include "cutover/common/crash_point.h"
#include "cutover/common/logging.h"

namespace cutover {

namespace {
using Clock = std::chrono::steady_clock;
constexpr auto kAppliedReadInterval = std::chrono::milliseconds(500);
constexpr auto kProgressInterval = std::chrono::seconds(10);
// A session that streamed this long was healthy: its failure starts the backoff over.
constexpr auto kHealthySession = std::chrono::seconds(30);
}  // namespace

CaptureSession::CaptureSession(const CaptureSettings& settings, ReplicationStream& stream,
                               ChangeLogSink& sink, ChangeEncoder& encoder,
                               debezium::EventEncoder* debezium_encoder, PositionTracker& tracker,
                               AppliedPositionSource* applied, Lsn confirmed,
                               CaptureCounters& counters, const std::atomic<bool>& stop,
                               TransactionalStream* exactly_once)
    : settings_(settings),
      stream_(stream),
      sink_(sink),
      encoder_(encoder),
      debezium_encoder_(debezium_encoder),
      tracker_(tracker),
      applied_(applied),
      counters_(counters),
      stop_(stop),
      confirmed_(confirmed),
      received_(confirmed),
      exactly_once_(exactly_once) {
  if (exactly_once_) {
    const StreamSource source = stream_.source();
    kafka_holds_ = exactly_once_->committed();
    if (const std::string foreign = foreign_position(kafka_holds_, source); !foreign.empty()) {
      // Set aside, what it claims is published again from blue's slot: duplicates at worst.
      spdlog::warn("debezium stream position set aside: {}; the stream goes on from blue's slot source={} "
                   "committed_lsn={}", foreign, source.id(), kafka_holds_.commit_lsn.to_string());
      kafka_holds_ = StreamPosition{};
    }
    kafka_holds_.source = source.id();
    offered_position_ = kafka_holds_;
  }
}

std::string foreign_position(const StreamPosition& committed, const StreamSource& source) {
  if (committed == StreamPosition{}) return "";  // nothing committed yet
  if (committed.source != source.id()) {
    return "it was written from another source (" +
           (committed.source.empty() ? std::string("none named") : committed.source) + ", this one is " +
           source.id() + ")";
  }
  const Lsn reach = std::max(committed.end_lsn, committed.partial_commit_lsn);
  if (reach > source.wal_end) {
    return "it reaches " + reach.to_string() + ", past the source's WAL at " + source.wal_end.to_string();
  }
  return "";
}

Status CaptureSession::run() {
  while (!stop_.load()) {
    auto frame = stream_.next(std::chrono::milliseconds(100));
    if (!frame) return frame.status();
    if (frame->has_value()) {
      if (auto status = handle_frame(**frame); !status) return status;
    }
    if (auto status = keep_up(frame->has_value() && (*frame)->reply_requested); !status) {
      return status;
    }
  }
  // Stopping: give Kafka a moment to acknowledge what it has, then confirm that much.
  if (exactly_once_ && !in_source_transaction_) {
    if (auto committed = commit_exactly_once(true); !committed) {
      spdlog::warn("the last Debezium-form records were not committed to Kafka; blue sends them again on the "
                   "next start reason=\"{}\"", committed.message());
    }
  }
  if (auto flushed = sink_.flush(std::chrono::seconds(10)); !flushed) {
    spdlog::warn("not every change reached Kafka before stopping; blue sends them again on the "
                 "next start reason=\"{}\"", flushed.message());
  }
  return keep_up(true);
}

Status CaptureSession::handle_frame(const StreamFrame& frame) {
  received_ = std::max(received_, frame.wal_end);
  counters_.received_lsn = received_.value();
  if (frame.kind == StreamFrame::Kind::kKeepalive) {
    // A keepalive after everything sent so far: nothing of ours lies below its position.
    if (!encoder_.in_transaction()) idle_position_ = std::max(idle_position_, frame.wal_end);
    return Status::ok();
  }
  auto message = pgoutput::decode(frame.payload);
  if (!message) return message.status();
  if (const auto* begin = std::get_if<pgoutput::Begin>(&*message)) {
    transaction_xid_ = begin->xid;
    in_source_transaction_ = true;
    source_commit_lsn_ = begin->final_lsn;
    source_records_ = 0;
  }
  const auto* commit = std::get_if<pgoutput::Commit>(&*message);
  if (commit) {
    if (auto status = offer_drain_markers(commit->commit_lsn); !status) return status;
  }
  records_.clear();
  const std::uint64_t echoes_before = encoder_.echoes_left_out();
  if (auto status = encoder_.encode(*message, frame.start_lsn, records_); !status) return status;
  counters_.echoes_left_out += encoder_.echoes_left_out() - echoes_before;
  if (debezium_encoder_) {
    // Offered before the change log's records, so that a transaction's END is its last
    // record: blue's slot moves past the transaction only once all of them are in Kafka.
    debezium_records_.clear();
    if (auto status = debezium_encoder_->encode(*message, frame.start_lsn, debezium_records_); !status) {
      return status;
    }
    if (exactly_once_) {
      if (auto status = offer_exactly_once(debezium_records_); !status) return status;
    } else {
      for (const auto& record : debezium_records_) {
        if (auto status = offer(record, std::nullopt); !status) return status;
        counters_.debezium_records++;
      }
    }
  }
  for (std::size_t index = 0; index < records_.size(); ++index) {
    const bool last = index + 1 == records_.size();
    std::optional<Lsn> commit_end;
    if (commit && last) commit_end = commit->end_lsn;
    if (auto status = offer(records_[index], commit_end); !status) return status;
  }
  if (commit) {
    counters_.transactions++;
    in_source_transaction_ = false;
    // Records of a transaction Kafka held already were left out: the position does not go back.
    if (commit->commit_lsn > offered_position_.commit_lsn) {
      offered_position_ = StreamPosition{commit->commit_lsn, commit->end_lsn, Lsn(), 0, kafka_holds_.source};
    }
  }
  return Status::ok();
}

Status CaptureSession::offer_exactly_once(const std::vector<ChangeRecord>& records) {
  const StreamPosition& committed = kafka_holds_;
  for (const auto& record : records) {
    ++source_records_;
    const bool held = source_commit_lsn_ <= committed.commit_lsn ||
                      (source_commit_lsn_ == committed.partial_commit_lsn && source_records_ <= committed.partial_records);
    if (held) continue;
    while (true) {
      auto offered = exactly_once_->offer(record);
      if (!offered) return offered.status();
      if (*offered == ChangeLogSink::Offer::kQueued) break;
      exactly_once_->serve(std::chrono::milliseconds(20));
      if (auto status = keep_up(false); !status) return status;
      if (stop_.load()) return Status::retryable("stopping in the middle of a transaction");
    }
    counters_.debezium_records++;
    if (exactly_once_->uncommitted() >= settings_.exactly_once_records_per_transaction) {
      // A transaction too big for one Kafka transaction: its first records are committed,
      // and the position says how many.
      StreamPosition partial = offered_position_;
      partial.partial_commit_lsn = source_commit_lsn_;
      partial.partial_records = source_records_;
      if (auto status = exactly_once_->commit(partial); !status) return status;
      kafka_holds_ = partial;
      last_exactly_once_commit_ = Clock::now();
    }
  }
  return Status::ok();
}

Status CaptureSession::commit_exactly_once(bool now) {
  if (!exactly_once_ || in_source_transaction_ || offered_position_ == kafka_holds_) return Status::ok();
  if (!now && Clock::now() - last_exactly_once_commit_ < settings_.exactly_once_commit_interval) return Status::ok();
  last_exactly_once_commit_ = Clock::now();
  if (auto status = exactly_once_->commit(offered_position_); !status) return status;
  kafka_holds_ = offered_position_;
  return Status::ok();
}

Status CaptureSession::offer(const ChangeRecord& record, std::optional<Lsn> commit_end) {
  const std::uint64_t sequence = tracker_.next_sequence();
  while (true) {
    auto offered = sink_.offer(record, sequence);
    if (!offered) return offered.status();
    if (*offered == ChangeLogSink::Offer::kQueued) break;
    // Kafka's queue is full: wait for acknowledgements while keeping blue's walsender
    // informed, so that a long transaction never trips wal_sender_timeout.
    sink_.serve(std::chrono::milliseconds(20));
    if (auto status = keep_up(false); !status) return status;
    if (stop_.load()) return Status::retryable("stopping in the middle of a transaction");
  }
  if (commit_end) tracker_.commit_offered(sequence, *commit_end);
  counters_.events++;
  counters_.bytes += record.key.size() + record.value.size();
  return Status::ok();
}

// The drain's markers for the transaction about to commit, put into it as the source would
// have sent them (drain_markers.h).
Status CaptureSession::offer_drain_markers(Lsn commit_lsn) {
  if (!settings_.drain_markers) return Status::ok();
  for (const auto& marker : settings_.drain_markers->take_for(transaction_xid_)) {
    records_.clear();
    const pgoutput::Message message = pgoutput::LogicalMessage{true, commit_lsn, marker.prefix, marker.content};
    if (auto status = encoder_.encode(message, commit_lsn, records_); !status) return status;
    for (const auto& record : records_) {
      if (auto status = offer(record, std::nullopt); !status) return status;
    }
    spdlog::info("drain marker put into the change log for a source without logical messages "
                 "content={} xid={} commit_lsn={}", marker.content, transaction_xid_, commit_lsn.to_string());
  }
  return Status::ok();
}

Lsn CaptureSession::safe_position() {
  if (exactly_once_) {
    // The Debezium-form records are applied nowhere: Kafka must have committed them too.
    const Lsn change_log = settings_.slot_advance == SlotAdvance::kOnKafkaAck ? tracker_.kafka_safe()
                                                                              : applied_position();
    return std::min(change_log, kafka_holds_.end_lsn);
  }
  if (settings_.slot_advance == SlotAdvance::kOnKafkaAck) return tracker_.kafka_safe();
  // The Debezium-form records are applied nowhere: with them, green having applied a change
  // is not enough, Kafka must hold its Debezium records too.
  if (debezium_encoder_) return std::min(applied_position(), tracker_.kafka_safe());
  return applied_position();
}

Lsn CaptureSession::applied_position() {
  if (applied_ && Clock::now() - last_applied_read_ >= kAppliedReadInterval) {
    last_applied_read_ = Clock::now();
    if (auto applied = applied_->applied_position(); applied) {
      applied_cache_ = *applied;
    } else {
      spdlog::warn("cannot read green's applied position reason=\"{}\"", applied.status().message());
    }
  }
  return applied_cache_;
}

Status CaptureSession::keep_up(bool force_status) {
  sink_.serve(std::chrono::milliseconds(0));
  if (auto failure = sink_.failure(); !failure) return failure;
  if (exactly_once_) {
    exactly_once_->serve(std::chrono::milliseconds(0));
    if (auto committed = commit_exactly_once(false); !committed) return committed;
  }
  tracker_.acknowledged_through(sink_.acknowledged_through());

  Lsn safe = safe_position();
  // When every record is in Kafka (and applied, with on_apply), the last keepalive's
  // position is safe too: this is what keeps blue's WAL from growing on an idle database.
  if (tracker_.all_acknowledged() && !encoder_.in_transaction() &&
      safe >= tracker_.last_offered_commit()) {
    safe = std::max(safe, idle_position_);
  }
  // Kafka holds changes the slot has not been told about yet: dying here must lose nothing.
  if (safe > confirmed_) crash_point("capture_after_kafka_ack");
  confirmed_ = std::max(confirmed_, safe);
  counters_.confirmed_lsn = confirmed_.value();

  const auto now = Clock::now();
  if (force_status || now - last_status_ >= settings_.status_interval) {
    last_status_ = now;
    return stream_.send_status(received_, confirmed_);
  }
  return Status::ok();
}

Capture::Capture(CaptureSettings settings, StreamFactory open_stream, SinkFactory open_sink,
                 std::unique_ptr<AppliedPositionSource> applied, Lsn slot_confirmed,
                 const std::atomic<bool>& stop, CaptureCounters* shared_counters)
    : settings_(settings),
      open_stream_(std::move(open_stream)),
      open_sink_(std::move(open_sink)),
      applied_(std::move(applied)),
      catalog_(settings_.debezium.enabled && settings_.open_catalog ? settings_.open_catalog() : nullptr),
      confirmed_(slot_confirmed),
      stop_(stop),
      counters_(shared_counters ? *shared_counters : own_counters_) {}

Status Capture::run() {
  std::unique_ptr<ChangeLogSink> sink;
  PositionTracker tracker;
  Backoff backoff({settings_.initial_backoff, settings_.maximum_backoff, kHealthySession});

  auto wait_before_retry = [&](const Status& reason) {
    const auto wait = backoff.next();
    counters_.retries++;
    spdlog::warn("capture will retry reason=\"{}\" backoff_ms={}", reason.message(), wait.count());
    const auto until = Clock::now() + wait;
    while (!stop_.load() && Clock::now() < until) {
      if (sink) {
        sink->serve(std::chrono::milliseconds(50));
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
  };

  std::atomic<bool> finished{false};
  std::thread progress([&] { report_progress(finished); });

  Status outcome = Status::ok();
  // What `open` made, or null: then the failure ended the capture (in `outcome`), or it was
  // retryable and its backoff has been waited.
  auto open_or_wait = [&](const auto& open) -> std::remove_cvref_t<decltype(open().value())> {
    auto opened = open();
    if (opened) return std::move(opened.value());
    if (opened.status().is_retryable()) {
      wait_before_retry(opened.status());
    } else {
      outcome = opened.status();
    }
    return nullptr;
  };
  while (!stop_.load()) {
    if (!sink) sink = open_or_wait(open_sink_);
    if (!sink) {
      if (!outcome) break;
      continue;
    }
    // A new transactional producer each session: it fences the last one and reads how far
    // Kafka holds the stream.
    std::unique_ptr<TransactionalStream> exactly_once;
    if (settings_.open_exactly_once && catalog_) {
      exactly_once = open_or_wait(settings_.open_exactly_once);
      if (!exactly_once) {
        if (!outcome) break;
        continue;
      }
    }
    auto stream = open_or_wait(open_stream_);
    if (!stream) {
      if (!outcome) break;
      continue;
    }
    spdlog::info("streaming from {} confirmed_lsn={}", settings_.source_side, confirmed_.to_string());
    ChangeEncoder encoder(stream->database_name(), settings_.echo_origin);
    std::optional<debezium::EventEncoder> debezium_encoder;
    if (catalog_) debezium_encoder.emplace(settings_.debezium, stream->database_name(), *catalog_, settings_.echo_origin);
    CaptureSession session(settings_, *stream, *sink, encoder, debezium_encoder ? &*debezium_encoder : nullptr,
                           tracker, applied_.get(), confirmed_, counters_, stop_, exactly_once.get());
    const auto started_at = Clock::now();
    const Status ended = session.run();
    confirmed_ = session.confirmed();
    if (ended) break;
    backoff.attempt_ran(Clock::now() - started_at);
    if (!sink->failure().is_ok()) {
      // A producer that failed is replaced; what it had not delivered comes again from
      // blue's slot, which never moved past it.
      sink.reset();
      tracker.forget_unacknowledged();
    }
    if (!ended.is_retryable()) {
      outcome = ended;
      break;
    }
    wait_before_retry(ended);
  }
  finished = true;
  progress.join();
  return outcome;
}

void Capture::report_progress(const std::atomic<bool>& finished) {
  auto last = Clock::now();
  std::uint64_t events_before = 0;
  while (!finished.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (Clock::now() - last < kProgressInterval) continue;
    const double seconds = std::chrono::duration<double>(Clock::now() - last).count();
    const std::uint64_t events = counters_.events.load();
    spdlog::info("capture progress events={} events_per_second={:.0f} transactions={} "
                 "echoes_left_out={} debezium_records={} received_lsn={} confirmed_lsn={}",
                 events, static_cast<double>(events - events_before) / seconds,
                 counters_.transactions.load(), counters_.echoes_left_out.load(), counters_.debezium_records.load(),
                 Lsn(counters_.received_lsn).to_string(),
                 Lsn(counters_.confirmed_lsn).to_string());
    events_before = events;
    last = Clock::now();
  }
}

}  // namespace cutover
