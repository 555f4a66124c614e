// The CLI's side of the control endpoint: one HTTP/1.1 request to a running `cutover run`.
#pragma once

#include <chrono>
#include <string>

#include "cutover/common/result.h"
#include "cutover/control/http_server.h"

namespace cutover {

// `base_url` is "http://host:port". A failure to connect or a timeout is retryable (the CLI's
// exit 3, "cannot reach the service"); a malformed URL is not.
Result<HttpResponse> http_call(const std::string& base_url, const std::string& method,
                               const std::string& path, const std::string& token,
                               const std::string& body = "",
                               std::chrono::seconds timeout = std::chrono::seconds(10));

}  // namespace cutover
