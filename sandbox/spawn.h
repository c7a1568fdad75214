// Starts a worker process with one end of a socketpair as its only channel to the supervisor.
//
//   WorkerSpawnSpec spec{.binary = "/usr/lib/isobar/worker", .args = {"--worker-id=0"}};
//   ASSIGN_OR_RETURN(SpawnedWorker worker, SpawnWorker(spec));
//   grpc::AddInsecureChannelFromFd(server, worker.supervisor_fd);   // takes the fd
//
// The child gets the socket as fd 3 (kWorkerChannelFd), stdin from /dev/null, our stdout/stderr (so
// its log lines reach the supervisor's log), and no other fd: everything else is closed before exec.
// It dies with SIGKILL if the thread that spawned it exits (PR_SET_PDEATHSIG).
// The supervisor's end is non-blocking and close-on-exec, as gRPC's fd server needs (BUILD_NOTES.md).
//
// Namespaces, the empty root, rlimits and cgroups are added here as the sandbox grows (issue 5);
// the worker itself installs the seccomp filter after its start-up.
#ifndef ISOBAR_SANDBOX_SPAWN_H_
#define ISOBAR_SANDBOX_SPAWN_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/process.h"

namespace isobar::sandbox {

inline constexpr int kWorkerChannelFd = 3;

struct WorkerSpawnSpec {
  std::string binary;
  std::vector<std::string> args;  // after argv[0]
  // Where the worker's stdout and stderr go (dup'ed; still owned by the caller); -2: ours.
  int stdout_fd = -2;
  int stderr_fd = -2;
};

struct SpawnedWorker {
  ChildProcess process;
  int supervisor_fd = -1;  // owned by the caller
};

absl::StatusOr<SpawnedWorker> SpawnWorker(const WorkerSpawnSpec& spec);

}  // namespace isobar::sandbox

#endif  // ISOBAR_SANDBOX_SPAWN_H_
