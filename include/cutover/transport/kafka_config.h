// librdkafka configuration built from cutover's defaults and the plan's kafka.properties.
//
// Used by the change-log producer, the topic admin and the test consumers. The plan's
// properties are applied last, so security.protocol, sasl.* and the like pass through as
// the operator wrote them. Values are never logged (they may hold passwords).
#pragma once

#include <librdkafka/rdkafka.h>

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "cutover/common/result.h"

namespace cutover {

struct KafkaHandleDeleter {
  void operator()(rd_kafka_t* handle) const { rd_kafka_destroy(handle); }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaHandleDeleter>;

using KafkaProperties = std::map<std::string, std::string>;

// The largest change event cutover sends (one row, its JSON): the producer's
// message.max.bytes, the consumer's fetch limits and the max.message.bytes of the topics it
// makes. A bigger row stops capture with an error naming it, before anything after it is sent.
inline constexpr long kMaxChangeEventBytes = 64L << 20;

// Creates a client of `type` for `bootstrap`; `defaults` first, then `overrides`.
// librdkafka's own log lines go to cutover's logger.
Result<KafkaHandle> create_kafka_client(rd_kafka_type_t type, const std::string& bootstrap,
                                        const KafkaProperties& defaults,
                                        const KafkaProperties& overrides,
                                        const std::function<void(rd_kafka_conf_t*)>& customize = {});

}  // namespace cutover
