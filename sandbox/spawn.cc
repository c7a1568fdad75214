#include "sandbox/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"

namespace isobar::sandbox {

absl::StatusOr<SpawnedWorker> SpawnWorker(const WorkerSpawnSpec& spec) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    return absl::ResourceExhaustedError(absl::StrCat("socketpair: ", strerror(errno)));
  }
  const int supervisor_end = fds[0];
  const int worker_end = fds[1];
  SpawnOptions options;
  options.argv.push_back(spec.binary);
  options.argv.insert(options.argv.end(), spec.args.begin(), spec.args.end());
  options.extra_fds = {{worker_end, kWorkerChannelFd}};
  options.parent_death_signal = SIGKILL;
  options.rlimits = {{RLIMIT_CORE, 0}, {RLIMIT_NOFILE, kWorkerMaxFds}};
  options.rlimits.insert(options.rlimits.end(), spec.rlimits.begin(), spec.rlimits.end());
  options.namespaces = spec.sandbox.namespaces;
  if ((spec.sandbox.namespaces & CLONE_NEWUSER) != 0) {
    options.uid_map = spec.sandbox.identity.uid_map;
    options.gid_map = spec.sandbox.identity.gid_map;
    options.deny_setgroups = spec.sandbox.identity.deny_setgroups;
  }
  if ((spec.sandbox.namespaces & CLONE_NEWNS) != 0) options.argv.push_back("--empty-root");
  if (spec.sandbox.identity.drop.has_value()) {
    options.argv.push_back(
        absl::StrCat("--drop-ids=", spec.sandbox.identity.drop->first, ":", spec.sandbox.identity.drop->second));
  }
  if (spec.stdout_fd != -2) options.stdout_fd = spec.stdout_fd;
  if (spec.stderr_fd != -2) options.stderr_fd = spec.stderr_fd;
  absl::StatusOr<ChildProcess> child = Spawn(options);
  close(worker_end);
  if (!child.ok()) {
    close(supervisor_end);
    return child.status();
  }
  return SpawnedWorker{std::move(*child), supervisor_end};
}

}  // namespace isobar::sandbox
