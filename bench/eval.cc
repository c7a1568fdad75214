// bench/eval: Admin.Eval through a sandboxed worker, with one host call (isobar/echo, which writes a
// row to PostgreSQL) and with none, as ratios to Admin.Ping p50 measured in the same run (rounds
// alternate so that drift hits all three alike). 1 call in flight.
// Last line: {"bench":"eval", ...}. Run: bazel run -c opt //bench:eval
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "bench/harness.h"
#include "grpcpp/grpcpp.h"
#include "isobar/v1/api.grpc.pb.h"
#include "tests/supervisor_fixture.h"

namespace isobar::bench {
namespace {

int Main() {
  testing::SupervisorProcess supervisor({.workers = 2, .enable_eval = true});
  if (absl::Status started = supervisor.Start(); !started.ok()) {
    std::fprintf(stderr, "%s\n", started.ToString().c_str());
    return 1;
  }
  auto stub = isobar::v1::Admin::NewStub(grpc::CreateChannel(supervisor.address(), grpc::InsecureChannelCredentials()));
  const std::string bearer = "Bearer " + supervisor.admin_key();
  auto ping_op = [&] {
    grpc::ClientContext context;
    context.AddMetadata("authorization", bearer);
    isobar::v1::PingResponse response;
    return stub->Ping(&context, {}, &response).ok();
  };
  auto eval_op = [&](const char* source) {
    return [&, source] {
      grpc::ClientContext context;
      context.AddMetadata("authorization", bearer);
      isobar::v1::EvalRequest request;
      request.set_source(source);
      isobar::v1::EvalResponse response;
      return stub->Eval(&context, request, &response).ok();
    };
  };
  auto host_op = eval_op("Convex.syscall('isobar/echo', '1')");
  auto plain_op = eval_op("1 + 2");

  std::vector<double> ping50, host50, host99, plain50, plain99;
  for (int round = 0; round < 5; ++round) {
    ping50.push_back(MeasureLatency(ping_op, 100, 1000, absl::Seconds(3)).p50_us);
    Latency h = MeasureLatency(host_op, 50, 500, absl::Seconds(5));
    Latency p = MeasureLatency(plain_op, 50, 500, absl::Seconds(5));
    host50.push_back(h.p50_us);
    host99.push_back(h.p99_us);
    plain50.push_back(p.p50_us);
    plain99.push_back(p.p99_us);
  }
  const double ping = Median(ping50), host = Median(host50), plain = Median(plain50);
  std::printf("Admin.Ping:                      p50 %.1f us\n", ping);
  std::printf("eval, no host call:              p50 %.1f us  p99 %.1f us  (%.2fx Ping)\n", plain, Median(plain99),
              plain / ping);
  std::printf("eval, one host call (PG insert): p50 %.1f us  p99 %.1f us  (%.2fx Ping)\n", host, Median(host99),
              host / ping);
  std::printf("{\"bench\": \"eval\", \"host_call_p50_us\": %s, \"host_call_p99_us\": %s, \"no_host_call_p50_us\": %s, "
              "\"no_host_call_p99_us\": %s, \"floor\": {\"what\": \"Admin.Ping p50, same run\", \"p50_us\": %s}, "
              "\"ratio\": %s, \"no_host_call_ratio\": %s}\n",
              Num(host).c_str(), Num(Median(host99)).c_str(), Num(plain).c_str(), Num(Median(plain99)).c_str(),
              Num(ping).c_str(), Num(host / ping).c_str(), Num(plain / ping).c_str());
  return 0;
}

}  // namespace
}  // namespace isobar::bench

int main() { return isobar::bench::Main(); }
