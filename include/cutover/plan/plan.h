// The cutover plan: the YAML file of INTERFACE.md, parsed and validated once into plain
// immutable structs. Each module receives only its part (capture: blue, kafka, replication
// and the source tables).
//
// load_plan() reports every problem at once, each as "file:line:column: field: reason".
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cutover/common/postgres_connection.h"
#include "cutover/common/result.h"
#include "cutover/debezium/stream_settings.h"

namespace cutover {

struct DatabaseEndpoint {
  std::string dsn;          // resolved: from `dsn`, or from the environment variable `dsn_env`
  std::string origin;       // where it came from, for messages: "blue.dsn" or "$GREEN_DSN"
};

struct KafkaSettings {
  std::string brokers;      // "embedded" or a bootstrap list "k1:9092,k2:9092"
  std::string topic_prefix; // default cutover.<name>
  std::map<std::string, std::string> properties;  // passed to librdkafka as they are
  // How cutover makes its topics on a team's own brokers; 0: the brokers' default.
  int replication_factor = 0;
  int min_insync_replicas = 0;
  long retention_ms = 7L * 24 * 3600 * 1000;
  // kafka.debezium: the Debezium-form stream next to the change log (docs/debezium.md).
  debezium::StreamSettings debezium;
  bool is_embedded() const { return brokers == "embedded"; }
};

// Forward: blue to green, the plan as written. Reverse: green to blue after a switch, the
// reverse plan (plan/reverse_plan.h), so that a rollback loses nothing.
enum class Direction { kForward, kReverse };

enum class SlotAdvance { kOnApply, kOnKafkaAck };

struct ReplicationSettings {
  SlotAdvance slot_advance = SlotAdvance::kOnApply;
  long retained_wal_warning = 10L << 30;  // bytes of WAL blue's slot may keep before a warning
  bool failover = false;  // blue's slot synchronized to its standbys (PostgreSQL 17 and later)
};

struct SnapshotSettings {
  int parallelism = 4;
  long chunk_rows = 100000;
};

// What a TRUNCATE of the source does to the target. A merged target holds rows of other
// sources too, so there the plan must say it; refusing stops apply with a clear error.
enum class TruncateAction { kDefault, kTruncateTarget, kRefuse };

struct TableMapping {
  QualifiedName source;
  QualifiedName target;                         // default: same as source
  std::vector<std::string> key;                 // empty: the source primary key
  std::vector<std::pair<std::string, std::string>> columns;  // target column, SQL expression
  std::string where;                            // row filter, empty for none
  std::vector<std::pair<std::string, std::string>> reverse_columns;
  TruncateAction on_truncate = TruncateAction::kDefault;  // default: truncate unless merged
};

// How the applier groups source transactions into green transactions: a green transaction
// ends at the first source transaction end after any bound is reached.
struct ApplySettings {
  long batch_rows = 10000;
  long batch_bytes = 16L << 20;
  std::chrono::milliseconds batch_interval{200};
};

struct SequenceMapping {
  QualifiedName source;
  QualifiedName target;
};

struct VerifySettings {
  long chunk_rows = 10000;
  int parallelism = 2;  // workers, each with a blue and a green session
  bool before_switch_full = true;
};

struct PgbouncerSwitch {
  std::string admin_dsn;
  std::string database;
  std::string include_file;
  std::string blue;
  std::string green;
};

struct CutoverSettings {
  std::chrono::milliseconds max_lag{2000};
  std::chrono::milliseconds freeze_timeout{5000};
  std::chrono::milliseconds drain_timeout{10000};
  bool fence_blue = false;
  std::optional<PgbouncerSwitch> pgbouncer;
  std::vector<std::string> switch_command;
};

struct ControlSettings {
  std::string listen = "127.0.0.1:7800";
  std::string token_env;
};

struct Plan {
  std::string file;
  std::string name;
  Direction direction = Direction::kForward;  // kReverse only in the derived reverse plan
  DatabaseEndpoint blue;
  std::optional<DatabaseEndpoint> green;
  KafkaSettings kafka;
  ReplicationSettings replication;
  SnapshotSettings snapshot;
  ApplySettings apply;
  std::vector<TableMapping> tables;
  std::vector<SequenceMapping> sequences;
  VerifySettings verify;
  CutoverSettings cutover;
  ControlSettings control;
  std::string state_dir;
  // Schemas searched after pg_catalog for what the expressions do not qualify (search_path).
  std::vector<std::string> search_path;

  // Names of what cutover creates on blue; derived from `name` so that two plans on one
  // database never share a slot.
  std::string slot_name() const;
  std::string publication_name() const;
  // The replication origin in green that records what the applier applied.
  std::string origin_name() const;
  // The origin of the other direction's applier, which writes into this plan's source: its
  // transactions are cutover's own echo, which this direction's capture leaves out.
  std::string echo_origin_name() const;
  // The databases by role: the source is blue and the target green, turned around in the
  // reverse plan. `blue` and `green` always name the user's databases; code that runs in both
  // directions reads these. target() needs green (has_target()).
  const DatabaseEndpoint& source() const { return direction == Direction::kReverse ? *green : blue; }
  const DatabaseEndpoint& target() const { return direction == Direction::kReverse ? blue : *green; }
  bool has_target() const { return direction == Direction::kReverse || green.has_value(); }
  // The sides in messages.
  std::string source_side() const { return direction == Direction::kReverse ? "green" : "blue"; }
  std::string target_side() const { return direction == Direction::kReverse ? "blue" : "green"; }
  // The change-log topic of this plan's direction: each has its own.
  std::string changes_topic() const {
    return kafka.topic_prefix + (direction == Direction::kReverse ? ".reverse" : ".changes");
  }
  // Whether the Debezium-form stream goes exactly once (Kafka transactions): asked for, and
  // brokers that are not the embedded one (whose mock cluster cutover does not trust with them).
  bool debezium_exactly_once() const { return kafka.debezium.enabled && kafka.debezium.exactly_once && !kafka.is_embedded(); }
  // Where the exactly-once Debezium-form stream of this direction records how far it reaches.
  std::string debezium_position_topic() const { return changes_topic() + ".debezium_position"; }
  // The distinct source tables, in plan order.
  std::vector<QualifiedName> source_tables() const;
};

// The name of the slot, publication and origin of a plan called `plan_name`. Names that differ
// only in '-' and '_' share it: cutover refuses a second plan whose objects it finds are another
// plan's (see pipeline/plan_ownership.h).
std::string object_name_of_plan(const std::string& plan_name);
// The reverse plan is named after the forward plan with this suffix.
inline constexpr const char* kReversePlanSuffix = "-reverse";

// Reads and validates a plan file. The error lists every problem, one per line.
Result<Plan> load_plan(const std::string& path);
// The same from text already in memory; `file` names it in messages.
Result<Plan> parse_plan(const std::string& text, const std::string& file);

}  // namespace cutover
