// Starting and reaping child processes, for the supervisor's children: the embedded PostgreSQL and
// the workers.
//
//   SpawnOptions options;
//   options.argv = {"/usr/lib/postgresql/15/bin/postgres", "-D", dir};
//   options.stderr_fd = log_fd;
//   ASSIGN_OR_RETURN(ChildProcess child, Spawn(options));
//   ...
//   child.Signal(SIGINT);
//   ASSIGN_OR_RETURN(std::optional<ExitStatus> status, child.Wait(absl::Seconds(30)));
//
// Spawn() reports a failed exec (missing binary, bad working directory, unknown user) as an error from
// Spawn itself, not as a child that exits 127: the child writes its errno to a close-on-exec pipe.
// Between fork and exec the child only makes async-signal-safe calls, so Spawn is safe to call from a
// multi-threaded process.
//
// NOTE: PR_SET_PDEATHSIG fires when the *thread* that called Spawn exits, not the process. Call Spawn
// from a thread that lives as long as the child should.
#ifndef ISOBAR_BASE_PROCESS_H_
#define ISOBAR_BASE_PROCESS_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace isobar {

struct ExitStatus {
  bool exited = false;  // exited normally with `code`; otherwise killed by `signal`
  int code = 0;
  int signal = 0;

  bool Success() const { return exited && code == 0; }
  std::string ToString() const;  // "exit code 1" or "signal 31 (SIGSYS)"
  static ExitStatus FromWaitStatus(int wait_status);
};

struct SpawnOptions {
  std::vector<std::string> argv;  // argv[0] is the path of the binary to execute
  // nullopt: inherit the parent's environment.
  std::optional<std::vector<std::string>> env;
  // -1: /dev/null. Any other value is dup2'ed onto 0, 1 or 2.
  int stdin_fd = -1;
  int stdout_fd = STDOUT_FILENO_DEFAULT;
  int stderr_fd = STDERR_FILENO_DEFAULT;
  // More fds for the child: {fd in parent, fd number in child}. Child numbers must be >= 3. Every other
  // fd of the parent is closed in the child.
  std::vector<std::pair<int, int>> extra_fds;
  // Run as this user (and its primary group, no supplementary groups). Requires root.
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
  std::string working_dir;  // empty: unchanged
  int parent_death_signal = 0;  // 0: none
  bool new_session = true;  // setsid(): the child gets its own process group (not our terminal's Ctrl-C)
  // New namespaces for the child (CLONE_NEWUSER, CLONE_NEWPID, ...; 0: none). With CLONE_NEWUSER the
  // parent writes `uid_map` and `gid_map` (and "deny" to setgroups when `deny_setgroups`) before the
  // child goes on to exec.
  int namespaces = 0;
  std::string uid_map;
  std::string gid_map;
  bool deny_setgroups = false;
  // Resource limits set in the child before exec: {RLIMIT_*, soft = hard limit}.
  std::vector<std::pair<int, uint64_t>> rlimits;

  static constexpr int STDOUT_FILENO_DEFAULT = 1;
  static constexpr int STDERR_FILENO_DEFAULT = 2;
};

// A started child. Movable; the destructor does not kill or reap (call Wait or Kill first), but closes
// the pidfd.
class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(pid_t pid, int pidfd) : pid_(pid), pidfd_(pidfd) {}
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }
  // A file descriptor that becomes readable when the child exits (for poll/epoll).
  int pidfd() const { return pidfd_; }

  // Sends a signal; a child that already exited (but is not reaped) is not an error.
  absl::Status Signal(int signal) const;

  // Waits up to `timeout` for the child to exit and reaps it. nullopt: still running after `timeout`.
  // absl::InfiniteDuration() waits for ever.
  absl::StatusOr<std::optional<ExitStatus>> Wait(absl::Duration timeout);

  // SIGKILL and reap.
  absl::StatusOr<ExitStatus> Kill();

 private:
  pid_t pid_ = -1;
  int pidfd_ = -1;
};

absl::StatusOr<ChildProcess> Spawn(const SpawnOptions& options);

// Writes a new user namespace's id maps for its process `pid` (what a parent does for its child;
// "deny" goes to setgroups first when `deny_setgroups`). Empty maps are left unwritten.
absl::Status WriteIdMaps(pid_t pid, absl::string_view uid_map, absl::string_view gid_map, bool deny_setgroups);

}  // namespace isobar

#endif  // ISOBAR_BASE_PROCESS_H_
