#include "sandbox/namespaces.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <utility>

#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "base/process.h"

namespace isobar::sandbox {
namespace {

constexpr std::pair<int, const char*> kNamespaces[] = {
    {CLONE_NEWUSER, "user"}, {CLONE_NEWPID, "pid"}, {CLONE_NEWNET, "net"},
    {CLONE_NEWNS, "mount"},  {CLONE_NEWIPC, "ipc"}, {CLONE_NEWUTS, "uts"},
};

// Runs `child` in a child cloned into new namespaces `flags` (none: as fork does) and reports whether
// the clone worked and the child exited 0. With `identity`, the child's user namespace gets its id
// maps first. `child` runs in a child of a multithreaded process: system calls only, no allocation.
bool ProbeChild(int flags, const WorkerIdentity* identity, absl::FunctionRef<int()> child) {
  int go[2] = {-1, -1};
  if (identity != nullptr && pipe2(go, O_CLOEXEC) < 0) return false;
  pid_t pid = static_cast<pid_t>(syscall(SYS_clone, SIGCHLD | flags, nullptr, nullptr, nullptr, 0));
  if (pid == 0) {
    char byte;
    if (identity != nullptr && read(go[0], &byte, 1) != 1) _exit(100);
    _exit(child());
  }
  bool ok = pid > 0;
  if (identity != nullptr) {
    close(go[0]);
    if (ok) {
      ok = WriteIdMaps(pid, identity->uid_map, identity->gid_map, identity->deny_setgroups).ok();
      char byte = 1;
      ok = write(go[1], &byte, 1) == 1 && ok;  // without it the child exits 100
    }
    close(go[1]);
  }
  if (pid < 0) return false;
  int status = 0;
  pid_t reaped;
  while ((reaped = waitpid(pid, &status, __WALL)) < 0 && errno == EINTR) {
  }
  return ok && reaped == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int ExitZero() { return 0; }

bool CanClone(int flags) { return ProbeChild(flags, nullptr, ExitZero); }

absl::Status Errno(absl::string_view what) { return absl::PermissionDeniedError(absl::StrCat(what, ": ", strerror(errno))); }

}  // namespace

int ProbeNamespaces(int wanted) {
  if (CanClone(wanted)) return wanted;
  // One at a time, each on top of those already accepted (a user namespace lets an unprivileged
  // process make the others inside it).
  int accepted = 0;
  for (const auto& [flag, name] : kNamespaces) {
    if ((wanted & flag) != 0 && CanClone(accepted | flag)) accepted |= flag;
  }
  return accepted;
}

namespace {

constexpr const char* kEmptyRootSteps[] = {"",
                                           "making mounts private",
                                           "mounting the empty root",
                                           "mkdir /tmp/old",
                                           "pivot_root",
                                           "chdir /",
                                           "detaching the old root",
                                           "rmdir /old",
                                           "making the empty root read-only"};

// The steps of EnterEmptyRoot with system calls only (no allocation: the probe runs it in a child
// cloned from a multithreaded process). 0, or the failing step's index in kEmptyRootSteps.
int EnterEmptyRootRaw() {
  // Nothing we do here may propagate back to the parent namespace.
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0) return 1;
  // /tmp exists on every system we run on; in this mount namespace covering it affects no one else.
  if (mount("isobar-empty", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=16k,mode=0755") < 0) return 2;
  if (mkdir("/tmp/old", 0700) < 0) return 3;
  if (syscall(SYS_pivot_root, "/tmp", "/tmp/old") < 0) return 4;
  if (chdir("/") < 0) return 5;
  if (umount2("/old", MNT_DETACH) < 0) return 6;
  if (rmdir("/old") < 0) return 7;
  if (mount(nullptr, "/", nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) < 0) {
    return 8;
  }
  return 0;
}

}  // namespace

SandboxPlan PlanWorkerSandbox(int wanted_namespaces) {
  constexpr uid_t kNobody = 65534;
  constexpr gid_t kNogroup = 65534;
  SandboxPlan plan;
  plan.namespaces = ProbeNamespaces(wanted_namespaces);
  // As root, nobody must exist in our own user namespace for a worker to become it.
  // Raw system calls in the probe child: it is cloned from a multithreaded process, where glibc's
  // set*id would wait for threads the child does not have (and hang the supervisor's start).
  const bool can_drop = geteuid() == 0 && ProbeChild(0, nullptr, [&] {
                          return syscall(SYS_setresgid, kNogroup, kNogroup, kNogroup) == 0 &&
                                         syscall(SYS_setresuid, kNobody, kNobody, kNobody) == 0
                                     ? 0
                                     : 1;
                        });
  if ((plan.namespaces & CLONE_NEWUSER) != 0) {
    WorkerIdentity rich;
    rich.uid_map = absl::StrCat("0 0 1\n", kNobody, " ", kNobody, " 1\n");
    rich.gid_map = absl::StrCat("0 0 1\n", kNogroup, " ", kNogroup, " 1\n");
    rich.drop = std::make_pair(kNobody, kNogroup);
    WorkerIdentity own;
    own.uid_map = absl::StrCat("0 ", geteuid(), " 1\n");
    own.gid_map = absl::StrCat("0 ", getegid(), " 1\n");
    own.deny_setgroups = true;
    if (can_drop && ProbeChild(CLONE_NEWUSER, &rich, ExitZero)) {
      plan.identity = rich;
    } else if (ProbeChild(CLONE_NEWUSER, &own, ExitZero)) {
      plan.identity = own;
    } else {
      plan.namespaces &= ~CLONE_NEWUSER;  // we cannot give it ids: do without one
    }
  }
  if ((plan.namespaces & CLONE_NEWUSER) == 0 && can_drop) plan.identity.drop = std::make_pair(kNobody, kNogroup);
  if ((plan.namespaces & CLONE_NEWUSER) == 0 && geteuid() != 0) {
    plan.namespaces = 0;  // without a user namespace only root can make the others
  }
  // Some container runtimes let a process make a mount namespace but not mount in it.
  if ((plan.namespaces & CLONE_NEWNS) != 0 &&
      !ProbeChild(plan.namespaces, (plan.namespaces & CLONE_NEWUSER) != 0 ? &plan.identity : nullptr,
                  EnterEmptyRootRaw)) {
    plan.namespaces &= ~CLONE_NEWNS;  // a mount namespace we cannot mount in protects nothing
  }
  return plan;
}

std::vector<std::string> NamespaceNames(int flags) {
  std::vector<std::string> names;
  for (const auto& [flag, name] : kNamespaces) {
    if ((flags & flag) != 0) names.emplace_back(name);
  }
  return names;
}

absl::Status EnterEmptyRoot() {
  const int failed = EnterEmptyRootRaw();
  if (failed == 0) return absl::OkStatus();
  return Errno(kEmptyRootSteps[failed]);
}

absl::Status DropIds(uid_t uid, gid_t gid) {
  if (setgroups(0, nullptr) < 0 && errno != EPERM) return Errno("setgroups");
  if (setresgid(gid, gid, gid) < 0) return Errno("setresgid");
  if (setresuid(uid, uid, uid) < 0) return Errno("setresuid");
  // A change of credentials clears these: set them again.
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) return Errno("prctl(PR_SET_PDEATHSIG)");
  if (prctl(PR_SET_DUMPABLE, 0) < 0) return Errno("prctl(PR_SET_DUMPABLE)");
  return absl::OkStatus();
}

}  // namespace isobar::sandbox
