// Observability of a running supervisor (issue 21, item 2). Prometheus metrics: eight clients call the
// chat app's functions while /metrics is scraped; the counts scraped at the end are exactly the calls
// the test made, by function, kind and outcome, and a scrape never goes backwards; without the admin
// key /metrics answers 401. Logs: one line per execution, and with --log-format=json every line of
// the supervisor's log is a JSON object, the call's request id the same in its line, in its log
// lines (TailLogs) and in the HTTP API's error.
#include <atomic>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "supervisor/http/raw_http_client_testing.h"
#include "tests/live_queries.h"
#include "tests/metrics_scrape.h"
#include "tests/supervisor_fixture.h"

namespace isobar::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string Executions(const std::string& function, const std::string& kind, const std::string& outcome) {
  return absl::StrCat(R"(isobar_function_executions_total{deployment="metered",function=")", function,
                      R"(",kind=")", kind, R"(",outcome=")", outcome, R"("})");
}

TEST(MetricsTest, AScrapeCountsTheCallsMadeWhileItRan) {
  SupervisorProcess supervisor({.workers = 2});
  ASSERT_TRUE(supervisor.Start().ok());
  absl::StatusOr<std::string> key = supervisor.Deploy("metered", "tests/apps/chat.modules");
  ASSERT_TRUE(key.ok()) << key.status();
  const std::string admin = "Authorization: Bearer " + supervisor.admin_key() + "\r\n";

  constexpr int kClients = 8, kSends = 20, kEmpty = 2;
  std::atomic<int> failures{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      auto stub = isobar::v1::Functions::NewStub(
          grpc::CreateChannel(supervisor.address(), grpc::InsecureChannelCredentials()));
      for (int i = 0; i < kSends; ++i) {
        FunctionResult sent = CallFunction(*stub, CallKind::kMutation,
                                           {.deployment = "metered", .key = *key, .path = "messages:send",
                                            .args_json = absl::StrCat(R"({"channel":"m","author":"c)", c, R"(","body":"hi )", i, R"("})")});
        if (!sent.status.ok()) {
          ++failures;
          continue;
        }
        // Each id once: a query the cache cannot answer, so it runs.
        FunctionResult got = CallFunction(*stub, CallKind::kQuery,
                                          {.deployment = "metered", .key = *key, .path = "messages:get",
                                           .args_json = absl::StrCat(R"({"id":)", sent.response.result_json(), "}")});
        if (!got.status.ok()) ++failures;
      }
      for (int i = 0; i < kEmpty; ++i) {  // a ConvexError each
        FunctionResult refused = CallFunction(*stub, CallKind::kMutation,
                                              {.deployment = "metered", .key = *key, .path = "messages:send",
                                               .args_json = R"({"channel":"m","author":"a","body":"  "})"});
        if (refused.status.ok()) ++failures;
      }
    });
  }
  // Scraped while the clients run: every count only grows.
  std::thread scraper([&] {
    double last = 0;
    while (!done.load()) {
      const std::string text = ScrapeMetrics(supervisor, admin);
      const double now = std::max(0.0, MetricSample(text, Executions("messages:send", "mutation", "ok")));
      EXPECT_GE(now, last);
      last = now;
    }
  });
  for (std::thread& client : clients) client.join();
  done = true;
  scraper.join();
  ASSERT_EQ(failures.load(), 0) << supervisor.log();

  // One live query set open while it is scraped.
  LiveQueries watching(grpc::CreateChannel(supervisor.address(), grpc::InsecureChannelCredentials()), *key, "metered");
  ASSERT_TRUE(watching.Add(1, "counters:get", R"({"name":"x"})"));
  ASSERT_TRUE(watching.WaitFor([](const LiveQueries::Values& v) { return v.count(1) > 0; }, absl::Seconds(30)));
  const std::string response = ScrapeMetrics(supervisor, admin);
  ASSERT_THAT(response, StartsWith("HTTP/1.1 200"));
  EXPECT_EQ(MetricSample(response, "isobar_subscriptions"), 1);
  // Every client call took a slot, once (a retry after a conflict keeps it): its wait is observed.
  EXPECT_EQ(MetricSample(response, R"(isobar_queue_wait_seconds_count{kind="mutation"})"), kClients * (kSends + kEmpty));
  EXPECT_GE(MetricSample(response, R"(isobar_queue_wait_seconds_count{kind="query"})"), kClients * kSends);
  EXPECT_EQ(MetricSample(response, "isobar_cluster_members"), -1) << "cluster series without --cluster";
  EXPECT_EQ(MetricSample(response, Executions("messages:send", "mutation", "ok")), kClients * kSends);
  EXPECT_EQ(MetricSample(response, Executions("messages:send", "mutation", "convex_error")), kClients * kEmpty);
  EXPECT_EQ(MetricSample(response, Executions("messages:get", "query", "ok")), kClients * kSends);
  EXPECT_EQ(MetricSample(response, R"(isobar_function_execution_seconds_count{deployment="metered",kind="mutation"})"),
            kClients * (kSends + kEmpty));
  // Every successful send committed once; a commit refused for a conflict ran again (and is counted
  // in isobar_occ_conflicts_total too).
  EXPECT_EQ(MetricSample(response, R"(isobar_commit_seconds_count{deployment="metered",outcome="committed"})"), kClients * kSends);
  const double conflicts = MetricSample(response, R"(isobar_commit_seconds_count{deployment="metered",outcome="conflict"})");
  EXPECT_EQ(std::max(0.0, conflicts), MetricSample(response, "isobar_occ_conflicts_total"));
  EXPECT_EQ(MetricSample(response, R"(isobar_workers{state="ready"})"), 2);
  EXPECT_EQ(MetricSample(response, "isobar_postgres_up"), 1);
  // Every get was of a new id: each a miss of the query cache, which ran (and so did the live query).
  EXPECT_EQ(MetricSample(response, R"(isobar_query_cache_lookups_total{result="miss"})"), kClients * kSends + 1);
  EXPECT_EQ(MetricSample(response, R"(isobar_query_cache_lookups_total{result="hit"})"), 0);
  EXPECT_GT(MetricSample(response, "isobar_pg_pool_acquired_total"), 0);
  EXPECT_EQ(MetricSample(response, "isobar_deployments_owned"), 1);
  EXPECT_GE(MetricSample(response, R"(isobar_worker_invocations_total{worker="0"})") +
                MetricSample(response, R"(isobar_worker_invocations_total{worker="1"})"),
            kClients * (2 * kSends + kEmpty));

  // One log line per execution, in the text format: "INFO calls: <function> <outcome> deployment=..."
  const std::string log = supervisor.log();
  size_t lines = 0;
  for (size_t at = 0; (at = log.find("INFO calls: messages:send ok deployment=metered function=messages:send "
                                     "kind=mutation outcome=ok ms=",
                                     at)) != std::string::npos;
       ++at) {
    ++lines;
  }
  EXPECT_EQ(lines, static_cast<size_t>(kClients * kSends));

  // Without the key, or with a deployment's key: nothing.
  for (const std::string& authorization : {std::string(), "Authorization: Bearer " + *key + "\r\n"}) {
    const std::string refused = ScrapeMetrics(supervisor, authorization);
    EXPECT_THAT(refused, StartsWith("HTTP/1.1 401"));
    EXPECT_THAT(refused, ::testing::Not(HasSubstr("isobar_function_executions_total")));
  }
}

TEST(MetricsTest, JsonLogsCarryEachCallsRequestId) {
  SupervisorProcess supervisor({.workers = 1, .extra_args = {"--log-format=json"}});
  ASSERT_TRUE(supervisor.Start().ok()) << supervisor.log();
  ASSERT_TRUE(supervisor.Deploy("logged", "tests/apps/chat.modules").ok());
  // Logs of the deployment, as isobarctl logs reads them.
  grpc::ClientContext tail_context;
  supervisor.Authorize(tail_context);
  isobar::v1::TailLogsRequest tail_request;
  tail_request.set_deployment("logged");
  auto tail = supervisor.admin().TailLogs(&tail_context, tail_request);

  const int port = supervisor.http_port();
  ASSERT_GT(port, 0) << supervisor.http_url();
  auto mutation = [port](const std::string& message) {
    supervisor::RawClient client(port);
    const std::string body =
        absl::StrCat(R"({"path":"messages:send","args":{"channel":"c","author":"a","body":")", message, R"("},"format":"json"})");
    EXPECT_TRUE(client.Send(absl::StrCat("POST /d/logged/api/mutation HTTP/1.1\r\nHost: x\r\n",
                                         "Content-Type: application/json\r\nContent-Length: ", body.size(), "\r\n\r\n", body)));
    return client.ReadResponse();
  };
  // A call that logs (messages:send's console.log): its log line carries its request id.
  EXPECT_THAT(mutation("hello"), HasSubstr(R"("status":"success")"));
  isobar::v1::LogEntry entry;
  ASSERT_TRUE(tail->Read(&entry));
  const std::string logged_id = entry.request_id();
  EXPECT_EQ(logged_id.size(), 16u) << entry.DebugString();
  tail_context.TryCancel();
  // A ConvexError, as a Convex client sees it: "[Request ID: <id>] Server Error".
  const std::string response = mutation("  ");
  const size_t at = response.find("[Request ID: ");
  ASSERT_NE(at, std::string::npos) << response;
  const std::string failed_id = response.substr(at + 13, response.find(']', at) - at - 13);
  ASSERT_EQ(failed_id.size(), 16u) << response;

  // Every line of the supervisor's log is one JSON object; each call's has its outcome and its id.
  const std::string log_path = ::testing::TempDir() + "/json.log";
  std::ofstream(log_path) << supervisor.log();
  ShellResult parsed = RunShell(absl::StrCat(
      "/usr/bin/python3 -c 'import json,sys\nlines=[json.loads(l) for l in open(sys.argv[1]) if l.strip()]\n"
      "calls=[l for l in lines if l[\"component\"]==\"calls\"]\nprint(len(lines), [(c[\"function\"],c[\"outcome\"],c[\"request\"]) for c in calls])' ",
      log_path, " 2>&1"));
  EXPECT_EQ(parsed.status, 0) << parsed.out;
  EXPECT_THAT(parsed.out, HasSubstr(absl::StrCat("('messages:send', 'ok', '", logged_id, "')")));
  EXPECT_THAT(parsed.out, HasSubstr(absl::StrCat("('messages:send', 'convex_error', '", failed_id, "')")));
}

}  // namespace
}  // namespace isobar::testing
