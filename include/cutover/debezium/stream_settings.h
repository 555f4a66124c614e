// The plan's `kafka.debezium` section: the Debezium-form stream that capture publishes next to
// cutover's own change log (docs/debezium.md). Plain values, parsed once by the plan loader.
#pragma once

#include <string>

namespace cutover::debezium {

// Debezium's decimal.handling.mode, binary.handling.mode and time.precision.mode.
enum class DecimalHandling { kPrecise, kString, kDouble };
enum class BinaryHandling { kBytes, kBase64, kHex };
enum class TimePrecision { kAdaptive, kAdaptiveTimeMicroseconds, kConnect };

struct ValueModes {
  DecimalHandling decimal = DecimalHandling::kPrecise;
  BinaryHandling binary = BinaryHandling::kBytes;
  TimePrecision time = TimePrecision::kAdaptive;
};

struct StreamSettings {
  bool enabled = false;      // the plan has a kafka.debezium section
  std::string topic_prefix;  // Debezium's topic.prefix; default: kafka.topic_prefix
  bool schemas = true;       // JsonConverter's schemas.enable: {"schema", "payload"} records
  bool transactions = true;  // provide.transaction.metadata: the <prefix>.transaction topic
  bool tombstones = true;    // tombstones.on.delete
  // Debezium's initial snapshot: green's snapshot also publishes every row as `op: r`.
  bool snapshot_events = false;
  // Kafka transactions tied to the source's position (transport/transactional_stream.h);
  // false: at least once, a restart publishing the transactions since blue's slot again.
  bool exactly_once = true;
  // With exactly_once: the most records of one source transaction in one Kafka transaction
  // (a bigger one is committed in pieces, so consumers see it sooner and the brokers'
  // transaction timeout never ends it).
  long transaction_records = 20000;
  // JsonConverter's replace.null.with.default (true by default, as there): a NULL in a column
  // that has a default is written as the default, which is what Debezium's records then hold.
  bool replace_null_with_default = true;
  ValueModes modes;
  // The text Debezium's unavailable.value.placeholder gives an unchanged TOAST value.
  std::string unavailable_placeholder = "__debezium_unavailable_value";
};

}  // namespace cutover::debezium
