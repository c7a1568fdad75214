// bench/scaling: throughput with 1 and with 2 workers (P9, issue 20): tests/apps/chat's messages:get
// (a new document each call) at 16 in flight, fresh and warm context policies, on a supervisor started
// with --workers=1 and then one with --workers=2, rounds alternating the policies. On a machine with
// more cores, pass the worker counts to compare (bench/scaling 1 8). Target: 2 workers >= 1.7x one.
// Last line: {"bench": "scaling", ...}. Run: bazel run //bench:scaling
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "bench/chat_target.h"
#include "bench/harness.h"
#include "tests/supervisor_fixture.h"

namespace isobar::bench {
namespace {

constexpr int kRounds = 3;

struct Throughput {
  double fresh = 0;
  double warm = 0;
};

absl::StatusOr<Throughput> Measure(int workers) {
  testing::SupervisorProcess supervisor({.workers = workers, .enable_eval = false});
  if (absl::Status started = supervisor.Start(); !started.ok()) return started;
  ChatTarget fresh{.name = "fresh", .deployment = "fresh"};
  ChatTarget warm{.name = "warm", .deployment = "warm"};
  if (absl::Status s = DeployChat(supervisor, fresh, isobar::v1::CONTEXT_POLICY_FRESH); !s.ok()) return s;
  if (absl::Status s = DeployChat(supervisor, warm, isobar::v1::CONTEXT_POLICY_WARM); !s.ok()) return s;
  std::vector<double> fresh_qps, warm_qps;
  for (int round = 0; round < kRounds; ++round) {
    fresh_qps.push_back(MeasureThroughput([&] { return fresh.Get(); }, 16, absl::Seconds(2)));
    warm_qps.push_back(MeasureThroughput([&] { return warm.Get(); }, 16, absl::Seconds(2)));
  }
  return Throughput{Median(fresh_qps), Median(warm_qps)};
}

int Main(int argc, char** argv) {
  int few = 1, many = 2;
  if (argc == 3 && (!absl::SimpleAtoi(argv[1], &few) || !absl::SimpleAtoi(argv[2], &many) || few < 1 || many <= few)) {
    std::fprintf(stderr, "usage: scaling [FEW MANY]\n");
    return 2;
  }
  absl::StatusOr<Throughput> one = Measure(few);
  absl::StatusOr<Throughput> two = one.ok() ? Measure(many) : one;
  if (!two.ok()) {
    std::fprintf(stderr, "scaling: %s\n", two.status().ToString().c_str());
    return 1;
  }
  const double fresh_ratio = two->fresh / one->fresh, warm_ratio = two->warm / one->warm;
  std::printf("query at 16 in flight, %d vs %d workers: fresh %.0f vs %.0f/s (%.2fx), warm %.0f vs %.0f/s (%.2fx); "
              "target >= 1.7x\n", many, few, two->fresh, one->fresh, fresh_ratio, two->warm, one->warm, warm_ratio);
  std::printf("{\"bench\": \"scaling\", \"workers\": [%d, %d], \"fresh_qps_16\": [%s, %s], \"warm_qps_16\": [%s, %s], "
              "\"fresh_ratio\": %s, \"warm_ratio\": %s, \"target\": 1.7}\n",
              few, many, Num(one->fresh).c_str(), Num(two->fresh).c_str(), Num(one->warm).c_str(), Num(two->warm).c_str(),
              Num(fresh_ratio).c_str(), Num(warm_ratio).c_str());
  return 0;
}

}  // namespace
}  // namespace isobar::bench

int main(int argc, char** argv) { return isobar::bench::Main(argc, argv); }
