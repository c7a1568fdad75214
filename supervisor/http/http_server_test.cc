#include "supervisor/http/http_server.h"

#include "supervisor/http/raw_http_client_testing.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace isobar::supervisor {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

HttpServerOptions TestOptions() {
  HttpServerOptions options;
  options.listen = "127.0.0.1:0";
  options.max_header_bytes = 1024;
  options.max_body_bytes = 4096;
  return options;
}

// Answers "<method> <target> <body>" and the value of x-echo.
HttpServer::Handler Echo() {
  return [](HttpRequest request, HttpServer::Reply reply) {
    std::move(reply)(HttpResponse::Text(
        200, absl::StrCat(request.method, " ", request.target, " ", request.body, " ", request.Header("x-echo"))));
  };
}

TEST(HttpServerTest, ServesRequestsOnAKeptAliveConnection) {
  HttpServer server(TestOptions(), Echo());
  ASSERT_TRUE(server.Start().ok());
  RawClient client(server.port());
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.Send("POST /a HTTP/1.1\r\nHost: x\r\nX-Echo: one\r\nX-Echo: two\r\nContent-Length: 3\r\n\r\nabc"));
  std::string first = client.ReadResponse();
  EXPECT_THAT(first, StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(first, HasSubstr("POST /a abc one, two"));
  ASSERT_TRUE(client.Send("GET /b?q=1 HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_THAT(client.ReadResponse(), HasSubstr("GET /b?q=1  "));
  ASSERT_TRUE(client.Send("GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  EXPECT_THAT(client.ReadResponse(), HasSubstr("GET /c"));
  EXPECT_TRUE(client.Closed());
  EXPECT_EQ(server.stats().requests, 3u);
}

TEST(HttpServerTest, AnswersFromAnotherThreadAndWhenTheHandlerDropsTheReply) {
  HttpServer server(TestOptions(), [](HttpRequest request, HttpServer::Reply reply) {
    if (request.target == "/drop") return;  // the reply is destroyed unanswered
    std::thread([reply = std::move(reply)]() mutable { std::move(reply)(HttpResponse::Json(201, "{}")); }).detach();
  });
  ASSERT_TRUE(server.Start().ok());
  RawClient client(server.port());
  ASSERT_TRUE(client.Send("GET /later HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_THAT(client.ReadResponse(), StartsWith("HTTP/1.1 201"));
  ASSERT_TRUE(client.Send("GET /drop HTTP/1.1\r\nHost: x\r\n\r\n"));
  const std::string dropped = client.ReadResponse();
  EXPECT_THAT(dropped, StartsWith("HTTP/1.1 500"));
  EXPECT_THAT(dropped, HasSubstr("dropped without an answer"));
}

TEST(HttpServerTest, RefusesOversizedAndMalformedRequestsInWordsThenCloses) {
  HttpServer server(TestOptions(), Echo());
  ASSERT_TRUE(server.Start().ok());
  struct Case {
    std::string request;
    std::string status;
  };
  const Case cases[] = {
      {absl::StrCat("GET / HTTP/1.1\r\nHost: x\r\nX-Big: ", std::string(2000, 'a'), "\r\n\r\n"), "HTTP/1.1 431"},
      {absl::StrCat("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n", std::string(5000, 'b')), "HTTP/1.1 413"},
      {"NOT HTTP AT ALL\r\n\r\n", "HTTP/1.1 400"},
      {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", "HTTP/1.1 400"},
      // Request smuggling: a body framed two ways, and two lengths that disagree.
      {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "HTTP/1.1 400"},
      {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", "HTTP/1.1 400"},
      {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n", "HTTP/1.1 400"},
      {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc", "HTTP/1.1 400"},
      {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", "HTTP/1.1 400"},

  };
  for (const Case& c : cases) {
    RawClient client(server.port());
    ASSERT_TRUE(client.Send(c.request));
    EXPECT_THAT(client.ReadResponse(), StartsWith(c.status)) << c.request.substr(0, 60);
    EXPECT_TRUE(client.Closed()) << c.request.substr(0, 60);
  }
  EXPECT_EQ(server.stats().requests, 0u);  // none reached the handler
}

// A chunk extension that never ends is not counted by the body limit: the connection's buffer is
// bounded instead, and the connection ends (the refusal may be lost to the reset of unread bytes).
TEST(HttpServerTest, BoundsWhatAChunkedBodyMayBufferOutsideItsChunks) {
  HttpServer server(TestOptions(), Echo());
  ASSERT_TRUE(server.Start().ok());
  RawClient client(server.port());
  ASSERT_TRUE(client.Send("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1;"));
  const std::string extension(16 << 10, 'e');
  for (int i = 0; i < 64 && client.Send(extension); ++i) {
  }
  EXPECT_TRUE(client.Closed());
  server.Drain(absl::Now());
  EXPECT_EQ(server.stats().requests, 0u);
  EXPECT_EQ(server.stats().bad_requests, 1u);
}

TEST(HttpServerTest, CutsOffClientsTooSlowToSendTheirHeaders) {
  HttpServerOptions options = TestOptions();
  options.header_timeout = absl::Milliseconds(200);
  HttpServer server(options, Echo());
  ASSERT_TRUE(server.Start().ok());
  RawClient slow(server.port());
  ASSERT_TRUE(slow.Send("GET / HTTP/1.1\r\nHost: x\r\n"));  // and never the blank line
  EXPECT_TRUE(slow.Closed());
  RawClient silent(server.port());  // connects and says nothing
  EXPECT_TRUE(silent.Closed());
  // The timer closes the socket before the server's handler counts it: count once the server is done.
  server.Drain(absl::Now());
  EXPECT_EQ(server.stats().timed_out, 2u);
  EXPECT_EQ(server.stats().requests, 0u);
}

TEST(HttpServerTest, RefusesConnectionsBeyondItsCap) {
  HttpServerOptions options = TestOptions();
  options.max_connections = 2;
  HttpServer server(options, Echo());
  ASSERT_TRUE(server.Start().ok());
  RawClient a(server.port()), b(server.port());
  // Both are served (so both are counted before the third arrives).
  ASSERT_TRUE(a.Send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(b.Send("GET /b HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_THAT(a.ReadResponse(), HasSubstr("GET /a"));
  EXPECT_THAT(b.ReadResponse(), HasSubstr("GET /b"));
  RawClient c(server.port());
  EXPECT_TRUE(c.Closed());
  EXPECT_EQ(server.stats().refused_busy, 1u);
}

TEST(HttpServerTest, DrainClosesIdleConnectionsAndAnswersTheOneBeingServed) {
  absl::Notification arrived;
  HttpServer::Reply held;
  absl::Mutex mu;
  HttpServer server(TestOptions(), [&](HttpRequest, HttpServer::Reply reply) {
    absl::MutexLock lock(&mu);
    held = std::move(reply);
    arrived.Notify();
  });
  ASSERT_TRUE(server.Start().ok());
  RawClient idle(server.port());
  RawClient busy(server.port());
  ASSERT_TRUE(busy.Send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
  arrived.WaitForNotification();
  std::thread answer([&] {
    // The drain has begun once the idle connection is closed; then the held request is answered.
    EXPECT_TRUE(idle.Closed());
    absl::MutexLock lock(&mu);
    std::move(held)(HttpResponse::Text(200, "finished"));
  });
  EXPECT_EQ(server.Drain(absl::Now() + absl::Seconds(30)), 0u);
  answer.join();
  const std::string response = busy.ReadResponse();
  EXPECT_THAT(response, HasSubstr("finished"));
  EXPECT_THAT(response, HasSubstr("Connection: close"));
  EXPECT_TRUE(busy.Closed());
  RawClient late(server.port());
  EXPECT_FALSE(late.connected());
}

// Echoes each message back, upper-cased; counts what it saw.
class EchoSocket final : public WebSocketHandler {
 public:
  explicit EchoSocket(std::atomic<int>* closed) : closed_(closed) {}
  void OnOpen(std::shared_ptr<WebSocket> socket) override { socket_ = std::move(socket); }
  void OnMessage(std::string text) override {
    if (text == "flood") {
      // More than the queue holds, at once: a client that does not read is cut off.
      for (int i = 0; i < 1000; ++i) socket_->Send(std::string(64 << 10, 'x'));
      return;
    }
    if (text == "bye") return socket_->Close(4000, "asked to");
    for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    socket_->Send(std::move(text));
  }
  void OnClose() override { ++*closed_; }

 private:
  std::atomic<int>* closed_;
  std::shared_ptr<WebSocket> socket_;
};

namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = boost::asio::ip::tcp;

// A blocking WebSocket client.
struct WsClient {
  boost::asio::io_context ioc;
  websocket::stream<tcp::socket> ws{ioc};
  beast::error_code Connect(int port, const std::string& target) {
    beast::error_code ec;
    ws.next_layer().connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)), ec);
    if (!ec) ws.handshake("127.0.0.1", target, ec);
    return ec;
  }
  std::string Read(beast::error_code* ec) {
    beast::flat_buffer buffer;
    ws.read(buffer, *ec);
    return beast::buffers_to_string(buffer.data());
  }
};

HttpServer::UpgradeHandler EchoUpgrades(std::atomic<int>* closed) {
  return [closed](const HttpRequest& request, HttpResponse* refusal) -> std::unique_ptr<WebSocketHandler> {
    if (request.target != "/echo") {
      *refusal = HttpResponse::Text(404, "no socket here");
      return nullptr;
    }
    return std::make_unique<EchoSocket>(closed);
  };
}

TEST(HttpServerTest, WebSocketsExchangeMessagesAndCloseInWords) {
  std::atomic<int> closed{0};
  HttpServer server(TestOptions(), Echo(), EchoUpgrades(&closed));
  ASSERT_TRUE(server.Start().ok());
  WsClient client;
  ASSERT_FALSE(client.Connect(server.port(), "/echo"));
  beast::error_code ec;
  client.ws.write(boost::asio::buffer(std::string("hello")), ec);
  ASSERT_FALSE(ec);
  EXPECT_EQ(client.Read(&ec), "HELLO");
  client.ws.write(boost::asio::buffer(std::string("bye")), ec);
  client.Read(&ec);
  EXPECT_EQ(ec, websocket::error::closed);
  EXPECT_EQ(client.ws.reason().code, 4000);
  EXPECT_EQ(std::string(client.ws.reason().reason.c_str()), "asked to");
  server.Drain(absl::Now() + absl::Seconds(10));
  EXPECT_EQ(closed.load(), 1);
  EXPECT_EQ(server.stats().websockets, 1u);
  // Elsewhere, the upgrade handler's refusal is the answer.
  HttpServer other(TestOptions(), Echo(), EchoUpgrades(&closed));
  ASSERT_TRUE(other.Start().ok());
  WsClient refused;
  EXPECT_EQ(refused.Connect(other.port(), "/elsewhere"), websocket::error::upgrade_declined);
}

TEST(HttpServerTest, AWebSocketClientThatDoesNotReadIsCutOff) {
  std::atomic<int> closed{0};
  HttpServerOptions options = TestOptions();
  options.max_websocket_queue = 8;
  HttpServer server(options, Echo(), EchoUpgrades(&closed));
  ASSERT_TRUE(server.Start().ok());
  WsClient client;
  ASSERT_FALSE(client.Connect(server.port(), "/echo"));
  beast::error_code ec;
  client.ws.write(boost::asio::buffer(std::string("flood")), ec);
  ASSERT_FALSE(ec);
  // The server queued at most 8 of the 1,000 messages, then cut the connection (a close frame would
  // wait behind what the client does not read).
  int received = 0;
  for (;;) {
    client.Read(&ec);
    if (ec) break;
    ++received;
  }
  EXPECT_NE(ec, websocket::error::closed) << "cut, not closed politely";
  EXPECT_LE(received, 8);
  server.Drain(absl::Now() + absl::Seconds(10));
  EXPECT_EQ(closed.load(), 1);
}

TEST(HttpServerTest, DrainClosesWebSocketsAsGoingAway) {
  std::atomic<int> closed{0};
  HttpServer server(TestOptions(), Echo(), EchoUpgrades(&closed));
  ASSERT_TRUE(server.Start().ok());
  WsClient client;
  ASSERT_FALSE(client.Connect(server.port(), "/echo"));
  std::thread reader([&] {
    beast::error_code ec;
    client.Read(&ec);
    EXPECT_EQ(ec, websocket::error::closed);
    EXPECT_EQ(client.ws.reason().code, websocket::close_code::going_away);
  });
  EXPECT_EQ(server.Drain(absl::Now() + absl::Seconds(10)), 0u);
  reader.join();
  EXPECT_EQ(closed.load(), 1);
}

TEST(HttpServerTest, RefusesAnAddressItCannotUse) {
  HttpServerOptions options = TestOptions();
  options.listen = "not-an-address:80";
  EXPECT_FALSE(HttpServer(options, Echo()).Start().ok());
  options.listen = "127.0.0.1";
  EXPECT_FALSE(HttpServer(options, Echo()).Start().ok());
}

TEST(HttpServerTest, RequestBodiesInFlightShareOneBudget) {
  HttpServerOptions options = TestOptions();
  options.max_buffered_body_bytes = 5000;
  // "/hold" keeps its answer (and so its body's room) until released.
  absl::Notification holding;
  absl::Notification release;
  std::thread releaser;
  HttpServer server(options, [&](HttpRequest request, HttpServer::Reply reply) {
    if (request.target != "/hold") return std::move(reply)(HttpResponse::Text(200, absl::StrCat("got ", request.body.size())));
    holding.Notify();
    releaser = std::thread([&release, reply = std::move(reply)]() mutable {
      release.WaitForNotification();
      std::move(reply)(HttpResponse::Text(200, "released"));
    });
  });
  ASSERT_TRUE(server.Start().ok());
  RawClient first(server.port());
  ASSERT_TRUE(first.Send(absl::StrCat("POST /hold HTTP/1.1\r\nHost: x\r\nContent-Length: 3000\r\n\r\n", std::string(3000, 'a'))));
  holding.WaitForNotification();
  {
    // 3000 + 3000 is past the budget: refused as its bytes arrive, and the answer reaches the client
    // although it is still sending.
    RawClient second(server.port());
    ASSERT_TRUE(second.Send(absl::StrCat("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 3000\r\n\r\n", std::string(3000, 'b'))));
    std::string answer = second.ReadResponse();
    EXPECT_THAT(answer, StartsWith("HTTP/1.1 503"));
    EXPECT_THAT(answer, HasSubstr("retry-after: 1\r\n"));
    EXPECT_TRUE(second.Closed());
    // A client that only announces a large body holds none of the budget.
    RawClient announcer(server.port());
    ASSERT_TRUE(announcer.Send("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 4000\r\n\r\n"));
    // What fits is served meanwhile, and so is a request without a body.
    RawClient third(server.port());
    ASSERT_TRUE(third.Send(absl::StrCat("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n", std::string(2000, 'c'))));
    EXPECT_THAT(third.ReadResponse(), HasSubstr("got 2000"));
    ASSERT_TRUE(third.Send("GET /x HTTP/1.1\r\nHost: x\r\n\r\n"));
    EXPECT_THAT(third.ReadResponse(), HasSubstr("got 0"));
  }
  release.Notify();
  EXPECT_THAT(first.ReadResponse(), HasSubstr("released"));
  releaser.join();
  // Its room is back once its answer is out.
  ASSERT_TRUE(first.Send(absl::StrCat("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 4000\r\n\r\n", std::string(4000, 'd'))));
  EXPECT_THAT(first.ReadResponse(), HasSubstr("got 4000"));
  EXPECT_EQ(server.stats().refused_busy, 1u);
}

}  // namespace
}  // namespace isobar::supervisor
