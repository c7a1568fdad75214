// SECURITY.md §5, cases 18–25: native escapes after the filter. tests/escape_helper_main.cc runs each
// attempt under exactly the worker's policy, started by the real worker spawner (sandbox/spawn.h) in
// the namespaces this machine allows (as the supervisor does), in the empty root, as nobody; this
// asserts the exact outcome, 20 times in each mode (threads and lazy paths make failures intermittent):
// - killed: SIGSYS in kill mode, and in report mode the offending syscall by number;
// - refused softly: the errno;
// - the fd scan: only stdio and the channel.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sandbox/namespaces.h"
#include "sandbox/spawn.h"
#include "tests/supervisor_fixture.h"

namespace isobar::sandbox {
namespace {

constexpr int kRuns = 20;

enum class Outcome {
  kKilled,
  kErrno,
  kFds,
  // int 0x80: killed by the filter's architecture check where the kernel has a 32-bit entry point; where
  // it has none (no IA32 emulation) the instruction itself faults, with or without the filter.
  kKilledOrNoEntry,
};

struct EscapeCase {
  const char* name;
  Outcome outcome;
  int number;  // the syscall (kKilled) or the errno (kErrno)
  const char* report;  // what report mode prints after "seccomp violation: syscall "
};

struct HelperRun {
  ExitStatus status;
  std::string out;
  std::string err;
};

std::string ReadAll(int fd) {
  std::string text;
  char buffer[4096];
  lseek(fd, 0, SEEK_SET);
  for (ssize_t n; (n = read(fd, buffer, sizeof(buffer))) > 0;) text.append(buffer, static_cast<size_t>(n));
  return text;
}

// The sandbox the supervisor would use here.
const SandboxPlan& Plan() {
  static const SandboxPlan* plan = new SandboxPlan(PlanWorkerSandbox(kWorkerNamespaces));
  return *plan;
}

// Starts the helper the way the supervisor starts a worker, and waits for it.
HelperRun RunHelper(const std::string& mode, const std::string& name) {
  HelperRun run;
  int out = memfd_create("out", MFD_CLOEXEC);
  int err = memfd_create("err", MFD_CLOEXEC);
  WorkerSpawnSpec spec{.binary = testing::Runfile("tests/escape_helper"), .args = {mode, name}};
  spec.stdout_fd = out;
  spec.stderr_fd = err;
  spec.sandbox = Plan();
  absl::StatusOr<SpawnedWorker> worker = SpawnWorker(spec);
  EXPECT_TRUE(worker.ok()) << worker.status();
  if (worker.ok()) {
    absl::StatusOr<std::optional<ExitStatus>> status = worker->process.Wait(absl::Seconds(30));
    EXPECT_TRUE(status.ok() && status->has_value()) << name << ": did not end";
    if (status.ok() && status->has_value()) run.status = **status;
    close(worker->supervisor_fd);
  }
  run.out = ReadAll(out);
  run.err = ReadAll(err);
  close(out);
  close(err);
  return run;
}

class EscapeMatrixTest : public ::testing::TestWithParam<EscapeCase> {};

TEST_P(EscapeMatrixTest, ExactOutcome) {
  const EscapeCase& c = GetParam();
  for (int i = 0; i < kRuns; ++i) {
    HelperRun killed = RunHelper("kill", c.name);
    HelperRun reported = RunHelper("report", c.name);
    Outcome outcome = c.outcome;
    if (outcome == Outcome::kKilledOrNoEntry) {
      HelperRun unfiltered = RunHelper("off", c.name);
      if (!unfiltered.status.exited && unfiltered.status.signal == SIGSEGV) {
        // This kernel has no 32-bit entry: the same fault under the filter, and nothing ran.
        ASSERT_FALSE(killed.status.exited);
        ASSERT_EQ(killed.status.signal, SIGSEGV);
        ASSERT_FALSE(reported.status.exited);
        ASSERT_EQ(reported.status.signal, SIGSEGV);
        continue;
      }
      ASSERT_EQ(unfiltered.out, absl::StrCat("ESCAPED\n")) << "the unfiltered call should work here";
      outcome = Outcome::kKilled;
    }
    switch (outcome) {
      case Outcome::kKilledOrNoEntry:
        break;
      case Outcome::kKilled:
        ASSERT_FALSE(killed.status.exited) << c.name << ": " << killed.status.ToString() << " " << killed.out << killed.err;
        ASSERT_EQ(killed.status.signal, SIGSYS) << c.name;
        ASSERT_TRUE(reported.status.exited && reported.status.code == 128 + SIGSYS)
            << c.name << ": " << reported.status.ToString() << " " << reported.out << reported.err;
        ASSERT_THAT(reported.err, ::testing::HasSubstr(absl::StrCat("seccomp violation: syscall ", c.report))) << c.name;
        break;
      case Outcome::kErrno:
        for (const HelperRun* run : {&killed, &reported}) {
          ASSERT_TRUE(run->status.Success()) << c.name << ": " << run->status.ToString() << " " << run->out << run->err;
          ASSERT_EQ(run->out, absl::StrCat("errno ", c.number, "\n")) << c.name;
        }
        break;
      case Outcome::kFds:
        for (const HelperRun* run : {&killed, &reported}) {
          ASSERT_TRUE(run->status.Success()) << run->status.ToString() << " " << run->err;
          ASSERT_EQ(run->out, "fds 0 1 2 3\n");  // stdio and the channel (kWorkerChannelFd), nothing else
        }
        break;
    }
  }
}

std::string CaseName(const ::testing::TestParamInfo<EscapeCase>& info) { return info.param.name; }

// What the namespaces and the empty root leave visible to a worker, before its filter: no file at all,
// no network interface but a loopback that is down, itself as PID 1, and (when we are root) nobody's
// uid. Where this machine refuses a namespace (some containers do) its property is checked to be
// absent instead, as the supervisor then runs workers without it and says so.
TEST(NamespacesTest, AWorkerSeesNoFilesNoNetworkAndItselfAsPidOne) {
  const int namespaces = Plan().namespaces;
  if (namespaces != kWorkerNamespaces) {
    std::printf("this machine refuses the %s namespace(s)\n",
                absl::StrJoin(NamespaceNames(kWorkerNamespaces & ~namespaces), ", ").c_str());
  }
  HelperRun run = RunHelper("off", "namespaces");
  ASSERT_TRUE(run.status.Success()) << run.status.ToString() << " " << run.err;
  int pid = 0, passwd = 0, interfaces = 0, uid = -1;
  unsigned long long nofile = 0, core = 1;
  char lo[16] = {};
  ASSERT_EQ(std::sscanf(run.out.c_str(), "pid %d passwd %d lo %15s interfaces %d uid %d nofile %llu core %llu", &pid,
                        &passwd, lo, &interfaces, &uid, &nofile, &core),
            7)
      << run.out;
  EXPECT_EQ(nofile, kWorkerMaxFds);  // the spawner's rlimits, whatever the namespaces
  EXPECT_EQ(core, 0u);
  if ((namespaces & CLONE_NEWPID) != 0) {
    EXPECT_EQ(pid, 1);
  } else {
    EXPECT_NE(pid, 1);
  }
  if ((namespaces & CLONE_NEWNS) != 0) {
    EXPECT_EQ(passwd, ENOENT) << "the empty root has no /etc/passwd";
  } else {
    EXPECT_EQ(passwd, 0) << "without a mount namespace the host's files are there";
  }
  if ((namespaces & CLONE_NEWNET) != 0) {
    EXPECT_EQ(interfaces, 1);
    EXPECT_STREQ(lo, "DOWN");
  }
  if (Plan().identity.drop.has_value()) {
    EXPECT_EQ(uid, static_cast<int>(Plan().identity.drop->first));
  } else {
    std::printf("workers keep their ids here (nobody is not ours to become)\n");
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases18To25, EscapeMatrixTest,
    ::testing::Values(
        // 18
        EscapeCase{"execve", Outcome::kKilled, SYS_execve, "59 (execve)"},
        // 19
        EscapeCase{"open", Outcome::kErrno, EACCES, ""}, EscapeCase{"openat", Outcome::kErrno, EACCES, ""},
        // 20
        EscapeCase{"socket_inet", Outcome::kKilled, SYS_socket, "41 (socket)"},
        EscapeCase{"socket_unix", Outcome::kKilled, SYS_socket, "41 (socket)"},
        EscapeCase{"socketpair", Outcome::kKilled, SYS_socketpair, "53 (socketpair)"},
        // 21
        EscapeCase{"fork", Outcome::kKilled, SYS_clone, "56 (clone)"},
        EscapeCase{"clone_process", Outcome::kKilled, SYS_clone, "56 (clone)"},
        EscapeCase{"clone3", Outcome::kErrno, ENOSYS, ""},
        // 22
        EscapeCase{"ptrace", Outcome::kKilled, SYS_ptrace, "101 (ptrace)"},
        EscapeCase{"process_vm_readv", Outcome::kKilled, SYS_process_vm_readv, "310 (process_vm_readv)"},
        EscapeCase{"kill_parent", Outcome::kKilled, SYS_kill, "62 (kill)"},
        EscapeCase{"bpf", Outcome::kKilled, SYS_bpf, "321 (bpf)"},
        EscapeCase{"io_uring_setup", Outcome::kKilled, SYS_io_uring_setup, "425 (io_uring_setup)"},
        EscapeCase{"userfaultfd", Outcome::kKilled, SYS_userfaultfd, "323 (userfaultfd)"},
        EscapeCase{"perf_event_open", Outcome::kKilled, SYS_perf_event_open, "298 (perf_event_open)"},
        EscapeCase{"unshare", Outcome::kKilled, SYS_unshare, "272 (unshare)"},
        EscapeCase{"mount", Outcome::kKilled, SYS_mount, "165 (mount)"},
        EscapeCase{"seccomp_listener", Outcome::kKilled, SYS_seccomp, "317 (seccomp)"},
        EscapeCase{"personality", Outcome::kKilled, SYS_personality, "135 (personality)"},
        // 23: i386 getpid (20) through int 0x80, and x32
        EscapeCase{"int80", Outcome::kKilledOrNoEntry, 20, "20 of another architecture"},
        EscapeCase{"x32", Outcome::kKilled, 0x40000000 | SYS_getpid, "1073741863"},
        // 24
        EscapeCase{"thread_execve", Outcome::kKilled, SYS_execve, "59 (execve)"},
        // 25
        EscapeCase{"fd_scan", Outcome::kFds, 0, ""}),
    CaseName);

}  // namespace
}  // namespace isobar::sandbox
