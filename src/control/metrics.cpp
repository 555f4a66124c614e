#include "cutover/control/metrics.h"

#include <charconv>
#include <cmath>
#include <sstream>

namespace cutover {

namespace {

std::string number(double value);

class Exposition {
 public:
  void metric(const std::string& name, const std::string& type, const std::string& help) {
    text_ << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
  }
  void sample(const std::string& name, double value, const std::string& labels = "") {
    text_ << name << (labels.empty() ? "" : "{" + labels + "}") << " " << number(value) << "\n";
  }
  void gauge(const std::string& name, const std::string& help, double value) {
    metric(name, "gauge", help);
    sample(name, value);
  }
  void counter(const std::string& name, const std::string& help, double value) {
    metric(name, "counter", help);
    sample(name, value);
  }
  void histogram(const std::string& name, const std::string& help, const Histogram& histogram) {
    metric(name, "histogram", help);
    for (std::size_t i = 0; i < histogram.bounds().size(); ++i) {
      std::ostringstream bound;
      bound << histogram.bounds()[i];
      sample(name + "_bucket", static_cast<double>(histogram.cumulative(i)), "le=\"" + bound.str() + "\"");
    }
    sample(name + "_bucket", static_cast<double>(histogram.count()), "le=\"+Inf\"");
    sample(name + "_sum", histogram.sum());
    sample(name + "_count", static_cast<double>(histogram.count()));
  }
  std::string text() const { return text_.str(); }

 private:
  std::ostringstream text_;
};

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
  Exposition out;
  const Lag lag = current_lag(status);
  const std::string phase = cutover.shown_phase();
  out.metric("cutover_phase", "gauge", "The pipeline's phase: 1 for the current one");
  out.sample("cutover_phase", 1, "plan=\"" + escaped(plan.name) + "\",phase=\"" + escaped(phase) + "\"");
  out.metric("cutover_direction_reverse", "gauge", "1 while the reverse pipeline (green to blue) streams");
  out.sample("cutover_direction_reverse", status.running.load() == Direction::kReverse ? 1 : 0);
  out.gauge("cutover_lag_bytes", "WAL bytes between the source's position and what the target has applied",
            static_cast<double>(lag.bytes));
  out.gauge("cutover_lag_seconds", "Age of the last applied commit while more is waiting", lag.seconds);
  if (const auto reading = status.slot.get()) {
    const SlotHealth& slot = reading->health;
    const std::string labels = "slot=\"" + escaped(slot.name) + "\"";
    out.metric("cutover_slot_retained_wal_bytes", "gauge",
               "WAL the source keeps for the plan's slot: its current position less the slot's restart_lsn");
    out.sample("cutover_slot_retained_wal_bytes", static_cast<double>(slot.retained_bytes), labels);
    if (slot.safe_wal_bytes) {
      out.metric("cutover_slot_safe_wal_bytes", "gauge",
                 "WAL the source may still write before max_slot_wal_keep_size invalidates the slot");
      out.sample("cutover_slot_safe_wal_bytes", static_cast<double>(*slot.safe_wal_bytes), labels);
    }
    out.metric("cutover_slot_active", "gauge", "1 while a walsender streams from the plan's slot");
    out.sample("cutover_slot_active", slot.active ? 1 : 0, labels);
    out.metric("cutover_slot_wal_status", "gauge", "The slot's wal_status: 1 for the current one");
    out.sample("cutover_slot_wal_status", 1,
               labels + ",status=\"" + escaped(slot.exists ? slot.wal_status : "dropped") + "\"");
    out.metric("cutover_slot_warning", "gauge",
               "1 while the slot keeps more WAL than replication.retained_wal_warning, or is about to lose it");
    out.sample("cutover_slot_warning", reading->warning.empty() ? 0 : 1, labels);
  }
  out.counter("cutover_events_captured_total", "Change events capture wrote to the change log",
              static_cast<double>(status.capture.events.load()));
  out.counter("cutover_transactions_captured_total", "Source transactions capture wrote",
              static_cast<double>(status.capture.transactions.load()));
  out.counter("cutover_transactions_applied_total", "Source transactions committed in green",
              static_cast<double>(status.apply.transactions.load()));
  out.counter("cutover_rows_applied_total", "Row changes committed in green",
              static_cast<double>(status.apply.rows.load()));
  out.histogram("cutover_apply_batch_rows", "Rows per green transaction", status.apply.batch_rows);
  out.histogram("cutover_apply_batch_seconds", "Time to flush and commit a green transaction",
                status.apply.batch_seconds);
  {
    std::uint64_t rows = 0;
    std::lock_guard lock(status.snapshot.mutex);
    for (const auto& [table, progress] : status.snapshot.tables) rows += progress.rows;
    out.counter("cutover_snapshot_rows_total", "Rows the snapshot copied into green", static_cast<double>(rows));
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
  return out.text();
}

}  // namespace cutover
