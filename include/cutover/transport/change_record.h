// ChangeRecord: one record as Kafka carries it, a JSON key and a JSON value. Capture makes
// them (capture/change_encoder.h for the change log, debezium/event_encoder.h for the
// Debezium-form topics); the producer sends them.
#pragma once

#include <string>
#include <utility>

namespace cutover {

struct ChangeRecord {
  ChangeRecord() = default;
  ChangeRecord(std::string key_json, std::string value_json, std::string to_topic = "")
      : key(std::move(key_json)), value(std::move(value_json)), topic(std::move(to_topic)) {}

  std::string key;    // JSON
  std::string value;  // JSON
  // Empty: the change log, partition 0. Otherwise a topic of the Debezium-form stream, its
  // partition chosen by the key as Kafka's Java clients choose it.
  std::string topic;
  bool key_null = false;    // a record without a key (a table without a primary key)
  bool value_null = false;  // a tombstone
};

}  // namespace cutover
