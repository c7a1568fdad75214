// The capability to map executable memory (PROT_EXEC), which V8's JIT needs and nothing else in a
// worker should have. A JitCapability can only be obtained from GrantJitCapability(), whose target
// (//sandbox:jit_capability) is visible to the worker's package alone: any other code that wants
// executable memory in a policy has to change that visibility in review (sandbox2's MapExec token).
#ifndef ISOBAR_SANDBOX_JIT_CAPABILITY_H_
#define ISOBAR_SANDBOX_JIT_CAPABILITY_H_

#include "sandbox/seccomp_policy.h"

namespace isobar::sandbox {

JitCapability GrantJitCapability();

}  // namespace isobar::sandbox

#endif  // ISOBAR_SANDBOX_JIT_CAPABILITY_H_
