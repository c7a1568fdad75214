// Loads a SeccompPolicy into the kernel for every thread of this process (TSYNC). The only code that
// links libseccomp (STYLE.md convention 15).
//
// After it returns OK the process can never leave the policy: no_new_privs is set, and the filter is
// inherited by threads created later. Call it once, after every start-up step that needs files or
// sockets (ARCHITECTURE.md §1).
#ifndef ISOBAR_SANDBOX_SECCOMP_INSTALL_H_
#define ISOBAR_SANDBOX_SECCOMP_INSTALL_H_

#include <string>

#include "absl/status/status.h"
#include "sandbox/seccomp_policy.h"

namespace isobar::sandbox {

enum class ViolationMode {
  // A call the policy does not allow kills the process with SIGSYS (production).
  kKillProcess,
  // --sandbox-debug: the process prints "seccomp violation: syscall <nr> (<name>)" on stderr, then
  // exits with status 159 (128 + SIGSYS). Never for hostile code: native code could catch the signal.
  kReport,
};

absl::Status InstallSeccompPolicy(const SeccompPolicy& policy, ViolationMode mode);

// The name of an x86_64 system call ("openat"), or "syscall_<nr>".
std::string SyscallName(int nr);

}  // namespace isobar::sandbox

#endif  // ISOBAR_SANDBOX_SECCOMP_INSTALL_H_
