// bench/stages: where one call's time goes when nothing else runs (issue 20, item 3): tests/apps/chat's
// messages:get and messages:send, one at a time, fresh and warm, on a supervisor started with
// --trace-stages=true (supervisor/workers/stage_timings.h). Each scenario runs more calls than the
// timings keep (4096 per kind and policy), so every sample is from it. Prints each stage's p50 and p90;
// the stages overlap (worker holds host_wait, host_wait holds host_serve; total is the supervisor's
// view, from the call's arrival to its answer). Extra arguments go to the supervisor.
// Last line: {"bench": "stages", "query/fresh": {"total": p50, ...}, ...}. Run: bazel run //bench:stages
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/chat_target.h"
#include "bench/harness.h"
#include "tests/supervisor_fixture.h"

namespace isobar::bench {
namespace {

constexpr int kCalls = 4200;

int Fail(const std::string& why) {
  std::fprintf(stderr, "stages: %s\n", why.c_str());
  return 1;
}

int Main(int argc, char** argv) {
  std::vector<std::string> extra(argv + 1, argv + argc);
  extra.push_back("--trace-stages=true");
  testing::SupervisorProcess supervisor({.workers = 2, .enable_eval = false, .extra_args = extra});
  if (absl::Status started = supervisor.Start(); !started.ok()) return Fail(started.ToString());
  ChatTarget fresh{.name = "fresh", .deployment = "fresh"};
  ChatTarget warm{.name = "warm", .deployment = "warm"};
  if (absl::Status s = DeployChat(supervisor, fresh, isobar::v1::CONTEXT_POLICY_FRESH); !s.ok()) return Fail(s.ToString());
  if (absl::Status s = DeployChat(supervisor, warm, isobar::v1::CONTEXT_POLICY_WARM); !s.ok()) return Fail(s.ToString());
  std::map<std::string, double> client_p50;
  for (ChatTarget* t : {&fresh, &warm}) {
    client_p50["query/" + t->name] = MeasureLatency([t] { return t->Get(); }, 50, kCalls, absl::Seconds(60)).p50_us;
    client_p50["mutation/" + t->name] = MeasureLatency([t] { return t->Send(); }, 50, kCalls, absl::Seconds(60)).p50_us;
  }
  absl::StatusOr<isobar::v1::StatsResponse> stats = supervisor.Stats();
  if (!stats.ok()) return Fail(stats.status().ToString());
  std::map<std::string, std::map<std::string, double>> p50;
  for (const isobar::v1::StageTiming& t : stats->stage_timings()) {
    std::printf("%-14s %-13s p50 %7.0f us  p90 %7.0f us  (%lu calls)\n", t.label().c_str(), t.stage().c_str(),
                t.p50_us(), t.p90_us(), t.count());
    p50[t.label()][t.stage()] = t.p50_us();
  }
  std::string json = "{\"bench\": \"stages\"";
  for (const auto& [label, stages] : p50) {
    absl::StrAppend(&json, ", \"", label, "\": {\"client_p50\": ", Num(client_p50[label]));
    for (const auto& [stage, value] : stages) absl::StrAppend(&json, ", \"", stage, "\": ", Num(value));
    absl::StrAppend(&json, "}");
  }
  std::printf("%s}\n", json.c_str());
  return 0;
}

}  // namespace
}  // namespace isobar::bench

int main(int argc, char** argv) { return isobar::bench::Main(argc, argv); }
