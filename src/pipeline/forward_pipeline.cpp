#include "cutover/pipeline/forward_pipeline.h"

#include <mutex>
#include <optional>
#include <thread>

#include "cutover/apply/pipelined_writer.h"
#include "cutover/capture/preflight.h"
#include "cutover/capture/slot_health.h"
#include "cutover/capture/slot_manager.h"
#include "cutover/common/backoff.h"
#include "cutover/common/database_errors.h"
#include "cutover/common/logging.h"
#include "cutover/common/periodic.h"
#include "cutover/pipeline/connected_validation.h"
#include "cutover/pipeline/debezium_snapshot.h"
#include "cutover/pipeline/partition_watch.h"
#include "cutover/pipeline/plan_ownership.h"
#include "cutover/pipeline/topic_check.h"
#include "cutover/plan/reverse_plan.h"
#include "cutover/transport/change_log_consumer.h"
#include "cutover/transport/change_log_producer.h"
#include "cutover/transport/embedded_broker.h"
#include "cutover/transport/topic_admin.h"

namespace cutover {

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kStatusInterval = std::chrono::seconds(10);
constexpr auto kSampleInterval = std::chrono::seconds(1);
constexpr auto kSlotWarningInterval = std::chrono::minutes(1);
constexpr auto kPublicationInterval = std::chrono::seconds(5);
// The embedded broker, and `cutover broker`, keep about 5 MiB per partition; capture stays this
// far ahead of the applier at most, so nothing is dropped before it is applied.
constexpr std::uint64_t kLeadBytes = 2u << 20;

// Holds capture back while the applier has not read what it wrote: with the embedded broker,
// and whenever blue's slot is confirmed only as far as the target applied (on_apply), where
// running ahead gains blue nothing and a broker that keeps little log (`cutover broker`)
// would drop a catch-up's backlog before it is read, again at each restart.
class LeadLimitedSink final : public ChangeLogSink {
 public:
  LeadLimitedSink(std::unique_ptr<ChangeLogSink> inner, const std::atomic<std::uint64_t>& consumed)
      : inner_(std::move(inner)), consumed_(consumed), consumed_at_start_(consumed.load()) {}
  Result<Offer> offer(const ChangeRecord& record, std::uint64_t sequence) override {
    const bool change_log = record.topic.empty();  // the Debezium-form topics have no reader here
    if (change_log && offered_ > consumed_.load() - consumed_at_start_ + kLeadBytes) return Offer::kQueueFull;
    auto offered = inner_->offer(record, sequence);
    // Values only: that is what the applier counts as it reads.
    if (change_log && offered && *offered == Offer::kQueued) offered_ += record.value.size();
    return offered;
  }
  void serve(std::chrono::milliseconds wait) override { inner_->serve(wait); }
  std::uint64_t acknowledged_through() const override { return inner_->acknowledged_through(); }
  Status failure() const override { return inner_->failure(); }
  Status flush(std::chrono::milliseconds timeout) override { return inner_->flush(timeout); }

 private:
  std::unique_ptr<ChangeLogSink> inner_;
  const std::atomic<std::uint64_t>& consumed_;
  const std::uint64_t consumed_at_start_;
  std::uint64_t offered_ = 0;
};

struct Databases {
  std::unique_ptr<pqxx::connection> source;
  std::unique_ptr<pqxx::connection> target;
  std::vector<TableTransform> transforms;
};

Result<Databases> open_databases(const Plan& plan) {
  if (!plan.has_target()) {
    return Status::error(plan.file + ": green is required to apply (green.dsn or green.dsn_env)");
  }
  Databases databases;
  auto source = open_postgres(plan.source().dsn, plan.source_side());
  if (!source) return source.status();
  auto target = open_postgres(plan.target().dsn, plan.target_side());
  if (!target) return target.status();
  databases.source = std::move(source.value());
  databases.target = std::move(target.value());
  try {
    allow_writes(*databases.target);  // its position table, even behind a write fence
  } catch (const std::exception& error) {
    return status_of(error, plan.target_side() + ": allowing cutover's writes");
  }
  return databases;
}

// The plan's transforms against the catalogs. What does not resolve is the plan's problem.
Status resolve_into(const Plan& plan, Databases& databases) {
  auto transforms = resolve_transforms(plan, *databases.source, *databases.target);
  if (!transforms) {
    const Status& failed = transforms.status();
    return failed.is_retryable() ? failed : Status::invalid(failed.message());
  }
  databases.transforms = std::move(transforms.value());
  return Status::ok();
}

KafkaProperties producer_properties(const Plan& plan) {
  KafkaProperties properties = plan.kafka.properties;
  if (plan.kafka.is_embedded()) {
    for (const auto& [key, value] : EmbeddedBroker::kSafeProducerProperties) properties[key] = value;
  }
  return properties;
}

// Undoes what a snapshot that failed made on blue: the slot, and the publication or the
// tables it added to one. The targets are emptied again; green's record is the caller's.
void undo_snapshot(const Plan& plan, const SourceState& before, const std::vector<TableTransform>& transforms,
                   const std::string& green_dsn) {
  if (auto dropped = drop_slot(plan, kSlotReleaseWait); !dropped) {
    spdlog::error("undo: the slot could not be dropped: {}", dropped.message());
  }
  if (auto unpublished = unpublish(plan, before); !unpublished) {
    spdlog::error("undo: the publication could not be put back: {}", unpublished.message());
  }
  SnapshotProgress unused;
  const std::atomic<bool> never{false};
  SnapshotCopy copy(plan.snapshot, transforms, plan.source().dsn, green_dsn, "", unused, never);
  if (auto emptied = copy.empty_targets(); !emptied) {
    spdlog::error("undo: the targets could not be emptied: {}", emptied.message());
  }
  spdlog::info("undo: removed the failed snapshot's slot {} and emptied its targets", plan.slot_name());
}

// Samples the source's WAL position and the apply rate every kSampleInterval, for status,
// and logs the pipeline's status every kStatusInterval, while it lives.
class StatusReporter {
 public:
  StatusReporter(const Plan& plan, PipelineStatus& status)
      : plan_(plan), status_(status), periodic_(kSampleInterval, [this] { sample(); }) {}

 private:
  void sample() {
    if (const Phase phase = status_.phase.load(); phase != Phase::kStreaming && phase != Phase::kSnapshotting) return;
    try {
      if (!source_) {
        auto opened = open_postgres(plan_.source().dsn, plan_.source_side());
        if (opened) source_ = std::move(opened.value());
      }
      if (source_) {
        pqxx::nontransaction query(*source_);
        status_.source_wal_lsn =
            Lsn::parse(query.exec("SELECT pg_current_wal_lsn()::text")[0][0].c_str())->value();
        SlotHealth slot = read_slot_health(query, plan_.slot_name());
        std::string warning = slot_warning(slot, plan_);
        warn_about(slot, warning);
        status_.slot.set({std::move(slot), std::move(warning)});
      }
    } catch (const std::exception&) {
      source_.reset();
    }
    const std::uint64_t rows = status_.apply.rows.load();
    const double seconds = std::chrono::duration<double>(Clock::now() - last_sample_).count();
    if (seconds > 0) status_.rows_per_second = static_cast<double>(rows - rows_at_last_sample_) / seconds;
    rows_at_last_sample_ = rows;
    last_sample_ = Clock::now();
    if (Clock::now() - last_log_ < kStatusInterval) return;
    last_log_ = Clock::now();
    log();
  }

  // Logged when it first appears, and again every kSlotWarningInterval while it lasts.
  void warn_about(const SlotHealth& slot, const std::string& warning) {
    if (warning.empty()) {
      last_slot_warning_.reset();
      return;
    }
    if (last_slot_warning_ && Clock::now() - *last_slot_warning_ < kSlotWarningInterval) return;
    last_slot_warning_ = Clock::now();
    spdlog::warn("slot health slot={} retained_wal_bytes={} wal_status={} warning=\"{}\"", plan_.slot_name(),
                 slot.retained_bytes, slot.wal_status, warning);
  }

  void log() const {
    const Lag lag = current_lag(status_);
    std::string tables;
    {
      std::lock_guard lock(status_.apply.mutex);
      for (const auto& [table, rows] : status_.apply.rows_by_source) {
        tables += (tables.empty() ? "" : ",") + table + ":" + std::to_string(rows);
      }
    }
    spdlog::info("status phase={} applied_lsn={} lag_bytes={} lag_seconds={:.1f} "
                 "transactions={} rows={} rows_by_table={}",
                 phase_name(status_.phase.load()), Lsn(status_.apply.applied_lsn.load()).to_string(),
                 lag.bytes, lag.seconds, status_.apply.transactions.load(), status_.apply.rows.load(),
                 tables.empty() ? "-" : tables);
  }

  const Plan& plan_;
  PipelineStatus& status_;
  std::unique_ptr<pqxx::connection> source_;  // used by the periodic thread only
  Clock::time_point last_log_ = Clock::now();
  Clock::time_point last_sample_ = Clock::now();
  std::optional<Clock::time_point> last_slot_warning_;
  std::uint64_t rows_at_last_sample_ = status_.apply.rows.load();
  Periodic periodic_;  // last: it starts calling sample() once everything else exists
};

// Snapshot copy from a new slot's exported snapshot; green records the consistent point.
// With `bootstrap` (kafka.debezium.snapshot_events), the same rows are published as `op: r`
// events beside the copy, under the same snapshot, and the snapshot is done only once Kafka
// holds them all. A copy that fails leaves blue without the slot and publication it made.
Status snapshot(const Plan& plan, Databases& databases, PipelineStatus& status, StopSignal& stop,
                const std::string* bootstrap) {
  status.phase = Phase::kSnapshotting;
  // An unfinished snapshot is never resumed: its slot and the targets start over. The slot
  // is this plan's: check_state_is_ours proved it.
  if (auto dropped = drop_slot(plan); !dropped) return dropped;
  auto blue_state = check_source_for_capture(plan, kSlotReleaseWait);
  if (!blue_state) return blue_state.status();
  ExportedSnapshot exported;
  auto slot = prepare_slot_and_publication(plan, *blue_state, &exported);
  if (!slot) return slot.status();
  status.snapshot_from_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count();
  status.snapshot_from_lsn = slot->confirmed.value();
  StatusReporter reporter(plan, status);  // blue's position while the copy runs
  // Either side failing stops the other.
  StopSignal snapshot_stop(stop);
  SnapshotCopy copy(plan.snapshot, databases.transforms, plan.source().dsn, plan.target().dsn,
                    exported.name, status.snapshot, snapshot_stop.flag());
  Status copied = copy.empty_targets();
  if (copied) {
    Status published = Status::ok();
    std::atomic<bool> publishing_failed{false};
    std::thread events;
    if (bootstrap != nullptr) {
      events = std::thread([&] {
        debezium::SnapshotEventCounts counts;
        published = publish_debezium_snapshot(plan, *bootstrap, producer_properties(plan), exported.name,
                                              slot->confirmed, snapshot_stop.flag(), counts);
        if (!published) {
          publishing_failed = true;
          snapshot_stop.request();
        }
      });
    }
    copied = copy.run();
    // The first failure is the one to tell; the other side only stopped because of it.
    const bool publishing_failed_first = publishing_failed.load();
    if (!copied) snapshot_stop.request();
    if (events.joinable()) events.join();
    if (!published && (copied || publishing_failed_first)) {
      copied = published.with_context("publishing the Debezium-form snapshot");
    }
  }
  exported.connection.reset();
  if (copied) copied = record_snapshot_complete(*databases.target, plan, slot->confirmed);
  if (!copied) {
    undo_snapshot(plan, *blue_state, databases.transforms, plan.target().dsn);
    return copied;
  }
  spdlog::info("snapshot complete consistent_point={}", slot->confirmed.to_string());
  return Status::ok();
}


// Reads blue's publication every kPublicationInterval while a session streams. A publication
// changed under cutover (an operation no longer published, a row filter or column list, a
// source table dropped from it) loses changes without a word from PostgreSQL: the session
// stops, and the pipeline with the reason, instead of streaming on with a gap.
//
// It watches the partitions of partitioned source tables too (partition_watch.h), from the
// set `partitions` holds: the run's, kept across its sessions, so that a partition changed
// while a session was being started again is seen all the same.
class PublicationWatch {
 public:
  PublicationWatch(const Plan& plan, StopSignal& session_stop, ApplyCounters& counters,
                   std::optional<PartitionSets>& partitions)
      : plan_(plan), session_stop_(session_stop), counters_(counters), partitions_(partitions),
        source_(connect_and_read_partitions()), periodic_(kPublicationInterval, [this] { check(); }) {}

  Status drift() const {
    std::lock_guard lock(mutex_);
    return drift_;
  }

 private:
  void check() {
    try {
      if (!source_) {
        auto opened = open_postgres(plan_.source().dsn, plan_.source_side());
        if (!opened) return;  // capture notices an unreachable source itself
        source_ = std::move(opened.value());
      }
      pqxx::read_transaction query(*source_);
      const auto found = publication_drift(query, plan_, true);
      if (!found.empty()) {
        std::string message;
        for (const auto& line : found) message += (message.empty() ? "" : "\n") + line;
        stop_with(message + "\nchanges cutover did not receive are missing from " + plan_.target_side() +
                  ": put the publication back and copy again into an empty " + plan_.target_side());
        return;
      }
      check_partitions(query);
    } catch (const std::exception&) {
      source_.reset();
    }
  }

  // The session's connection to the source and, on the run's first session, the partitions
  // to watch from (else read at the first check, if the source cannot be reached now).
  std::unique_ptr<pqxx::connection> connect_and_read_partitions() {
    auto opened = open_postgres(plan_.source().dsn, plan_.source_side());
    if (!opened) return nullptr;
    try {
      if (!partitions_) {
        pqxx::read_transaction query(**opened);
        partitions_ = read_partition_sets(query, plan_);
      }
    } catch (const std::exception&) {
      return nullptr;
    }
    return std::move(opened.value());
  }

  void check_partitions(pqxx::transaction_base& query) {
    PartitionSets now = read_partition_sets(query, plan_);
    if (!partitions_) {
      partitions_ = std::move(now);
      return;
    }
    const auto changes = compare_partition_sets(*partitions_, now, plan_.target_side(), [&](const std::string& partition) {
      return query.exec("SELECT EXISTS (SELECT 1 FROM ONLY " + partition + ")")[0][0].as<bool>();
    });
    for (const auto& notice : changes.notices) {
      spdlog::warn("schema change note=\"{}\"", notice);
      std::lock_guard lock(counters_.mutex);
      counters_.schema_notices.push_back(notice);
    }
    if (!changes.halts.empty()) {
      std::string message;
      for (const auto& line : changes.halts) message += (message.empty() ? "" : "\n") + line;
      stop_with(message);
      return;
    }
    partitions_ = std::move(now);
  }

  void stop_with(const std::string& reason) {
    spdlog::error("the source changed under cutover, stopping: {}", reason);
    {
      std::lock_guard lock(mutex_);
      drift_ = Status::error(reason);
    }
    session_stop_.request();
  }

  const Plan& plan_;
  StopSignal& session_stop_;
  ApplyCounters& counters_;
  std::optional<PartitionSets>& partitions_;  // the periodic thread's while the watch lives
  mutable std::mutex mutex_;
  Status drift_ = Status::ok();                // guarded by mutex_
  std::unique_ptr<pqxx::connection> source_;  // the periodic thread's
  Periodic periodic_;                          // last: starts checking once the rest exists
};

// One applier session: green writer, consumer, applier, until stop or an error.
Status apply_session(const Plan& plan, const std::string& bootstrap,
                     const std::vector<TableTransform>& transforms, std::int64_t start_offset,
                     PipelineStatus& status, DiscardedRanges& discarded,
                     const std::atomic<bool>& stop) {
  auto target = open_postgres(plan.target().dsn, plan.target_side());
  if (!target) return target.status();
  auto position = read_applied_position(**target, plan);
  if (!position) return position.status();
  TargetWriter writer(std::move(target.value()), plan);
  if (auto opened = writer.open_session(); !opened) return opened;
  const std::int64_t offset = start_offset >= 0 ? start_offset : position->next_offset;
  auto consumer = ChangeLogConsumer::create(
      {bootstrap, plan.changes_topic(), plan.kafka.properties, &status.apply.consume_errors}, offset);
  if (!consumer) return consumer.status();
  spdlog::info("applying from change log offset={} applied_lsn={}", offset,
               position->source_lsn.to_string());
  CurrentSourceRows current_rows(plan.source().dsn);
  // Declared after the consumer and before the applier: it stops before they go.
  PipelinedWriter pipelined(writer);
  Applier applier(plan.apply, transforms, **consumer, pipelined, *position, status.apply, discarded,
                  stop, current_rows, status.apply_hold);
  return applier.run();
}

}  // namespace

Status wait_before_retry(const Status& reason, Backoff& backoff, PipelineStatus& status, const StopSignal& stop) {
  if (!reason.is_retryable()) return reason;
  const auto wait = backoff.next();
  status.restarts++;
  status.last_failure.record(reason.message(), wait);
  spdlog::warn("pipeline will restart reason=\"{}\" backoff_ms={}", reason.message(), wait.count());
  stop.wait_for(wait);
  return Status::ok();
}

void LastFailure::record(const std::string& message, std::chrono::milliseconds retry_in) {
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count();
  std::lock_guard lock(mutex_);
  seen_ = {message, now, retry_in.count() > 0 ? now + retry_in.count() : 0};
}

LastFailure::Seen LastFailure::get() const {
  std::lock_guard lock(mutex_);
  return seen_;
}

DirectionLedger::Counts pipeline_totals(const PipelineStatus& status) {
  DirectionLedger::Counts totals = {
      {"events_captured", status.capture.events.load()},
      {"bytes_captured", status.capture.bytes.load()},
      {"transactions_captured", status.capture.transactions.load()},
      {"debezium_records", status.capture.debezium_records.load()},
      {"capture_retries", status.capture.retries.load()},
      {"produce_errors", status.capture.produce_errors.load()},
      {"consume_errors", status.apply.consume_errors.load()},
      {"transactions_applied", status.apply.transactions.load()},
      {"rows_applied", status.apply.rows.load()},
      {"restarts", status.restarts.load()},
  };
  {
    std::lock_guard lock(status.apply.mutex);
    for (const auto& [table, rows] : status.apply.rows_by_source) totals["rows_applied:" + table] = rows;
  }
  std::lock_guard lock(status.snapshot.mutex);
  for (const auto& [table, progress] : status.snapshot.tables) totals["snapshot_rows:" + table] = progress.rows;
  return totals;
}

std::vector<std::string> topics_of(const Plan& plan) {
  std::vector<std::string> topics = {plan.changes_topic()};
  const auto& stream = plan.kafka.debezium;
  if (!stream.enabled) return topics;
  for (const auto& table : plan.source_tables()) {
    topics.push_back(debezium::table_topic(stream.topic_prefix, table.schema, table.name));
  }
  if (stream.transactions) topics.push_back(debezium::transaction_topic(stream.topic_prefix));
  if (plan.debezium_exactly_once()) topics.push_back(plan.debezium_position_topic());
  return topics;
}

// Every topic the direction writes, made where missing: at the start, and again before each
// restarted session, since brokers that came back without their log (or a topic deleted
// meanwhile) no longer have them and capture's producer must not wait on a topic nobody makes.
Status ensure_topics(const Plan& plan, const std::string& bootstrap) {
  for (const auto& name : topics_of(plan)) {
    auto topic = ensure_change_log_topic(bootstrap, plan.kafka.properties, name, topic_settings_of(plan),
                                         kBrokerTimeout);
    if (!topic) return topic.status();
  }
  return Status::ok();
}

Result<std::string> prepare_broker(const Plan& plan, std::unique_ptr<EmbeddedBroker>& embedded) {
  std::string bootstrap = plan.kafka.brokers;
  if (plan.kafka.is_embedded()) {
    auto started = EmbeddedBroker::start();
    if (!started) return started.status();
    embedded = std::move(started.value());
    bootstrap = embedded->bootstrap();
    for (const auto& topic : topics_of(plan)) {
      if (auto created = embedded->create_topic(topic, 1); !created) return created;
    }
    spdlog::info("embedded broker started bootstrap={}", bootstrap);
  }
  if (auto reachable = check_brokers_reachable(bootstrap, plan.kafka.properties, kBrokerTimeout);
      !reachable) {
    return reachable;
  }
  if (auto made = ensure_topics(plan, bootstrap); !made) return made;
  // Judged once it exists: a topic made elsewhere or changed since, and one just made with the
  // brokers' defaults (one replica, min.insync.replicas 1), must not carry changes that
  // on_kafka_ack would confirm on blue.
  const auto topics = check_change_log_topics(plan);
  if (!topics) return topics.status();
  for (const auto& warning : topics->warnings) spdlog::warn("{}", warning);
  if (!topics->problems.empty()) {
    std::string message;
    for (const auto& problem : topics->problems) message += (message.empty() ? "" : "\n") + problem;
    return Status::invalid(message);
  }
  return bootstrap;
}

namespace {

// The reverse pipeline's topic on a team's own broker, made when the forward pipeline starts:
// made only after a switch, it would stand between the switch and a rollback wanted at once,
// and a broker that cannot answer CreateTopics (`cutover broker`) makes it wait out the whole
// timeout. (The embedded broker inside `cutover run` starts anew with each direction.) A
// failure here is only a warning: the reverse pipeline tries again when it starts.
void prepare_way_back(const Plan& plan, const std::string& bootstrap) {
  if (plan.kafka.is_embedded() || plan.direction != Direction::kForward) return;
  auto reverse = derive_reverse_plan(plan);
  if (!reverse) return;
  for (const auto& name : topics_of(*reverse)) {
    if (auto topic = ensure_change_log_topic(bootstrap, plan.kafka.properties, name, topic_settings_of(*reverse),
                                             kBrokerTimeout);
        !topic) {
      spdlog::warn("the reverse pipeline's topic is not made yet; it is tried again after a switch topic={} "
                   "reason=\"{}\"", name, topic.status().message());
    }
  }
}

}  // namespace

Lag current_lag(const PipelineStatus& status) {
  const std::uint64_t applied = status.apply.applied_lsn.load();
  const std::uint64_t wal = status.source_wal_lsn.load();
  const std::int64_t committed_ms = status.apply.applied_commit_ts_ms.load();
  const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  Lag lag;
  // Before the applier reports a position, green holds at most the snapshot's consistent
  // point: lag counts from there (while the copy runs, and until streaming applies).
  if (const std::uint64_t from = status.snapshot_from_lsn.load(); applied == 0 && from != 0) {
    lag.bytes = wal > from ? wal - from : 0;
    if (lag.bytes > 0) {
      lag.seconds = static_cast<double>(std::max<std::int64_t>(now_ms - status.snapshot_from_unix_ms.load(), 0)) / 1000.0;
    }
    return lag;
  }
  lag.bytes = wal > applied ? wal - applied : 0;
  if (committed_ms > 0 && !status.apply.caught_up.load()) {
    lag.seconds = static_cast<double>(std::max<std::int64_t>(now_ms - committed_ms, 0)) / 1000.0;
  }
  return lag;
}

const char* phase_name(Phase phase) {
  switch (phase) {
    case Phase::kStarting:
      return "starting";
    case Phase::kSnapshotting:
      return "snapshotting";
    case Phase::kStreaming:
      return "streaming";
    case Phase::kHalted:
      return "halted";
    case Phase::kFailed:
      return "failed";
    case Phase::kStopped:
      return "stopped";
  }
  return "unknown";
}

std::unique_ptr<Capture> make_capture(const Plan& plan, const std::string& bootstrap,
                                      Lsn slot_confirmed, const std::atomic<bool>& stop,
                                      SinkWrapper wrap_sink, CaptureCounters* counters,
                                      DrainMarkers* drain_markers) {
  std::atomic<std::uint64_t>* produce_errors = counters ? &counters->produce_errors : nullptr;
  CaptureSettings settings;
  settings.slot_advance = plan.replication.slot_advance;
  settings.drain_markers = drain_markers;
  settings.echo_origin = plan.echo_origin_name();
  settings.source_side = plan.source_side();
  // The Debezium-form stream describes the source's tables: blue's, and after a switch
  // green's, as Debezium's connector pointed at green would publish them.
  if (plan.kafka.debezium.enabled) {
    settings.debezium = plan.kafka.debezium;
    settings.open_catalog = [&plan]() -> std::unique_ptr<debezium::TableCatalog> {
      return std::make_unique<debezium::PostgresTableCatalog>(plan.source().dsn, plan.source_side());
    };
    if (plan.debezium_exactly_once()) {
      settings.exactly_once_records_per_transaction = static_cast<std::uint64_t>(plan.kafka.debezium.transaction_records);
      settings.open_exactly_once = [&plan, bootstrap,
                                    produce_errors]() -> Result<std::unique_ptr<TransactionalStream>> {
        const std::string direction = direction_name(plan.direction);
        auto opened = KafkaTransactionalStream::open({bootstrap, plan.kafka.properties,
                                                      "cutover-" + plan.name + "-" + direction,
                                                      plan.debezium_position_topic(), plan.name + "/" + direction,
                                                      produce_errors},
                                                     kBrokerTimeout);
        if (!opened) return opened.status();
        return std::unique_ptr<TransactionalStream>(std::move(opened.value()));
      };
    }
  }
  std::unique_ptr<AppliedPositionSource> applied;
  if (plan.replication.slot_advance == SlotAdvance::kOnApply) {
    applied = std::make_unique<TargetAppliedPosition>(plan.target().dsn, plan.target_side(),
                                                      plan.origin_name());
  }
  auto open_stream = [&plan]() -> Result<std::unique_ptr<ReplicationStream>> {
    auto connection = ReplicationConnection::open(plan.source().dsn);
    if (!connection) return connection.status();
    if (auto started = (*connection)->start(plan.slot_name(), plan.publication_name(), Lsn());
        !started) {
      return started;
    }
    return std::unique_ptr<ReplicationStream>(std::move(connection.value()));
  };
  auto open_sink = [&plan, bootstrap, wrap_sink, produce_errors]() -> Result<std::unique_ptr<ChangeLogSink>> {
    auto producer = ChangeLogProducer::create(
        {bootstrap, plan.changes_topic(), producer_properties(plan), produce_errors});
    if (!producer) return producer.status();
    std::unique_ptr<ChangeLogSink> sink = std::move(producer.value());
    return wrap_sink ? wrap_sink(std::move(sink)) : std::move(sink);
  };
  return std::make_unique<Capture>(settings, open_stream, open_sink, std::move(applied),
                                   slot_confirmed, stop, counters);
}

// Everything a first start checks before it creates anything: the whole plan against both
// databases, as `validate --connect` does.
Status check_before_first_start(const Plan& plan) {
  const DatabaseCheck checked = check_plan_against_databases(plan);
  for (const auto& warning : checked.warnings) spdlog::warn("{}", warning);
  for (const auto& note : checked.notes) spdlog::info("{}", note);
  if (checked.problems.empty()) return Status::ok();
  std::string message;
  for (const auto& problem : checked.problems) message += (message.empty() ? "" : "\n") + problem;
  return Status::invalid(message + "\nnothing was created; fix the plan or the databases and run again");
}

// What blue and green hold of this plan, before anything is created or resumed.
Result<FoundState> find_state(const Plan& plan, Databases& databases) {
  FoundState found;
  auto position = read_applied_position(*databases.target, plan);
  if (!position) return position.status();
  found.position = *position;
  auto plans = recorded_plans(*databases.target);
  if (!plans) return plans.status();
  found.recorded_plans = *plans;
  try {
    pqxx::nontransaction source(*databases.source);
    found.source_slot_exists =
        !source.exec_params("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", plan.slot_name()).empty();
    pqxx::nontransaction query(*databases.target);
    found.target_origin_exists =
        !query.exec_params("SELECT 1 FROM pg_replication_origin WHERE roname = $1", plan.origin_name()).empty();
  } catch (const std::exception& error) {
    return status_of(error, "reading replication slots and origins");
  }
  return found;
}

namespace {

std::string halt_reason(PipelineStatus& status) {
  std::lock_guard lock(status.apply.mutex);
  return status.apply.halted_by;
}

// Capture and apply are stopped; what status and the dashboard show stays served until the
// operator stops the run. Slot and position stay where they are, so a run started again with
// an amended plan goes on from there.
Status stay_halted(const std::string& reason, PipelineStatus& status, const StopSignal& stop) {
  status.phase = Phase::kHalted;
  spdlog::error("pipeline halted reason=\"{}\" next=\"amend the plan and start cutover run again, or rebuild\"",
                reason);
  stop.wait();
  return Status::error("halted: " + reason);
}

// Why the plan's slot can no longer stream (dropped, or invalidated by the source), or empty:
// also when the source cannot be reached now, which the pipeline retries as it does anyway.
std::string slot_loss_now(const Plan& plan) {
  auto source = open_postgres(plan.source().dsn, plan.source_side());
  if (!source) return "";
  try {
    pqxx::read_transaction query(**source);
    return slot_loss(read_slot_health(query, plan.slot_name()), plan);
  } catch (const std::exception&) {
    return "";
  }
}

// What a change log that lost unread records means when nothing can send them again.
std::string log_gap_halt(const Status& gap, const Plan& plan) {
  const bool confirmed = plan.replication.slot_advance == SlotAdvance::kOnKafkaAck;
  return gap.message() + ". " +
         (confirmed ? "Blue's slot was confirmed past those changes (slot_advance: on_kafka_ack), so nothing can "
                      "send them again"
                    : "cutover apply reads the log from " + plan.target_side() + "'s position and cannot ask blue "
                      "for them again") +
         ": " + plan.target_side() + " must be rebuilt from a new snapshot (cutover cleanup, "
         "empty the target tables, cutover run). Keep kafka.retention longer than the applier is ever stopped, "
         "and brokers that keep their log across restarts";
}

Status halt_for(const std::string& reason, PipelineStatus& status, const StopSignal& stop) {
  {
    std::lock_guard lock(status.apply.mutex);
    status.apply.halted_by = reason;
  }
  return stay_halted(reason, status, stop);
}

}  // namespace

Status run_forward(const Plan& plan, PipelineStatus& status, StopSignal& stop) {
  // Everything is checked before anything is created: the plan against both databases,
  // whose state is found there, blue's capture prerequisites, then the broker.
  auto databases = open_databases(plan);
  if (!databases) return databases.status();
  // Green's position (none yet on a first run) is read before the position table is made.
  auto found = find_state(plan, *databases);
  if (!found) return found.status();
  const AppliedPosition& position = found->position;
  PositionOwner owner;
  try {
    const DatabaseIdentity source = read_database_identity(*databases->source);
    const DatabaseIdentity target = read_database_identity(*databases->target);
    if (auto distinct = check_distinct_databases(plan, source, target); !distinct) return distinct;
    owner = read_position_owner(*databases->source, plan, source);
  } catch (const std::exception& error) {
    return status_of(error, "reading the databases' identities");
  }
  if (auto ours = check_state_is_ours(plan, *found, owner); !ours) return ours;
  if (plan.direction == Direction::kReverse && !position.snapshot_complete) {
    // A switch records the reverse pipeline's start on blue before clients move; without that
    // record the journal that asked for this direction is not of these databases, and a
    // snapshot would copy green over blue.
    return Status::invalid(
        "blue holds no start of the reverse pipeline (plan " + plan.name + " in cutover.apply_position), yet the "
        "journal in " + plan.state_dir + " says clients were switched to green: that journal is of another blue "
        "or green (a state_dir shared with another move, or databases made again), or blue was restored since. "
        "cutover never copies green over blue; nothing was changed. Point state_dir at this move's own "
        "directory, or remove its journal if these databases begin a new move");
  }
  if (position.owner && (position.owner->tables != owner.tables || position.owner->relations.empty())) {
    // The same source tables (by OID) under new names, the plan amended after a rename; or a
    // row recorded before OIDs were, which gets them now.
    if (position.owner->tables != owner.tables) {
      spdlog::info("plan tables renamed on the source recorded=\"{}\" now=\"{}\"", position.owner->tables,
                   owner.tables);
    }
    if (auto recorded = record_position_owner(*databases->target, plan, owner); !recorded) return recorded;
  }
  const bool first_snapshot = !position.recorded;
  if (first_snapshot) {
    if (auto checked = check_before_first_start(plan); !checked) return checked;
  }
  auto blue_state = check_source_for_capture(plan, kSlotReleaseWait);
  if (!blue_state) return blue_state.status();
  if (position.snapshot_complete && (!blue_state->publication_exists ||
                                     !blue_state->tables_missing_from_publication.empty())) {
    // Streaming went on without them: what changed meanwhile never reached the target.
    std::string tables;
    for (const auto& table : blue_state->tables_missing_from_publication) {
      tables += (tables.empty() ? "" : ", ") + table.text();
    }
    return Status::error(plan.source_side() + ": publication " + plan.publication_name() +
                         (blue_state->publication_exists ? " no longer publishes " + tables : " is gone") +
                         " although " + plan.target_side() + " holds a finished snapshot: changes made "
                         "since then are missing from " + plan.target_side() + ". Copy again into an "
                         "empty " + plan.target_side());
  }
  if (auto resolved = resolve_into(plan, *databases); !resolved) return resolved;
  if (!plan.kafka.is_embedded()) {
    if (auto reachable = check_brokers_reachable(plan.kafka.brokers, plan.kafka.properties, kBrokerTimeout);
        !reachable) {
      return reachable;
    }
  }
  std::unique_ptr<EmbeddedBroker> embedded;
  std::optional<std::string> bootstrap;
  if (!position.snapshot_complete) {
    if (auto created = ensure_position_table(*databases->target); !created) return created;
    if (auto recorded = record_snapshot_started(*databases->target, plan, owner); !recorded) {
      return recorded;
    }
    // The Debezium-form snapshot needs the broker and its topics before the copy: then a
    // failed first start leaves those topics (with the rows it published) behind.
    if (plan.kafka.debezium.enabled && plan.kafka.debezium.snapshot_events) {
      auto prepared = prepare_broker(plan, embedded);
      if (!prepared) return prepared.status();
      bootstrap = std::move(prepared.value());
    }
    if (auto copied = snapshot(plan, *databases, status, stop, bootstrap ? &*bootstrap : nullptr); !copied) {
      // A first start leaves nothing behind; a resumed one keeps its record, which proves
      // the targets are this plan's to copy into again.
      if (first_snapshot) {
        if (auto forgotten = forget_plan(*databases->target, plan); !forgotten) {
          spdlog::error("undo: {}", forgotten.message());
        }
      }
      return copied;
    }
  } else if (const std::string lost = slot_loss_now(plan); !lost.empty()) {
    return Status::error(lost);
  }
  if (auto created = ensure_position_table(*databases->target); !created) return created;
  // The topics are made once the snapshot is done, so that a refused or failed first start
  // leaves none behind (but for the Debezium-form snapshot's, above).
  if (!bootstrap) {
    auto prepared = prepare_broker(plan, embedded);
    if (!prepared) return prepared.status();
    bootstrap = std::move(prepared.value());
  }
  prepare_way_back(plan, *bootstrap);
  if (stop.requested()) return Status::ok();
  status.phase = Phase::kStreaming;
  StatusReporter reporter(plan, status);
  DiscardedRanges discarded;
  std::optional<PartitionSets> partitions;  // what the publication watch started from
  Backoff backoff(kRestartBackoff);
  Status outcome = Status::ok();
  for (bool first_session = true; !stop.requested(); first_session = false) {
    if (!first_session) {
      if (auto made = ensure_topics(plan, *bootstrap); !made) {
        if (outcome = wait_before_retry(made, backoff, status, stop); !outcome) break;
        continue;
      }
    }
    // With on_apply, capture sends everything after green's applied position again (its
    // slot is confirmed no further), so the applier starts where capture's first record will
    // land. With on_kafka_ack the slot may be ahead of green: the applier resumes from the
    // offset green recorded, and Kafka's retention must cover the gap.
    Result<std::int64_t> start_offset = std::int64_t{-1};
    if (plan.replication.slot_advance == SlotAdvance::kOnApply) {
      start_offset = change_log_end_offset(*bootstrap, plan.changes_topic(),
                                           plan.kafka.properties);
      if (!start_offset) {
        if (outcome = wait_before_retry(start_offset.status(), backoff, status, stop); !outcome) break;
        continue;
      }
      discarded.clear();  // offsets from before start_offset are never read again
    }
    auto slot = check_source_for_capture(plan, kSlotReleaseWait);
    if (!slot) {
      if (outcome = wait_before_retry(slot.status(), backoff, status, stop); !outcome) break;
      continue;
    }
    if (const std::string lost = slot_loss_now(plan); !lost.empty()) {
      outcome = halt_for(lost, status, stop);
      break;
    }
    // Stops with the run, when capture ends, or when the publication watch finds it changed.
    StopSignal session_stop(stop);
    SinkWrapper limit_lead;
    if (plan.kafka.is_embedded() || plan.replication.slot_advance == SlotAdvance::kOnApply) {
      limit_lead = [&status](std::unique_ptr<ChangeLogSink> producer) -> std::unique_ptr<ChangeLogSink> {
        return std::make_unique<LeadLimitedSink>(std::move(producer), status.apply.consumed_bytes);
      };
    }
    auto capture = make_capture(plan, *bootstrap, slot->slot_confirmed, session_stop.flag(), limit_lead,
                                &status.capture, &status.drain_markers);
    Status capture_outcome = Status::ok();
    std::thread capture_thread([&] {
      capture_outcome = capture->run();
      session_stop.request();
    });
    PublicationWatch publication(plan, session_stop, status.apply, partitions);
    const auto session_started = Clock::now();
    const Status apply_outcome = apply_session(plan, *bootstrap, databases->transforms,
                                               *start_offset, status, discarded, session_stop.flag());
    session_stop.request();
    capture_thread.join();
    if (auto drift = publication.drift(); !drift) {
      std::lock_guard lock(status.apply.mutex);
      status.apply.halted_by = drift.message();
    }
    if (const std::string halted_by = halt_reason(status); !halted_by.empty()) {
      outcome = stay_halted(halted_by, status, stop);
      break;
    }
    // Whichever side failed first ended the session; the other one stopped because of it.
    const Status ended = !apply_outcome ? apply_outcome : capture_outcome;
    if (stop.requested()) {
      if (!ended && !ended.is_retryable()) outcome = ended;
      break;
    }
    // A slot the source dropped or invalidated ends capture for good, whatever its error said.
    if (const std::string lost = slot_loss_now(plan); !lost.empty()) {
      outcome = halt_for(lost, status, stop);
      break;
    }
    Status reason = ended ? Status::retryable("capture stopped unexpectedly") : ended;
    if (reason.kind() == ErrorKind::kLogGap) {
      // With on_apply, blue's slot still holds everything after green's position, and the next
      // session sends it again; with on_kafka_ack it was confirmed, and is gone.
      if (plan.replication.slot_advance != SlotAdvance::kOnApply) {
        outcome = halt_for(log_gap_halt(reason, plan), status, stop);
        break;
      }
      reason = Status::retryable(reason.message() + "; capture sends it again from blue's slot");
    }
    backoff.attempt_ran(Clock::now() - session_started);
    if (outcome = wait_before_retry(reason, backoff, status, stop); !outcome) break;
  }
  status.phase = Phase::kStopped;
  return outcome;
}

Status run_apply_only(const Plan& plan, PipelineStatus& status, StopSignal& stop) {
  auto databases = open_databases(plan);
  if (!databases) return databases.status();
  if (auto resolved = resolve_into(plan, *databases); !resolved) return resolved;
  const std::string bootstrap = plan.kafka.brokers;
  if (plan.kafka.is_embedded()) {
    return Status::error(plan.file + ": kafka.brokers: embedded lives inside one process; "
                         "use cutover run, or name the brokers that cutover capture writes to");
  }
  if (auto reachable = check_brokers_reachable(bootstrap, plan.kafka.properties, kBrokerTimeout);
      !reachable) {
    return reachable;
  }
  if (auto created = ensure_position_table(*databases->target); !created) return created;
  status.phase = Phase::kStreaming;
  StatusReporter reporter(plan, status);
  DiscardedRanges discarded;
  Backoff backoff(kRestartBackoff);
  Status outcome = Status::ok();
  while (!stop.requested()) {
    const auto session_started = Clock::now();
    const Status ended =
        apply_session(plan, bootstrap, databases->transforms, -1, status, discarded, stop.flag());
    if (ended) break;
    if (ended.kind() == ErrorKind::kLogGap) {
      outcome = Status::error(log_gap_halt(ended, plan));
      break;
    }
    backoff.attempt_ran(Clock::now() - session_started);
    if (outcome = wait_before_retry(ended, backoff, status, stop); !outcome) break;
  }
  status.phase = Phase::kStopped;
  return outcome;
}

Status run_capture_only(const Plan& plan, StopSignal& stop) {
  if (plan.kafka.debezium.enabled && plan.kafka.debezium.snapshot_events) {
    return Status::invalid(plan.file + ": kafka.debezium.snapshot_events: the rows are published with green's "
                           "snapshot, which cutover run makes and cutover capture does not; use cutover run, or "
                           "leave snapshot_events out (nothing was created)");
  }
  if (plan.replication.slot_advance == SlotAdvance::kOnApply && !plan.has_target()) {
    return Status::invalid(plan.file + ": replication.slot_advance: on_apply confirms blue's "
                           "slot from green's applied position, so the plan needs green");
  }
  // Everything is checked before anything is created: the source, then the broker (whose
  // topic may be created).
  auto source = check_source_for_capture(plan, kSlotReleaseWait);
  if (!source) return source.status();
  std::unique_ptr<EmbeddedBroker> embedded;
  auto bootstrap = prepare_broker(plan, embedded);
  if (!bootstrap) return bootstrap.status();
  if (!source->slot_exists && !plan.kafka.is_embedded()) {
    // An earlier capture wrote the change log from a slot that is gone: a new slot would start
    // after the changes made meanwhile, and nothing would show they are missing.
    auto written = change_log_end_offset(*bootstrap, plan.changes_topic(), plan.kafka.properties);
    if (!written) return written.status();
    if (*written > 0) {
      SlotHealth gone;
      gone.name = plan.slot_name();
      return Status::error(slot_loss(gone, plan) + " (the change log " + plan.changes_topic() + " already holds " +
                           std::to_string(*written) + " records of an earlier capture from it)");
    }
  }
  auto slot = prepare_slot_and_publication(plan, *source);
  if (!slot) return slot.status();
  spdlog::info("capture starting plan={} slot={} topic={} slot_advance={}", plan.name,
               plan.slot_name(), plan.changes_topic(),
               plan.replication.slot_advance == SlotAdvance::kOnApply ? "on_apply" : "on_kafka_ack");
  auto capture = make_capture(plan, *bootstrap, slot->confirmed, stop.flag());
  if (auto outcome = capture->run(); !outcome) {
    // The source's own error for a dropped or invalidated slot does not say what to do.
    if (const std::string lost = slot_loss_now(plan); !lost.empty()) return Status::error(lost);
    return outcome;
  }
  spdlog::info("capture stopped events={} bytes={} transactions={} confirmed_lsn={}",
               capture->counters().events.load(), capture->counters().bytes.load(),
               capture->counters().transactions.load(),
               Lsn(capture->counters().confirmed_lsn).to_string());
  return Status::ok();
}

}  // namespace cutover
