// TcpForwarder: a loopback port that forwards every connection to another address.
//
// `cutover broker --port N` uses it: librdkafka's embedded cluster listens on ports of its
// own choosing, so the fixed port is a bootstrap entry that forwards to it. Clients then
// learn the brokers' own addresses from the metadata, as with any Kafka cluster.
#pragma once

#include <memory>
#include <string>

#include "cutover/common/result.h"

namespace cutover {

class TcpForwarder {
 public:
  // Listens on 127.0.0.1:`port` and forwards to `target` ("host:port").
  static Result<std::unique_ptr<TcpForwarder>> start(int port, const std::string& target);
  ~TcpForwarder();
  int port() const;

 private:
  struct Impl;
  explicit TcpForwarder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cutover
