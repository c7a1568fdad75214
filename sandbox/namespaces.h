// Linux namespaces for workers: which ones this machine lets us create, and the empty root a worker
// moves into once it has loaded everything it needs.
//
//   int flags = ProbeNamespaces(kWorkerNamespaces);   // at supervisor start; refused ones are logged
//   ... spawn with `flags` (base/process.h SpawnOptions::namespaces) ...
//   // in the worker, after its warm-up and before its seccomp filter:
//   RETURN_IF_ERROR(EnterEmptyRoot());
//
// Some containers refuse some namespaces (or all); a worker then runs with the others, and
// `--sandbox=strict` refuses to start instead.
#ifndef ISOBAR_SANDBOX_NAMESPACES_H_
#define ISOBAR_SANDBOX_NAMESPACES_H_

#include <sched.h>

#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace isobar::sandbox {

// User, PID, network, mount, IPC and UTS.
inline constexpr int kWorkerNamespaces =
    CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS;

// The subset of `wanted` a child can be created with here (each refused one is tried without).
int ProbeNamespaces(int wanted);

// How a worker's identity is arranged: the id maps of its user namespace (written by its parent),
// and the unprivileged ids it drops to once started.
struct WorkerIdentity {
  std::string uid_map;  // empty: no user namespace
  std::string gid_map;
  bool deny_setgroups = false;
  std::optional<std::pair<uid_t, gid_t>> drop;
};

// What this machine allows, decided once (at supervisor start) by trying it:
// - the namespaces (ProbeNamespaces), and the mount namespace only if a child can really enter an
//   empty root in it (some container runtimes allow the namespace but not mounting);
// - as root, where nobody (65534) exists in our own user namespace: the worker maps root and nobody
//   to themselves and drops to nobody after start-up (without a user namespace it drops for real);
// - otherwise its user namespace maps our ids to 0 and it keeps them.
struct SandboxPlan {
  int namespaces = 0;
  WorkerIdentity identity;
};
SandboxPlan PlanWorkerSandbox(int wanted_namespaces);

// "user", "pid", "net", "mount", "ipc", "uts" for the flags set in `flags`.
std::vector<std::string> NamespaceNames(int flags);

// In a new mount namespace: makes every mount private, mounts a tiny read-only tmpfs, pivot_roots into
// it and drops the old root, so that no path exists any more (not /etc/passwd, not /proc).
absl::Status EnterEmptyRoot();

// Drops to `uid`/`gid` (mapped in the worker's user namespace), with no supplementary groups and no
// capabilities left.
absl::Status DropIds(uid_t uid, gid_t gid);

}  // namespace isobar::sandbox

#endif  // ISOBAR_SANDBOX_NAMESPACES_H_
