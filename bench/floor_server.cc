#include "bench/floor_server.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>

#include "absl/strings/ascii.h"
#include "grpcpp/grpcpp.h"
#include "isobar/v1/api.grpc.pb.h"

namespace isobar::bench {
namespace {

class BarePing final : public isobar::v1::Admin::CallbackService {
 public:
  grpc::ServerUnaryReactor* Ping(grpc::CallbackServerContext* context, const isobar::v1::PingRequest*,
                                 isobar::v1::PingResponse*) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

}  // namespace

void MaybeRunFloorServer(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--serve-floor") != 0) return;
  BarePing service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  std::printf("%d\n", port);
  std::fflush(stdout);
  server->Wait();
  _exit(0);
}

absl::StatusOr<FloorServer> FloorServer::Start(const std::string& self_binary) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return absl::InternalError("pipe2");
  SpawnOptions options;
  options.argv = {self_binary, "--serve-floor"};
  options.stdout_fd = out[1];
  options.parent_death_signal = SIGKILL;
  absl::StatusOr<ChildProcess> child = Spawn(options);
  close(out[1]);
  if (!child.ok()) {
    close(out[0]);
    return child.status();
  }
  char buffer[32] = {};
  ssize_t n = read(out[0], buffer, sizeof(buffer) - 1);  // blocks until the server prints its port
  close(out[0]);
  FloorServer floor;
  floor.process_ = std::move(*child);
  if (n <= 0) return absl::UnavailableError("the floor server did not start");
  floor.address_ = "127.0.0.1:" + std::string(absl::StripAsciiWhitespace(buffer));
  return floor;
}

FloorServer::~FloorServer() {
  if (process_.running()) {
    absl::StatusOr<ExitStatus> killed = process_.Kill();
    (void)killed;
  }
}

}  // namespace isobar::bench
