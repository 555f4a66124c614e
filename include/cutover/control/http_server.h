// HttpServer: the control endpoint's HTTP/1.1 server (Boost.Beast), on threads of its own.
//
// Handlers run on those threads, several at once, and should answer quickly; long work (a
// verification, a cutover) is started elsewhere and reported through status. Requests are bounded: headers
// to 8 KiB, bodies to 64 KiB, 10 s to send a request, 30 s idle on a kept-alive connection,
// and 64 connections at once; a connection past those limits is answered 4xx or closed.
// Beast stays inside this module and the client's; the rest sees plain structs.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "cutover/common/result.h"

namespace cutover {

struct HttpRequest {
  std::string method;         // "GET", "POST", ...
  std::string target;         // path and query: "/api/v1/status"
  std::string authorization;  // the Authorization header, empty when absent
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

class HttpServer {
 public:
  // Listens on `listen` ("127.0.0.1:7800"; port 0 picks a free one).
  static Result<std::unique_ptr<HttpServer>> start(const std::string& listen, HttpHandler handler);
  virtual ~HttpServer() = default;
  virtual unsigned short port() const = 0;
  virtual std::string address() const = 0;  // "127.0.0.1:7800"
};

// Splits "host:port" ("[::1]:7800" for IPv6); false when it is not that form.
bool split_host_port(const std::string& text, std::string& host, unsigned short& port);

}  // namespace cutover
