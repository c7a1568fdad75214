// Hostile clients of the HTTP surface against a real supervisor: a thousand idle WebSockets, a
// sync-protocol client that never reads while its query keeps changing, clients that open
// connections and say nothing, and one that sends a header byte at a time. Meanwhile the gRPC API
// and the Convex HTTP API keep answering, each call within a stated bound (5 s, on a loaded 2-core CI machine), and afterwards the
// supervisor still holds every honest client's data.
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <sys/resource.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/supervisor_fixture.h"

namespace isobar::testing {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr absl::Duration kBound = absl::Seconds(5);

struct Address {
  std::string host;
  std::string port;
};

Address HttpAddress(const std::string& url) {
  const std::string hostport = url.substr(url.find("://") + 3);
  return {hostport.substr(0, hostport.rfind(':')), hostport.substr(hostport.rfind(':') + 1)};
}

// One POST on a new connection; the status and body.
std::pair<int, std::string> Post(net::io_context& ioc, const Address& address, const std::string& target,
                                 const std::string& body) {
  beast::tcp_stream stream(ioc);
  beast::error_code ec;
  tcp::resolver resolver(ioc);
  auto endpoints = resolver.resolve(address.host, address.port, ec);
  if (!ec) stream.connect(endpoints, ec);
  if (ec) return {0, ec.message()};
  http::request<http::string_body> request(http::verb::post, target, 11);
  request.set(http::field::host, address.host);
  request.set(http::field::content_type, "application/json");
  request.body() = body;
  request.prepare_payload();
  http::write(stream, request, ec);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  if (!ec) http::read(stream, buffer, response, ec);
  if (ec) return {0, ec.message()};
  return {response.result_int(), response.body()};
}

class HostileHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // This test holds over a thousand sockets (the supervisor raises its own limit the same way).
    rlimit files;
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &files), 0);
    if (files.rlim_max < 4096) files.rlim_max = 4096;  // root may raise it (CI runs as root)
    files.rlim_cur = files.rlim_max;
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &files), 0) << "this test needs 4,096 open files";
    ASSERT_TRUE(supervisor_.Start().ok());
    absl::StatusOr<std::string> key = supervisor_.Deploy("hostile", "tests/apps/chat.modules");
    ASSERT_TRUE(key.ok()) << key.status();
    key_ = *key;
    address_ = HttpAddress(supervisor_.http_url());
  }

  // A gRPC Ping, a gRPC query and an HTTP API mutation and query, each timed.
  void ExpectResponsive(const std::string& when) {
    absl::Time start = absl::Now();
    grpc::ClientContext context;
    supervisor_.Authorize(context);
    isobar::v1::PingResponse pong;
    EXPECT_TRUE(supervisor_.admin().Ping(&context, {}, &pong).ok()) << when;
    EXPECT_LT(absl::Now() - start, kBound) << "gRPC Ping " << when;

    start = absl::Now();
    auto [status, body] = Post(ioc_, address_, "/d/hostile/api/mutation",
                               R"({"path":"messages:send","args":{"channel":"honest","author":"a","body":"still here"}})");
    EXPECT_EQ(status, 200) << when << ": " << body;
    EXPECT_THAT(body, ::testing::HasSubstr("\"status\":\"success\"")) << when;
    EXPECT_LT(absl::Now() - start, kBound) << "HTTP mutation " << when;

    start = absl::Now();
    auto functions = isobar::v1::Functions::NewStub(channel_);
    FunctionResult listed = CallFunction(*functions, CallKind::kQuery,
                                         {.deployment = "hostile", .key = key_, .path = "messages:list",
                                          .args_json = R"({"channel":"honest","paginationOpts":{"numItems":1,"cursor":null}})"});
    EXPECT_TRUE(listed.status.ok()) << when << ": " << listed.status.error_message();
    EXPECT_LT(absl::Now() - start, kBound) << "gRPC query " << when;
  }

  SupervisorProcess supervisor_{{.workers = 2, .enable_eval = false}};
  std::string key_;
  Address address_;
  net::io_context ioc_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(HostileHttpTest, TheSupervisorKeepsAnsweringThroughIdleSlowAndNonReadingClients) {
  channel_ = grpc::CreateChannel(supervisor_.address(), grpc::InsecureChannelCredentials());
  ExpectResponsive("before");

  // 1,000 WebSockets, each connected and subscribed, then idle.
  std::vector<std::unique_ptr<websocket::stream<tcp::socket>>> idle;
  tcp::resolver resolver(ioc_);
  const auto endpoints = resolver.resolve(address_.host, address_.port);
  for (int i = 0; i < 1000; ++i) {
    auto ws = std::make_unique<websocket::stream<tcp::socket>>(ioc_);
    net::connect(ws->next_layer(), endpoints);
    ws->handshake(address_.host, "/d/hostile/api/1.48.0/sync");
    ws->write(net::buffer(absl::StrCat(R"({"type":"Connect","sessionId":"idle-)", i, R"(","connectionCount":0})")));
    ws->write(net::buffer(std::string(
        R"({"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Add","queryId":0,"udfPath":"messages:list","args":[{"channel":"watched","paginationOpts":{"numItems":5,"cursor":null}}]}]})")));
    idle.push_back(std::move(ws));
  }
  // One that watches a query that keeps changing and never reads what it is sent.
  auto deaf = std::make_unique<websocket::stream<tcp::socket>>(ioc_);
  net::connect(deaf->next_layer(), endpoints);
  deaf->handshake(address_.host, "/d/hostile/api/1.48.0/sync");
  deaf->write(net::buffer(std::string(R"({"type":"Connect","sessionId":"deaf","connectionCount":0})")));
  deaf->write(net::buffer(std::string(
      R"({"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Add","queryId":0,"udfPath":"messages:list","args":[{"channel":"watched","paginationOpts":{"numItems":100,"cursor":null}}]}]})")));
  // Connections that say nothing, and one that sends its header a byte at a time.
  std::vector<std::unique_ptr<tcp::socket>> silent;
  for (int i = 0; i < 100; ++i) {
    auto socket = std::make_unique<tcp::socket>(ioc_);
    net::connect(*socket, endpoints);
    silent.push_back(std::move(socket));
  }
  tcp::socket trickle(ioc_);
  net::connect(trickle, endpoints);
  net::write(trickle, net::buffer(std::string("P")));

  // The watched query changes 50 times: every idle socket and the deaf one are owed transitions.
  auto functions = isobar::v1::Functions::NewStub(channel_);
  for (int i = 0; i < 50; ++i) {
    FunctionResult sent = CallFunction(*functions, CallKind::kMutation,
                                       {.deployment = "hostile", .key = key_, .path = "messages:send",
                                        .args_json = absl::StrCat(R"({"channel":"watched","author":"w","body":"m)", i, R"("})")});
    ASSERT_TRUE(sent.status.ok()) << sent.status.error_message();
  }
  ExpectResponsive("with 1,000 idle WebSockets, a deaf one, 100 silent connections and a trickle");

  // An idle socket that reads now sees the newest state: its query shows the 5 newest messages.
  beast::flat_buffer buffer;
  std::string newest;
  for (int reads = 0; reads < 200 && !absl::StrContains(newest, "\"m49\""); ++reads) {
    buffer.clear();
    idle[0]->read(buffer);
    newest = beast::buffers_to_string(buffer.data());
  }
  EXPECT_THAT(newest, ::testing::HasSubstr("\"m49\""));

  idle.clear();
  deaf.reset();
  silent.clear();
  ExpectResponsive("after they left");
}

}  // namespace
}  // namespace isobar::testing
