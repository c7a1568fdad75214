// The worker's seccomp policy, installed: the only place that grants the JIT capability. Separate from
// worker_main so that programs that must run under exactly the worker's policy without V8 (the
// escape-matrix helper) can use it.
#ifndef ISOBAR_WORKER_SANDBOX_INSTALL_H_
#define ISOBAR_WORKER_SANDBOX_INSTALL_H_

#include "absl/status/status.h"
#include "sandbox/seccomp_install.h"

namespace isobar::worker {

// Installs the worker's seccomp policy on every thread of this process (TSYNC). Call after start-up;
// there is no way back.
absl::Status InstallWorkerSandbox(sandbox::ViolationMode mode);

}  // namespace isobar::worker

#endif  // ISOBAR_WORKER_SANDBOX_INSTALL_H_
