#include "sandbox/jit_capability.h"

namespace isobar::sandbox {

JitCapability GrantJitCapability() { return JitCapability(); }

}  // namespace isobar::sandbox
