#include "supervisor/http/health_routes.h"

#include <atomic>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "supervisor/http/raw_http_client_testing.h"

namespace isobar::supervisor {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// A listener whose only other route answers 404 "theirs", and facts the test changes between requests.
class HealthRoutesTest : public ::testing::Test {
 protected:
  HealthRoutesTest()
      : health_([this] {
          return ReadinessFacts{.database_available = database_.load(), .workers_ready = workers_.load(),
                                .draining = draining_.load()};
        }),
        server_(Options(), [this](HttpRequest request, HttpServer::Reply reply) {
          if (health_.Serve(request, reply)) return;
          std::move(reply)(HttpResponse::Text(404, "theirs"));
        }) {}

  static HttpServerOptions Options() {
    HttpServerOptions options;
    options.listen = "127.0.0.1:0";
    return options;
  }
  std::string Get(const std::string& request_line) {
    RawClient client(server_.port());
    EXPECT_TRUE(client.connected());
    EXPECT_TRUE(client.Send(request_line + " HTTP/1.1\r\nHost: x\r\n\r\n"));
    return client.ReadResponse();
  }

  std::atomic<bool> database_{true};
  std::atomic<int> workers_{2};
  std::atomic<bool> draining_{false};
  HealthRoutes health_;
  HttpServer server_;
};

TEST_F(HealthRoutesTest, ReadyWhenTheDatabaseAnswersAWorkerIsReadyAndNotDraining) {
  ASSERT_TRUE(server_.Start().ok());
  EXPECT_THAT(Get("GET /healthz"), StartsWith("HTTP/1.1 200"));
  const std::string ready = Get("GET /readyz");
  EXPECT_THAT(ready, StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(ready, HasSubstr("ready"));
  EXPECT_THAT(ready, HasSubstr("no-store"));
  EXPECT_THAT(Get("GET /readyz?verbose=1"), StartsWith("HTTP/1.1 200"));
  // Other paths are the caller's.
  EXPECT_THAT(Get("GET /readyzz"), StartsWith("HTTP/1.1 404"));
  EXPECT_THAT(Get("GET /d/app/healthz"), StartsWith("HTTP/1.1 404"));
  EXPECT_THAT(Get("POST /readyz"), StartsWith("HTTP/1.1 405"));
}

TEST_F(HealthRoutesTest, NotReadyNamesEveryReasonAndAliveStaysOk) {
  ASSERT_TRUE(server_.Start().ok());
  database_ = false;
  std::string answer = Get("GET /readyz");
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 503"));
  EXPECT_THAT(answer, HasSubstr("PostgreSQL is unreachable"));
  EXPECT_THAT(answer, Not(HasSubstr("worker")));
  EXPECT_THAT(Get("GET /healthz"), StartsWith("HTTP/1.1 200"));  // alive: not a reason to restart it

  database_ = true;
  workers_ = 0;
  answer = Get("GET /readyz");
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 503"));
  EXPECT_THAT(answer, HasSubstr("no worker is ready"));

  workers_ = 1;
  draining_ = true;
  answer = Get("GET /readyz");
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 503"));
  EXPECT_THAT(answer, HasSubstr("draining"));

  draining_ = false;
  EXPECT_THAT(Get("GET /readyz"), StartsWith("HTTP/1.1 200"));  // read at each request, never cached
}

TEST(NotReadyBecauseTest, OneLinePerReason) {
  EXPECT_EQ(NotReadyBecause({.database_available = true, .workers_ready = 1, .draining = false}), "");
  EXPECT_EQ(NotReadyBecause({.database_available = false, .workers_ready = 0, .draining = true}),
            "not ready: draining (stopping)\nnot ready: PostgreSQL is unreachable\nnot ready: no worker is ready\n");
}

}  // namespace
}  // namespace isobar::supervisor
