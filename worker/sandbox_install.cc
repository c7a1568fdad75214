#include "worker/sandbox_install.h"

#include <unistd.h>

#include "sandbox/jit_capability.h"
#include "sandbox/worker_policy.h"

namespace isobar::worker {

absl::Status InstallWorkerSandbox(sandbox::ViolationMode mode) {
  const sandbox::JitCapability jit = sandbox::GrantJitCapability();  // V8 compiles to machine code
  absl::StatusOr<sandbox::SeccompPolicy> policy = sandbox::WorkerPolicy(getpid(), &jit);
  if (!policy.ok()) return policy.status();
  return sandbox::InstallSeccompPolicy(*policy, mode);
}

}  // namespace isobar::worker
