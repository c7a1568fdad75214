// The escape-attempt helper (SECURITY.md §5, cases 18–25): installs exactly the worker's seccomp policy
// (worker/sandbox_install.h), then tries one escape, chosen by name:
//
//   escape_helper kill|report|off CASE [--empty-root] [--drop-ids=UID:GID]
//
// (off: no filter, to learn what the kernel itself does.) The flags are the worker's: the spawner adds
// them when it starts the helper in new namespaces / as root, and the helper applies them before its
// filter exactly as a worker does.
//
// Outcomes, which escape_matrix_test asserts:
// - the policy kills it: SIGSYS (kill mode), or "seccomp violation: syscall N (name)" on stderr and
//   exit status 159 (report mode);
// - the call fails: "errno N" on stdout, exit status 0;
// - the escape worked: "ESCAPED" on stdout, exit status 1 (a test failure);
// - fd_scan: "fds 0 1 2 3" on stdout (every open fd below 1024), exit status 0;
// - namespaces (with mode off): "pid N passwd ERRNO lo UP|DOWN interfaces N uid N nofile N core N".
// A thread is started before the filter goes in, as V8's and gRPC's are; `thread_execve` uses it.
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <linux/perf_event.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "sandbox/namespaces.h"
#include "worker/sandbox_install.h"

namespace {

pid_t g_parent = 0;  // read before the filter (getppid is not allowed after it)

char* const kShell[] = {const_cast<char*>("/bin/sh"), const_cast<char*>("-c"), const_cast<char*>("echo ESCAPED"), nullptr};

// Reports a call that returned: its errno, or that it worked.
int Returned(long result) {
  if (result < 0) {
    std::printf("errno %d\n", errno);
    return 0;
  }
  std::printf("ESCAPED\n");
  return 1;
}

// A thread made before the filter, waiting to be told to try execve (case 24: TSYNC).
struct EarlyThread {
  std::mutex mu;
  std::condition_variable go;
  bool started = false;
  std::thread thread{[this] {
    std::unique_lock<std::mutex> lock(mu);
    go.wait(lock, [this] { return started; });
    execve(kShell[0], kShell, environ);
    std::printf("errno %d\n", errno);
    std::fflush(stdout);
    _exit(0);
  }};
};

int32_t Int80Getpid() {
  int32_t result;
  // i386 getpid (20) through the 32-bit entry point.
  __asm__ volatile("int $0x80" : "=a"(result) : "a"(20) : "memory");
  return result;
}

const std::map<std::string, std::function<int()>>& Cases() {
  static const auto* cases = new std::map<std::string, std::function<int()>>{
      // 18
      {"execve", [] { return Returned(execve(kShell[0], kShell, environ)); }},
      // 19
      {"open", [] { return Returned(syscall(SYS_open, "/etc/passwd", O_RDONLY)); }},
      {"openat", [] { return Returned(openat(AT_FDCWD, "/etc/passwd", O_RDONLY)); }},
      // 20
      {"socket_inet", [] { return Returned(socket(AF_INET, SOCK_STREAM, 0)); }},
      {"socket_unix", [] { return Returned(socket(AF_UNIX, SOCK_STREAM, 0)); }},
      {"socketpair", [] {
         int fds[2];
         return Returned(socketpair(AF_UNIX, SOCK_STREAM, 0, fds));
       }},
      // 21
      {"fork", [] { return Returned(fork()); }},
      {"clone_process", [] { return Returned(syscall(SYS_clone, CLONE_VM | SIGCHLD, 0, 0, 0, 0)); }},
      {"clone3", [] {
         struct clone_args {
           uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
         } args{};
         args.exit_signal = SIGCHLD;
         return Returned(syscall(SYS_clone3, &args, sizeof(args)));
       }},
      // 22
      {"ptrace", [] { return Returned(ptrace(PTRACE_ATTACH, g_parent, 0, 0)); }},
      {"process_vm_readv", [] {
         char buffer[16];
         iovec local{buffer, sizeof(buffer)};
         iovec remote{reinterpret_cast<void*>(0x400000), sizeof(buffer)};
         return Returned(process_vm_readv(g_parent, &local, 1, &remote, 1, 0));
       }},
      {"kill_parent", [] { return Returned(kill(g_parent, SIGKILL)); }},
      {"bpf", [] {
         union bpf_attr attr;
         std::memset(&attr, 0, sizeof(attr));
         return Returned(syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr)));
       }},
      {"io_uring_setup", [] {
         char params[120] = {};
         return Returned(syscall(SYS_io_uring_setup, 8, params));
       }},
      {"userfaultfd", [] { return Returned(syscall(SYS_userfaultfd, 0)); }},
      {"perf_event_open", [] {
         perf_event_attr attr;
         std::memset(&attr, 0, sizeof(attr));
         attr.size = sizeof(attr);
         return Returned(syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0));
       }},
      {"unshare", [] { return Returned(unshare(CLONE_NEWUSER)); }},
      {"mount", [] { return Returned(mount("none", "/tmp", "tmpfs", 0, nullptr)); }},
      {"seccomp_listener", [] {
         return Returned(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, nullptr));
       }},
      {"personality", [] { return Returned(personality(READ_IMPLIES_EXEC)); }},
      // 23
      {"int80", [] { return Returned(Int80Getpid()); }},
      {"x32", [] { return Returned(syscall(0x40000000 | SYS_getpid)); }},
      // What the namespaces and the empty root leave visible (run with mode off: no filter).
      {"namespaces", [] {
         const int passwd = access("/etc/passwd", F_OK) == 0 ? 0 : errno;
         int interfaces = -1;
         std::string lo = "absent";
         int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
         if (sock >= 0) {
           // Every interface, by index (SIOCGIFCONF would list only those with an address).
           interfaces = 0;
           for (int index = 1; index < 64; ++index) {
             ifreq request{};
             request.ifr_ifindex = index;
             if (ioctl(sock, SIOCGIFNAME, &request) < 0) continue;
             ++interfaces;
             if (std::string(request.ifr_name) == "lo" && ioctl(sock, SIOCGIFFLAGS, &request) == 0) {
               lo = (request.ifr_flags & IFF_UP) != 0 ? "UP" : "DOWN";
             }
           }
           close(sock);
         }
         rlimit nofile{}, core{};
         getrlimit(RLIMIT_NOFILE, &nofile);
         getrlimit(RLIMIT_CORE, &core);
         std::printf("pid %d passwd %d lo %s interfaces %d uid %d nofile %llu core %llu\n", getpid(), passwd, lo.c_str(),
                     interfaces, static_cast<int>(getuid()), static_cast<unsigned long long>(nofile.rlim_max),
                     static_cast<unsigned long long>(core.rlim_max));
         return 0;
       }},
      // 25
      {"fd_scan", [] {
         std::string open_fds;
         for (int fd = 0; fd < 1024; ++fd) {
           if (fcntl(fd, F_GETFD) >= 0) open_fds += " " + std::to_string(fd);
         }
         std::printf("fds%s\n", open_fds.c_str());
         return 0;
       }},
  };
  return *cases;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc >= 3 ? argv[1] : "";
  if (mode != "kill" && mode != "report" && mode != "off") {
    std::fprintf(stderr, "usage: escape_helper kill|report|off CASE [--empty-root] [--drop-ids=UID:GID]\n");
    return 2;
  }
  const std::string name = argv[2];
  bool empty_root = false;
  int drop_uid = -1, drop_gid = -1;
  for (int i = 3; i < argc; ++i) {
    if (std::strcmp(argv[i], "--empty-root") == 0) {
      empty_root = true;
    } else if (std::sscanf(argv[i], "--drop-ids=%d:%d", &drop_uid, &drop_gid) != 2) {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  const auto& cases = Cases();
  if (name != "thread_execve" && cases.count(name) == 0) {
    std::fprintf(stderr, "unknown case %s\n", name.c_str());
    return 2;
  }
  g_parent = getppid();
  if (empty_root) {
    absl::Status entered = isobar::sandbox::EnterEmptyRoot();
    if (!entered.ok()) {
      std::fprintf(stderr, "cannot enter the empty root: %s\n", std::string(entered.message()).c_str());
      return 3;
    }
  }
  if (drop_uid > 0) {
    absl::Status dropped = isobar::sandbox::DropIds(static_cast<uid_t>(drop_uid), static_cast<gid_t>(drop_gid));
    if (!dropped.ok()) {
      std::fprintf(stderr, "cannot drop privileges: %s\n", std::string(dropped.message()).c_str());
      return 3;
    }
  }
  auto* early = new EarlyThread();  // never destroyed: the process ends inside a case
  absl::Status installed =
      mode == "off" ? absl::OkStatus()
                    : isobar::worker::InstallWorkerSandbox(mode == "kill" ? isobar::sandbox::ViolationMode::kKillProcess
                                                                          : isobar::sandbox::ViolationMode::kReport);
  if (!installed.ok()) {
    std::fprintf(stderr, "cannot install the policy: %s\n", std::string(installed.message()).c_str());
    return 3;
  }
  int status;
  if (name == "thread_execve") {
    {
      std::lock_guard<std::mutex> lock(early->mu);
      early->started = true;
    }
    early->go.notify_one();
    early->thread.join();  // the thread ends the process
    status = 1;
  } else {
    status = cases.at(name)();
  }
  std::fflush(stdout);
  _exit(status);
}
