#include "supervisor/http/http_server.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <optional>
#include <type_traits>

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
// Bytes read ahead of the parser beyond a header block: bounds the connection's buffer, which chunk
// extensions and trailers (not counted by the body limit) would otherwise grow.
constexpr size_t kReadAheadBytes = 64 << 10;
// What Linger reads and drops, at most, before it closes.
constexpr size_t kLingerBytes = 1 << 20;
constexpr absl::Duration kLingerTime = absl::Seconds(2);
// The most a streamed body's Read hands over at once.
constexpr size_t kMaxPartBytes = 1 << 20;
constexpr absl::Duration kAcceptRetry = absl::Milliseconds(100);

}  // namespace

// One client connection, on its own strand. Reads a request (headers, then body), hands it to the
// handler, writes the answer, and only then reads the next. `Stream`: beast::tcp_stream, or
// tls_stream (TLS: the handshake comes first, within the header timeout).
template <class Stream>
class HttpServer::Connection final : public Peer {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, tls_stream>;

  // `tls`: the context `stream` was made with (kept for as long as the connection).
  Connection(Impl& server, Stream stream, std::shared_ptr<net::ssl::context> tls = nullptr)
      : server_(server), tls_(std::move(tls)), stream_(std::move(stream)),
        buffer_(server.options_.max_header_bytes + kReadAheadBytes) {
    beast::error_code ec;
    const tcp::endpoint remote = Lowest().socket().remote_endpoint(ec);
    if (!ec) peer_ = absl::StrCat(remote.address().to_string(), ":", remote.port());
  }

  ~Connection() override { server_.ReleaseBodyBytes(reserved_); }

  void Start() {
    net::dispatch(stream_.get_executor(), [self = Self()] {
      if constexpr (kTls) {
        self->Lowest().expires_after(Chrono(self->server_.options_.header_timeout));
        self->stream_.async_handshake(net::ssl::stream_base::server, [self](beast::error_code ec) {
          if (ec) {
            if (ec == beast::error::timeout) ++self->server_.timed_out_;
            return self->Close();
          }
          self->ReadHeader(absl::ZeroDuration());
        });
      } else {
        self->ReadHeader(absl::ZeroDuration());
      }
    });
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
  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  // `idle` is how long the connection may wait for a request to begin: none before the first one
  // (the header timeout covers it), the idle timeout between requests.
  void ReadHeader(absl::Duration idle) {
    if (server_.draining()) return Close();
    serving_ = false;
    streamed_.reset();
    expect_continue_ = false;
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(server_.options_.max_header_bytes));
    // A streamed request's body may be larger: the limit for the others is applied once their
    // headers say which they are (OnHeader).
    parser_->body_limit(server_.options_.stream_body != nullptr
                            ? std::max<uint64_t>(server_.options_.max_body_bytes, server_.options_.max_streamed_body_bytes)
                            : server_.options_.max_body_bytes);
    Lowest().expires_after(Chrono(idle + server_.options_.header_timeout));
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = Self()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return Failed(ec);
    serving_ = true;
    const auto& request = parser_->get();
    version_ = request.version();  // for answers given before the body is read
    // A body framed any way but one (RFC 9112 §6.1): Transfer-Encoding other than a final chunked,
    // or with a Content-Length. A proxy in front might frame it the other way.
    if (request.count(http::field::transfer_encoding) > 0 &&
        (!parser_->chunked() || request.count(http::field::content_length) > 0)) {
      ++server_.bad_requests_;
      keep_alive_ = false;
      return Write(HttpResponse::Text(400, "Bad request: ambiguous message framing"));
    }
    const bool streamed = server_.options_.stream_body != nullptr && !websocket::is_upgrade(request) &&
                          server_.options_.stream_body(absl::string_view(request.method_string().data(), request.method_string().size()),
                                                       absl::string_view(request.target().data(), request.target().size()));
    if (!streamed && server_.options_.stream_body != nullptr) {
      if (parser_->content_length().value_or(0) > server_.options_.max_body_bytes) return Failed(http::error::body_limit);
      parser_->body_limit(server_.options_.max_body_bytes);  // chunks count against it as they come
    }
    if (streamed && beast::iequals(request[http::field::expect], "100-continue")) {
      // "Continue" once the handler reads, so that a refusal (a bad token) comes before the body.
      expect_continue_ = true;
      return StartStreamed();
    }
    if (beast::iequals(request[http::field::expect], "100-continue")) {
      auto interim = std::make_shared<http::response<http::empty_body>>(http::status::continue_, request.version());
      Lowest().expires_after(Chrono(server_.options_.write_timeout));
      http::async_write(stream_, *interim, [self = Self(), interim, streamed](beast::error_code ec, size_t) {
        if (ec) return self->Close();
        streamed ? self->StartStreamed() : self->ReadBody();
      });
      return;
    }
    streamed ? StartStreamed() : ReadBody();
  }

  // The request without its body: the handler reads the body through a BodyReader.
  void StartStreamed() {
    Lowest().expires_never();
    streamed_.emplace(std::move(*parser_));
    parser_.reset();
    streamed_->body_limit(server_.options_.max_streamed_body_bytes);
    streamed_deadline_ = absl::Now() + server_.options_.streamed_body_timeout;
    HttpRequest request = Describe(streamed_->get());
    request.body_reader = std::make_shared<StreamedBody>(Self());
    Dispatch(std::move(request));
  }

  // One part of a streamed body, on the connection's strand.
  void ReadPart(size_t max_bytes, BodyReader::Done done) {
    if (!streamed_.has_value() || reading_) {
      return std::move(done)(absl::FailedPreconditionError("the body is not being read"));
    }
    if (streamed_->is_done()) return std::move(done)(std::string());
    if (expect_continue_) {
      expect_continue_ = false;
      auto interim = std::make_shared<http::response<http::empty_body>>(http::status::continue_, version_);
      Lowest().expires_after(Chrono(server_.options_.write_timeout));
      reading_ = true;
      return http::async_write(stream_, *interim, [self = Self(), interim, max_bytes, done = std::move(done)](
                                                       beast::error_code ec, size_t) mutable {
        self->reading_ = false;
        if (ec) return std::move(done)(absl::UnavailableError(absl::StrCat("the client has gone: ", ec.message())));
        self->ReadPart(max_bytes, std::move(done));
      });
    }
    reading_ = true;
    auto part = std::make_shared<std::string>(std::clamp<size_t>(max_bytes, 1, kMaxPartBytes), '\0');
    streamed_->get().body().data = part->data();
    streamed_->get().body().size = part->size();
    streamed_->get().body().more = true;
    const absl::Duration left = streamed_deadline_ - absl::Now();
    Lowest().expires_after(Chrono(std::max(absl::ZeroDuration(), std::min(left, server_.options_.body_timeout))));
    http::async_read_some(stream_, buffer_, *streamed_,
                          [self = Self(), part, done = std::move(done)](beast::error_code ec, size_t) mutable {
                            self->OnPart(ec, std::move(part), std::move(done));
                          });
  }

  void OnPart(beast::error_code ec, std::shared_ptr<std::string> part, BodyReader::Done done) {
    reading_ = false;
    Lowest().expires_never();
    if (ec == http::error::need_buffer) ec = {};
    if (ec) {
      keep_alive_ = false;
      if (ec == beast::error::timeout) ++server_.timed_out_;
      if (ec == http::error::body_limit) {
        return std::move(done)(absl::ResourceExhaustedError(absl::StrCat(
            "Request body too large (limit: ", server_.options_.max_streamed_body_bytes, " bytes)")));
      }
      if (ec == beast::error::timeout || ec == http::error::end_of_stream || ec == http::error::partial_message ||
          ec == net::error::eof || ec == net::error::connection_reset || ec == net::error::operation_aborted) {
        return std::move(done)(absl::UnavailableError(absl::StrCat("the client stopped sending the body: ", ec.message())));
      }
      ++server_.bad_requests_;
      return std::move(done)(absl::InvalidArgumentError(absl::StrCat("Bad request: ", ec.message())));
    }
    const size_t asked = part->size();
    part->resize(asked - streamed_->get().body().size);
    streamed_->get().body().data = nullptr;
    // Framing alone (a chunk's size line) yields no bytes: read on, since empty means the end.
    if (part->empty() && !streamed_->is_done()) return ReadPart(asked, std::move(done));
    std::move(done)(std::move(*part));
  }

  class StreamedBody final : public BodyReader {
   public:
    explicit StreamedBody(const std::shared_ptr<Connection>& connection) : connection_(connection) {}
    void Read(size_t max_bytes, Done done) override {
      std::shared_ptr<Connection> connection = connection_.lock();
      if (connection == nullptr) return std::move(done)(absl::UnavailableError("the client has gone"));
      net::dispatch(connection->stream_.get_executor(), [connection, max_bytes, done = std::move(done)]() mutable {
        connection->ReadPart(max_bytes, std::move(done));
      });
    }

   private:
    std::weak_ptr<Connection> connection_;
  };

  void ReadBody() {
    Lowest().expires_after(Chrono(server_.options_.body_timeout));  // for the whole body
    if (parser_->is_done()) return OnBody({});  // no body (nothing more may be read for it)
    ReadSomeBody();
  }

  // A body read whole is held until its answer is written: its bytes take room among every
  // connection's as they arrive (so a client that only announces a large body holds nothing), and a
  // body that finds none is told to retry.
  void ReadSomeBody() {
    http::async_read_some(stream_, buffer_, *parser_, [self = Self()](beast::error_code ec, size_t) {
      if (ec) return self->Failed(ec);
      const uint64_t held = self->parser_->get().body().size();
      if (held > self->reserved_) {
        if (!self->server_.ReserveBodyBytes(held - self->reserved_)) {
          self->ReleaseBodyBytes();  // the body is dropped: its room is free before the answer is out
          ++self->server_.refused_busy_;
          self->keep_alive_ = false;
          self->Lowest().expires_never();
          HttpResponse busy = HttpResponse::Text(503, "Server busy: too many request bodies in flight; retry shortly");
          busy.headers.emplace_back("retry-after", "1");
          return self->Write(std::move(busy));
        }
        self->reserved_ = held;
      }
      if (!self->parser_->is_done()) return self->ReadSomeBody();
      self->OnBody({});
    });
  }

  void OnBody(beast::error_code ec) {
    if (ec) return Failed(ec);
    Lowest().expires_never();  // the handler's time is its own; the write has its timeout
    http::request<http::string_body> message = parser_->release();
    HttpRequest request = Describe(message);
    request.body = std::move(message.body());
    if (websocket::is_upgrade(message)) {
      ++server_.requests_;
      return Upgrade(std::move(request), std::move(message));
    }
    Dispatch(std::move(request));
  }

  // The request's line and headers as the handler sees them; notes what the answer depends on.
  template <class Message>
  HttpRequest Describe(const Message& message) {
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
    return request;
  }

  void Dispatch(HttpRequest request) {
    ++server_.requests_;
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
    // A streamed body not read to its end leaves bytes on the connection that are no request.
    if (streamed_.has_value() && (reading_ || !streamed_->is_done())) keep_alive_ = false;
    const bool keep_alive = keep_alive_ && !server_.draining();
    const uint64_t body_bytes = response.length.value_or(response.body.size());
    // A body made by a source (a HEAD's answer too: the headers of its GET, written alone).
    if (response.source != nullptr) return WriteStreamed(std::move(response), response.length, keep_alive);
    auto message = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(response.status), version_);
    // Inserted, not set: a repeated header (Set-Cookie) keeps every value.
    for (auto& [name, value] : response.headers) message->insert(name, value);
    if (!head_) message->body() = std::move(response.body);
    message->keep_alive(keep_alive);
    message->prepare_payload();
    // A HEAD's answer has the headers of the GET it stands for, and no body.
    if (head_) message->content_length(body_bytes);
    head_ = false;
    Lowest().expires_after(Chrono(server_.options_.write_timeout));
    http::async_write(stream_, *message, [self = Self(), message, keep_alive](beast::error_code ec, size_t) {
      self->Written(ec, keep_alive);
    });
  }

  // The headers, then the source's parts one at a time, each written before the next is asked for:
  // as they are when the length is known, else as chunks (HTTP/1.1) or up to a close (HTTP/1.0).
  void WriteStreamed(HttpResponse response, std::optional<uint64_t> length, bool keep_alive) {
    auto message = std::make_shared<http::response<http::empty_body>>(static_cast<http::status>(response.status), version_);
    for (auto& [name, value] : response.headers) message->insert(name, value);
    const bool chunked = !length.has_value() && version_ >= 11;
    if (!length.has_value() && !chunked) keep_alive = false;
    message->keep_alive(keep_alive);
    if (length.has_value()) message->content_length(*length);
    if (chunked) message->chunked(true);
    auto serializer = std::make_shared<http::response_serializer<http::empty_body>>(*message);
    const bool head = head_;  // the headers only: the source is never asked for a part
    head_ = false;
    Lowest().expires_after(Chrono(server_.options_.write_timeout));
    http::async_write_header(stream_, *serializer,
                             [self = Self(), message, serializer, source = std::move(response.source), length, chunked,
                              keep_alive, head](beast::error_code ec, size_t) mutable {
                               if (ec || head) return self->Written(ec, keep_alive);
                               self->WriteParts(std::move(source), length, chunked, keep_alive);
                             });
  }

  // `left`: what the promised length still wants, if one was.
  void WriteParts(std::shared_ptr<BodySource> source, std::optional<uint64_t> left, bool chunked, bool keep_alive) {
    Lowest().expires_never();  // the source's time is its own
    BodySource* next = source.get();
    next->Next([self = Self(), source = std::move(source), left, chunked, keep_alive](absl::StatusOr<std::string> part) mutable {
      net::post(self->stream_.get_executor(), [self, source = std::move(source), part = std::move(part), left, chunked,
                                               keep_alive]() mutable {
        if (!part.ok() || (left.has_value() && (part->size() > *left || (part->empty() && *left > 0)))) {
          // The length is promised (or the chunks not ended): all the client can be told is a closed
          // connection.
          ISOBAR_LOG(kWarning, kComponent) << "a streamed response was cut "
                                           << (part.ok() ? "(its parts did not add up to its length)" : part.status().ToString());
          return self->Close();
        }
        if (part->empty()) {
          if (!chunked) return self->Written({}, keep_alive);
          self->Lowest().expires_after(Chrono(self->server_.options_.write_timeout));
          return net::async_write(self->stream_, http::make_chunk_last(), [self, keep_alive](beast::error_code ec, size_t) {
            self->Written(ec, keep_alive);
          });
        }
        auto bytes = std::make_shared<std::string>(*std::move(part));
        if (left.has_value()) *left -= bytes->size();
        auto wrote = [self, bytes, source = std::move(source), left, chunked, keep_alive](beast::error_code ec, size_t) mutable {
          if (ec) return self->Written(ec, keep_alive);
          self->WriteParts(std::move(source), left, chunked, keep_alive);
        };
        self->Lowest().expires_after(Chrono(self->server_.options_.write_timeout));
        if (chunked) return net::async_write(self->stream_, http::make_chunk(net::buffer(*bytes)), std::move(wrote));
        net::async_write(self->stream_, net::buffer(*bytes), std::move(wrote));
      });
    });
  }

  // An answer is out (or could not be written): the next request, or the end.
  void Written(beast::error_code ec, bool keep_alive) {
    head_ = false;
    ReleaseBodyBytes();
    if (ec) {
      if (ec == beast::error::timeout) ++server_.timed_out_;
      return Close();
    }
    if (!keep_alive) return Linger();
    ReadHeader(server_.options_.idle_timeout);
  }

  // Closes after an answer the client may not have read yet, while it may still be sending (a body
  // left unread): closing a socket with unread input resets it, and the reset can destroy the answer
  // on its way. So: no more writes, then what arrives is read and dropped until the client closes, for
  // at most kLingerBytes or kLingerTime, then the close.
  void Linger() {
    beast::error_code ignored;
    Lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
    Lowest().expires_after(Chrono(kLingerTime));
    Drain(0);
  }
  void Drain(size_t drained) {
    auto sink = std::make_shared<std::array<char, 16384>>();
    stream_.async_read_some(net::buffer(*sink), [self = Self(), sink, drained](beast::error_code ec, size_t n) {
      if (ec || drained + n > kLingerBytes) return self->Close();
      self->Drain(drained + n);
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
      // A declared length over the limit of the request it is (streamed or not).
      const auto& request = parser_->get();
      const bool streamed =
          server_.options_.stream_body != nullptr &&
          server_.options_.stream_body(absl::string_view(request.method_string().data(), request.method_string().size()),
                                       absl::string_view(request.target().data(), request.target().size()));
      return Write(HttpResponse::Text(413, absl::StrCat("Request body too large (limit: ",
                                                        streamed ? server_.options_.max_streamed_body_bytes
                                                                 : server_.options_.max_body_bytes,
                                                        " bytes)")));
    }
    Write(HttpResponse::Text(400, absl::StrCat("Bad request: ", ec.message())));
  }

  void ReleaseBodyBytes() {
    server_.ReleaseBodyBytes(reserved_);
    reserved_ = 0;
  }

  void Close() {
    ReleaseBodyBytes();
    beast::error_code ignored;
    Lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    Lowest().close();
  }

  Impl& server_;
  const std::shared_ptr<net::ssl::context> tls_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  // A request whose body the handler reads (StartStreamed): its parser, from the header on.
  std::optional<http::request_parser<http::buffer_body>> streamed_;
  absl::Time streamed_deadline_;
  bool reading_ = false;  // a part of the streamed body is being read
  uint64_t reserved_ = 0;  // of the server's body budget, for the request being served
  bool expect_continue_ = false;  // a streamed request's "100-continue", sent on its first read
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
  return options_.tls_cert.empty() && options_.tls_key.empty() ? absl::OkStatus() : LoadTls();
}

namespace {

// The files' sizes and modification times: what tells a renewal written over them.
std::string FilesSeen(const std::vector<std::string>& paths) {
  std::string seen;
  for (const std::string& path : paths) {
    struct stat st {};
    if (stat(path.c_str(), &st) == 0) {
      absl::StrAppend(&seen, path, ":", st.st_size, ":", st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec, ";");
    }
  }
  return seen;
}

}  // namespace

absl::Status HttpServer::Impl::LoadTls() {
  const std::string seen = FilesSeen({options_.tls_cert, options_.tls_key});
  auto context = std::make_shared<net::ssl::context>(net::ssl::context::tls_server);
  context->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                       net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 | net::ssl::context::no_tlsv1_1 |
                       net::ssl::context::single_dh_use);
  beast::error_code ec;
  context->use_certificate_chain_file(options_.tls_cert, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("--tls-cert ", options_.tls_cert, ": ", ec.message()));
  context->use_private_key_file(options_.tls_key, net::ssl::context::pem, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("--tls-key ", options_.tls_key, ": ", ec.message()));
  if (SSL_CTX_check_private_key(context->native_handle()) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("--tls-key ", options_.tls_key, " is not the key of ", options_.tls_cert));
  }
  absl::MutexLock lock(&tls_mu_);
  tls_ = std::move(context);
  tls_files_seen_ = seen;
  return absl::OkStatus();
}

void HttpServer::Impl::WatchTls() {
  if (options_.tls_cert.empty()) return;
  tls_timer_ = std::make_unique<net::steady_timer>(net::make_strand(ioc_), Chrono(options_.tls_reload));
  tls_timer_->async_wait([this](beast::error_code ec) {
    if (ec || draining()) return;
    std::string seen;
    {
      absl::MutexLock lock(&tls_mu_);
      seen = tls_files_seen_;
    }
    if (FilesSeen({options_.tls_cert, options_.tls_key}) != seen) {
      // A renewal may be half written (the certificate, not yet its key): kept until both agree.
      if (absl::Status loaded = LoadTls(); loaded.ok()) {
        ISOBAR_LOG(kInfo, kComponent) << "TLS certificate reloaded from " << options_.tls_cert;
      } else {
        ISOBAR_LOG(kWarning, kComponent) << "TLS certificate not reloaded (the old one serves): " << loaded;
      }
    }
    WatchTls();
  });
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
      if (std::shared_ptr<net::ssl::context> tls = tls_context(); tls != nullptr) {
        tls_stream stream(std::move(socket), *tls);
        auto connection = std::make_shared<Connection<tls_stream>>(*this, std::move(stream), std::move(tls));
        connection->Register(shared_from_this());
        connection->Start();
      } else {
        auto connection = std::make_shared<Connection<beast::tcp_stream>>(*this, beast::tcp_stream(std::move(socket)));
        connection->Register(shared_from_this());
        connection->Start();
      }
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
  impl_->WatchTls();
  for (int i = 0; i < std::max(1, impl_->options_.threads); ++i) {
    impl_->threads_.emplace_back([this] { impl_->ioc_.run(); });
  }
}

size_t HttpServer::Drain(absl::Time deadline) { return impl_->threads_.empty() ? 0 : impl_->Drain(deadline); }

HttpServer::Stats HttpServer::stats() const { return impl_->stats(); }

}  // namespace isobar::supervisor
