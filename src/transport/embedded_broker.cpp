#include "cutover/transport/embedded_broker.h"

namespace cutover {

Result<std::unique_ptr<EmbeddedBroker>> EmbeddedBroker::start(int broker_count) {
  std::unique_ptr<EmbeddedBroker> broker(new EmbeddedBroker());
  // The owner never connects anywhere; it only hosts the cluster's threads.
  auto owner = create_kafka_client(RD_KAFKA_PRODUCER, "", {{"log_level", "3"}}, {});
  if (!owner) return owner.status().with_context("starting the embedded broker");
  broker->owner_ = std::move(owner.value());
  broker->cluster_ = rd_kafka_mock_cluster_new(broker->owner_.get(), broker_count);
  if (!broker->cluster_) return Status::error("starting the embedded broker failed");
  broker->broker_count_ = broker_count;
  return broker;
}

EmbeddedBroker::~EmbeddedBroker() {
  if (cluster_) rd_kafka_mock_cluster_destroy(cluster_);
}

std::string EmbeddedBroker::bootstrap() const { return rd_kafka_mock_cluster_bootstraps(cluster_); }

Status EmbeddedBroker::create_topic(const std::string& topic, int partitions) {
  const auto result = rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions,
                                                 broker_count_ < 3 ? broker_count_ : 3);
  if (result != RD_KAFKA_RESP_ERR_NO_ERROR &&
      result != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
    return Status::error("embedded broker: cannot create topic " + topic + ": " +
                         rd_kafka_err2str(result));
  }
  return Status::ok();
}

void EmbeddedBroker::set_broker_down(std::int32_t broker_id) {
  rd_kafka_mock_broker_set_down(cluster_, broker_id);
}

void EmbeddedBroker::set_broker_up(std::int32_t broker_id) {
  rd_kafka_mock_broker_set_up(cluster_, broker_id);
}

void EmbeddedBroker::push_request_errors(std::int16_t api_key,
                                         const std::vector<rd_kafka_resp_err_t>& errors) {
  rd_kafka_mock_push_request_errors_array(cluster_, api_key, errors.size(), errors.data());
}


}  // namespace cutover
