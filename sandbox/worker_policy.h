// The seccomp policy of a worker process: what V8 and gRPC need once start-up is over, and nothing
// else. SECURITY.md §2 and §4 explain each group; sandbox/README.md lists them one line each. In short:
// - I/O only on fds the worker already holds (its channel, stdio), no socket creation at all;
// - memory: anonymous private mappings only; PROT_EXEC only with a JitCapability (V8's JIT);
//   madvise only with the advice values V8 and glibc use;
// - threads (clone with exactly glibc's pthread flags; clone3 answers ENOSYS so glibc falls back);
// - time, futexes, randomness, signals on itself; prctl only to name threads; fcntl only to read and
//   set fd/file flags; ioctl only TCGETS (isatty) and FIONREAD;
// - every path-based call (open, stat, access, readlink) fails with EACCES, because glibc and gRPC
//   probe files lazily and must see a plain failure;
// - everything else (execve, fork, socket, connect, ptrace, bpf, mount, ...) kills the process.
#ifndef ISOBAR_SANDBOX_WORKER_POLICY_H_
#define ISOBAR_SANDBOX_WORKER_POLICY_H_

#include <sys/types.h>

#include "absl/status/statusor.h"
#include "sandbox/seccomp_policy.h"

namespace isobar::sandbox {

// glibc's pthread_create flags: the only clone the worker may make.
inline constexpr uint64_t kPthreadCloneFlags = 0x3d0f00;  // VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|PARENT_SETTID|CHILD_CLEARTID

// `self` is the worker's pid as the kernel's tgkill sees it (for abort(), which signals itself).
// `jit` (may be null) allows PROT_EXEC in mmap and mprotect.
absl::StatusOr<SeccompPolicy> WorkerPolicy(pid_t self, const JitCapability* jit);

}  // namespace isobar::sandbox

#endif  // ISOBAR_SANDBOX_WORKER_POLICY_H_
