// HttpServer's insides, shared by http_server.cc (HTTP connections) and web_socket.cc (WebSockets).
// Nothing outside this room includes it.
#ifndef ISOBAR_SUPERVISOR_HTTP_HTTP_SERVER_INTERNAL_H_
#define ISOBAR_SUPERVISOR_HTTP_HTTP_SERVER_INTERNAL_H_

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "supervisor/http/http_server.h"

namespace isobar::supervisor {

namespace http_internal {
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using tls_stream = beast::ssl_stream<beast::tcp_stream>;

inline std::chrono::steady_clock::duration Chrono(absl::Duration d) { return absl::ToChronoNanoseconds(d); }
}  // namespace http_internal

// What the server keeps track of while it is open: an HTTP connection or a WebSocket. Owned by its
// pending operations; listed in Impl while it exists.
class HttpServer::Peer : public std::enable_shared_from_this<Peer> {
 public:
  virtual ~Peer();  // unlists the peer
  // Lists the peer in the server (Drain closes what is listed). Called once it is owned by a
  // shared_ptr; it unlists itself when destroyed.
  void Register(std::shared_ptr<Impl> server);
  // From Drain: close now if nothing is being served; otherwise once it is answered.
  virtual void CloseIfIdle() = 0;
  virtual void CloseNow() = 0;

 protected:
  std::shared_ptr<Impl> owner_;  // set by Register; the server lives at least as long as its peers
};

// Shared by the server and every peer, so that the io_context outlives whatever still refers to it
// (a reply held in an admission queue, say, after the server object is gone).
class HttpServer::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(HttpServerOptions options, Handler handler, UpgradeHandler upgrade)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        upgrade_(std::move(upgrade)),
        ioc_(options_.threads),
        work_(ioc_.get_executor()) {}

  absl::Status Listen(int* port);
  // Reads the TLS certificate and key into a new context for the connections accepted from now on
  // (the ones open keep theirs). Called at Listen, then on the reload timer when a file changed.
  absl::Status LoadTls() ABSL_LOCKS_EXCLUDED(tls_mu_);
  void WatchTls();
  std::shared_ptr<http_internal::net::ssl::context> tls_context() ABSL_LOCKS_EXCLUDED(tls_mu_) {
    absl::MutexLock lock(&tls_mu_);
    return tls_;
  }
  void Accept();
  size_t Drain(absl::Time deadline);
  Stats stats() const;

  void Added(Peer* peer) ABSL_LOCKS_EXCLUDED(mu_);
  void Removed(Peer* peer) ABSL_LOCKS_EXCLUDED(mu_);
  bool draining() const { return draining_.load(std::memory_order_relaxed); }
  // Room for `bytes` of request bodies within options_.max_buffered_body_bytes, or false.
  bool ReserveBodyBytes(uint64_t bytes) {
    uint64_t held = body_bytes_.load(std::memory_order_relaxed);
    do {
      if (held + bytes > options_.max_buffered_body_bytes) return false;
    } while (!body_bytes_.compare_exchange_weak(held, held + bytes, std::memory_order_relaxed));
    return true;
  }
  void ReleaseBodyBytes(uint64_t bytes) { body_bytes_.fetch_sub(bytes, std::memory_order_relaxed); }

  const HttpServerOptions options_;
  const Handler handler_;
  const UpgradeHandler upgrade_;
  // Before the io_context: destroying it destroys pending handlers, and with them peers, which
  // unlist themselves here.
  mutable absl::Mutex mu_;
  absl::flat_hash_set<Peer*> peers_ ABSL_GUARDED_BY(mu_);
  http_internal::net::io_context ioc_;
  http_internal::net::executor_work_guard<http_internal::net::io_context::executor_type> work_;
  http_internal::tcp::acceptor acceptor_{http_internal::net::make_strand(ioc_)};
  std::vector<std::thread> threads_;
  std::atomic<bool> draining_{false};
  std::atomic<uint64_t> accepted_{0}, refused_busy_{0}, requests_{0}, timed_out_{0}, bad_requests_{0};
  std::atomic<uint64_t> websockets_{0};
  std::atomic<uint64_t> body_bytes_{0};  // request bodies being read or served now
  std::unique_ptr<http_internal::net::steady_timer> accept_retry_;  // after an accept error
  absl::Mutex tls_mu_;
  std::shared_ptr<http_internal::net::ssl::context> tls_ ABSL_GUARDED_BY(tls_mu_);  // null: plaintext
  std::string tls_files_seen_ ABSL_GUARDED_BY(tls_mu_);  // the files' sizes and times when last read
  std::unique_ptr<http_internal::net::steady_timer> tls_timer_;
};

// Takes over an upgraded connection's stream: accepts the handshake for `request`, then reads
// messages to `handler` and writes what it is given, one message at a time.
// For `Stream` beast::tcp_stream and tls_stream (web_socket.cc instantiates both).
template <class Stream>
void StartWebSocket(const std::shared_ptr<HttpServer::Impl>& server, Stream stream,
                    http_internal::http::request<http_internal::http::string_body> request,
                    std::unique_ptr<WebSocketHandler> handler);

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_HTTP_HTTP_SERVER_INTERNAL_H_
