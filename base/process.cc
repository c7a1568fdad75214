#include "base/process.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>

#include "absl/strings/str_cat.h"

extern char** environ;

namespace isobar {
namespace {

absl::Status ErrnoStatus(absl::string_view what, int err) {
  return absl::InternalError(absl::StrCat(what, ": ", strerror(err)));
}

// What the child reports through the exec-error pipe before it dies.
struct ChildError {
  int step;  // index into kSteps
  int err;
};

constexpr const char* kSteps[] = {"dup2", "close fds", "setgroups", "setgid", "setuid",
                                  "prctl(PR_SET_PDEATHSIG)", "chdir", "execve", "setsid",
                                  "open /dev/null", "waiting for the id maps", "setrlimit"};
enum Step {
  kDup2, kCloseFds, kSetgroups, kSetgid, kSetuid, kPdeathsig, kChdir, kExecve, kSetsid, kDevNull, kIdMaps, kRlimit
};

[[noreturn]] void ChildFail(int pipe_fd, Step step) {
  ChildError error{step, errno};
  ssize_t ignored = ::write(pipe_fd, &error, sizeof(error));
  (void)ignored;
  ::_exit(127);
}

// Runs in the child between fork and exec: async-signal-safe calls only.
[[noreturn]] void RunChild(const SpawnOptions& options, char* const* argv, char* const* envp,
                           int pipe_fd, int go_fd, pid_t parent) {
  if (go_fd >= 0) {
    // The parent writes our user namespace's id maps, then one byte.
    char go = 0;
    ssize_t n;
    do {
      n = ::read(go_fd, &go, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1) ChildFail(pipe_fd, kIdMaps);
    ::close(go_fd);
  }
  // Unblock every signal and restore default dispositions for the new program.
  sigset_t all;
  sigemptyset(&all);
  sigprocmask(SIG_SETMASK, &all, nullptr);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
  }
  if (options.new_session && setsid() < 0) ChildFail(pipe_fd, kSetsid);

  // Move every wanted fd above all target numbers first, so that dup2 onto 0..N cannot clobber a
  // source we still need.
  int std_sources[3] = {options.stdin_fd, options.stdout_fd, options.stderr_fd};
  int dev_null = -1;
  for (int i = 0; i < 3; ++i) {
    if (std_sources[i] == -1) {
      if (dev_null == -1) {
        dev_null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
        if (dev_null < 0) ChildFail(pipe_fd, kDevNull);
      }
      std_sources[i] = dev_null;
    }
  }
  // Keep the error pipe clear of the fd numbers we are about to fill.
  constexpr int kScratchBase = 1000;
  int high_pipe = fcntl(pipe_fd, F_DUPFD_CLOEXEC, kScratchBase);
  if (high_pipe < 0) ChildFail(pipe_fd, kDup2);
  pipe_fd = high_pipe;
  int moved[3 + 16];
  size_t extra = std::min<size_t>(options.extra_fds.size(), 16);
  for (int i = 0; i < 3; ++i) {
    moved[i] = fcntl(std_sources[i], F_DUPFD_CLOEXEC, kScratchBase);
    if (moved[i] < 0) ChildFail(pipe_fd, kDup2);
  }
  for (size_t i = 0; i < extra; ++i) {
    moved[3 + i] = fcntl(options.extra_fds[i].first, F_DUPFD_CLOEXEC, kScratchBase);
    if (moved[3 + i] < 0) ChildFail(pipe_fd, kDup2);
  }
  for (int i = 0; i < 3; ++i) {
    if (dup2(moved[i], i) < 0) ChildFail(pipe_fd, kDup2);
  }
  for (size_t i = 0; i < extra; ++i) {
    int target = options.extra_fds[i].second;
    if (dup2(moved[3 + i], target) < 0) ChildFail(pipe_fd, kDup2);
  }
  // Close everything else: every gap between the fds we keep (0..2, the targets and the error pipe,
  // which is close-on-exec and goes away with execve).
  int keep[3 + 16 + 1];
  size_t keep_count = 0;
  for (int i = 0; i < 3; ++i) keep[keep_count++] = i;
  for (size_t i = 0; i < extra; ++i) keep[keep_count++] = options.extra_fds[i].second;
  keep[keep_count++] = pipe_fd;
  std::sort(keep, keep + keep_count);
  for (size_t i = 0; i < keep_count; ++i) {
    unsigned int first = static_cast<unsigned int>(keep[i]) + 1;
    unsigned int last = i + 1 < keep_count ? static_cast<unsigned int>(keep[i + 1]) - 1 : ~0U;
    if (first > last) continue;
    if (syscall(SYS_close_range, first, last, 0) < 0) ChildFail(pipe_fd, kCloseFds);
  }

  // Raw system calls, not glibc's wrappers: in a child cloned (not forked) from a multithreaded
  // process, glibc still believes in the parent's threads and its set*id would wait for them forever.
  // This child has one thread, so the kernel's per-thread calls change the whole process.
  if (options.gid.has_value()) {
    if (syscall(SYS_setgroups, 0, nullptr) < 0) ChildFail(pipe_fd, kSetgroups);
    if (syscall(SYS_setgid, *options.gid) < 0) ChildFail(pipe_fd, kSetgid);
  }
  if (options.uid.has_value() && syscall(SYS_setuid, *options.uid) < 0) ChildFail(pipe_fd, kSetuid);
  // After the credential change, which clears it.
  if (options.parent_death_signal != 0) {
    if (prctl(PR_SET_PDEATHSIG, options.parent_death_signal) < 0) ChildFail(pipe_fd, kPdeathsig);
    // The parent died before the signal was armed? Not knowable inside a new PID namespace, where the
    // parent is always 0; a worker there whose supervisor is gone loses its channel and exits anyway.
    if ((options.namespaces & CLONE_NEWPID) == 0 && getppid() != parent) ::_exit(126);
  }
  if (!options.working_dir.empty() && chdir(options.working_dir.c_str()) < 0) {
    ChildFail(pipe_fd, kChdir);
  }
  for (const auto& [resource, limit] : options.rlimits) {
    struct rlimit value = {static_cast<rlim_t>(limit), static_cast<rlim_t>(limit)};
    if (setrlimit(resource, &value) < 0) ChildFail(pipe_fd, kRlimit);
  }
  execve(argv[0], argv, envp);
  ChildFail(pipe_fd, kExecve);
}

std::vector<char*> CStrings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (const std::string& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

const char* SignalName(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev != nullptr ? abbrev : "?";
}

absl::Status WriteFile(const std::string& path, absl::string_view text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(absl::StrCat("open ", path), errno);
  ssize_t n = ::write(fd, text.data(), text.size());
  int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(text.size())) return ErrnoStatus(absl::StrCat("write ", path), err);
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteIdMaps(pid_t pid, absl::string_view uid_map, absl::string_view gid_map, bool deny_setgroups) {
  const std::string proc = absl::StrCat("/proc/", pid);
  if (deny_setgroups) {
    absl::Status denied = WriteFile(proc + "/setgroups", "deny");
    if (!denied.ok()) return denied;
  }
  if (!uid_map.empty()) {
    absl::Status written = WriteFile(proc + "/uid_map", uid_map);
    if (!written.ok()) return written;
  }
  if (!gid_map.empty()) {
    absl::Status written = WriteFile(proc + "/gid_map", gid_map);
    if (!written.ok()) return written;
  }
  return absl::OkStatus();
}

std::string ExitStatus::ToString() const {
  if (exited) return absl::StrCat("exit code ", code);
  return absl::StrCat("signal ", signal, " (SIG", SignalName(signal), ")");
}

ExitStatus ExitStatus::FromWaitStatus(int wait_status) {
  ExitStatus status;
  if (WIFEXITED(wait_status)) {
    status.exited = true;
    status.code = WEXITSTATUS(wait_status);
  } else if (WIFSIGNALED(wait_status)) {
    status.signal = WTERMSIG(wait_status);
  }
  return status;
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), pidfd_(std::exchange(other.pidfd_, -1)) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    if (pidfd_ >= 0) ::close(pidfd_);
    pid_ = std::exchange(other.pid_, -1);
    pidfd_ = std::exchange(other.pidfd_, -1);
  }
  return *this;
}

ChildProcess::~ChildProcess() {
  if (pidfd_ >= 0) ::close(pidfd_);
}

absl::Status ChildProcess::Signal(int signal) const {
  if (pid_ <= 0) return absl::FailedPreconditionError("process is not running");
  // pidfd_send_signal cannot hit a recycled pid.
  if (syscall(SYS_pidfd_send_signal, pidfd_, signal, nullptr, 0) < 0 && errno != ESRCH) {
    return ErrnoStatus(absl::StrCat("signal pid ", pid_), errno);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<ExitStatus>> ChildProcess::Wait(absl::Duration timeout) {
  if (pid_ <= 0) return absl::FailedPreconditionError("process is not running");
  int timeout_ms = -1;
  if (timeout != absl::InfiniteDuration()) {
    timeout_ms = static_cast<int>(std::clamp<int64_t>(absl::ToInt64Milliseconds(timeout), 0, INT32_MAX));
  }
  for (;;) {
    struct pollfd pfd = {pidfd_, POLLIN, 0};
    int n = ::poll(&pfd, 1, timeout_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("poll(pidfd)", errno);
    if (n == 0) return std::optional<ExitStatus>();
    break;
  }
  int wait_status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &wait_status, 0);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return ErrnoStatus(absl::StrCat("waitpid ", pid_), errno);
  pid_ = -1;
  ::close(pidfd_);
  pidfd_ = -1;
  return std::optional<ExitStatus>(ExitStatus::FromWaitStatus(wait_status));
}

absl::StatusOr<ExitStatus> ChildProcess::Kill() {
  absl::Status sent = Signal(SIGKILL);
  if (!sent.ok()) return sent;
  absl::StatusOr<std::optional<ExitStatus>> status = Wait(absl::InfiniteDuration());
  if (!status.ok()) return status.status();
  return **status;
}

absl::StatusOr<ChildProcess> Spawn(const SpawnOptions& options) {
  if (options.argv.empty()) return absl::InvalidArgumentError("Spawn: empty argv");
  if (options.extra_fds.size() > 16) return absl::InvalidArgumentError("Spawn: at most 16 extra fds");
  for (const auto& [from, to] : options.extra_fds) {
    if (to < 3 || to >= 1000) return absl::InvalidArgumentError("Spawn: extra fd targets must be in [3, 1000)");
  }
  std::vector<char*> argv = CStrings(options.argv);
  std::vector<std::string> env_copy;
  std::vector<char*> envp;
  char* const* env_ptr = environ;
  if (options.env.has_value()) {
    env_copy = *options.env;
    envp = CStrings(env_copy);
    env_ptr = envp.data();
  }
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) < 0) return ErrnoStatus("pipe2", errno);
  const bool user_namespace = (options.namespaces & CLONE_NEWUSER) != 0;
  int go_fds[2] = {-1, -1};
  if (user_namespace && ::pipe2(go_fds, O_CLOEXEC) < 0) {
    int err = errno;
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    return ErrnoStatus("pipe2", err);
  }
  const pid_t parent = ::getpid();
  // With namespaces, clone as fork does (no shared memory) but into new namespaces; the child runs
  // only async-signal-safe code until exec, as after fork.
  pid_t pid = options.namespaces == 0
                  ? ::fork()
                  : static_cast<pid_t>(syscall(SYS_clone, SIGCHLD | options.namespaces, nullptr, nullptr, nullptr, 0));
  if (pid < 0) {
    int err = errno;
    for (int fd : {pipe_fds[0], pipe_fds[1], go_fds[0], go_fds[1]}) {
      if (fd >= 0) ::close(fd);
    }
    return ErrnoStatus(options.namespaces == 0 ? "fork" : "clone (new namespaces)", err);
  }
  if (pid == 0) {
    ::close(pipe_fds[0]);
    if (go_fds[1] >= 0) ::close(go_fds[1]);
    RunChild(options, argv.data(), env_ptr, pipe_fds[1], go_fds[0], parent);
  }
  ::close(pipe_fds[1]);
  if (user_namespace) {
    ::close(go_fds[0]);
    absl::Status mapped = WriteIdMaps(pid, options.uid_map, options.gid_map, options.deny_setgroups);
    if (mapped.ok()) {
      char go = 1;
      if (::write(go_fds[1], &go, 1) != 1) mapped = ErrnoStatus("starting the child", errno);
    }
    ::close(go_fds[1]);  // without the byte the child fails its "waiting for the id maps" step
    if (!mapped.ok()) {
      ::close(pipe_fds[0]);
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      return mapped;
    }
  }
  ChildError error{};
  ssize_t n;
  do {
    n = ::read(pipe_fds[0], &error, sizeof(error));
  } while (n < 0 && errno == EINTR);
  ::close(pipe_fds[0]);
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    int err = errno;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return ErrnoStatus("pidfd_open", err);
  }
  ChildProcess child(pid, pidfd);
  if (n == static_cast<ssize_t>(sizeof(error))) {
    // The exec failed; reap the child, which exits at once.
    absl::StatusOr<std::optional<ExitStatus>> ignored = child.Wait(absl::InfiniteDuration());
    (void)ignored;
    const char* step = error.step >= 0 && error.step < static_cast<int>(std::size(kSteps))
                           ? kSteps[error.step]
                           : "?";
    absl::Status status = ErrnoStatus(absl::StrCat("starting ", options.argv[0], ": ", step), error.err);
    if (error.err == ENOENT) return absl::NotFoundError(status.message());
    if (error.err == EACCES || error.err == EPERM) return absl::PermissionDeniedError(status.message());
    return status;
  }
  return child;
}

}  // namespace isobar
