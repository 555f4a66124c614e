#include "cutover/plan/plan_settings.h"

#include <chrono>

#include "cutover/common/duration.h"
#include "cutover/plan/plan.h"

namespace cutover {

namespace {

using std::chrono::milliseconds;

constexpr long kMiB = 1L << 20;
constexpr long kMinute = 60 * 1000;
constexpr long kHour = 60 * kMinute;

long ms(milliseconds value) { return static_cast<long>(value.count()); }

}  // namespace

std::string PlanSetting::format(long value) const {
  switch (kind) {
    case SettingKind::kBytes:
      if (value % (kMiB << 10) == 0) return std::to_string(value / (kMiB << 10)) + "GB";
      if (value % kMiB == 0) return std::to_string(value / kMiB) + "MB";
      return std::to_string(value);
    case SettingKind::kDuration:
      return format_duration(milliseconds(value));
    case SettingKind::kBoolean:
      return value ? "true" : "false";
    case SettingKind::kChoice:
      return value >= 0 && static_cast<std::size_t>(value) < choices.size() ? std::string(choices[value]) : "?";
    case SettingKind::kInteger:
      break;
  }
  return std::to_string(value);
}

std::string PlanSetting::default_text() const { return format(get(Plan{})); }

const std::vector<PlanSetting>& plan_settings() {
  static const std::vector<PlanSetting> settings = {
      {"kafka", "replication_factor", SettingKind::kInteger, 0, 32, {},
       "replicas of each topic cutover creates on your brokers, 0 leaving it to their `default.replication.factor`",
       [](const Plan& p) { return static_cast<long>(p.kafka.replication_factor); },
       [](Plan& p, long v) { p.kafka.replication_factor = static_cast<int>(v); }},
      {"kafka", "min_insync_replicas", SettingKind::kInteger, 0, 32, {},
       "the `min.insync.replicas` of each topic cutover creates, 0 leaving it to the brokers' default",
       [](const Plan& p) { return static_cast<long>(p.kafka.min_insync_replicas); },
       [](Plan& p, long v) { p.kafka.min_insync_replicas = static_cast<int>(v); }},
      {"kafka", "retention", SettingKind::kDuration, kHour, 365 * 24 * kHour, {},
       "the `retention.ms` of each topic cutover creates",
       [](const Plan& p) { return p.kafka.retention_ms; },
       [](Plan& p, long v) { p.kafka.retention_ms = v; }},
      {"kafka.debezium", "schemas", SettingKind::kBoolean, 0, 1, {},
       "Kafka Connect's JsonConverter form: each key and value as `{\"schema\", \"payload\"}`",
       [](const Plan& p) { return p.kafka.debezium.schemas ? 1L : 0L; },
       [](Plan& p, long v) { p.kafka.debezium.schemas = v != 0; }},
      {"kafka.debezium", "transactions", SettingKind::kBoolean, 0, 1, {},
       "Debezium's `provide.transaction.metadata`: BEGIN and END records on `<prefix>.transaction`",
       [](const Plan& p) { return p.kafka.debezium.transactions ? 1L : 0L; },
       [](Plan& p, long v) { p.kafka.debezium.transactions = v != 0; }},
      {"kafka.debezium", "tombstones", SettingKind::kBoolean, 0, 1, {},
       "Debezium's `tombstones.on.delete`: a record without a value after each delete",
       [](const Plan& p) { return p.kafka.debezium.tombstones ? 1L : 0L; },
       [](Plan& p, long v) { p.kafka.debezium.tombstones = v != 0; }},
      {"kafka.debezium", "snapshot_events", SettingKind::kBoolean, 0, 1, {},
       "Debezium's initial snapshot (`snapshot.mode=initial`): green's first snapshot also publishes every row of "
       "the source tables as an `op: r` event",
       [](const Plan& p) { return p.kafka.debezium.snapshot_events ? 1L : 0L; },
       [](Plan& p, long v) { p.kafka.debezium.snapshot_events = v != 0; }},
      {"kafka.debezium", "exactly_once", SettingKind::kBoolean, 0, 1, {},
       "each change on the Debezium-form topics once, through Kafka transactions tied to blue's slot, for "
       "consumers that read committed records",
       [](const Plan& p) { return p.kafka.debezium.exactly_once ? 1L : 0L; },
       [](Plan& p, long v) { p.kafka.debezium.exactly_once = v != 0; }},
      {"kafka.debezium", "transaction_records", SettingKind::kInteger, 100, 10000000, {},
       "with `exactly_once`, the most records of one source transaction in one Kafka transaction",
       [](const Plan& p) { return p.kafka.debezium.transaction_records; },
       [](Plan& p, long v) { p.kafka.debezium.transaction_records = v; }},
      {"kafka.debezium", "replace_null_with_default", SettingKind::kBoolean, 0, 1, {},
       "Kafka Connect JsonConverter's `replace.null.with.default`: a NULL in a column that has a default is "
       "written as the default",
       [](const Plan& p) { return p.kafka.debezium.replace_null_with_default ? 1L : 0L; },
       [](Plan& p, long v) { p.kafka.debezium.replace_null_with_default = v != 0; }},
      {"kafka.debezium", "decimal_handling_mode", SettingKind::kChoice, 0, 0, {"precise", "string", "double"},
       "Debezium's `decimal.handling.mode`",
       [](const Plan& p) { return static_cast<long>(p.kafka.debezium.modes.decimal); },
       [](Plan& p, long v) { p.kafka.debezium.modes.decimal = static_cast<debezium::DecimalHandling>(v); }},
      {"kafka.debezium", "binary_handling_mode", SettingKind::kChoice, 0, 0, {"bytes", "base64", "hex"},
       "Debezium's `binary.handling.mode`",
       [](const Plan& p) { return static_cast<long>(p.kafka.debezium.modes.binary); },
       [](Plan& p, long v) { p.kafka.debezium.modes.binary = static_cast<debezium::BinaryHandling>(v); }},
      {"kafka.debezium", "time_precision_mode", SettingKind::kChoice, 0, 0,
       {"adaptive", "adaptive_time_microseconds", "connect"}, "Debezium's `time.precision.mode`",
       [](const Plan& p) { return static_cast<long>(p.kafka.debezium.modes.time); },
       [](Plan& p, long v) { p.kafka.debezium.modes.time = static_cast<debezium::TimePrecision>(v); }},
      {"replication", "slot_advance", SettingKind::kChoice, 0, 0, {"on_apply", "on_kafka_ack"},
       "`on_apply`: blue's slot is confirmed only as far as green has durably applied",
       [](const Plan& p) { return static_cast<long>(p.replication.slot_advance); },
       [](Plan& p, long v) { p.replication.slot_advance = static_cast<SlotAdvance>(v); }},
      {"replication", "retained_wal_warning", SettingKind::kBytes, kMiB, 1L << 50, {},
       "warn (log, status, dashboard) when blue's slot keeps more WAL than this",
       [](const Plan& p) { return p.replication.retained_wal_warning; },
       [](Plan& p, long v) { p.replication.retained_wal_warning = v; }},
      {"replication", "failover", SettingKind::kBoolean, 0, 1, {},
       "blue's slot is a failover slot (PostgreSQL 17 and later), synchronized to the standbys that have "
       "sync_replication_slots on",
       [](const Plan& p) { return p.replication.failover ? 1L : 0L; },
       [](Plan& p, long v) { p.replication.failover = v != 0; }},
      {"snapshot", "parallelism", SettingKind::kInteger, 1, 64, {},
       "COPY workers, each importing the slot's exported snapshot",
       [](const Plan& p) { return static_cast<long>(p.snapshot.parallelism); },
       [](Plan& p, long v) { p.snapshot.parallelism = static_cast<int>(v); }},
      {"snapshot", "chunk_rows", SettingKind::kInteger, 1, 100000000, {},
       "rows per key-range chunk of a table's copy",
       [](const Plan& p) { return p.snapshot.chunk_rows; }, [](Plan& p, long v) { p.snapshot.chunk_rows = v; }},
      {"apply", "batch_rows", SettingKind::kInteger, 1, 10000000, {},
       "a green transaction ends at the first source transaction end after this many rows",
       [](const Plan& p) { return p.apply.batch_rows; }, [](Plan& p, long v) { p.apply.batch_rows = v; }},
      {"apply", "batch_bytes", SettingKind::kBytes, 1024, 1L << 30, {},
       "... or this many bytes of change events",
       [](const Plan& p) { return p.apply.batch_bytes; }, [](Plan& p, long v) { p.apply.batch_bytes = v; }},
      {"apply", "batch_interval", SettingKind::kDuration, 1, kMinute, {}, "... or this much time",
       [](const Plan& p) { return ms(p.apply.batch_interval); },
       [](Plan& p, long v) { p.apply.batch_interval = milliseconds(v); }},
      {"verify", "chunk_rows", SettingKind::kInteger, 1, 100000000, {}, "rows per compared key range",
       [](const Plan& p) { return p.verify.chunk_rows; }, [](Plan& p, long v) { p.verify.chunk_rows = v; }},
      {"verify", "parallelism", SettingKind::kInteger, 1, 64, {},
       "workers, each with a blue and a green session",
       [](const Plan& p) { return static_cast<long>(p.verify.parallelism); },
       [](Plan& p, long v) { p.verify.parallelism = static_cast<int>(v); }},
      {"verify", "before_switch", SettingKind::kChoice, 0, 0, {"full", "none"},
       "`full`: a clean verification is required right before the freeze",
       [](const Plan& p) { return p.verify.before_switch_full ? 0L : 1L; },
       [](Plan& p, long v) { p.verify.before_switch_full = v == 0; }},
      // A lag of 0 is never reached; clients are paused for the freeze, so it stays short.
      {"cutover", "max_lag", SettingKind::kDuration, 1, kHour, {},
       "guardrail: the pipeline's lag must be under this",
       [](const Plan& p) { return ms(p.cutover.max_lag); }, [](Plan& p, long v) { p.cutover.max_lag = milliseconds(v); }},
      {"cutover", "freeze_timeout", SettingKind::kDuration, 10, 10 * kMinute, {},
       "bound on PgBouncer's PAUSE (and on the switch command)",
       [](const Plan& p) { return ms(p.cutover.freeze_timeout); },
       [](Plan& p, long v) { p.cutover.freeze_timeout = milliseconds(v); }},
      {"cutover", "drain_timeout", SettingKind::kDuration, 10, kHour, {},
       "bound on the applier committing the drain marker",
       [](const Plan& p) { return ms(p.cutover.drain_timeout); },
       [](Plan& p, long v) { p.cutover.drain_timeout = milliseconds(v); }},
      {"cutover", "fence_blue", SettingKind::kBoolean, 0, 1, {}, "fence the side clients leave",
       [](const Plan& p) { return p.cutover.fence_blue ? 1L : 0L; },
       [](Plan& p, long v) { p.cutover.fence_blue = v != 0; }},
  };
  return settings;
}

std::vector<std::string> setting_keys(std::string_view section) {
  std::vector<std::string> keys;
  for (const auto& setting : plan_settings()) {
    if (setting.section == section) keys.emplace_back(setting.key);
  }
  return keys;
}

}  // namespace cutover
