#include "cutover/control/metrics.h"

#include "cutover/common/build_info.h"

#include <charconv>
#include <cmath>
#include <sstream>

namespace cutover {

namespace {

std::string number(double value);
std::string escaped(const std::string& value);

// Every sample carries the plan's label, so that several runs scraped into one Prometheus
// stay apart.
class Exposition {
 public:
  explicit Exposition(const std::string& plan) : plan_label_("plan=\"" + escaped(plan) + "\"") {}
  void metric(const std::string& name, const std::string& type, const std::string& help) {
    text_ << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
  }
  void sample(const std::string& name, double value, const std::string& labels = "") {
    text_ << name << "{" << plan_label_ << (labels.empty() ? "" : "," + labels) << "} " << number(value) << "\n";
  }
  void gauge(const std::string& name, const std::string& help, double value, const std::string& labels = "") {
    metric(name, "gauge", help);
    sample(name, value, labels);
  }
  void histogram(const std::string& name, const std::string& help, const Histogram& histogram) {
    metric(name, "histogram", help);
    for (std::size_t i = 0; i < histogram.bounds().size(); ++i) {
      sample(name + "_bucket", static_cast<double>(histogram.cumulative(i)), "le=\"" + number(histogram.bounds()[i]) + "\"");
    }
    sample(name + "_bucket", static_cast<double>(histogram.count()), "le=\"+Inf\"");
    sample(name + "_sum", histogram.sum());
    sample(name + "_count", static_cast<double>(histogram.count()));
  }
  std::string text() const { return text_.str(); }

 private:
  std::string plan_label_;
  std::ostringstream text_;
};

std::string label(const std::string& name, const std::string& value) { return name + "=\"" + escaped(value) + "\""; }

const char* direction_label(std::size_t index) { return index == 0 ? "direction=\"forward\"" : "direction=\"reverse\""; }

std::uint64_t count_of(const DirectionLedger::Counts& counts, const std::string& name) {
  const auto found = counts.find(name);
  return found == counts.end() ? 0 : found->second;
}

// A counter of the run, one sample per direction (both, so that a dashboard has the reverse
// series from the start): Prometheus counters must never go back, and a switch must not add
// one direction's changes to the other's.
void direction_counter(Exposition& out, const DirectionLedger::Split& split, const std::string& name,
                       const std::string& help, const std::string& counted) {
  out.metric(name, "counter", help);
  for (std::size_t index = 0; index < split.by_direction.size(); ++index) {
    out.sample(name, static_cast<double>(count_of(split.by_direction[index], counted)), direction_label(index));
  }
}

// The per-table counters named `<prefix><table>` in the split, with a table label.
void table_counter(Exposition& out, const DirectionLedger::Split& split, const std::string& name,
                   const std::string& help, const std::string& prefix) {
  out.metric(name, "counter", help);
  for (std::size_t index = 0; index < split.by_direction.size(); ++index) {
    for (const auto& [counted, value] : split.by_direction[index]) {
      if (counted.rfind(prefix, 0) != 0) continue;
      out.sample(name, static_cast<double>(value),
                 std::string(direction_label(index)) + "," + label("table", counted.substr(prefix.size())));
    }
  }
}

// Whole numbers as integers (a byte count of 1234567 must not become 1.23457e+06); others in
// the shortest text that reads back as the same double.
std::string number(double value) {
  if (std::isfinite(value) && value == std::floor(value) && std::fabs(value) < 9007199254740992.0) {
    return std::to_string(static_cast<long long>(value));
  }
  char text[32];
  const auto written = std::to_chars(text, text + sizeof text, value);
  return std::string(text, written.ptr);
}

std::string escaped(const std::string& value) {
  std::string out;
  for (const char character : value) {
    if (character == '\\' || character == '"') out += '\\';
    if (character == '\n') {
      out += "\\n";
      continue;
    }
    out += character;
  }
  return out;
}

}  // namespace

std::string prometheus_metrics(const Plan& plan, const PipelineStatus& status,
                               const VerificationService& verification, const CutoverRunner& cutover) {
  Exposition out(plan.name);
  out.gauge("cutover_build_info", "1, labelled with the version and the commit of the cutover serving", 1,
            label("version", cutover_version()) + "," + label("commit", cutover_commit()));
  const Lag lag = current_lag(status);
  const std::string phase = cutover.shown_phase();
  out.gauge("cutover_phase", "The pipeline's phase: 1 for the current one", 1, label("phase", phase));
  const DirectionLedger::Split split = status.ledger.split(pipeline_totals(status));
  const std::string running = direction_label(split.running == Direction::kForward ? 0 : 1);
  out.gauge("cutover_direction_reverse", "1 while the reverse pipeline (green to blue) streams",
            split.running == Direction::kReverse ? 1 : 0);
  out.gauge("cutover_lag_bytes", "WAL bytes between the source's position and what the target has applied",
            static_cast<double>(lag.bytes), running);
  out.gauge("cutover_lag_seconds", "Age of the last applied commit while more is waiting", lag.seconds, running);
  if (const auto reading = status.slot.get()) {
    const SlotHealth& slot = reading->health;
    const std::string labels = running + "," + label("slot", slot.name);
    out.gauge("cutover_slot_retained_wal_bytes",
              "WAL the source keeps for the plan's slot: its current position less the slot's restart_lsn",
              static_cast<double>(slot.retained_bytes), labels);
    if (slot.safe_wal_bytes) {
      out.gauge("cutover_slot_safe_wal_bytes",
                "WAL the source may still write before max_slot_wal_keep_size invalidates the slot",
                static_cast<double>(*slot.safe_wal_bytes), labels);
    }
    out.gauge("cutover_slot_active", "1 while a walsender streams from the plan's slot", slot.active ? 1 : 0, labels);
    out.gauge("cutover_slot_wal_status", "The slot's wal_status: 1 for the current one", 1,
              labels + "," + label("status", slot.exists ? slot.wal_status : "dropped"));
    out.gauge("cutover_slot_warning",
              "1 while the slot keeps more WAL than replication.retained_wal_warning, or is about to lose it",
              reading->warning.empty() ? 0 : 1, labels);
  }
  direction_counter(out, split, "cutover_events_captured_total", "Change events capture wrote to the change log",
                    "events_captured");
  direction_counter(out, split, "cutover_bytes_captured_total", "Bytes of keys and values capture wrote to the change log",
                    "bytes_captured");
  direction_counter(out, split, "cutover_transactions_captured_total", "Source transactions capture wrote",
                    "transactions_captured");
  direction_counter(out, split, "cutover_debezium_records_total",
                    "Records capture published on the Debezium-form topics, tombstones included", "debezium_records");
  direction_counter(out, split, "cutover_capture_retries_total",
                    "Times capture connected again to its source or Kafka after a failure",
                    "capture_retries");
  direction_counter(out, split, "cutover_kafka_produce_errors_total",
                    "Records Kafka refused or failed to deliver, and Kafka transactions that failed", "produce_errors");
  direction_counter(out, split, "cutover_kafka_consume_errors_total", "Reads of the change log that failed",
                    "consume_errors");
  direction_counter(out, split, "cutover_transactions_applied_total", "Source transactions committed in the target",
                    "transactions_applied");
  direction_counter(out, split, "cutover_rows_applied_total", "Row changes committed in the target", "rows_applied");
  table_counter(out, split, "cutover_table_rows_applied_total", "Row changes committed in the target, by source table",
                "rows_applied:");
  direction_counter(out, split, "cutover_pipeline_restarts_total",
                    "Times the pipeline started capture and apply again after a retryable failure",
                    "restarts");
  const LastFailure::Seen failure = status.last_failure.get();
  out.gauge("cutover_last_failure_timestamp_seconds",
            "When the pipeline last restarted after a failure (Unix time; 0: never); the message is in the status",
            static_cast<double>(failure.unix_ms) / 1000.0);
  out.histogram("cutover_apply_batch_rows", "Rows per target transaction", status.apply.batch_rows);
  out.histogram("cutover_apply_batch_seconds", "Time to flush and commit a target transaction",
                status.apply.batch_seconds);
  {
    std::lock_guard lock(status.snapshot.mutex);
    out.metric("cutover_snapshot_rows_total", "counter", "Rows the snapshot copied into green, by target table");
    for (const auto& [table, progress] : status.snapshot.tables) {
      out.sample("cutover_snapshot_rows_total", static_cast<double>(progress.rows), label("table", table));
    }
    out.metric("cutover_snapshot_rows_estimated", "gauge", "Rows blue's statistics gave the table when its copy began");
    for (const auto& [table, progress] : status.snapshot.tables) {
      out.sample("cutover_snapshot_rows_estimated", static_cast<double>(progress.estimated_rows), label("table", table));
    }
    out.metric("cutover_snapshot_chunks", "gauge", "Chunks of the table's copy, by state (done, all)");
    for (const auto& [table, progress] : status.snapshot.tables) {
      out.sample("cutover_snapshot_chunks", static_cast<double>(progress.chunks_done),
                 label("table", table) + ",state=\"done\"");
      out.sample("cutover_snapshot_chunks", static_cast<double>(progress.chunks), label("table", table) + ",state=\"all\"");
    }
  }
  const auto last = verification.last_finished();
  out.gauge("cutover_verification_differences", "Differing keys the last verification found",
            last ? static_cast<double>(last->difference_count()) : 0);
  out.gauge("cutover_verification_clean", "1 when the last verification was clean, 0 otherwise",
            last && last->state == "clean" ? 1 : 0);
  const auto journal = cutover.status_json();
  const auto timing = [&journal](const char* name) {
    return journal.is_null() ? 0.0 : journal["timings"].value(name, 0L) / 1000.0;
  };
  out.gauge("cutover_last_freeze_seconds", "Freeze (PAUSE) duration of the last cutover", timing("freeze_ms"));
  out.gauge("cutover_last_drain_seconds", "Drain duration of the last cutover", timing("drain_ms"));
  out.gauge("cutover_last_switch_seconds", "Sequences and switch duration of the last cutover", timing("switch_ms"));
  out.gauge("cutover_last_pause_seconds", "Client write pause of the last cutover, PAUSE to RESUME",
            timing("pause_ms"));
  const MoveTally& tally = cutover.tally();
  out.metric("cutover_moves_total", "counter", "Switches and rollbacks this run ended, by operation and outcome");
  for (const Move operation : MoveTally::kOperations) {
    for (const Outcome outcome : MoveTally::kOutcomes) {
      out.sample("cutover_moves_total", static_cast<double>(tally.count(operation, outcome)),
                 label("operation", name_of(operation)) + "," + label("outcome", name_of(outcome)));
    }
  }
  out.histogram("cutover_client_pause_seconds", "Client write pause of each move this run made, PAUSE to RESUME",
                tally.pauses());
  return out.text();
}

}  // namespace cutover
