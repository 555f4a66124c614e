#include "cutover/control/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <openssl/x509v3.h>

#include <cstdlib>

namespace cutover {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;

Result<ControlEndpoint> parse_control_url(const std::string& base_url) {
  ControlEndpoint endpoint;
  std::string rest;
  if (base_url.rfind("http://", 0) == 0) {
    rest = base_url.substr(7);
  } else if (base_url.rfind("https://", 0) == 0) {
    endpoint.tls = true;
    rest = base_url.substr(8);
  }
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.empty() || !split_host_port(rest, endpoint.host, endpoint.port)) {
    return Status::error("--control: '" + base_url + "' is not http://host:port or https://host:port");
  }
  endpoint.authority = rest;
  return endpoint;
}

namespace {

// One request and its answer over an open stream (plain TCP or TLS).
template <typename Stream>
HttpResponse exchange(Stream& stream, const ControlEndpoint& endpoint, const std::string& method,
                      const std::string& path, const std::string& token, const std::string& body) {
  http::request<http::string_body> request(http::string_to_verb(method), path, 11);
  request.set(http::field::host, endpoint.authority);
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
  const auto& response = parser.get();
  HttpResponse answer;
  answer.status = static_cast<int>(response.result_int());
  if (const auto found = response.find(http::field::content_type); found != response.end()) {
    answer.content_type = std::string(found->value());
  }
  answer.body = response.body();
  return answer;
}

// The server's certificate must chain to a trusted CA: the system's, or $CUTOVER_CONTROL_CA.
void trust_authorities(ssl::context& tls) {
  tls.set_default_verify_paths();
  if (const char* ca = std::getenv("CUTOVER_CONTROL_CA"); ca != nullptr && *ca != '\0') tls.load_verify_file(ca);
  tls.set_verify_mode(ssl::verify_peer);
}

// ... and name the URL's host: a DNS name, or an IP address in its subjectAltName.
void require_host(SSL* session, const std::string& host) {
  X509_VERIFY_PARAM* checked = SSL_get0_param(session);
  boost::system::error_code not_an_address;
  asio::ip::make_address(host, not_an_address);
  if (!not_an_address) {
    X509_VERIFY_PARAM_set1_ip_asc(checked, host.c_str());
  } else {
    X509_VERIFY_PARAM_set1_host(checked, host.c_str(), 0);
    // SNI; SSL_set_tlsext_host_name is this call behind a C cast.
    SSL_ctrl(session, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, const_cast<char*>(host.c_str()));
  }
}

}  // namespace

Result<HttpResponse> http_call(const std::string& base_url, const std::string& method,
                               const std::string& path, const std::string& token,
                               const std::string& body, std::chrono::seconds timeout) {
  auto endpoint = parse_control_url(base_url);
  if (!endpoint) return endpoint.status();
  asio::io_context context;
  tcp::resolver resolver(context);
  try {
    const auto addresses = resolver.resolve(endpoint->host, std::to_string(endpoint->port));
    if (!endpoint->tls) {
      beast::tcp_stream stream(context);
      stream.expires_after(timeout);
      stream.connect(addresses);
      HttpResponse answer = exchange(stream, *endpoint, method, path, token, body);
      beast::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      return answer;
    }
    ssl::context tls(ssl::context::tls_client);
    trust_authorities(tls);
    beast::ssl_stream<beast::tcp_stream> stream(context, tls);
    require_host(stream.native_handle(), endpoint->host);
    beast::get_lowest_layer(stream).expires_after(timeout);
    beast::get_lowest_layer(stream).connect(addresses);
    try {
      stream.handshake(ssl::stream_base::client);
    } catch (const boost::system::system_error& refused) {
      const long verified = SSL_get_verify_result(stream.native_handle());
      const std::string why = verified != X509_V_OK ? X509_verify_cert_error_string(verified) : refused.what();
      // Not a passing fault: trying again meets the same certificate.
      return Status::error("cutover at " + base_url + " cannot be trusted: " + why +
                           " (the CLI trusts the system's CAs, and the one in $CUTOVER_CONTROL_CA)");
    }
    HttpResponse answer = exchange(stream, *endpoint, method, path, token, body);
    beast::error_code ignored;
    stream.shutdown(ignored);  // the server may close without its close_notify
    return answer;
  } catch (const std::exception& error) {
    return Status::retryable("cannot reach cutover at " + base_url + ": " + error.what());
  }
}

}  // namespace cutover
