// An HTTP/1.1 listener (Boost.Beast on Asio): keep-alive, bounded requests, timeouts for slow and idle
// clients, a cap on connections, and a drain. What a request means is the handler's business; this
// file knows nothing of deployments or Convex.
//
//   HttpServer server(options, [](HttpRequest request, HttpServer::Reply reply) {
//     std::move(reply)(HttpResponse::Text(200, "ok"));   // from any thread, exactly once
//   });
//   RETURN_IF_ERROR(server.Start());          // binds options.listen, serves on its own threads
//                                             // (or Listen() now, Serve() once the handler is ready)
//   ...
//   server.Drain(absl::Now() + absl::Seconds(30));   // stop accepting, finish answers, close
//
// Every connection serves one request at a time: the next is not read until the answer to the
// previous one is written, so a connection holds at most one request and one response. Refused in
// words, then closed: a header block over `max_header_bytes` (431), a body over `max_body_bytes`
// (413), a malformed request (400). A client that takes longer than `header_timeout` to send its
// headers or `body_timeout` its body, or that does not read its answer within `write_timeout`, is
// disconnected; so is a connection idle for `idle_timeout` between requests. A WebSocket upgrade goes
// to the upgrade handler, which gives each accepted socket a WebSocketHandler. With a certificate
// (options.tls_cert), every connection is TLS (TLS 1.2 and later), HTTP and WebSockets alike.
#ifndef ISOBAR_SUPERVISOR_HTTP_HTTP_SERVER_H_
#define ISOBAR_SUPERVISOR_HTTP_HTTP_SERVER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace isobar::supervisor {

struct HttpServerOptions {
  std::string listen = "127.0.0.1:7701";  // host:port; port 0 picks a free one (see port())
  int threads = 1;
  size_t max_connections = 4096;
  size_t max_header_bytes = 16 << 10;
  size_t max_body_bytes = 20 << 20;  // Convex's 16 MiB of arguments, as JSON, with room to spare
  // Request bodies held at once, over every connection (a body's bytes count as they arrive, until
  // its answer is written): past it, 503 with Retry-After.
  uint64_t max_buffered_body_bytes = 256 << 20;
  absl::Duration header_timeout = absl::Seconds(10);
  absl::Duration body_timeout = absl::Seconds(60);
  absl::Duration write_timeout = absl::Seconds(60);
  absl::Duration idle_timeout = absl::Seconds(75);
  // WebSockets: the largest message read; messages (and their bytes) waiting to be written before a
  // client that does not read is cut off; a socket silent this long is pinged, and closed if the ping
  // is not answered.
  size_t max_websocket_message_bytes = 20 << 20;
  size_t max_websocket_queue = 4096;
  size_t max_websocket_queue_bytes = 64 << 20;
  absl::Duration websocket_idle_timeout = absl::Seconds(120);
  // Requests whose body the handler reads a part at a time (HttpRequest::body_reader) instead of
  // receiving it whole: those `stream_body` says yes to (given the method and target). Their bodies
  // may be up to `max_streamed_body_bytes`, each part must come within `body_timeout` and the whole
  // within `streamed_body_timeout`.
  std::function<bool(absl::string_view method, absl::string_view target)> stream_body;
  uint64_t max_streamed_body_bytes = 1ull << 30;
  absl::Duration streamed_body_timeout = absl::Minutes(10);
  // TLS (HTTPS and WSS) with this certificate chain and key (PEM files), read again every
  // `tls_reload_seconds` when either file changed (a renewal in place); empty: plaintext. The TLS
  // handshake has `header_timeout`.
  std::string tls_cert;
  std::string tls_key;
  absl::Duration tls_reload = absl::Seconds(10);
};

// A request body as it arrives, for requests the server streams (HttpServerOptions::stream_body).
// Safe from any thread; harmless once the connection is gone (Read answers an error). The handler
// reads to the end (or to an error) before it replies: a reply while a Read is outstanding closes the
// connection after the answer, as does one that leaves the body unread.
class BodyReader {
 public:
  using Done = absl::AnyInvocable<void(absl::StatusOr<std::string>) &&>;
  virtual ~BodyReader() = default;
  // Reads the next part of the body, 1 to `max_bytes` bytes, and hands it to `done` on the server's
  // thread (so `done` must not block): empty once the whole body has been read. Errors: the body is
  // over the limit (RESOURCE_EXHAUSTED), malformed (INVALID_ARGUMENT), or the client stalled or went
  // away (UNAVAILABLE). One Read at a time.
  virtual void Read(size_t max_bytes, Done done) = 0;
};

// A response body made a part at a time (a stored file), so that a large one is never held whole.
class BodySource {
 public:
  using Done = absl::AnyInvocable<void(absl::StatusOr<std::string>) &&>;
  virtual ~BodySource() = default;
  // Makes the next part and hands it to `done` exactly once, from any thread: empty at the end. The
  // server asks for the next part only once the last one is written (at most one part is held). An
  // error, or parts that do not add up to the length promised, cut the connection (so a chunked
  // body has no last chunk: the client knows it was cut).
  virtual void Next(Done done) = 0;
};

// A request as the handler sees it. Header names are lower case; a repeated header keeps its values
// joined with ", " (RFC 9110 §5.3).
struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, as sent
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Instead of `body`, for a request the server streams (HttpServerOptions::stream_body).
  std::shared_ptr<BodyReader> body_reader;
  std::string peer;  // "ip:port"

  // The header's value, or empty.
  absl::string_view Header(absl::string_view lower_case_name) const;
};

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // The body's length when `body` does not hold it: the answer to a HEAD (the length of its GET's
  // body, which is not sent), or a body that `source` makes. A source without a length is sent in
  // chunks (to an HTTP/1.0 client: up to a close).
  std::optional<uint64_t> length;
  std::shared_ptr<BodySource> source;

  static HttpResponse Text(int status, std::string text);
  static HttpResponse Json(int status, std::string json);
};

// Whether a response can go out as it is: a status 200-599 (and no body with 204 or 304), header names
// that are tokens of at most 256 bytes, values without control characters (so no line breaks), all
// headers within 32 KiB. The server answers 500 instead of one that is not.
absl::Status CheckResponse(const HttpResponse& response);

// An accepted WebSocket, as its handler holds it: safe from any thread, and harmless once the socket
// is gone (Send answers false). Messages are text frames.
class WebSocket {
 public:
  class Session;  // http_server.cc's side
  explicit WebSocket(std::weak_ptr<Session> session) : session_(std::move(session)) {}

  // Queues a text message. False if the socket is closed, or if `max_websocket_queue` messages or
  // `max_websocket_queue_bytes` are already waiting because the client does not read: then the
  // connection is cut at once.
  bool Send(std::string text);
  // Closes with `code` and `reason` once what is queued is written.
  void Close(uint16_t code, std::string reason);
  // Messages queued and not yet written.
  size_t queued() const;

 private:
  std::weak_ptr<Session> session_;
};

// One WebSocket connection's handler, made when the upgrade is accepted. Its calls come on the
// server's thread, one at a time, and must not block.
class WebSocketHandler {
 public:
  virtual ~WebSocketHandler() = default;
  virtual void OnOpen(std::shared_ptr<WebSocket> socket) = 0;
  virtual void OnMessage(std::string text) = 0;
  // A queued message was written (queued() went down by one).
  virtual void OnSent() {}
  // The socket is closed (either side, or the server draining); nothing more is called.
  virtual void OnClose() = 0;
};

class HttpServer {
 public:
  // Called exactly once per request, from any thread.
  using Reply = absl::AnyInvocable<void(HttpResponse) &&>;
  // Called on the server's thread; must not block (hand anything slow to an executor).
  using Handler = std::function<void(HttpRequest, Reply)>;
  // A WebSocket upgrade request: its handler, or null and `*refusal` set (the answer instead).
  using UpgradeHandler = std::function<std::unique_ptr<WebSocketHandler>(const HttpRequest&, HttpResponse* refusal)>;

  HttpServer(HttpServerOptions options, Handler handler, UpgradeHandler upgrade = nullptr);
  ~HttpServer();  // drains with no grace
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds options.listen (port() is known from here on); nothing is accepted before Serve().
  absl::Status Listen();
  // Starts the threads that accept and serve.
  void Serve();
  absl::Status Start() {
    absl::Status listening = Listen();
    if (listening.ok()) Serve();
    return listening;
  }
  int port() const { return port_; }
  // Stops accepting, closes idle connections, lets requests being served finish until `deadline`,
  // then closes everything and joins the threads. Returns how many connections had to be cut.
  size_t Drain(absl::Time deadline);

  struct Stats {
    size_t open_connections = 0;
    uint64_t accepted = 0;
    uint64_t refused_busy = 0;  // over max_connections or max_buffered_body_bytes
    uint64_t requests = 0;
    uint64_t timed_out = 0;
    uint64_t bad_requests = 0;
    uint64_t websockets = 0;  // accepted upgrades
  };
  Stats stats() const;

  // The server's insides (http_server_internal.h), named here so its two files can share them.
  class Peer;
  class Impl;

 private:
  template <class Stream>
  class Connection;
  std::shared_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_HTTP_HTTP_SERVER_H_
