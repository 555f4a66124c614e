#include "cutover/control/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace cutover {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

Result<HttpResponse> http_call(const std::string& base_url, const std::string& method,
                               const std::string& path, const std::string& token,
                               const std::string& body, std::chrono::seconds timeout) {
  const std::string scheme = "http://";
  std::string authority = base_url.rfind(scheme, 0) == 0 ? base_url.substr(scheme.size()) : "";
  while (!authority.empty() && authority.back() == '/') authority.pop_back();
  std::string host;
  unsigned short port = 0;
  if (!split_host_port(authority, host, port)) {
    return Status::error("--control: '" + base_url + "' is not http://host:port");
  }
  try {
    asio::io_context context;
    tcp::resolver resolver(context);
    beast::tcp_stream stream(context);
    stream.expires_after(timeout);
    stream.connect(resolver.resolve(host, std::to_string(port)));
    http::request<http::string_body> request(http::string_to_verb(method), path, 11);
    request.set(http::field::host, authority);
    request.set(http::field::user_agent, "cutover-cli");
    if (!token.empty()) request.set(http::field::authorization, "Bearer " + token);
    if (!body.empty()) request.set(http::field::content_type, "application/json");
    request.body() = body;
    request.prepare_payload();
    http::write(stream, request);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    http::read(stream, buffer, parser);
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    const auto& response = parser.get();
    HttpResponse answer;
    answer.status = static_cast<int>(response.result_int());
    if (const auto found = response.find(http::field::content_type); found != response.end()) {
      answer.content_type = std::string(found->value());
    }
    answer.body = response.body();
    return answer;
  } catch (const std::exception& error) {
    return Status::retryable("cannot reach cutover at " + base_url + ": " + error.what());
  }
}

}  // namespace cutover
