// The worker's policy as data: what it decides for the calls that matter, without loading it.
#include "sandbox/worker_policy.h"

#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "gtest/gtest.h"

namespace isobar::sandbox {
namespace {

const Decision kAllow{Action::kAllow};
const Decision kKill{Action::kKillProcess};

class WorkerPolicyTest : public ::testing::Test {
 protected:
  // Without the JIT capability (only //worker can grant it; the JIT branch differs in PROT_EXEC alone).
  SeccompPolicy policy_ = *WorkerPolicy(4242, nullptr);
};

TEST_F(WorkerPolicyTest, EscapesAreKilled) {
  for (int nr : {SYS_execve, SYS_execveat, SYS_fork, SYS_vfork, SYS_socket, SYS_connect, SYS_bind,
                 SYS_listen, SYS_accept, SYS_accept4, SYS_ptrace, SYS_process_vm_readv,
                 SYS_process_vm_writev, SYS_bpf, SYS_perf_event_open, SYS_userfaultfd,
                 SYS_io_uring_setup, SYS_mount, SYS_umount2, SYS_pivot_root, SYS_unshare, SYS_setns,
                 SYS_keyctl, SYS_add_key, SYS_personality, SYS_seccomp, SYS_kill, SYS_socketpair,
                 SYS_memfd_create, SYS_setuid, SYS_chroot}) {
    EXPECT_EQ(policy_.Decide(nr), kKill) << "syscall " << nr;
  }
}

TEST_F(WorkerPolicyTest, CloneOnlyWithPthreadFlags) {
  EXPECT_EQ(policy_.Decide(SYS_clone, {kPthreadCloneFlags}), kAllow);
  EXPECT_EQ(policy_.Decide(SYS_clone, {SIGCHLD}), kKill);  // fork
  EXPECT_EQ(policy_.Decide(SYS_clone, {kPthreadCloneFlags | CLONE_NEWUSER}), kKill);
  EXPECT_EQ(policy_.Decide(SYS_clone, {kPthreadCloneFlags & ~uint64_t{CLONE_THREAD}}), kKill);
  EXPECT_EQ(policy_.Decide(SYS_clone3), (Decision{Action::kErrno, ENOSYS}));
}

TEST_F(WorkerPolicyTest, PathCallsFailWithEacces) {
  for (int nr : {SYS_open, SYS_openat, SYS_openat2, SYS_stat, SYS_newfstatat, SYS_access, SYS_readlink}) {
    EXPECT_EQ(policy_.Decide(nr), (Decision{Action::kErrno, EACCES})) << "syscall " << nr;
  }
}

TEST_F(WorkerPolicyTest, ArgumentFilters) {
  EXPECT_EQ(policy_.Decide(SYS_prctl, {PR_SET_NAME}), kAllow);
  EXPECT_EQ(policy_.Decide(SYS_prctl, {PR_SET_DUMPABLE}), kKill);
  EXPECT_EQ(policy_.Decide(SYS_prctl, {PR_SET_SECCOMP}), kKill);
  EXPECT_EQ(policy_.Decide(SYS_tgkill, {4242, 7, 6}), kAllow);
  EXPECT_EQ(policy_.Decide(SYS_tgkill, {1, 1, 9}), kKill);  // another process
}

TEST_F(WorkerPolicyTest, SteadyStateCallsAreAllowed) {
  for (int nr : {SYS_read, SYS_write, SYS_recvmsg, SYS_sendmsg, SYS_futex, SYS_munmap, SYS_clock_gettime,
                 SYS_getrandom, SYS_exit_group}) {
    EXPECT_EQ(policy_.Decide(nr), kAllow) << "syscall " << nr;
  }
  // The channel is read by a blocking thread: nothing of an event loop is left to a worker.
  for (int nr : {SYS_epoll_create1, SYS_epoll_ctl, SYS_epoll_wait, SYS_epoll_pwait, SYS_eventfd2, SYS_poll,
                 SYS_ppoll}) {
    EXPECT_EQ(policy_.Decide(nr), kKill) << "syscall " << nr;
  }
}

TEST_F(WorkerPolicyTest, MemoryIsAnonymousPrivateAndNotExecutableWithoutTheJitCapability) {
  constexpr uint64_t kAnon = MAP_PRIVATE | MAP_ANONYMOUS;
  EXPECT_EQ(policy_.Decide(SYS_mmap, {0, 4096, PROT_NONE, kAnon | MAP_NORESERVE}), kAllow);  // V8 reservation
  EXPECT_EQ(policy_.Decide(SYS_mmap, {0, 4096, PROT_READ | PROT_WRITE, kAnon | MAP_FIXED}), kAllow);
  EXPECT_EQ(policy_.Decide(SYS_mmap, {0, 4096, PROT_NONE, kAnon | MAP_STACK}), kAllow);  // thread stack
  EXPECT_EQ(policy_.Decide(SYS_mmap, {0, 4096, PROT_READ | PROT_EXEC, kAnon}), kKill);
  EXPECT_EQ(policy_.Decide(SYS_mmap, {0, 4096, PROT_READ, MAP_SHARED | MAP_ANONYMOUS}), kKill);
  EXPECT_EQ(policy_.Decide(SYS_mmap, {0, 4096, PROT_READ, MAP_PRIVATE, 3}), kKill);  // a file
  EXPECT_EQ(policy_.Decide(SYS_mmap, {0, 4096, PROT_READ, kAnon | MAP_GROWSDOWN}), kKill);
  EXPECT_EQ(policy_.Decide(SYS_mprotect, {0, 4096, PROT_READ | PROT_WRITE}), kAllow);
  EXPECT_EQ(policy_.Decide(SYS_mprotect, {0, 4096, PROT_READ | PROT_EXEC}), kKill);
  EXPECT_EQ(policy_.Decide(SYS_pkey_mprotect, {0, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, 1}), kKill);
  EXPECT_EQ(policy_.Decide(SYS_madvise, {0, 4096, MADV_DONTNEED}), kAllow);
  EXPECT_EQ(policy_.Decide(SYS_madvise, {0, 4096, MADV_DONTFORK}), kAllow);  // V8, on each reservation
  EXPECT_EQ(policy_.Decide(SYS_madvise, {0, 4096, MADV_HWPOISON}), kKill);
  EXPECT_EQ(policy_.Decide(SYS_madvise, {0, 4096, MADV_MERGEABLE}), kKill);
}

TEST_F(WorkerPolicyTest, FcntlAndIoctlOnlyForFlagsAndTerminals) {
  for (uint64_t cmd : {F_GETFD, F_SETFD, F_GETFL, F_SETFL}) EXPECT_EQ(policy_.Decide(SYS_fcntl, {3, cmd}), kAllow);
  for (uint64_t cmd : {F_DUPFD, F_DUPFD_CLOEXEC, F_SETLK, F_SETOWN, F_SETSIG, F_SETPIPE_SZ}) {
    EXPECT_EQ(policy_.Decide(SYS_fcntl, {3, cmd}), kKill) << "fcntl " << cmd;
  }
  EXPECT_EQ(policy_.Decide(SYS_ioctl, {2, TCGETS}), kAllow);
  EXPECT_EQ(policy_.Decide(SYS_ioctl, {3, FIONREAD}), kAllow);
  EXPECT_EQ(policy_.Decide(SYS_ioctl, {0, TIOCSTI}), kKill);  // typing into the terminal
  EXPECT_EQ(policy_.Decide(SYS_ioctl, {3, FIONBIO}), kKill);
}

TEST(PolicyBuilderTest, ContradictionsAreRejected) {
  EXPECT_EQ(PolicyBuilder().Allow({SYS_read}).Errno({SYS_read}, EPERM).TryBuild().status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PolicyBuilder().Allow({SYS_read}).AllowIf(SYS_read, {ArgEq(0, 1)}).TryBuild().status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PolicyBuilder().AllowIf(SYS_read, {ArgEq(7, 1)}).TryBuild().status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PolicyBuilder().AllowIf(SYS_read, {ArgMaskedEq(0, 0x1, 0x2)}).TryBuild().status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PolicyBuilder().AllowIf(SYS_read, {ArgMaskedEq(0, 0x1, 0x1), ArgMaskedEq(0, 0x2, 0)}).TryBuild().status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(PolicyBuilder()
                  .AllowIf(SYS_prctl, {ArgEq(0, 1)})
                  .AllowIf(SYS_prctl, {ArgEq(0, 2)})
                  .TryBuild()
                  .ok());
}

TEST(PolicyBuilderTest, UnlistedCallsGetTheDefaultKill) {
  SeccompPolicy empty = *PolicyBuilder().TryBuild();
  EXPECT_EQ(empty.Decide(SYS_read), kKill);
}

}  // namespace
}  // namespace isobar::sandbox
