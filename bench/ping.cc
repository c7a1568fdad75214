// bench/ping: Admin.Ping through the supervisor (admin-key check included), against a bare gRPC server
// with the same callback API measured in the same run.
//   - latency, 1 call in flight: p50 and p99 (median over alternating rounds)
//   - throughput, 16 calls in flight from 16 threads on one channel
// Last line: {"bench":"ping", ...}. Run: bazel run -c opt //bench:ping
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/floor_server.h"
#include "bench/harness.h"
#include "grpcpp/grpcpp.h"
#include "isobar/v1/api.grpc.pb.h"
#include "tests/supervisor_fixture.h"

namespace isobar::bench {
namespace {

int Main() {
  testing::SupervisorProcess supervisor({.workers = 2, .enable_eval = false});
  if (absl::Status started = supervisor.Start(); !started.ok()) {
    std::fprintf(stderr, "%s\n", started.ToString().c_str());
    return 1;
  }
  absl::StatusOr<FloorServer> floor = FloorServer::Start("/proc/self/exe");
  if (!floor.ok()) {
    std::fprintf(stderr, "%s\n", floor.status().ToString().c_str());
    return 1;
  }
  auto floor_stub = isobar::v1::Admin::NewStub(grpc::CreateChannel(floor->address(), grpc::InsecureChannelCredentials()));
  auto ping_stub = isobar::v1::Admin::NewStub(grpc::CreateChannel(supervisor.address(), grpc::InsecureChannelCredentials()));
  const std::string bearer = "Bearer " + supervisor.admin_key();
  auto floor_op = [&] {
    grpc::ClientContext context;
    isobar::v1::PingResponse response;
    return floor_stub->Ping(&context, {}, &response).ok();
  };
  auto ping_op = [&] {
    grpc::ClientContext context;
    context.AddMetadata("authorization", bearer);
    isobar::v1::PingResponse response;
    return ping_stub->Ping(&context, {}, &response).ok();
  };

  std::vector<double> floor_p50, floor_p99, ping_p50, ping_p99;
  for (int round = 0; round < 5; ++round) {
    Latency f = MeasureLatency(floor_op, 200, 2000, absl::Seconds(4));
    Latency p = MeasureLatency(ping_op, 200, 2000, absl::Seconds(4));
    floor_p50.push_back(f.p50_us);
    floor_p99.push_back(f.p99_us);
    ping_p50.push_back(p.p50_us);
    ping_p99.push_back(p.p99_us);
  }
  const double floor_qps = MeasureThroughput(floor_op, 16, absl::Seconds(3));
  const double ping_qps = MeasureThroughput(ping_op, 16, absl::Seconds(3));

  const double fp50 = Median(floor_p50), pp50 = Median(ping_p50);
  std::printf("floor (bare gRPC Ping):  p50 %.1f us  p99 %.1f us  %.0f calls/s at 16 in flight\n", fp50,
              Median(floor_p99), floor_qps);
  std::printf("Admin.Ping (supervisor): p50 %.1f us  p99 %.1f us  %.0f calls/s at 16 in flight\n", pp50,
              Median(ping_p99), ping_qps);
  std::printf("{\"bench\": \"ping\", \"p50_us\": %s, \"p99_us\": %s, \"qps_16\": %s, "
              "\"floor\": {\"what\": \"bare gRPC callback server, same machine\", \"p50_us\": %s, \"p99_us\": %s, "
              "\"qps_16\": %s}, \"ratio\": %s, \"qps_ratio\": %s}\n",
              Num(pp50).c_str(), Num(Median(ping_p99)).c_str(), Num(ping_qps).c_str(), Num(fp50).c_str(),
              Num(Median(floor_p99)).c_str(), Num(floor_qps).c_str(), Num(pp50 / fp50).c_str(),
              Num(ping_qps / floor_qps).c_str());
  return 0;
}

}  // namespace
}  // namespace isobar::bench

int main(int argc, char** argv) {
  isobar::bench::MaybeRunFloorServer(argc, argv);
  return isobar::bench::Main();
}
