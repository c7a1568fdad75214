// HttpServer's WebSockets: a session per upgraded connection, on the connection's strand.
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include <deque>
#include <optional>
#include <string>
#include <utility>

#include "supervisor/http/http_server_internal.h"

namespace isobar::supervisor {

using namespace http_internal;  // NOLINT: Beast's and Asio's names, this file only

// What WebSocket (a handler's handle) reaches: one session, whatever its stream.
class WebSocket::Session : public HttpServer::Peer {
 public:
  virtual bool Send(std::string text) = 0;
  virtual void Close(uint16_t code, std::string reason) = 0;
  virtual size_t queued() const = 0;
};

namespace {

// A session over `Stream`: beast::tcp_stream, or tls_stream (TLS).
template <class Stream>
class SessionOf final : public WebSocket::Session {
 public:
  SessionOf(HttpServer::Impl& server, Stream stream, std::unique_ptr<WebSocketHandler> handler)
      : server_(server), ws_(std::move(stream)), handler_(std::move(handler)) {}

  void Start(http::request<http::string_body> request) {
    beast::get_lowest_layer(ws_).expires_never();  // the websocket's own timeouts from here on
    websocket::stream_base::timeout timeout;
    timeout.handshake_timeout = Chrono(server_.options_.header_timeout);
    timeout.idle_timeout = Chrono(server_.options_.websocket_idle_timeout);
    timeout.keep_alive_pings = true;  // a ping at half the idle time; no pong by the end: closed
    ws_.set_option(timeout);
    ws_.read_message_max(server_.options_.max_websocket_message_bytes);
    auto shared_request = std::make_shared<http::request<http::string_body>>(std::move(request));
    ws_.async_accept(*shared_request, [self = Self(), shared_request](beast::error_code ec) {
      if (ec) return self->Closed();
      self->open_ = true;
      self->handler_->OnOpen(std::make_shared<WebSocket>(self->weak()));
      self->Read();
      // What was asked for before the handshake ended (a close from a drain, say) goes now.
      if (!self->writing_) self->WriteNext();
    });
  }

  // Any thread.
  bool Send(std::string text) override {
    if (closed_.load()) return false;
    const size_t bytes = text.size();
    // Both counted first (and both given back on refusal), so neither drifts.
    const size_t messages_before = queued_.fetch_add(1);
    const size_t bytes_before = queued_bytes_.fetch_add(bytes);
    if (messages_before >= server_.options_.max_websocket_queue ||
        bytes_before + bytes > server_.options_.max_websocket_queue_bytes) {
      // A client that does not read: a close frame would wait behind what it does not read, so the
      // connection is cut.
      queued_.fetch_sub(1);
      queued_bytes_.fetch_sub(bytes);
      closed_ = true;
      CloseNow();
      return false;
    }
    net::post(ws_.get_executor(), [self = Self(), text = std::move(text)]() mutable {
      self->outbox_.push_back(std::move(text));
      if (!self->writing_) self->WriteNext();
    });
    return true;
  }

  void Close(uint16_t code, std::string reason) override {
    if (reason.size() > 123) {  // what a close frame holds, cut on a character boundary
      size_t end = 123;
      while (end > 0 && (static_cast<unsigned char>(reason[end]) & 0xC0) == 0x80) --end;
      reason.resize(end);
    }
    net::post(ws_.get_executor(), [self = Self(), code, reason = std::move(reason)]() mutable {
      if (self->closing_.has_value()) return;
      self->closing_ = websocket::close_reason(static_cast<websocket::close_code>(code), reason);
      if (!self->writing_) self->WriteNext();
    });
  }

  size_t queued() const override { return queued_.load(); }

  void CloseIfIdle() override { Close(static_cast<uint16_t>(websocket::close_code::going_away), "the server is stopping"); }
  void CloseNow() override {
    net::post(ws_.get_executor(), [self = Self()] {
      beast::error_code ignored;
      beast::get_lowest_layer(self->ws_).socket().shutdown(tcp::socket::shutdown_both, ignored);
      beast::get_lowest_layer(self->ws_).close();
    });
  }

 private:
  std::shared_ptr<SessionOf> Self() { return std::static_pointer_cast<SessionOf>(shared_from_this()); }
  std::weak_ptr<WebSocket::Session> weak() { return Self(); }

  void Read() {
    ws_.async_read(buffer_, [self = Self()](beast::error_code ec, size_t) {
      if (ec) return self->Closed();
      if (!self->ws_.got_text()) {
        // Binary frames are not part of any protocol served here.
        self->buffer_.consume(self->buffer_.size());
        self->Close(static_cast<uint16_t>(websocket::close_code::unknown_data), "only text messages are accepted");
        return self->Read();
      }
      std::string text = beast::buffers_to_string(self->buffer_.data());
      self->buffer_.consume(self->buffer_.size());
      self->handler_->OnMessage(std::move(text));
      self->Read();
    });
  }

  // On the strand: the next queued message, then the close if one was asked for.
  void WriteNext() {
    if (!open_) return;  // until the handshake ends (its completion comes back here)
    if (!outbox_.empty()) {
      writing_ = true;
      ws_.text(true);
      ws_.async_write(net::buffer(outbox_.front()), [self = Self()](beast::error_code ec, size_t) {
        self->writing_ = false;
        self->queued_bytes_.fetch_sub(self->outbox_.front().size());
        self->outbox_.pop_front();
        self->queued_.fetch_sub(1);
        if (ec) return self->Closed();
        self->handler_->OnSent();
        self->WriteNext();
      });
      return;
    }
    if (closing_.has_value() && !close_sent_) {
      close_sent_ = true;
      writing_ = true;
      ws_.async_close(*closing_, [self = Self()](beast::error_code) {
        self->writing_ = false;
        self->Closed();
      });
    }
  }

  void Closed() {
    if (closed_handler_) return;
    closed_handler_ = true;
    closed_ = true;
    handler_->OnClose();
  }

  HttpServer::Impl& server_;
  websocket::stream<Stream> ws_;
  std::unique_ptr<WebSocketHandler> handler_;
  beast::flat_buffer buffer_;
  // On the strand.
  std::deque<std::string> outbox_;
  bool writing_ = false;
  bool open_ = false;
  std::optional<websocket::close_reason> closing_;
  bool close_sent_ = false;
  // Any thread.
  std::atomic<bool> closed_{false};
  std::atomic<size_t> queued_{0};
  std::atomic<size_t> queued_bytes_{0};
  bool closed_handler_ = false;  // on the strand: OnClose was called
};

}  // namespace

bool WebSocket::Send(std::string text) {
  std::shared_ptr<Session> session = session_.lock();
  return session != nullptr && session->Send(std::move(text));
}

void WebSocket::Close(uint16_t code, std::string reason) {
  if (std::shared_ptr<Session> session = session_.lock()) session->Close(code, std::move(reason));
}

size_t WebSocket::queued() const {
  std::shared_ptr<Session> session = session_.lock();
  return session != nullptr ? session->queued() : 0;
}

template <class Stream>
void StartWebSocket(const std::shared_ptr<HttpServer::Impl>& server, Stream stream, http::request<http::string_body> request,
                    std::unique_ptr<WebSocketHandler> handler) {
  auto session = std::make_shared<SessionOf<Stream>>(*server, std::move(stream), std::move(handler));
  session->Register(server);
  session->Start(std::move(request));
}

template void StartWebSocket<beast::tcp_stream>(const std::shared_ptr<HttpServer::Impl>&, beast::tcp_stream,
                                                http::request<http::string_body>, std::unique_ptr<WebSocketHandler>);
template void StartWebSocket<tls_stream>(const std::shared_ptr<HttpServer::Impl>&, tls_stream,
                                         http::request<http::string_body>, std::unique_ptr<WebSocketHandler>);

}  // namespace isobar::supervisor
