// The worker's policy as data: what it decides for the calls that matter, without loading it.
#include "sandbox/worker_policy.h"

#include <errno.h>
#include <sched.h>
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
  SeccompPolicy policy_ = *WorkerPolicy(4242);
};

TEST_F(WorkerPolicyTest, EscapesAreKilled) {
  for (int nr : {SYS_execve, SYS_execveat, SYS_fork, SYS_vfork, SYS_socket, SYS_connect, SYS_bind,
                 SYS_listen, SYS_accept, SYS_accept4, SYS_ptrace, SYS_process_vm_readv,
                 SYS_process_vm_writev, SYS_bpf, SYS_perf_event_open, SYS_userfaultfd,
                 SYS_io_uring_setup, SYS_mount, SYS_umount2, SYS_pivot_root, SYS_unshare, SYS_setns,
                 SYS_keyctl, SYS_add_key, SYS_personality, SYS_seccomp, SYS_kill, SYS_socketpair,
                 SYS_memfd_create, SYS_ioctl, SYS_setuid, SYS_chroot}) {
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
  for (int nr : {SYS_read, SYS_write, SYS_recvmsg, SYS_sendmsg, SYS_epoll_wait, SYS_futex, SYS_mmap,
                 SYS_munmap, SYS_mprotect, SYS_madvise, SYS_clock_gettime, SYS_getrandom, SYS_exit_group}) {
    EXPECT_EQ(policy_.Decide(nr), kAllow) << "syscall " << nr;
  }
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
