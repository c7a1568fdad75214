#include "supervisor/metrics/metrics.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "supervisor/metrics/stats_families.h"

namespace isobar::supervisor {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(MetricsTest, ExecutionsAreCountedByFunctionAndOutcomeAndTimedByKind) {
  Metrics metrics;
  metrics.RecordExecution("app", "messages:send", "mutation", "ok", absl::Microseconds(1500));
  metrics.RecordExecution("app", "messages:send", "mutation", "ok", absl::Milliseconds(30));
  metrics.RecordExecution("app", "messages:send", "mutation", "user_error", absl::Milliseconds(2));
  metrics.RecordExecution("other", "tasks:list", "query", "ok", absl::Microseconds(700));
  metrics.RecordCommit("app", "committed", absl::Microseconds(400));
  const std::string text = metrics.Scrape();
  EXPECT_THAT(text, HasSubstr("# TYPE isobar_function_executions_total counter"));
  EXPECT_THAT(text, HasSubstr(
      R"(isobar_function_executions_total{deployment="app",function="messages:send",kind="mutation",outcome="ok"} 2)"));
  EXPECT_THAT(text, HasSubstr(
      R"(isobar_function_executions_total{deployment="app",function="messages:send",kind="mutation",outcome="user_error"} 1)"));
  EXPECT_THAT(text, HasSubstr(
      R"(isobar_function_executions_total{deployment="other",function="tasks:list",kind="query",outcome="ok"} 1)"));
  // Three mutations: 1.5 ms and 2 ms fall at or under 2.5 ms, 30 ms under 50 ms.
  EXPECT_THAT(text, HasSubstr(R"(isobar_function_execution_seconds_bucket{deployment="app",kind="mutation",le="0.0025"} 2)"));
  EXPECT_THAT(text, HasSubstr(R"(isobar_function_execution_seconds_bucket{deployment="app",kind="mutation",le="0.05"} 3)"));
  EXPECT_THAT(text, HasSubstr(R"(isobar_function_execution_seconds_count{deployment="app",kind="mutation"} 3)"));
  EXPECT_THAT(text, HasSubstr(R"(isobar_commit_seconds_count{deployment="app",outcome="committed"} 1)"));
}

TEST(MetricsTest, LabelValuesAreEscapedNotTrusted) {
  Metrics metrics;
  metrics.RecordExecution("a\"b\\c\nd", "m:f", "query", "ok", absl::Milliseconds(1));
  const std::string text = metrics.Scrape();
  EXPECT_THAT(text, HasSubstr(R"(deployment="a\"b\\c\nd")"));
  EXPECT_THAT(text, Not(HasSubstr("c\nd")));  // no raw newline splits a sample
}

TEST(MetricsTest, TheScrapeSourceIsReadAtEachScrape) {
  Metrics metrics;
  int scrapes = 0;
  metrics.SetScrapeSource([&scrapes] {
    ++scrapes;
    isobar::v1::StatsResponse stats;
    auto* worker = stats.add_workers();
    worker->set_worker_id(0);
    worker->set_state("ready");
    worker->set_starts(2);
    worker->set_crashes(1);
    worker->set_in_flight(3);
    worker->set_contexts_prepared(7);
    stats.add_workers()->set_state("starting");
    stats.mutable_functions()->set_occ_conflicts(5);
    stats.mutable_functions()->mutable_scheduler()->set_succeeded(4);
    stats.mutable_snapshot_makers()->set_loaded(6);
    stats.add_owned_deployments("app");
    return StatsFamilies(stats, {.postgres_up = scrapes == 1, .pg_acquired = 9, .pg_size = 8, .pg_leased = 3,
                                 .cache_hits = 11, .cache_misses = 4, .read_watches = 12});
  });
  std::string text = metrics.Scrape();
  EXPECT_THAT(text, HasSubstr(R"(isobar_workers{state="ready"} 1)"));
  EXPECT_THAT(text, HasSubstr(R"(isobar_workers{state="starting"} 1)"));
  EXPECT_THAT(text, HasSubstr(R"(isobar_workers{state="restarting"} 0)"));
  EXPECT_THAT(text, HasSubstr(R"(isobar_worker_starts_total{worker="0"} 2)"));
  EXPECT_THAT(text, HasSubstr(R"(isobar_worker_crashes_total{worker="0"} 1)"));
  EXPECT_THAT(text, HasSubstr(R"(isobar_worker_in_flight{worker="0"} 3)"));
  EXPECT_THAT(text, HasSubstr(R"(isobar_worker_contexts_total{made="ahead",worker="0"} 7)"));
  EXPECT_THAT(text, HasSubstr("isobar_occ_conflicts_total 5"));
  EXPECT_THAT(text, HasSubstr(R"(isobar_scheduled_runs_total{outcome="succeeded"} 4)"));
  EXPECT_THAT(text, HasSubstr(R"(isobar_snapshot_makers_total{outcome="loaded"} 6)"));
  EXPECT_THAT(text, HasSubstr("isobar_deployments_owned 1"));
  EXPECT_THAT(text, HasSubstr("# TYPE isobar_postgres_up gauge"));
  EXPECT_THAT(text, HasSubstr("isobar_postgres_up 1"));
  EXPECT_THAT(text, HasSubstr("isobar_pg_pool_acquired_total 9"));
  EXPECT_THAT(text, HasSubstr(R"(isobar_pg_pool_connections{state="leased"} 3)"));
  EXPECT_THAT(text, HasSubstr(R"(isobar_pg_pool_connections{state="free"} 5)"));
  EXPECT_THAT(text, HasSubstr(R"(isobar_query_cache_lookups_total{result="hit"} 11)"));
  EXPECT_THAT(text, HasSubstr(R"(isobar_query_cache_lookups_total{result="miss"} 4)"));
  EXPECT_THAT(text, HasSubstr("isobar_read_watches 12"));
  text = metrics.Scrape();
  EXPECT_THAT(text, HasSubstr("isobar_postgres_up 0"));
  EXPECT_EQ(scrapes, 2);
}

}  // namespace
}  // namespace isobar::supervisor
