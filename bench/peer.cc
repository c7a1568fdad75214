// bench/peer: Isobar against the service a user would write by hand instead (bench/peer_server.js:
// Node.js with @grpc/grpc-js and node-postgres, no sandbox, no cache), driven by the same gRPC client
// in alternating rounds on one machine (issue 20):
//   query     tests/apps/chat messages:get (one db.get; a new document each call, so that Isobar's
//             query cache answers none) — p50 at 1 in flight, calls/s at 16 in flight
//   mutation  messages:send (one insert) — p50 at 1 client, calls/s at 16 clients
// for Isobar's fresh and warm context policies (two deployments of the app) and the peer. The peer's
// table is in the supervisor's own PostgreSQL (the same server, so the same durability settings).
// Medians of the rounds; ratios to the peer; the issue's targets. Last line: {"bench": "peer", ...}.
// Run: bazel run -c opt //bench:peer
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/process.h"
#include "bench/harness.h"
#include "grpcpp/grpcpp.h"
#include "isobar/v1/api.grpc.pb.h"
#include "storage/convex_json.h"
#include "storage/pg_conn.h"
#include "tests/supervisor_fixture.h"

namespace isobar::bench {
namespace {

constexpr int kRounds = 3;
constexpr int kDocuments = 24000;  // per target: more than the gets of every round
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

int Fail(const std::string& what) {
  std::fprintf(stderr, "peer: %s\n", what.c_str());
  return 1;
}

// One system under test: where its Functions service is, the key, and the ids its gets read.
struct Target {
  std::string name;
  std::string deployment;
  std::string key;
  std::unique_ptr<isobar::v1::Functions::Stub> stub;
  std::vector<std::string> get_args;
  std::atomic<size_t> next{0};
  // Per scenario, the value of each round.
  std::map<std::string, std::vector<double>> rounds;
  // At 16 in flight: CPU microseconds per call by process name, summed over the rounds.
  std::map<std::string, std::map<std::string, double>> cpu_us;
  std::map<std::string, double> calls;

  bool Call(bool mutation, const std::string& path, const std::string& args, std::string* result = nullptr) {
    testing::FunctionResult called =
        testing::CallFunction(*stub, mutation ? testing::CallKind::kMutation : testing::CallKind::kQuery,
                              {.deployment = deployment, .key = key, .path = path, .args_json = args});
    if (!called.status.ok()) {
      std::fprintf(stderr, "peer: %s %s: %s\n", name.c_str(), path.c_str(), called.status.error_message().c_str());
      return false;
    }
    if (result != nullptr) *result = called.response.result_json();
    return true;
  }
  bool Get() { return Call(false, "messages:get", get_args[next.fetch_add(1) % get_args.size()]); }
  bool Send() { return Call(true, "messages:send", R"({"channel":"bench","author":"ann","body":"hello"})"); }
};

// The peer service, until the object goes.
class PeerProcess {
 public:
  absl::Status Start(const std::string& pg_conninfo, const std::string& key) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return absl::InternalError("pipe");
    SpawnOptions options;
    options.argv = {"/usr/bin/node", testing::Runfile("bench/peer_server.js"),
                    "--proto_dir=" + testing::Runfile("proto"), "--pg=" + pg_conninfo, "--key=" + key};
    // Runfile("..") is <runfiles>, where @npm_deps' node_modules are.
    std::vector<std::string> env = {"NODE_PATH=" + testing::Runfile("../npm_deps/node_modules"), "PATH=/usr/bin:/bin"};
    options.env = env;
    options.stdout_fd = fds[1];
    options.parent_death_signal = SIGKILL;
    absl::StatusOr<ChildProcess> child = Spawn(options);
    close(fds[1]);
    if (!child.ok()) {
      close(fds[0]);
      return child.status();
    }
    child_ = *std::move(child);
    std::string line;
    pollfd readable{fds[0], POLLIN, 0};
    char c;
    while (line.find('\n') == std::string::npos && poll(&readable, 1, 20000) == 1 && read(fds[0], &c, 1) == 1) line += c;
    close(fds[0]);
    absl::string_view port = absl::StripAsciiWhitespace(line);
    if (!absl::ConsumePrefix(&port, "port ") || !absl::SimpleAtoi(port, &port_)) {
      return absl::UnavailableError(absl::StrCat("the peer did not start: ", line));
    }
    return absl::OkStatus();
  }
  ~PeerProcess() {
    (void)child_.Signal(SIGKILL);
    (void)child_.Wait(absl::Seconds(5));
  }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }

 private:
  ChildProcess child_;
  int port_ = 0;
};

void AddCpu(Target& target, const std::string& scenario, const std::map<std::string, double>& before, double calls) {
  for (const auto& [process, seconds] : CpuByProcess()) {
    auto was = before.find(process);
    const double used = seconds - (was == before.end() ? 0 : was->second);
    if (used > 0) target.cpu_us[scenario][process] += used * 1e6;
  }
  target.calls[scenario] += calls;
}

absl::Status DeployWithPolicy(testing::SupervisorProcess& supervisor, Target& target, isobar::v1::ContextPolicy policy) {
  absl::StatusOr<std::string> key = supervisor.Deploy(target.deployment, "tests/apps/chat.modules", nullptr, policy);
  if (!key.ok()) return key.status();
  target.key = *key;
  target.stub = isobar::v1::Functions::NewStub(grpc::CreateChannel(supervisor.address(), grpc::InsecureChannelCredentials()));
  for (int batch = 0; batch < kDocuments / 3000; ++batch) {
    std::string ids_json;
    if (!target.Call(true, "messages:sendMany", R"({"channel":"bench","n":3000})", &ids_json)) {
      return absl::InternalError("sendMany failed");
    }
    absl::StatusOr<storage::Value> parsed = storage::ParseConvexJson(ids_json);
    if (!parsed.ok() || parsed->type() != storage::Value::Type::kArray) return absl::InternalError("sendMany: no ids");
    for (const storage::Value& id : parsed->array()) target.get_args.push_back(absl::StrCat(R"({"id":")", id.string(), R"("})"));
  }
  return absl::OkStatus();
}

int Main() {
  testing::SupervisorProcess supervisor({.workers = 2, .enable_eval = false});
  if (absl::Status started = supervisor.Start(); !started.ok()) return Fail(started.ToString());
  Target fresh{.name = "fresh", .deployment = "fresh"};
  Target warm{.name = "warm", .deployment = "warm"};
  Target peer{.name = "peer", .deployment = "peer", .key = "peer-key-0123456789"};
  if (absl::Status s = DeployWithPolicy(supervisor, fresh, isobar::v1::CONTEXT_POLICY_FRESH); !s.ok()) return Fail(s.ToString());
  if (absl::Status s = DeployWithPolicy(supervisor, warm, isobar::v1::CONTEXT_POLICY_WARM); !s.ok()) return Fail(s.ToString());

  PeerProcess peer_process;
  if (absl::Status s = peer_process.Start(supervisor.pg_conninfo(), peer.key); !s.ok()) return Fail(s.ToString());
  peer.stub = isobar::v1::Functions::NewStub(grpc::CreateChannel(peer_process.address(), grpc::InsecureChannelCredentials()));
  {
    absl::StatusOr<std::unique_ptr<storage::PgConn>> conn = storage::PgConn::Connect(supervisor.pg_conninfo());
    if (!conn.ok()) return Fail(conn.status().ToString());
    if (!(*conn)->Exec(absl::StrCat("INSERT INTO peer_messages (id, creation_time, channel, author, body) "
                                    "SELECT 'p' || i, 1.7e12 + i, 'bench', 'ann', 'hello' FROM generate_series(1, ",
                                    kDocuments, ") AS i"))
             .ok()) {
      return Fail("cannot fill the peer's table");
    }
    for (int i = 1; i <= kDocuments; ++i) peer.get_args.push_back(absl::StrCat(R"({"id":"p)", i, R"("})"));
  }

  Target* targets[] = {&fresh, &warm, &peer};
  for (int round = 0; round < kRounds; ++round) {
    for (Target* t : targets) {
      t->rounds["query_p50_us"].push_back(MeasureLatency([t] { return t->Get(); }, 50, 2000, kWindow).p50_us);
      const std::map<std::string, double> before = CpuByProcess();
      t->rounds["query_qps_16"].push_back(MeasureThroughput([t] { return t->Get(); }, 16, kWindow));
      AddCpu(*t, "query", before, t->rounds["query_qps_16"].back() * absl::ToDoubleSeconds(kWindow));
    }
    for (Target* t : targets) {
      t->rounds["mutation_p50_us"].push_back(MeasureLatency([t] { return t->Send(); }, 20, 2000, kWindow).p50_us);
      const std::map<std::string, double> before = CpuByProcess();
      t->rounds["mutation_tps_16"].push_back(MeasureThroughput([t] { return t->Send(); }, 16, kWindow));
      AddCpu(*t, "mutation", before, t->rounds["mutation_tps_16"].back() * absl::ToDoubleSeconds(kWindow));
    }
  }

  auto median = [](Target& t, const std::string& what) { return Median(t.rounds[what]); };
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
  for (Target* t : targets) {
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
                  "(misses %lu, recycles %lu)\n",
                  w.worker_id(), w.invocations(), w.snapshots_made(), w.snapshots_refused(), w.snapshot_invocations(),
                  w.isolates(), w.isolate_misses(), w.isolate_recycles());
    }
  }
  // Issue 20's targets (ratios to the peer in this run).
  const bool fresh_query = median(fresh, "query_p50_us") <= 2 * median(peer, "query_p50_us") &&
                           median(fresh, "query_qps_16") >= 0.5 * median(peer, "query_qps_16");
  const bool warm_query = median(warm, "query_p50_us") <= 1.2 * median(peer, "query_p50_us") &&
                          median(warm, "query_qps_16") >= median(peer, "query_qps_16");
  const bool mutation = median(fresh, "mutation_p50_us") <= 2 * median(peer, "mutation_p50_us") &&
                        median(fresh, "mutation_tps_16") >= 0.7 * median(peer, "mutation_tps_16");
  std::printf("targets: fresh query %s, warm query %s, mutation %s\n", fresh_query ? "met" : "not met",
              warm_query ? "met" : "not met", mutation ? "met" : "not met");
  absl::StrAppend(&json, ", \"rounds\": ", kRounds, ", \"targets_met\": {\"fresh_query\": ", fresh_query ? "true" : "false",
                  ", \"warm_query\": ", warm_query ? "true" : "false", ", \"mutation\": ", mutation ? "true" : "false", "}}");
  std::printf("%s\n", json.c_str());
  return 0;
}

}  // namespace
}  // namespace isobar::bench

int main() { return isobar::bench::Main(); }
