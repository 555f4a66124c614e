// The CLI's side of the control endpoint: one HTTP/1.1 request to a running `cutover run`.
#pragma once

#include <chrono>
#include <string>

#include "cutover/common/result.h"
#include "cutover/control/http_server.h"

namespace cutover {

// Where the CLI sends requests: "http://host:port", or "https://host:port" for a control API
// behind a TLS proxy.
struct ControlEndpoint {
  bool tls = false;
  std::string host;
  unsigned short port = 0;
  std::string authority;  // host:port, as the Host header names it
};
Result<ControlEndpoint> parse_control_url(const std::string& base_url);

// `base_url` as parse_control_url reads it. With https://, the server's certificate must chain
// to the system's CAs or the one in $CUTOVER_CONTROL_CA and name the host. A failure to connect
// or a timeout is retryable (the CLI's exit 3, "cannot reach the service"); a malformed URL or
// an untrusted certificate is not.
Result<HttpResponse> http_call(const std::string& base_url, const std::string& method,
                               const std::string& path, const std::string& token,
                               const std::string& body = "",
                               std::chrono::seconds timeout = std::chrono::seconds(10));

}  // namespace cutover
