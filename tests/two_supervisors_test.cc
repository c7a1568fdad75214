// Two supervisors on one PostgreSQL (issue 16, item 4): one writer per deployment, never a stale read.
// The second refuses to start while the first serves; with --take-over it starts, takes a deployment
// when it is first used, and from then on the first serves nothing of it: a read there is an error,
// never the old value, its cached results included, and its live queries end; the loss is logged
// once; each says in its stats and its health which deployments it owns.
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "storage/embedded_postgres.h"
#include "tests/live_queries.h"
#include "tests/supervisor_fixture.h"

namespace isobar::testing {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

FunctionResult Call(SupervisorProcess& supervisor, const std::string& key, CallKind kind, const std::string& path) {
  auto stub =
      isobar::v1::Functions::NewStub(grpc::CreateChannel(supervisor.address(), grpc::InsecureChannelCredentials()));
  return CallFunction(*stub, kind,
                      {.deployment = "shared", .key = key, .path = path, .args_json = R"({"name":"x"})",
                       .timeout = absl::Seconds(30)});
}

grpc::health::v1::HealthCheckResponse::ServingStatus DeploymentHealth(SupervisorProcess& supervisor) {
  auto stub = grpc::health::v1::Health::NewStub(grpc::CreateChannel(supervisor.address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  grpc::health::v1::HealthCheckRequest request;
  request.set_service("isobar.deployment/shared");
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status status = stub->Check(&context, request, &response);
  return status.ok() ? response.status() : grpc::health::v1::HealthCheckResponse::SERVICE_UNKNOWN;
}

size_t Occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(TwoSupervisorsTest, TheSecondRefusesOrTakesOverAndTheFirstServesNoStaleRead) {
  TempDir pg_dir;
  storage::EmbeddedPostgresOptions pg_options;
  pg_options.data_dir = pg_dir.path() + "/pg";
  absl::StatusOr<std::unique_ptr<storage::EmbeddedPostgres>> pg = storage::EmbeddedPostgres::Start(pg_options);
  ASSERT_TRUE(pg.ok()) << pg.status();
  const std::string url = "--postgres-url=" + (*pg)->conninfo();

  SupervisorProcess first({.workers = 1, .extra_args = {url}});
  ASSERT_TRUE(first.Start().ok()) << first.log();
  absl::StatusOr<std::string> key = first.Deploy("shared", "tests/apps/chat.modules");
  ASSERT_TRUE(key.ok()) << key.status();
  FunctionResult incremented = Call(first, *key, CallKind::kMutation, "counters:increment");
  ASSERT_TRUE(incremented.status.ok()) << incremented.status.error_message();
  FunctionResult read = Call(first, *key, CallKind::kQuery, "counters:get");  // now in its query cache
  ASSERT_TRUE(read.status.ok()) << read.status.error_message();
  EXPECT_EQ(read.response.result_json(), R"({"$integer":"AQAAAAAAAAA="})");
  EXPECT_EQ(DeploymentHealth(first), grpc::health::v1::HealthCheckResponse::SERVING);
  // A live query on the first: it must end when the deployment moves, not go on showing 1n.
  LiveQueries watching(grpc::CreateChannel(first.address(), grpc::InsecureChannelCredentials()), *key, "shared");
  ASSERT_TRUE(watching.Add(1, "counters:get", R"({"name":"x"})"));
  ASSERT_TRUE(watching.WaitFor([](const LiveQueries::Values& v) { return v.count(1) > 0; }, absl::Seconds(30)));

  SupervisorProcess refused({.workers = 1, .extra_args = {url}});
  absl::Status started = refused.Start();
  ASSERT_FALSE(started.ok());
  EXPECT_THAT(refused.log(), HasSubstr("another supervisor is serving deployments of this database"));
  EXPECT_THAT(refused.log(), HasSubstr("--take-over"));

  SupervisorProcess second({.workers = 1, .extra_args = {url, "--take-over"}});
  ASSERT_TRUE(second.Start().ok()) << second.log();
  // Its first call takes the deployment over (waiting for the first one's lease to lapse).
  incremented = Call(second, *key, CallKind::kMutation, "counters:increment");
  ASSERT_TRUE(incremented.status.ok()) << incremented.status.error_message() << second.log();
  EXPECT_EQ(incremented.response.result_json(), R"({"$integer":"AgAAAAAAAAA="})");  // 2n

  // The first serves nothing of it now: neither the cached read nor a new one, nor a write.
  for (int i = 0; i < 3; ++i) {
    FunctionResult stale = Call(first, *key, CallKind::kQuery, "counters:get");
    EXPECT_EQ(stale.status.error_code(), grpc::StatusCode::UNAVAILABLE)
        << "a read on the supervisor that lost the deployment answered " << stale.response.result_json();
    EXPECT_TRUE(stale.detail.retryable());
  }
  FunctionResult write = Call(first, *key, CallKind::kMutation, "counters:increment");
  EXPECT_EQ(write.status.error_code(), grpc::StatusCode::UNAVAILABLE) << write.status.error_message();
  EXPECT_THAT(write.status.error_message(), HasSubstr("served by another supervisor"));
  FunctionResult fresh = Call(second, *key, CallKind::kQuery, "counters:get");
  ASSERT_TRUE(fresh.status.ok()) << fresh.status.error_message();
  EXPECT_EQ(fresh.response.result_json(), R"({"$integer":"AgAAAAAAAAA="})");

  EXPECT_TRUE(watching.AwaitEnd(absl::Seconds(30))) << "the first supervisor's live query outlived the deployment";
  EXPECT_EQ(watching.values().at(1), R"({"$integer":"AQAAAAAAAAA="})") << "the live query was updated after the move";
  EXPECT_EQ(Occurrences(first.log(), "took deployment \"shared\" over"), 1u) << first.log();
  absl::StatusOr<isobar::v1::StatsResponse> first_stats = first.Stats();
  absl::StatusOr<isobar::v1::StatsResponse> second_stats = second.Stats();
  ASSERT_TRUE(first_stats.ok() && second_stats.ok());
  EXPECT_THAT(first_stats->owned_deployments(), Not(Contains("shared")));
  EXPECT_THAT(second_stats->owned_deployments(), Contains("shared"));
  EXPECT_EQ(DeploymentHealth(first), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(DeploymentHealth(second), grpc::health::v1::HealthCheckResponse::SERVING);
}

}  // namespace
}  // namespace isobar::testing
