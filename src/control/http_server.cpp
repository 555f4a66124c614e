#include "cutover/control/http_server.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <list>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "cutover/common/json_writer.h"
#include "cutover/common/logging.h"

namespace cutover {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

constexpr std::size_t kHeaderLimit = 8 * 1024;
constexpr std::size_t kBodyLimit = 64 * 1024;
// A client on this machine sends its whole request at once: one that takes longer (or keeps
// an idle connection open longer) is holding a place, not asking for something.
constexpr auto kRequestTimeout = std::chrono::seconds(5);
constexpr auto kWriteTimeout = std::chrono::seconds(10);
constexpr int kMaximumConnections = 64;
// Handlers may wait on a database (a switch's guardrails, a dry run): with several threads,
// one such request does not hold up status for everyone else. A connection's operations
// still run one after the other, each starting from the completion of the one before.
constexpr int kThreads = 4;

// A request's text as the log may show it: bytes outside printable ASCII as \xNN.
std::string printable(const std::string& text) {
  constexpr std::size_t kShown = 200;
  std::string shown;
  for (std::size_t i = 0; i < text.size() && i < kShown; ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte >= 0x20 && byte < 0x7f && byte != '"' && byte != '\\') {
      shown += static_cast<char>(byte);
    } else {
      static const char* const kHex = "0123456789abcdef";
      shown += std::string("\\x") + kHex[byte >> 4] + kHex[byte & 0xf];
    }
  }
  if (text.size() > kShown) shown += "...";
  return shown;
}

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // `socket` runs on a strand of its own: eviction from the acceptor is posted there, so it
  // never races the connection's own handlers.
  Connection(tcp::socket socket, const HttpHandler& handler, std::atomic<int>& open)
      : stream_(std::move(socket)), handler_(handler), open_(open) {
    open_++;
  }
  ~Connection() { open_--; }

  void start() { read(); }

  // Since when it has waited for a request, or nullopt while it handles one.
  std::optional<std::chrono::steady_clock::time_point> waiting_since() const {
    std::lock_guard lock(waiting_mutex_);
    return waiting_since_;
  }
  // Closes a connection that waits for a request, to make room for a new one; false when it
  // no longer waits (its request has just arrived).
  bool evict() {
    {
      std::lock_guard lock(waiting_mutex_);
      if (!waiting_since_) return false;
      waiting_since_.reset();  // never chosen twice
    }
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      self->stream_.cancel();
      self->close();
    });
    return true;
  }

 private:
  void set_waiting(bool waiting) {
    std::lock_guard lock(waiting_mutex_);
    waiting_since_ = waiting ? std::optional(std::chrono::steady_clock::now()) : std::nullopt;
  }

  void read() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(kBodyLimit);
    set_waiting(true);
    stream_.expires_after(kRequestTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code error, std::size_t) {
                       self->set_waiting(false);
                       self->on_read(error);
                     });
  }

  void on_read(beast::error_code error) {
    if (error == http::error::end_of_stream || error == beast::error::timeout ||
        error == asio::error::operation_aborted || error == asio::error::connection_reset) {
      return close();
    }
    if (error == http::error::body_limit) return answer_error(413, "request body too large", false);
    if (error == http::error::header_limit) return answer_error(431, "request headers too large", false);
    if (error) return answer_error(400, "malformed request: " + error.message(), false);
    const auto& message = parser_->get();
    HttpRequest request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    if (const auto found = message.find(http::field::authorization); found != message.end()) {
      request.authorization = std::string(found->value());
    }
    request.body = message.body();
    HttpResponse answer;
    try {
      answer = handler_(request);
    } catch (const std::exception& failure) {
      spdlog::error("control request failed method={} target=\"{}\" error=\"{}\"", printable(request.method),
                    printable(request.target), printable(failure.what()));
      answer = {500, "application/json", R"({"error": "internal error; see cutover's log"})"};
    }
    write(std::move(answer), message.keep_alive());
  }

  void answer_error(int status, const std::string& reason, bool keep_alive) {
    std::string body;
    JsonWriter(body).begin_object().key("error").string(reason).end_object();
    write({status, "application/json", std::move(body)}, keep_alive);
  }

  void write(HttpResponse answer, bool keep_alive) {
    auto response = std::make_shared<http::response<http::string_body>>();
    response->result(static_cast<http::status>(answer.status));
    response->version(11);
    response->set(http::field::server, "cutover");
    response->set(http::field::content_type, answer.content_type);
    response->set(http::field::cache_control, "no-store");
    response->keep_alive(keep_alive);
    response->body() = std::move(answer.body);
    response->prepare_payload();
    stream_.expires_after(kWriteTimeout);
    http::async_write(stream_, *response,
                      [self = shared_from_this(), response, keep_alive](beast::error_code error, std::size_t) {
                        if (error || !keep_alive) return self->close();
                        self->read();
                      });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  const HttpHandler& handler_;
  std::atomic<int>& open_;
  mutable std::mutex waiting_mutex_;
  std::optional<std::chrono::steady_clock::time_point> waiting_since_;  // guarded by waiting_mutex_
};

class BeastServer final : public HttpServer {
 public:
  explicit BeastServer(HttpHandler handler) : handler_(std::move(handler)), acceptor_(context_) {}
  ~BeastServer() override {
    context_.stop();
    for (auto& thread : threads_) thread.join();
  }

  Status listen(const std::string& host, unsigned short port) {
    beast::error_code error;
    const auto address = asio::ip::make_address(host, error);
    if (error) return Status::error("control.listen: '" + host + "' is not an IP address");
    const tcp::endpoint endpoint(address, port);
    acceptor_.open(endpoint.protocol(), error);
    if (!error) acceptor_.set_option(asio::socket_base::reuse_address(true), error);
    if (!error) acceptor_.bind(endpoint, error);
    if (!error) acceptor_.listen(asio::socket_base::max_listen_connections, error);
    if (error) {
      return Status::error("control: cannot listen on " + host + ":" + std::to_string(port) +
                           ": " + error.message());
    }
    host_ = host;
    accept();
    for (int i = 0; i < kThreads; ++i) threads_.emplace_back([this] { context_.run(); });
    return Status::ok();
  }

  unsigned short port() const override { return acceptor_.local_endpoint().port(); }
  std::string address() const override {
    const bool v6 = host_.find(':') != std::string::npos;
    return (v6 ? "[" + host_ + "]" : host_) + ":" + std::to_string(port());
  }

 private:
  void accept() {
    acceptor_.async_accept(asio::make_strand(context_), [this](beast::error_code error, tcp::socket socket) {
      if (error == asio::error::operation_aborted) return;
      if (!error) admit(std::move(socket));
      accept();
    });
  }

  // When every place is taken, the connection that has waited longest for a request gives
  // its place up: idle or slow connections cannot lock out a client that asks for something.
  // Only when every connection is busy with a request is the new one turned away.
  void admit(tcp::socket socket) {
    std::lock_guard lock(connections_mutex_);
    connections_.remove_if([](const std::weak_ptr<Connection>& connection) { return connection.expired(); });
    if (open_.load() >= kMaximumConnections) {
      std::shared_ptr<Connection> longest;
      std::chrono::steady_clock::time_point since = std::chrono::steady_clock::time_point::max();
      for (const auto& weak : connections_) {
        auto connection = weak.lock();
        if (!connection) continue;
        if (const auto waiting = connection->waiting_since(); waiting && *waiting < since) {
          since = *waiting;
          longest = std::move(connection);
        }
      }
      if (!longest || !longest->evict()) {
        beast::error_code ignored;
        socket.close(ignored);
        return;
      }
    }
    auto connection = std::make_shared<Connection>(std::move(socket), handler_, open_);
    connections_.push_back(connection);
    connection->start();
  }

  // Connections refer to the handler and the count: both outlive the context that owns them.
  HttpHandler handler_;
  std::atomic<int> open_{0};
  std::mutex connections_mutex_;
  std::list<std::weak_ptr<Connection>> connections_;  // guarded by connections_mutex_
  asio::io_context context_{kThreads};
  tcp::acceptor acceptor_;
  std::string host_;
  std::vector<std::thread> threads_;
};

}  // namespace

bool split_host_port(const std::string& text, std::string& host, unsigned short& port) {
  std::size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= text.size()) return false;
  host = text.substr(0, colon);
  if (host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const std::string digits = text.substr(colon + 1);
  if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 5) return false;
  const unsigned long value = std::stoul(digits);
  if (value > 65535) return false;
  port = static_cast<unsigned short>(value);
  return true;
}

Result<std::unique_ptr<HttpServer>> HttpServer::start(const std::string& listen, HttpHandler handler) {
  std::string host;
  unsigned short port = 0;
  if (!split_host_port(listen, host, port)) {
    return Status::error("control.listen: '" + listen + "' is not host:port");
  }
  auto server = std::make_unique<BeastServer>(std::move(handler));
  if (auto listening = server->listen(host, port); !listening) return listening;
  return std::unique_ptr<HttpServer>(std::move(server));
}

}  // namespace cutover
