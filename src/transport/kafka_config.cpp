#include "cutover/transport/kafka_config.h"

#include <string_view>

#include "cutover/common/logging.h"

namespace cutover {

namespace {
void log_from_librdkafka(const rd_kafka_t*, int level, const char* facility, const char* text) {
  // syslog levels: 0-3 errors, 4 warning, 5-6 notice/info, 7 debug.
  if (level <= 3) {
    spdlog::error("kafka client: {} facility={}", text, facility);
  } else if (level == 4) {
    // librdkafka warns that a property cutover chose on purpose is experimental
    // (enable.gapless.guarantee): said once per client, it says nothing to the operator.
    if (std::string_view(text).find("property enable.gapless.guarantee is experimental") != std::string_view::npos) {
      spdlog::debug("kafka client: {} facility={}", text, facility);
      return;
    }
    spdlog::warn("kafka client: {} facility={}", text, facility);
  } else {
    spdlog::debug("kafka client: {} facility={}", text, facility);
  }
}

Status set_property(rd_kafka_conf_t* config, const std::string& key, const std::string& value) {
  char reason[512];
  if (rd_kafka_conf_set(config, key.c_str(), value.c_str(), reason, sizeof reason) !=
      RD_KAFKA_CONF_OK) {
    return Status::error("kafka property " + key + ": " + reason);
  }
  return Status::ok();
}
}  // namespace

Result<KafkaHandle> create_kafka_client(rd_kafka_type_t type, const std::string& bootstrap,
                                        const KafkaProperties& defaults,
                                        const KafkaProperties& overrides,
                                        const std::function<void(rd_kafka_conf_t*)>& customize) {
  rd_kafka_conf_t* config = rd_kafka_conf_new();
  rd_kafka_conf_set_log_cb(config, log_from_librdkafka);
  KafkaProperties merged = defaults;
  merged["bootstrap.servers"] = bootstrap;
  for (const auto& [key, value] : overrides) merged[key] = value;
  for (const auto& [key, value] : merged) {
    if (auto status = set_property(config, key, value); !status) {
      rd_kafka_conf_destroy(config);
      return status;
    }
  }
  if (customize) customize(config);
  char reason[512];
  rd_kafka_t* handle = rd_kafka_new(type, config, reason, sizeof reason);
  if (!handle) {
    rd_kafka_conf_destroy(config);
    return Status::error(std::string("cannot create Kafka client: ") + reason);
  }
  return KafkaHandle(handle);
}

}  // namespace cutover
