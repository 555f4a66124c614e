// EmbeddedBroker: librdkafka's in-process Kafka cluster (rdkafka_mock.h) on loopback.
//
// Serves `kafka.brokers: embedded` plans inside `cutover run`/`capture`, the `cutover broker`
// command, and the tests, which also use its fault injection (brokers down, request
// errors). It speaks the real Kafka protocol, so any client, kcat included, can read it.
// Its log is in memory and keeps about 5 MiB per partition, which is why the embedded
// broker only allows `slot_advance: on_apply`. It checks idempotent sequence numbers only for
// transactional producers, so a producer writing to it keeps one request in flight
// (kSafeProducerProperties): otherwise a batch refused with an error and a later batch
// accepted make librdkafka count the refused one as delivered.
#pragma once

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cutover/common/result.h"
#include "cutover/transport/kafka_config.h"

namespace cutover {

class EmbeddedBroker {
 public:
  // Producer properties that keep the no-lost-change guarantee on this broker (see above).
  static inline const KafkaProperties kSafeProducerProperties = {
      {"max.in.flight.requests.per.connection", "1"}};

  static Result<std::unique_ptr<EmbeddedBroker>> start(int broker_count = 1);
  ~EmbeddedBroker();
  EmbeddedBroker(const EmbeddedBroker&) = delete;
  EmbeddedBroker& operator=(const EmbeddedBroker&) = delete;

  // "127.0.0.1:port,..." of every broker.
  std::string bootstrap() const;
  Status create_topic(const std::string& topic, int partitions);

  // Fault injection, for tests.
  void set_broker_down(std::int32_t broker_id);
  void set_broker_up(std::int32_t broker_id);
  // The next requests of `api_key` (RD_KAFKAP_Produce is 0) fail with `errors`, one each.
  void push_request_errors(std::int16_t api_key, const std::vector<rd_kafka_resp_err_t>& errors);

 private:
  EmbeddedBroker() = default;

  KafkaHandle owner_;  // the cluster lives inside a client handle
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  int broker_count_ = 0;
};

}  // namespace cutover
