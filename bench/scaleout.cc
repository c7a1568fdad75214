// bench/scaleout: query throughput of a cluster of 1 and of 3 supervisors on one PostgreSQL (issue 21,
// item 6), and what forwarding costs. Six deployments of tests/apps/chat (warm contexts); 16 calls in
// flight of counters:get with a new name each call (an index read the query cache cannot answer),
// spread over the deployments and over every member, so that with 3 members two calls in three reach
// a member that forwards them to the deployment's owner. Rounds alternate the configurations' runs
// within each configuration; each configuration gets a fresh PostgreSQL. Also: p50 of one call at a
// time made directly at the owner and through another member.
//
// On this 2-core machine the 3 members share the cores one member had: the ratio shows the cost of
// the extra processes and the forwarding hop, not scaling (a device machine with more cores, or
// several machines, gives that figure). Last line: {"bench": "scaleout", ...}.
// Run: bazel build //bench:scaleout, then from its runfiles: ../../scaleout [WORKERS_PER_MEMBER]
#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/testing/temp_dir.h"
#include "base/status_macros.h"
#include "bench/harness.h"
#include "storage/embedded_postgres.h"
#include "tests/supervisor_fixture.h"

namespace isobar::bench {
namespace {

constexpr int kDeployments = 6;
constexpr int kRounds = 3;

struct Result {
  double qps = 0;
  Latency direct;     // 3 members only: at the owner
  Latency forwarded;  // 3 members only: through another member
};

absl::StatusOr<Result> Measure(int members, int workers) {
  testing::TempDir dir;
  storage::EmbeddedPostgresOptions pg_options;
  pg_options.data_dir = dir.path() + "/pg";
  ASSIGN_OR_RETURN(std::unique_ptr<storage::EmbeddedPostgres> pg, storage::EmbeddedPostgres::Start(pg_options));
  std::vector<std::unique_ptr<testing::SupervisorProcess>> cluster;
  std::vector<std::unique_ptr<isobar::v1::Functions::Stub>> stubs;
  for (int m = 0; m < members; ++m) {
    cluster.push_back(std::make_unique<testing::SupervisorProcess>(testing::SupervisorOptions{
        .workers = workers,
        .enable_eval = false,
        .extra_args = {"--postgres-url=" + pg->conninfo(), "--cluster", "--admin-key-file=" + dir.path() + "/admin_key",
                       "--log-calls=false"}}));
    RETURN_IF_ERROR(cluster.back()->Start());
    stubs.push_back(isobar::v1::Functions::NewStub(
        grpc::CreateChannel(cluster.back()->address(), grpc::InsecureChannelCredentials())));
  }
  std::vector<std::string> keys;
  for (int d = 0; d < kDeployments; ++d) {
    ASSIGN_OR_RETURN(std::string key, cluster[0]->Deploy(absl::StrCat("app-", d), "tests/apps/chat.modules", nullptr,
                                                         isobar::v1::CONTEXT_POLICY_WARM));
    keys.push_back(key);
  }
  std::atomic<uint64_t> next{0};
  auto call = [&](int deployment, int member) {
    const uint64_t n = next.fetch_add(1);
    testing::FunctionResult out = testing::CallFunction(
        *stubs[member], testing::CallKind::kQuery,
        {.deployment = absl::StrCat("app-", deployment), .key = keys[deployment], .path = "counters:get",
         .args_json = absl::StrCat(R"({"name":"n-)", n, R"("})")});
    if (!out.status.ok()) std::fprintf(stderr, "scaleout: %s\n", out.status.error_message().c_str());
    return out.status.ok();
  };
  auto spread = [&] {
    const uint64_t n = next.load();
    return call(static_cast<int>(n % kDeployments), static_cast<int>((n / kDeployments) % members));
  };
  // Every deployment opened on its owner before timing.
  for (int d = 0; d < kDeployments; ++d) {
    for (int m = 0; m < members; ++m) {
      if (!call(d, m)) return absl::InternalError("a warm-up call failed");
    }
  }
  std::vector<double> qps;
  for (int round = 0; round < kRounds; ++round) qps.push_back(MeasureThroughput(spread, 16, absl::Seconds(3)));
  Result result{.qps = Median(qps)};
  if (members > 1) {
    // app-0's owner, and a member that is not.
    int owner = -1;
    for (int m = 0; m < members && owner < 0; ++m) {
      ASSIGN_OR_RETURN(isobar::v1::StatsResponse stats, cluster[m]->Stats());
      for (const std::string& name : stats.owned_deployments()) {
        if (name == "app-0") owner = m;
      }
    }
    if (owner < 0) return absl::InternalError("nobody owns app-0");
    result.direct = MeasureLatency([&] { return call(0, owner); }, 200, 3000, absl::Seconds(10));
    result.forwarded = MeasureLatency([&] { return call(0, (owner + 1) % members); }, 200, 3000, absl::Seconds(10));
  }
  return result;
}

int Main(int argc, char** argv) {
  int workers = 2;
  if (argc == 2 && (!absl::SimpleAtoi(argv[1], &workers) || workers < 1)) {
    std::fprintf(stderr, "usage: scaleout [WORKERS_PER_MEMBER]\n");
    return 2;
  }
  absl::StatusOr<Result> one = Measure(1, workers);
  absl::StatusOr<Result> three = one.ok() ? Measure(3, workers) : one;
  if (!three.ok()) {
    std::fprintf(stderr, "scaleout: %s\n", three.status().ToString().c_str());
    return 1;
  }
  const double ratio = three->qps / one->qps;
  const double overhead = three->forwarded.p50_us - three->direct.p50_us;
  std::printf("queries at 16 in flight over 6 deployments: 1 member %.0f/s, 3 members %.0f/s (%.2fx); one call: "
              "at the owner p50 %.0f us, through another member %.0f us (+%.0f us)\n",
              one->qps, three->qps, ratio, three->direct.p50_us, three->forwarded.p50_us, overhead);
  std::printf("{\"bench\": \"scaleout\", \"workers_per_member\": %d, \"qps_1\": %s, \"qps_3\": %s, \"ratio\": %s, "
              "\"direct_p50_us\": %s, \"forwarded_p50_us\": %s, \"forward_overhead_us\": %s}\n",
              workers, Num(one->qps).c_str(), Num(three->qps).c_str(), Num(ratio).c_str(),
              Num(three->direct.p50_us).c_str(), Num(three->forwarded.p50_us).c_str(), Num(overhead).c_str());
  return 0;
}

}  // namespace
}  // namespace isobar::bench

int main(int argc, char** argv) { return isobar::bench::Main(argc, argv); }
