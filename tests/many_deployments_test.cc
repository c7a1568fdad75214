// Many deployments on one supervisor (issue 14, item 4): 500 are created, pushed and called once
// each; the supervisor's RSS stays under a stated bound with all of them open, and falls back by at
// least half of what it grew once they are idle (their state is dropped and reloaded on first use). A supervisor restarted over a database that holds
// them all serves its first call within 2 s: start-up does not load every deployment.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "isobar/v1/api.grpc.pb.h"
#include "tests/supervisor_fixture.h"

namespace isobar::testing {
namespace {

constexpr int kDefaultDeployments = 500;
constexpr double kRssBoundMb = 400;

double RssMb(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtod(line.c_str() + 6, nullptr) / 1024;
  }
  return -1;
}

// A query of `deployment` (a count of nothing): loads the deployment if it is not open.
grpc::Status CallOnce(const std::shared_ptr<grpc::Channel>& channel, const std::string& deployment,
                      const std::string& key) {
  auto stub = isobar::v1::Functions::NewStub(channel);
  return CallFunction(*stub, CallKind::kQuery,
                      {.deployment = deployment,
                       .key = key,
                       .path = "model:run",
                       .args_json = R"({"spec":{"kind":"count","table":"t0"}})"})
      .status;
}

// A job scheduled a year out: the deployment has scheduled work, which a restarted supervisor looks at.
grpc::Status ScheduleOnce(const std::shared_ptr<grpc::Channel>& channel, const std::string& deployment,
                          const std::string& key) {
  auto stub = isobar::v1::Functions::NewStub(channel);
  return CallFunction(*stub, CallKind::kMutation,
                      {.deployment = deployment,
                       .key = key,
                       .path = "model:apply",
                       .args_json = R"({"op":{"kind":"schedule","tag":1}})"})
      .status;
}

TEST(ManyDeploymentsTest, MemoryIsBoundedAndStartUpIsLazy) {
  const char* env = std::getenv("ISOBAR_DEPLOYMENTS");
  const int count = env != nullptr ? std::atoi(env) : kDefaultDeployments;
  // Idle deployments are dropped after 30 s here (the default is 5 minutes): long enough for all of
  // them to be open at once while they are pushed.
  SupervisorProcess supervisor({.workers = 2, .enable_eval = false, .extra_args = {"--deployment-idle-seconds=30"}});
  ASSERT_TRUE(supervisor.Start().ok());
  auto channel = grpc::CreateChannel(supervisor.address(), grpc::InsecureChannelCredentials());
  const double start_mb = RssMb(supervisor.pid());
  double peak_mb = start_mb;
  std::vector<std::string> keys;
  const absl::Time began = absl::Now();
  for (int i = 0; i < count; ++i) {
    const std::string name = absl::StrCat("many-", i);
    absl::StatusOr<std::string> key = supervisor.Deploy(name, "tests/apps/model.modules");
    ASSERT_TRUE(key.ok()) << name << ": " << key.status();
    keys.push_back(*key);
    grpc::Status called = CallOnce(channel, name, *key);
    ASSERT_TRUE(called.ok()) << name << ": " << called.error_message();
    grpc::Status scheduled = ScheduleOnce(channel, name, *key);
    ASSERT_TRUE(scheduled.ok()) << name << ": " << scheduled.error_message();
    peak_mb = std::max(peak_mb, RssMb(supervisor.pid()));
    if ((i + 1) % 100 == 0) {
      std::printf("%d deployments pushed and called in %.0f s: supervisor RSS %.0f MB (peak %.0f MB)\n", i + 1,
                  absl::ToDoubleSeconds(absl::Now() - began), RssMb(supervisor.pid()), peak_mb);
    }
  }
  EXPECT_LT(peak_mb, kRssBoundMb) << "RSS peaked above the bound while " << count << " deployments were pushed";

  // Idle: their state goes, and the memory with it.
  absl::StatusOr<isobar::v1::StatsResponse> closed = supervisor.AwaitStats(
      [count](const isobar::v1::StatsResponse& stats) {
        return stats.open_deployments() == 0 && stats.deployments_closed() >= static_cast<uint64_t>(count);
      },
      absl::Seconds(90));
  ASSERT_TRUE(closed.ok()) << closed.status();
  const double idle_mb = RssMb(supervisor.pid());
  std::printf("at start %.0f MB, peak %.0f MB, once idle %.0f MB\n", start_mb, peak_mb, idle_mb);
  const std::string log = supervisor.log();
  for (size_t at = log.find("idle deployment(s)"); at != std::string::npos; at = log.find("idle deployment(s)", at + 1)) {
    std::printf("  %s\n", log.substr(log.rfind('\n', at) + 1, log.find('\n', at) - log.rfind('\n', at) - 1).c_str());
  }
  EXPECT_LT(idle_mb, start_mb + 0.5 * (peak_mb - start_mb)) << "RSS did not fall back once the deployments were idle";
  // A dropped deployment comes back on its next call.
  EXPECT_TRUE(CallOnce(channel, "many-0", keys[0]).ok());

  // Restarted over a database that holds them all, each with scheduled work: the first call is served
  // within 2 s of the start.
  ASSERT_TRUE(supervisor.Stop().ok());
  const absl::Time restarted = absl::Now();
  ASSERT_TRUE(supervisor.Start().ok());
  channel = grpc::CreateChannel(supervisor.address(), grpc::InsecureChannelCredentials());
  const std::string last = absl::StrCat("many-", count - 1);
  ASSERT_TRUE(CallOnce(channel, last, keys.back()).ok());
  const absl::Duration first_call = absl::Now() - restarted;
  std::printf("restarted over %d deployments: first call served %.2f s after the start\n", count,
              absl::ToDoubleSeconds(first_call));
  EXPECT_LT(first_call, absl::Seconds(2));
}

}  // namespace
}  // namespace isobar::testing
