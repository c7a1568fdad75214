#include "supervisor/http/http_server.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <algorithm>
#include <optional>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/log.h"
#include "supervisor/http/http_server_internal.h"

namespace isobar::supervisor {

using namespace http_internal;  // NOLINT: Beast's and Asio's names, this file only

namespace {

constexpr char kComponent[] = "http";
// A response's header block: what Beast 1.74 can write (it throws past 64 KiB in one field) and what
// any client would read.
constexpr size_t kMaxResponseHeaderBytes = 32 << 10;
// Bytes read ahead of the parser beyond a header block: bounds the connection's buffer, which chunk
// extensions and trailers (not counted by the body limit) would otherwise grow.
constexpr size_t kReadAheadBytes = 64 << 10;
constexpr absl::Duration kAcceptRetry = absl::Milliseconds(100);

}  // namespace

absl::Status CheckResponse(const HttpResponse& response) {
  if (response.status < 200 || response.status > 599) return absl::InvalidArgumentError("its status is not 200-599");
  if ((response.status == 204 || response.status == 304) && !response.body.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("a ", response.status, " response has no body"));
  }
  size_t bytes = 0;
  for (const auto& [name, value] : response.headers) {
    bytes += name.size() + value.size() + 4;
    if (name.empty() || name.size() > 256 ||
        !std::all_of(name.begin(), name.end(), [](char c) {
          return absl::ascii_isalnum(c) || absl::StrContains("!#$%&'*+-.^_`|~", c);
        })) {
      return absl::InvalidArgumentError("a header name is not a token");
    }
    // A field value: visible characters, spaces and tabs, and bytes above 0x7f (obs-text).
    if (!std::all_of(value.begin(), value.end(), [](char c) {
          const unsigned char u = static_cast<unsigned char>(c);
          return u == '\t' || (u >= 0x20 && u != 0x7f);
        })) {
      return absl::InvalidArgumentError(absl::StrCat("the value of header ", name, " holds a control character"));
    }
  }
  if (bytes > kMaxResponseHeaderBytes) {
    return absl::InvalidArgumentError(absl::StrCat("its headers are over ", kMaxResponseHeaderBytes, " bytes"));
  }
  return absl::OkStatus();
}

absl::string_view HttpRequest::Header(absl::string_view lower_case_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_case_name) return value;
  }
  return {};
}

HttpResponse HttpResponse::Text(int status, std::string text) {
  HttpResponse response;
  response.status = status;
  response.headers.emplace_back("content-type", "text/plain; charset=utf-8");
  response.body = std::move(text);
  if (!response.body.empty() && response.body.back() != '\n') response.body.push_back('\n');
  return response;
}

HttpResponse HttpResponse::Json(int status, std::string json) {
  HttpResponse response;
  response.status = status;
  response.headers.emplace_back("content-type", "application/json");
  response.body = std::move(json);
  return response;
}

// One client connection, on its own strand. Reads a request (headers, then body), hands it to the
// handler, writes the answer, and only then reads the next.
class HttpServer::Connection final : public Peer {
 public:
  Connection(Impl& server, tcp::socket socket)
      : server_(server), stream_(std::move(socket)), buffer_(server.options_.max_header_bytes + kReadAheadBytes) {
    beast::error_code ec;
    const tcp::endpoint remote = stream_.socket().remote_endpoint(ec);
    if (!ec) peer_ = absl::StrCat(remote.address().to_string(), ":", remote.port());
  }

  void Start() {
    net::dispatch(stream_.get_executor(), [self = Self()] { self->ReadHeader(absl::ZeroDuration()); });
  }

  void CloseIfIdle() override {
    net::post(stream_.get_executor(), [self = Self()] {
      if (!self->serving_) self->Close();
    });
  }
  void CloseNow() override {
    net::post(stream_.get_executor(), [self = Self()] { self->Close(); });
  }

 private:
  std::shared_ptr<Connection> Self() { return std::static_pointer_cast<Connection>(shared_from_this()); }

  // `idle` is how long the connection may wait for a request to begin: none before the first one
  // (the header timeout covers it), the idle timeout between requests.
  void ReadHeader(absl::Duration idle) {
    if (server_.draining()) return Close();
    serving_ = false;
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(server_.options_.max_header_bytes));
    parser_->body_limit(server_.options_.max_body_bytes);
    stream_.expires_after(Chrono(idle + server_.options_.header_timeout));
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = Self()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return Failed(ec);
    serving_ = true;
    const auto& request = parser_->get();
    // A body framed any way but one (RFC 9112 §6.1): Transfer-Encoding other than a final chunked,
    // or with a Content-Length. A proxy in front might frame it the other way.
    if (request.count(http::field::transfer_encoding) > 0 &&
        (!parser_->chunked() || request.count(http::field::content_length) > 0)) {
      ++server_.bad_requests_;
      keep_alive_ = false;
      return Write(HttpResponse::Text(400, "Bad request: ambiguous message framing"));
    }
    if (beast::iequals(request[http::field::expect], "100-continue")) {
      auto interim = std::make_shared<http::response<http::empty_body>>(http::status::continue_, request.version());
      stream_.expires_after(Chrono(server_.options_.write_timeout));
      http::async_write(stream_, *interim, [self = Self(), interim](beast::error_code ec, size_t) {
        if (ec) return self->Close();
        self->ReadBody();
      });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    stream_.expires_after(Chrono(server_.options_.body_timeout));
    http::async_read(stream_, buffer_, *parser_,
                     [self = Self()](beast::error_code ec, size_t) { self->OnBody(ec); });
  }

  void OnBody(beast::error_code ec) {
    if (ec) return Failed(ec);
    stream_.expires_never();  // the handler's time is its own; the write has its timeout
    http::request<http::string_body> message = parser_->release();
    keep_alive_ = message.keep_alive();
    version_ = message.version();
    head_ = message.method() == http::verb::head;
    HttpRequest request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    request.peer = peer_;
    for (const auto& field : message) {
      std::string name = absl::AsciiStrToLower(absl::string_view(field.name_string().data(), field.name_string().size()));
      absl::string_view value(field.value().data(), field.value().size());
      auto same = std::find_if(request.headers.begin(), request.headers.end(),
                               [&name](const auto& header) { return header.first == name; });
      if (same != request.headers.end()) {
        absl::StrAppend(&same->second, ", ", value);
      } else {
        request.headers.emplace_back(std::move(name), std::string(value));
      }
    }
    request.body = std::move(message.body());
    ++server_.requests_;
    if (websocket::is_upgrade(message)) return Upgrade(std::move(request), std::move(message));
    // Exactly one answer: a handler that drops its reply answers 500 rather than hang the client.
    auto answer = std::make_shared<Answer>(Self());
    server_.handler_(std::move(request), [answer](HttpResponse response) mutable { answer->Send(std::move(response)); });
  }

  // A WebSocket handshake: the upgrade handler's socket takes the stream over, or its refusal is the
  // answer (and the connection closes).
  void Upgrade(HttpRequest request, http::request<http::string_body> message) {
    HttpResponse refusal = HttpResponse::Text(404, "Not found");
    std::unique_ptr<WebSocketHandler> handler =
        server_.upgrade_ != nullptr ? server_.upgrade_(request, &refusal) : nullptr;
    if (handler == nullptr || server_.draining()) {
      keep_alive_ = false;
      return Write(std::move(refusal));
    }
    ++server_.websockets_;
    StartWebSocket(owner_, std::move(stream_), std::move(message), std::move(handler));
  }

  // Holds the connection until the handler answers; answers 500 if the handler never does.
  class Answer {
   public:
    explicit Answer(std::shared_ptr<Connection> connection) : connection_(std::move(connection)) {}
    ~Answer() {
      if (connection_ != nullptr) Send(HttpResponse::Text(500, "the request was dropped without an answer"));
    }
    void Send(HttpResponse response) {
      std::shared_ptr<Connection> connection = std::move(connection_);
      if (connection == nullptr) return;
      net::post(connection->stream_.get_executor(),
                [connection, response = std::move(response)]() mutable { connection->Write(std::move(response)); });
    }

   private:
    std::shared_ptr<Connection> connection_;
  };

  void Write(HttpResponse response) {
    // Whatever a handler built (a tenant's HTTP action writes its own headers): nothing that is not an
    // HTTP response goes out, and nothing Beast would throw on.
    if (absl::Status valid = CheckResponse(response); !valid.ok()) {
      ISOBAR_LOG(kWarning, kComponent) << "a response was refused: " << valid.message();
      response = HttpResponse::Text(500, "The response could not be sent: " + std::string(valid.message()));
    }
    auto message = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(response.status), version_);
    // Inserted, not set: a repeated header (Set-Cookie) keeps every value.
    for (auto& [name, value] : response.headers) message->insert(name, value);
    const size_t body_bytes = response.head_length.value_or(response.body.size());
    if (!head_) message->body() = std::move(response.body);
    message->keep_alive(keep_alive_ && !server_.draining());
    message->prepare_payload();
    // A HEAD's answer has the headers of the GET it stands for, and no body.
    if (head_) message->content_length(body_bytes);
    head_ = false;
    stream_.expires_after(Chrono(server_.options_.write_timeout));
    http::async_write(stream_, *message, [self = Self(), message](beast::error_code ec, size_t) {
      if (ec) {
        if (ec == beast::error::timeout) ++self->server_.timed_out_;
        return self->Close();
      }
      if (!message->keep_alive()) return self->Close();
      self->ReadHeader(self->server_.options_.idle_timeout);
    });
  }

  // A request that could not be read: answer in words where HTTP has a status for it, then close.
  void Failed(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == net::error::eof || ec == net::error::operation_aborted ||
        ec == net::error::connection_reset) {
      return Close();
    }
    if (ec == beast::error::timeout) {
      ++server_.timed_out_;
      return Close();
    }
    ++server_.bad_requests_;
    keep_alive_ = false;
    version_ = 11;
    serving_ = true;
    if (ec == http::error::header_limit || (ec == http::error::buffer_overflow && !parser_->is_header_done())) {
      return Write(HttpResponse::Text(431, "Request header fields too large"));
    }
    if (ec == http::error::buffer_overflow) return Write(HttpResponse::Text(400, "Bad request: chunk framing too long"));
    if (ec == http::error::body_limit) {
      return Write(HttpResponse::Text(
          413, absl::StrCat("Request body too large (limit: ", server_.options_.max_body_bytes, " bytes)")));
    }
    Write(HttpResponse::Text(400, absl::StrCat("Bad request: ", ec.message())));
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  Impl& server_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string peer_;
  bool serving_ = false;
  bool keep_alive_ = false;
  bool head_ = false;  // the request being answered is a HEAD
  unsigned version_ = 11;
};

void HttpServer::Peer::Register(std::shared_ptr<Impl> server) {
  owner_ = std::move(server);
  owner_->Added(this);
}

HttpServer::Peer::~Peer() {
  if (owner_ != nullptr) owner_->Removed(this);
}

void HttpServer::Impl::Added(Peer* peer) {
  absl::MutexLock lock(&mu_);
  peers_.insert(peer);
}

void HttpServer::Impl::Removed(Peer* peer) {
  absl::MutexLock lock(&mu_);
  peers_.erase(peer);
}

absl::Status HttpServer::Impl::Listen(int* port) {
  const size_t colon = options_.listen.rfind(':');
  int wanted = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(options_.listen.substr(colon + 1), &wanted) || wanted < 0 ||
      wanted > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("--http-listen wants host:port, not \"", options_.listen, "\""));
  }
  std::string host = options_.listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  beast::error_code ec;
  const net::ip::address address = net::ip::make_address(host.empty() ? "0.0.0.0" : host, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("--http-listen: \"", host, "\" is not an IP address"));
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(wanted));
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot listen on ", options_.listen, ": ", ec.message()));
  const tcp::endpoint bound = acceptor_.local_endpoint(ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot listen on ", options_.listen, ": ", ec.message()));
  *port = bound.port();
  return absl::OkStatus();
}

void HttpServer::Impl::Accept() {
  acceptor_.async_accept(net::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
      // Out of file descriptors, say: try again shortly rather than spin.
      ISOBAR_LOG(kWarning, kComponent) << "accept: " << ec.message();
      accept_retry_ = std::make_unique<net::steady_timer>(acceptor_.get_executor(), Chrono(kAcceptRetry));
      accept_retry_->async_wait([this](beast::error_code) { Accept(); });
      return;
    }
    size_t open;
    {
      absl::MutexLock lock(&mu_);
      open = peers_.size();
    }
    if (draining() || open >= options_.max_connections) {
      ++refused_busy_;
      beast::error_code ignored;
      socket.close(ignored);
    } else {
      ++accepted_;
      auto connection = std::make_shared<Connection>(*this, std::move(socket));
      connection->Register(shared_from_this());
      connection->Start();
    }
    Accept();
  });
}

size_t HttpServer::Impl::Drain(absl::Time deadline) {
  draining_ = true;
  net::post(acceptor_.get_executor(), [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
  });
  // Connections are owned by their pending operations. One listed may be on its way out (its
  // destructor waits for mu_ to unlist it): lock() then finds nothing. The references taken are let
  // go outside mu_, since letting go of the last one unlists the connection.
  auto each = [this](auto&& act) {
    std::vector<std::shared_ptr<Peer>> open;
    {
      absl::MutexLock lock(&mu_);
      for (Peer* peer : peers_) {
        if (std::shared_ptr<Peer> held = peer->weak_from_this().lock()) open.push_back(std::move(held));
      }
    }
    for (const std::shared_ptr<Peer>& peer : open) act(*peer);
  };
  each([](Peer& peer) { peer.CloseIfIdle(); });
  size_t cut = 0;
  {
    absl::MutexLock lock(&mu_);
    auto empty = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return peers_.empty(); };
    if (!mu_.AwaitWithDeadline(absl::Condition(&empty), deadline)) cut = peers_.size();
  }
  if (cut > 0) each([](Peer& peer) { peer.CloseNow(); });
  work_.reset();
  {
    absl::MutexLock lock(&mu_);
    auto empty = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return peers_.empty(); };
    mu_.AwaitWithTimeout(absl::Condition(&empty), absl::Seconds(5));
  }
  ioc_.stop();
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
  return cut;
}

HttpServer::Stats HttpServer::Impl::stats() const {
  Stats stats;
  {
    absl::MutexLock lock(&mu_);
    stats.open_connections = peers_.size();
  }
  stats.accepted = accepted_;
  stats.refused_busy = refused_busy_;
  stats.requests = requests_;
  stats.timed_out = timed_out_;
  stats.bad_requests = bad_requests_;
  stats.websockets = websockets_;
  return stats;
}

HttpServer::HttpServer(HttpServerOptions options, Handler handler, UpgradeHandler upgrade)
    : impl_(std::make_shared<Impl>(std::move(options), std::move(handler), std::move(upgrade))) {}

HttpServer::~HttpServer() {
  if (!impl_->threads_.empty()) impl_->Drain(absl::Now());
}

absl::Status HttpServer::Listen() { return impl_->Listen(&port_); }

void HttpServer::Serve() {
  impl_->Accept();
  for (int i = 0; i < std::max(1, impl_->options_.threads); ++i) {
    impl_->threads_.emplace_back([this] { impl_->ioc_.run(); });
  }
}

size_t HttpServer::Drain(absl::Time deadline) { return impl_->threads_.empty() ? 0 : impl_->Drain(deadline); }

HttpServer::Stats HttpServer::stats() const { return impl_->stats(); }

}  // namespace isobar::supervisor
