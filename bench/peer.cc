// bench/peer: Isobar against the service a user would write by hand instead (bench/peer_server.js:
// Node.js with @grpc/grpc-js and node-postgres, no sandbox, no cache), driven by the same gRPC client
// in alternating rounds on one machine (issue 20):
//   query     tests/apps/chat messages:get (one db.get; a new document each call, so that Isobar's
//             query cache answers none) — p50 at 1 in flight, calls/s at 16 in flight
//   mutation  messages:send (one insert) — p50 at 1 client, calls/s at 16 clients
// for Isobar's fresh and warm context policies (two deployments of the app) and the peer. The peer's
// table is in the supervisor's own PostgreSQL (the same server, so the same durability settings).
// Medians of the rounds; ratios to the peer; the issue's targets. Floors in the same run: a gRPC echo
// (Admin.Ping), the raw fresh realm (the worker's engine in this process: a context copied from the
// version's snapshot and messages:get called in it, host calls answered at once), and a primary-key
// SELECT over libpq; Isobar's fresh query p50 against their sum, and its throughput against
// cores / the realm's CPU. Last line: {"bench": "peer", ...}.
// Run: bazel run -c opt //bench:peer
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bench/chat_target.h"
#include "bench/harness.h"
#include "grpcpp/grpcpp.h"
#include "isobar/v1/api.grpc.pb.h"
#include "storage/pg_conn.h"
#include "tests/module_bundle.h"
#include "tests/node_server.h"
#include "tests/supervisor_fixture.h"
#include "worker/evaluator.h"
#include "worker/v8_runtime.h"
#include "worker/version_snapshot.h"
#include "worker/watchdog.h"

namespace isobar::bench {
namespace {

constexpr int kRounds = 3;
const absl::Duration kWindow = absl::Seconds(2);

// CPU seconds used so far by the processes of each name (supervisor, worker, postgres, node, peer).
std::map<std::string, double> CpuByProcess() {
  std::map<std::string, double> seconds;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !absl::ascii_isdigit(name[0])) continue;
    std::ifstream in(entry.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t open = stat.find('('), close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    const std::string comm = stat.substr(open + 1, close - open - 1);
    std::vector<std::string> fields = absl::StrSplit(stat.substr(close + 2), ' ');
    double utime = 0, stime = 0;
    // After the name: state is field 3; utime and stime are fields 14 and 15.
    if (fields.size() < 13 || !absl::SimpleAtod(fields[11], &utime) || !absl::SimpleAtod(fields[12], &stime)) continue;
    seconds[comm] += (utime + stime) / ticks;
  }
  return seconds;
}

// Answers every host call with `null` (the db.get finds no document).
class NullHost final : public worker::HostCalls {
 public:
  absl::StatusOr<std::string> Call(InvocationId, absl::string_view, absl::string_view) override { return std::string("null"); }
};

double ThreadCpuUs() {
  timespec now;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) * 1e6 + static_cast<double>(now.tv_nsec) / 1e3;
}

// The raw fresh realm: chat's messages:get in a context copied from its version's snapshot, nothing
// prepared ahead, in this process. Median {wall, thread CPU} microseconds.
absl::StatusOr<std::pair<double, double>> RawFreshRealm(const char* argv0) {
  static std::unique_ptr<v8::Platform> platform = worker::InitializeV8(argv0);
  absl::StatusOr<std::vector<worker::v1::Module>> bundle = testing::ReadModuleBundle(testing::Runfile("tests/apps/chat.modules"));
  if (!bundle.ok()) return bundle.status();
  NullHost host;
  worker::Watchdog watchdog;
  worker::EvaluatorLimits limits;
  limits.version_snapshots = true;
  worker::Evaluator evaluator(host, watchdog, {}, limits);
  std::vector<double> wall, cpu;
  for (int i = 0; i < 320; ++i) {
    worker::v1::Invoke invoke = ChatGetInvoke(i + 1, *bundle, worker::v1::Invoke::FRESH);
    const absl::Time t0 = absl::Now();
    const double c0 = ThreadCpuUs();
    worker::InvocationResult r = evaluator.Run(std::move(invoke));
    if (!r.result_json.ok()) return r.result_json.status();
    if (i >= 20) {
      cpu.push_back(ThreadCpuUs() - c0);
      wall.push_back(absl::ToDoubleMicroseconds(absl::Now() - t0));
    }
  }
  if (evaluator.snapshot_stats().invocations < 300) return absl::InternalError("the realm did not come from a snapshot");
  return std::make_pair(Median(wall), Median(cpu));
}

int Fail(const std::string& what) {
  std::fprintf(stderr, "peer: %s\n", what.c_str());
  return 1;
}

void AddCpu(ChatTarget& target, const std::string& scenario, const std::map<std::string, double>& before, double calls) {
  for (const auto& [process, seconds] : CpuByProcess()) {
    auto was = before.find(process);
    const double used = seconds - (was == before.end() ? 0 : was->second);
    if (used > 0) target.cpu_us[scenario][process] += used * 1e6;
  }
  target.calls[scenario] += calls;
}

int Main(int argc, char** argv) {
  absl::StatusOr<std::pair<double, double>> realm = RawFreshRealm(argv[0]);
  if (!realm.ok()) return Fail(realm.status().ToString());
  // Extra arguments go to the supervisor (e.g. --snapshots=false, --trace-stages=true).
  std::vector<std::string> extra(argv + 1, argv + argc);
  testing::SupervisorProcess supervisor({.workers = 2, .enable_eval = false, .extra_args = extra});
  if (absl::Status started = supervisor.Start(); !started.ok()) return Fail(started.ToString());
  ChatTarget fresh{.name = "fresh", .deployment = "fresh"};
  ChatTarget warm{.name = "warm", .deployment = "warm"};
  ChatTarget peer{.name = "peer", .deployment = "peer", .key = "peer-key-0123456789"};
  if (absl::Status s = DeployChat(supervisor, fresh, isobar::v1::CONTEXT_POLICY_FRESH); !s.ok()) return Fail(s.ToString());
  if (absl::Status s = DeployChat(supervisor, warm, isobar::v1::CONTEXT_POLICY_WARM); !s.ok()) return Fail(s.ToString());

  testing::NodeServer peer_process("bench/peer_server.js", {"--proto_dir=" + testing::Runfile("proto"),
                                                           "--pg=" + supervisor.pg_conninfo(), "--key=" + peer.key});
  if (peer_process.port() == 0) return Fail("the peer did not start");
  peer.stub = isobar::v1::Functions::NewStub(grpc::CreateChannel(absl::StrCat("127.0.0.1:", peer_process.port()),
                                                                 grpc::InsecureChannelCredentials()));
  {
    absl::StatusOr<std::unique_ptr<storage::PgConn>> conn = storage::PgConn::Connect(supervisor.pg_conninfo());
    if (!conn.ok()) return Fail(conn.status().ToString());
    if (!(*conn)->Exec(absl::StrCat("INSERT INTO peer_messages (id, creation_time, channel, author, body) "
                                    "SELECT 'p' || i, 1.7e12 + i, 'bench', 'ann', 'hello' FROM generate_series(1, ",
                                    kChatDocuments, ") AS i"))
             .ok()) {
      return Fail("cannot fill the peer's table");
    }
    for (int i = 1; i <= kChatDocuments; ++i) peer.get_args.push_back(absl::StrCat(R"({"id":"p)", i, R"("})"));
  }

  // Floors: a gRPC echo on the supervisor and a primary-key SELECT on its PostgreSQL.
  auto admin = isobar::v1::Admin::NewStub(grpc::CreateChannel(supervisor.address(), grpc::InsecureChannelCredentials()));
  const std::string admin_bearer = "Bearer " + supervisor.admin_key();
  auto ping = [&] {
    grpc::ClientContext context;
    context.AddMetadata("authorization", admin_bearer);
    isobar::v1::PingResponse response;
    return admin->Ping(&context, {}, &response).ok();
  };
  absl::StatusOr<std::unique_ptr<storage::PgConn>> select_conn = storage::PgConn::Connect(supervisor.pg_conninfo());
  if (!select_conn.ok()) return Fail(select_conn.status().ToString());
  int selected = 0;
  auto select = [&] {
    const std::string id = absl::StrCat("p", 1 + (selected++ % kChatDocuments));
    return (*select_conn)->Exec("SELECT id, creation_time, channel, author, body FROM peer_messages WHERE id = $1", {id}).ok();
  };
  std::vector<double> ping_p50, select_p50;

  ChatTarget* targets[] = {&fresh, &warm, &peer};
  for (int round = 0; round < kRounds; ++round) {
    ping_p50.push_back(MeasureLatency(ping, 50, 2000, kWindow).p50_us);
    select_p50.push_back(MeasureLatency(select, 50, 2000, kWindow).p50_us);
    for (ChatTarget* t : targets) {
      t->rounds["query_p50_us"].push_back(MeasureLatency([t] { return t->Get(); }, 50, 2000, kWindow).p50_us);
      const std::map<std::string, double> before = CpuByProcess();
      t->rounds["query_qps_16"].push_back(MeasureThroughput([t] { return t->Get(); }, 16, kWindow));
      AddCpu(*t, "query", before, t->rounds["query_qps_16"].back() * absl::ToDoubleSeconds(kWindow));
    }
    for (ChatTarget* t : targets) {
      t->rounds["mutation_p50_us"].push_back(MeasureLatency([t] { return t->Send(); }, 20, 2000, kWindow).p50_us);
      const std::map<std::string, double> before = CpuByProcess();
      t->rounds["mutation_tps_16"].push_back(MeasureThroughput([t] { return t->Send(); }, 16, kWindow));
      AddCpu(*t, "mutation", before, t->rounds["mutation_tps_16"].back() * absl::ToDoubleSeconds(kWindow));
    }
  }

  auto median = [](ChatTarget& t, const std::string& what) { return Median(t.rounds[what]); };
  std::string json = "{\"bench\": \"peer\"";
  for (const char* what : {"query_p50_us", "query_qps_16", "mutation_p50_us", "mutation_tps_16"}) {
    const double p = median(peer, what), f = median(fresh, what), w = median(warm, what);
    std::printf("%-16s fresh %9.0f  warm %9.0f  peer %9.0f   fresh/peer %5.2f  warm/peer %5.2f\n", what, f, w, p, f / p,
                w / p);
    absl::StrAppend(&json, ", \"", what, "\": {\"fresh\": ", Num(f), ", \"warm\": ", Num(w), ", \"peer\": ", Num(p),
                    ", \"fresh_ratio\": ", Num(f / p), ", \"warm_ratio\": ", Num(w / p), "}");
  }
  // Where the CPU of a call at 16 in flight goes (the peer's own processes are node and postgres).
  absl::StrAppend(&json, ", \"cpu_us_per_call_16\": {");
  for (ChatTarget* t : targets) {
    for (const char* scenario : {"query", "mutation"}) {
      std::printf("cpu per call at 16, %s %s:", t->name.c_str(), scenario);
      absl::StrAppend(&json, t == targets[0] && std::string(scenario) == "query" ? "" : ", ", "\"", t->name, "_", scenario,
                      "\": {");
      bool first = true;
      for (const char* process : {"supervisor", "worker", "postgres", "node", "peer"}) {
        const double us = t->cpu_us[scenario][process] / std::max(1.0, t->calls[scenario]);
        std::printf(" %s %.0f us", process, us);
        absl::StrAppend(&json, first ? "" : ", ", "\"", process, "\": ", Num(us));
        first = false;
      }
      std::printf("\n");
      absl::StrAppend(&json, "}");
    }
  }
  absl::StrAppend(&json, "}");
  // The workers' view: snapshots made and copied, isolates made and recycled.
  if (absl::StatusOr<isobar::v1::StatsResponse> stats = supervisor.Stats(); stats.ok()) {
    for (const isobar::v1::WorkerStats& w : stats->workers()) {
      std::printf("worker %d: invocations %lu, snapshots made %lu refused %lu, calls from a snapshot %lu, isolates %lu "
                  "(misses %lu, recycles %lu), fresh contexts of live isolates: made ahead %lu, on the call %lu\n",
                  w.worker_id(), w.invocations(), w.snapshots_made(), w.snapshots_refused(), w.snapshot_invocations(),
                  w.isolates(), w.isolate_misses(), w.isolate_recycles(), w.contexts_prepared(), w.contexts_on_call());
    }
    // With --trace-stages: where the calls' time went (the last 4096 calls of each kind and policy,
    // across rounds), stage by stage.
    for (const isobar::v1::StageTiming& t : stats->stage_timings()) {
      std::printf("stage %-14s %-13s p50 %7.0f us  p90 %7.0f us  mean %7.0f us  (%lu calls)\n", t.label().c_str(),
                  t.stage().c_str(), t.p50_us(), t.p90_us(), t.mean_us(), t.count());
    }
  }
  // Against the floors.
  const double cores = static_cast<double>(std::max(1u, std::thread::hardware_concurrency()));
  const double floor_p50 = Median(ping_p50) + realm->first + Median(select_p50);
  const double engine_qps = cores / (realm->second / 1e6);
  const double p50_vs_floor = median(fresh, "query_p50_us") / floor_p50;
  const double qps_vs_engine = median(fresh, "query_qps_16") / engine_qps;
  std::printf("floors: echo p50 %.0f us, raw fresh realm %.0f us (CPU %.0f us), PK select p50 %.0f us\n",
              Median(ping_p50), realm->first, realm->second, Median(select_p50));
  std::printf("fresh query p50 vs (echo + realm + select) %.0f us: %.2fx; fresh throughput vs cores/realm CPU %.0f/s: "
              "%.2fx (target >= 0.6x)\n", floor_p50, p50_vs_floor, engine_qps, qps_vs_engine);
  absl::StrAppend(&json, ", \"floors\": {\"echo_p50_us\": ", Num(Median(ping_p50)), ", \"raw_fresh_realm_us\": ",
                  Num(realm->first), ", \"raw_fresh_realm_cpu_us\": ", Num(realm->second), ", \"pk_select_p50_us\": ",
                  Num(Median(select_p50)), ", \"fresh_query_p50_vs_sum\": ", Num(p50_vs_floor),
                  ", \"fresh_qps_vs_cores_over_realm_cpu\": ", Num(qps_vs_engine), "}");
  const bool engine_bound = qps_vs_engine >= 0.6;
  // Issue 20's targets (ratios to the peer in this run).
  const bool fresh_query = median(fresh, "query_p50_us") <= 2 * median(peer, "query_p50_us") &&
                           median(fresh, "query_qps_16") >= 0.5 * median(peer, "query_qps_16");
  const bool warm_query = median(warm, "query_p50_us") <= 1.2 * median(peer, "query_p50_us") &&
                          median(warm, "query_qps_16") >= median(peer, "query_qps_16");
  const bool mutation = median(fresh, "mutation_p50_us") <= 2 * median(peer, "mutation_p50_us") &&
                        median(fresh, "mutation_tps_16") >= 0.7 * median(peer, "mutation_tps_16");
  std::printf("targets: fresh query %s, warm query %s, mutation %s, engine-bound fresh throughput %s\n",
              fresh_query ? "met" : "not met", warm_query ? "met" : "not met", mutation ? "met" : "not met",
              engine_bound ? "met" : "not met");
  absl::StrAppend(&json, ", \"rounds\": ", kRounds, ", \"targets_met\": {\"fresh_query\": ", fresh_query ? "true" : "false",
                  ", \"warm_query\": ", warm_query ? "true" : "false", ", \"mutation\": ", mutation ? "true" : "false",
                  ", \"engine_bound_fresh_throughput\": ", engine_bound ? "true" : "false", "}}");
  std::printf("%s\n", json.c_str());
  return 0;
}

}  // namespace
}  // namespace isobar::bench

int main(int argc, char** argv) { return isobar::bench::Main(argc, argv); }
