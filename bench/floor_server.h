// The latency floor: a bare gRPC server implementing Admin.Ping with the same callback API and build
// flags as the supervisor but no work at all (no auth, no pool), in a child process of the benchmark
// (so that it does not share the benchmark client's threads).
//
//   ASSIGN_OR_RETURN(FloorServer floor, FloorServer::Start(argv[0]));   // the benchmark re-executes itself
//   ... measure Ping against floor.address() ...
//
// A benchmark's main() must first call MaybeRunFloorServer(argc, argv): in the child it serves and
// never returns.
#ifndef ISOBAR_BENCH_FLOOR_SERVER_H_
#define ISOBAR_BENCH_FLOOR_SERVER_H_

#include <string>

#include "absl/status/statusor.h"
#include "base/process.h"

namespace isobar::bench {

class FloorServer {
 public:
  static absl::StatusOr<FloorServer> Start(const std::string& self_binary);
  FloorServer(FloorServer&&) = default;
  ~FloorServer();
  const std::string& address() const { return address_; }

 private:
  FloorServer() = default;
  ChildProcess process_;
  std::string address_;
};

// In the child started by FloorServer::Start (argv[1] == "--serve-floor"): serves until killed.
void MaybeRunFloorServer(int argc, char** argv);

}  // namespace isobar::bench

#endif  // ISOBAR_BENCH_FLOOR_SERVER_H_
