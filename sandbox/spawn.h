// Starts a worker process with one end of a socketpair as its only channel to the supervisor.
//
//   WorkerSpawnSpec spec{.binary = "/usr/lib/isobar/worker", .args = {"--worker-id=0"}};
//   ASSIGN_OR_RETURN(SpawnedWorker worker, SpawnWorker(spec));
//   workers.Connect(worker.supervisor_fd);   // a reader thread takes the fd (supervisor/api/worker_service.h)
//
// The child gets the socket as fd 3 (kWorkerChannelFd), stdin from /dev/null, our stdout/stderr (so
// its log lines reach the supervisor's log), and no other fd: everything else is closed before exec.
// It dies with SIGKILL if the thread that spawned it exits (PR_SET_PDEATHSIG).
// The supervisor's end is blocking (its reader thread waits in read) and close-on-exec.
//
// With a SandboxPlan (PlanWorkerSandbox, made once), the worker starts in the plan's namespaces with its
// id maps, and the spawner asks it (--empty-root, --drop-ids) to move into an empty root and drop to
// the plan's unprivileged ids once it has loaded what it needs. Every worker gets RLIMIT_CORE 0 and
// RLIMIT_NOFILE kWorkerMaxFds. The worker itself installs the seccomp filter after its start-up.
#ifndef ISOBAR_SANDBOX_SPAWN_H_
#define ISOBAR_SANDBOX_SPAWN_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "base/process.h"
#include "sandbox/namespaces.h"

namespace isobar::sandbox {

inline constexpr int kWorkerChannelFd = 3;
inline constexpr uint64_t kWorkerMaxFds = 64;


struct WorkerSpawnSpec {
  std::string binary;
  std::vector<std::string> args;  // after argv[0]
  // Where the worker's stdout and stderr go (dup'ed; still owned by the caller); -2: ours.
  int stdout_fd = -2;
  int stderr_fd = -2;
  SandboxPlan sandbox;  // namespaces and identity (PlanWorkerSandbox); default: neither
  // More resource limits, beside every worker's: {RLIMIT_*, soft = hard limit}.
  std::vector<std::pair<int, uint64_t>> rlimits;
};

struct SpawnedWorker {
  ChildProcess process;
  int supervisor_fd = -1;  // owned by the caller
};

absl::StatusOr<SpawnedWorker> SpawnWorker(const WorkerSpawnSpec& spec);

}  // namespace isobar::sandbox

#endif  // ISOBAR_SANDBOX_SPAWN_H_
