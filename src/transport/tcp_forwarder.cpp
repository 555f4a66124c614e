#include "cutover/transport/tcp_forwarder.h"

#include <boost/asio.hpp>

#include <array>
#include <thread>

#include "cutover/common/logging.h"

namespace cutover {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// One forwarded connection: two sockets and a pump in each direction. It lives as long as
// either pump holds a reference.
class Link : public std::enable_shared_from_this<Link> {
 public:
  Link(tcp::socket client, asio::io_context& context)
      : client_(std::move(client)), upstream_(context) {}

  void start(const tcp::endpoint& target) {
    upstream_.async_connect(target, [self = shared_from_this()](boost::system::error_code error) {
      if (error) {
        self->close();
        return;
      }
      self->pump(self->client_, self->upstream_, self->client_to_upstream_);
      self->pump(self->upstream_, self->client_, self->upstream_to_client_);
    });
  }

 private:
  using Buffer = std::array<char, 65536>;

  void pump(tcp::socket& from, tcp::socket& to, Buffer& buffer) {
    from.async_read_some(asio::buffer(buffer), [self = shared_from_this(), &from, &to, &buffer](
                                                   boost::system::error_code error, std::size_t n) {
      if (error) {
        self->close();
        return;
      }
      asio::async_write(to, asio::buffer(buffer.data(), n),
                        [self, &from, &to, &buffer](boost::system::error_code write_error,
                                                    std::size_t) {
                          if (write_error) {
                            self->close();
                            return;
                          }
                          self->pump(from, to, buffer);
                        });
    });
  }

  void close() {
    boost::system::error_code ignored;
    client_.close(ignored);
    upstream_.close(ignored);
  }

  tcp::socket client_;
  tcp::socket upstream_;
  Buffer client_to_upstream_{};
  Buffer upstream_to_client_{};
};

}  // namespace

struct TcpForwarder::Impl {
  asio::io_context context;
  tcp::acceptor acceptor{context};
  tcp::endpoint target;
  std::thread thread;

  void accept() {
    acceptor.async_accept([this](boost::system::error_code error, tcp::socket socket) {
      if (error) return;  // the acceptor was closed
      std::make_shared<Link>(std::move(socket), context)->start(target);
      accept();
    });
  }
};

TcpForwarder::TcpForwarder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<TcpForwarder>> TcpForwarder::start(int port, const std::string& target) {
  auto impl = std::make_unique<Impl>();
  const auto colon = target.rfind(':');
  if (colon == std::string::npos) return Status::error("forward target needs host:port: " + target);
  try {
    tcp::resolver resolver(impl->context);
    impl->target = *resolver.resolve(target.substr(0, colon), target.substr(colon + 1)).begin();
    const tcp::endpoint listen(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port));
    impl->acceptor.open(listen.protocol());
    impl->acceptor.set_option(tcp::acceptor::reuse_address(true));
    impl->acceptor.bind(listen);
    impl->acceptor.listen();
  } catch (const boost::system::system_error& error) {
    return Status::error("cannot listen on 127.0.0.1:" + std::to_string(port) + ": " +
                         error.code().message());
  }
  impl->accept();
  impl->thread = std::thread([context = &impl->context] { context->run(); });
  return std::unique_ptr<TcpForwarder>(new TcpForwarder(std::move(impl)));
}

TcpForwarder::~TcpForwarder() {
  impl_->context.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

int TcpForwarder::port() const { return impl_->acceptor.local_endpoint().port(); }

}  // namespace cutover
