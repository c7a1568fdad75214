#include "sandbox/worker_policy.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <termios.h>

namespace isobar::sandbox {
namespace {

// Mappings: private and anonymous (no files, no shared memory), with these other flags at most. One
// masked comparison says both: (flags & (~kMapFlags | PRIVATE | ANONYMOUS)) == PRIVATE | ANONYMOUS.
constexpr uint64_t kMapFlags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_FIXED_NOREPLACE | MAP_NORESERVE |
                               MAP_STACK | MAP_DENYWRITE;
constexpr uint64_t kMapRequired = MAP_PRIVATE | MAP_ANONYMOUS;
constexpr uint64_t kProtNoExec = PROT_READ | PROT_WRITE;
constexpr uint64_t kProtJit = PROT_READ | PROT_WRITE | PROT_EXEC;

}  // namespace

absl::StatusOr<SeccompPolicy> WorkerPolicy(pid_t self, const JitCapability* jit) {
  const uint64_t prot = jit != nullptr ? kProtJit : kProtNoExec;
  PolicyBuilder builder;
  builder
      // I/O on fds the worker already holds: the channel and stdio.
      .Allow({SYS_read, SYS_write, SYS_readv, SYS_writev, SYS_recvmsg, SYS_sendmsg, SYS_recvfrom,
              SYS_sendto, SYS_close, SYS_shutdown, SYS_fstat, SYS_lseek, SYS_getsockopt,
              SYS_setsockopt, SYS_getsockname, SYS_getpeername})
      .AllowIf(SYS_fcntl, {ArgEq(1, F_GETFD)})
      .AllowIf(SYS_fcntl, {ArgEq(1, F_SETFD)})
      .AllowIf(SYS_fcntl, {ArgEq(1, F_GETFL)})
      .AllowIf(SYS_fcntl, {ArgEq(1, F_SETFL)})
      .AllowIf(SYS_ioctl, {ArgEq(1, TCGETS)})
      .AllowIf(SYS_ioctl, {ArgEq(1, FIONREAD)})
      // Memory: V8's heap and JIT, thread stacks, malloc.
      .AllowIf(SYS_mmap, {ArgMaskedEq(2, ~prot, 0), ArgMaskedEq(3, ~kMapFlags | kMapRequired, kMapRequired)})
      .AllowIf(SYS_mprotect, {ArgMaskedEq(2, ~prot, 0)})
      .AllowIf(SYS_pkey_mprotect, {ArgMaskedEq(2, ~prot, 0)})
      .Allow({SYS_munmap, SYS_brk, SYS_mremap})
      .AllowIf(SYS_madvise, {ArgEq(2, MADV_DONTNEED)})
      .AllowIf(SYS_madvise, {ArgEq(2, MADV_FREE)})
      .AllowIf(SYS_madvise, {ArgEq(2, MADV_DONTFORK)})
      .AllowIf(SYS_madvise, {ArgEq(2, MADV_DOFORK)})
      .AllowIf(SYS_madvise, {ArgEq(2, MADV_NORMAL)})
      .AllowIf(SYS_madvise, {ArgEq(2, MADV_RANDOM)})
      .AllowIf(SYS_madvise, {ArgEq(2, MADV_WILLNEED)})
      // Threads and synchronisation.
      .AllowIf(SYS_clone, {ArgEq(0, kPthreadCloneFlags)})
      .Allow({SYS_futex, SYS_set_robust_list, SYS_rseq, SYS_sched_yield, SYS_sched_getaffinity,
              SYS_sched_getparam, SYS_sched_getscheduler, SYS_getpid, SYS_gettid, SYS_exit,
              SYS_exit_group, SYS_restart_syscall})
      .AllowIf(SYS_prctl, {ArgEq(0, PR_SET_NAME)})
      .AllowIf(SYS_prctl, {ArgEq(0, PR_GET_NAME)})
      // Time and randomness (normally answered in the vDSO; the syscalls are the fallback).
      .Allow({SYS_clock_gettime, SYS_clock_getres, SYS_clock_nanosleep, SYS_nanosleep, SYS_gettimeofday,
              SYS_getrandom})
      // Signals, to itself only.
      .Allow({SYS_rt_sigprocmask, SYS_rt_sigreturn, SYS_rt_sigaction, SYS_sigaltstack})
      .AllowIf(SYS_tgkill, {ArgEq(0, static_cast<uint64_t>(self))})
      // glibc >= 2.34 tries clone3 first and falls back to clone only on ENOSYS.
      .Errno({SYS_clone3}, ENOSYS)
      // Path-based calls fail softly: libraries probe /proc, /sys and time-zone files lazily.
      .Errno({SYS_open, SYS_openat, SYS_openat2, SYS_stat, SYS_lstat, SYS_newfstatat, SYS_statx,
              SYS_access, SYS_faccessat, SYS_faccessat2, SYS_readlink, SYS_readlinkat},
             EACCES);
  return builder.TryBuild();
}

}  // namespace isobar::sandbox
