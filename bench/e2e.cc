// bench/e2e: Convex functions end to end through the public API (gRPC -> supervisor -> sandboxed
// worker -> PostgreSQL), each against its floor measured in the same run (PERFORMANCE.md):
//   P1  query doing one db.get, 1 in flight, p50        vs Admin.Ping p50 on the same supervisor
//       (each call reads another of 24,000 documents: none is answered by the query cache)
//   P3  that query's throughput, 16 in flight           vs Admin.Ping throughput, 16 in flight
//   P4  one-insert mutation throughput, 16 clients      vs pgbench one-row JSONB insert, 16 clients
//   P5  one-insert mutation p50, 1 client               vs pgbench one-row insert p50, 1 client
// pgbench runs against the supervisor's own embedded PostgreSQL. The app is tests/apps/chat.
// Last line: {"bench":"e2e", ...}. Run: bazel run -c opt //bench:e2e
#include <atomic>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/harness.h"
#include "bench/pgbench.h"
#include "grpcpp/grpcpp.h"
#include "isobar/v1/api.grpc.pb.h"
#include "storage/convex_json.h"
#include "storage/pg_conn.h"
#include "tests/supervisor_fixture.h"

namespace isobar::bench {
namespace {

int Fail(const std::string& what) {
  std::fprintf(stderr, "e2e: %s\n", what.c_str());
  return 1;
}

int Main(int argc, char** argv) {
  // Extra supervisor flags may follow (e.g. --contexts=warm).
  std::vector<std::string> extra(argv + 1, argv + argc);
  testing::SupervisorProcess supervisor({.workers = 2, .enable_eval = false, .extra_args = extra});
  if (absl::Status started = supervisor.Start(); !started.ok()) return Fail(started.ToString());
  absl::StatusOr<std::string> key = supervisor.Deploy("bench", "tests/apps/chat.modules");
  if (!key.ok()) return Fail(key.status().ToString());
  auto channel = grpc::CreateChannel(supervisor.address(), grpc::InsecureChannelCredentials());
  auto admin = isobar::v1::Admin::NewStub(channel);
  auto functions = isobar::v1::Functions::NewStub(channel);
  const std::string admin_bearer = "Bearer " + supervisor.admin_key();

  auto call = [&](bool mutation, const std::string& path, const std::string& args, std::string* result) {
    testing::FunctionResult called =
        testing::CallFunction(*functions, mutation ? testing::CallKind::kMutation : testing::CallKind::kQuery,
                              {.deployment = "bench", .key = *key, .path = path, .args_json = args});
    if (!called.status.ok()) {
      std::fprintf(stderr, "e2e: %s: %s\n", path.c_str(), called.status.error_message().c_str());
      return false;
    }
    if (result != nullptr) *result = called.response.result_json();
    return true;
  };
  const std::string insert_args = R"({"channel":"bench","author":"ann","body":"hello"})";
  // Distinct documents to read, so that every measured query runs on a worker: a repeated query
  // would be answered by the query cache (bench/subscriptions measures that, P2).
  std::vector<std::string> ids;
  for (int batch = 0; batch < 8; ++batch) {
    std::string ids_json;
    if (!call(true, "messages:sendMany", R"({"channel":"bench","n":3000})", &ids_json)) return 1;
    absl::StatusOr<storage::Value> parsed = storage::ParseConvexJson(ids_json);
    if (!parsed.ok() || parsed->type() != storage::Value::Type::kArray) return Fail("sendMany returned no ids");
    for (const storage::Value& id : parsed->array()) ids.push_back(absl::StrCat(R"({"id":")", id.string(), R"("})"));
  }
  std::atomic<size_t> next_id{0};
  auto next_get_args = [&]() -> const std::string& { return ids[next_id.fetch_add(1) % ids.size()]; };

  auto ping = [&] {
    grpc::ClientContext context;
    context.AddMetadata("authorization", admin_bearer);
    isobar::v1::PingResponse response;
    return admin->Ping(&context, {}, &response).ok();
  };
  auto get = [&] { return call(false, "messages:get", next_get_args(), nullptr); };
  auto send = [&] { return call(true, "messages:send", insert_args, nullptr); };

  // P1: alternating rounds, medians of their p50s.
  std::vector<double> ping_p50, get_p50;
  for (int round = 0; round < 5; ++round) {
    ping_p50.push_back(MeasureLatency(ping, 100, 1000, absl::Seconds(3)).p50_us);
    get_p50.push_back(MeasureLatency(get, 100, 1000, absl::Seconds(3)).p50_us);
  }
  // P3.
  const double ping_qps = MeasureThroughput(ping, 16, absl::Seconds(3));
  const double get_qps = MeasureThroughput(get, 16, absl::Seconds(3));

  // P4 / P5 floors: pgbench on the supervisor's PostgreSQL.
  const std::string conninfo = supervisor.pg_conninfo();
  const std::string socket_dir = supervisor.data_dir() + "/pgrun";
  {
    absl::StatusOr<std::unique_ptr<storage::PgConn>> conn = storage::PgConn::Connect(conninfo);
    if (!conn.ok()) return Fail(conn.status().ToString());
    if (!(*conn)->Exec("CREATE TABLE IF NOT EXISTS pgbench_floor (id bigserial PRIMARY KEY, v jsonb)").ok()) {
      return Fail("cannot create the pgbench table");
    }
  }
  const std::string pg_insert = R"(INSERT INTO pgbench_floor (v) VALUES ('{"a":1,"body":"hello"}');)";
  const absl::Duration window = absl::Seconds(5);
  absl::StatusOr<PgbenchResult> floor1 = RunPgbench(socket_dir, pg_insert, 1, window);
  Latency send1 = MeasureLatency(send, 50, 5000, window);
  absl::StatusOr<PgbenchResult> floor16 = RunPgbench(socket_dir, pg_insert, 16, window);
  const double send_tps = MeasureThroughput(send, 16, window);
  if (!floor1.ok() || !floor16.ok()) return Fail((floor1.ok() ? floor16.status() : floor1.status()).ToString());

  const double p1 = Median(get_p50) / Median(ping_p50);
  const double p3 = get_qps / ping_qps;
  const double p4 = send_tps / floor16->tps;
  const double p5 = send1.p50_us / floor1->p50_us;
  std::printf("P1 query (one db.get) p50 %.0f us vs Admin.Ping p50 %.0f us: %.2fx (target <= 2.5x)\n",
              Median(get_p50), Median(ping_p50), p1);
  std::printf("P3 query throughput %.0f/s vs Ping %.0f/s at 16 in flight: %.2fx (target >= 0.5x)\n", get_qps,
              ping_qps, p3);
  std::printf("P4 mutation throughput %.0f/s vs pgbench %.0f tps at 16 clients: %.2fx (target >= 0.5x)\n", send_tps,
              floor16->tps, p4);
  std::printf("P5 mutation p50 %.0f us vs pgbench p50 %.0f us at 1 client: %.2fx (target <= 3x)\n", send1.p50_us,
              floor1->p50_us, p5);
  std::printf(
      "{\"bench\": \"e2e\", \"p1\": {\"query_p50_us\": %s, \"floor_ping_p50_us\": %s, \"ratio\": %s}, "
      "\"p3\": {\"query_qps_16\": %s, \"floor_ping_qps_16\": %s, \"ratio\": %s}, "
      "\"p4\": {\"mutation_tps_16\": %s, \"floor_pgbench_tps_16\": %s, \"ratio\": %s}, "
      "\"p5\": {\"mutation_p50_us\": %s, \"floor_pgbench_p50_us\": %s, \"ratio\": %s}}\n",
      Num(Median(get_p50)).c_str(), Num(Median(ping_p50)).c_str(), Num(p1).c_str(), Num(get_qps).c_str(),
      Num(ping_qps).c_str(), Num(p3).c_str(), Num(send_tps).c_str(), Num(floor16->tps).c_str(), Num(p4).c_str(),
      Num(send1.p50_us).c_str(), Num(floor1->p50_us).c_str(), Num(p5).c_str());
  return 0;
}

}  // namespace
}  // namespace isobar::bench

int main(int argc, char** argv) { return isobar::bench::Main(argc, argv); }
