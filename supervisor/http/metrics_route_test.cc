#include "supervisor/http/metrics_route.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "supervisor/http/raw_http_client_testing.h"

namespace isobar::supervisor {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

class MetricsRouteTest : public ::testing::Test {
 protected:
  std::string Request(const MetricsRoute& route, const std::string& head) {
    HttpServerOptions options;
    options.listen = "127.0.0.1:0";
    HttpServer server(options, [&route](HttpRequest request, HttpServer::Reply reply) {
      if (route.Serve(request, reply)) return;
      std::move(reply)(HttpResponse::Text(404, "theirs"));
    });
    EXPECT_TRUE(server.Start().ok());
    RawClient client(server.port());
    EXPECT_TRUE(client.Send(head + "\r\n\r\n"));
    std::string response = client.ReadResponse();
    server.Drain(absl::Now() + absl::Seconds(5));
    return response;
  }
};

TEST_F(MetricsRouteTest, OnlyTheAdminKeyReadsThemUnlessOpen) {
  MetricsRoute closed([] { return std::string("isobar_up 1\n"); }, "secret-key", /*open=*/false);
  std::string answer = Request(closed, "GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer secret-key");
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(answer, HasSubstr("text/plain; version=0.0.4"));
  EXPECT_THAT(answer, HasSubstr("isobar_up 1"));
  for (const char* authorization : {"", "\r\nAuthorization: Bearer secret-kez", "\r\nAuthorization: Bearer secret-key-and-more",
                                    "\r\nAuthorization: secret-key", "\r\nAuthorization: Bearer "}) {
    answer = Request(closed, std::string("GET /metrics HTTP/1.1\r\nHost: x") + authorization);
    EXPECT_THAT(answer, StartsWith("HTTP/1.1 401")) << authorization;
    EXPECT_THAT(answer, Not(HasSubstr("isobar_up"))) << authorization;
  }
  EXPECT_THAT(Request(closed, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0"), StartsWith("HTTP/1.1 405"));
  EXPECT_THAT(Request(closed, "GET /metricsz HTTP/1.1\r\nHost: x"), StartsWith("HTTP/1.1 404"));

  MetricsRoute open([] { return std::string("isobar_up 1\n"); }, "secret-key", /*open=*/true);
  EXPECT_THAT(Request(open, "GET /metrics HTTP/1.1\r\nHost: x"), HasSubstr("isobar_up 1"));
  // An empty admin key never matches an empty token.
  MetricsRoute keyless([] { return std::string("isobar_up 1\n"); }, "", /*open=*/false);
  EXPECT_THAT(Request(keyless, "GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "), StartsWith("HTTP/1.1 401"));
}

}  // namespace
}  // namespace isobar::supervisor
