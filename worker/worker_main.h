// The worker process: started by the supervisor with the channel on fd 3.
//
//   worker --worker-id=N [--channel-fd=3] [--sandbox=kill|report|off]
//
// Start-up order (ARCHITECTURE.md §1): V8 and ICU, the channel, a warm-up evaluation that touches
// V8's lazily-initialised paths, then the seccomp filter (TSYNC), then Hello, then serve invocations
// until the supervisor closes the stream. Once sandboxed the process leaves with _exit: library
// destructors may need system calls the filter refuses.
#ifndef ISOBAR_WORKER_WORKER_MAIN_H_
#define ISOBAR_WORKER_WORKER_MAIN_H_

#include <vector>

#include "absl/status/status.h"
#include "worker/evaluator.h"
#include "worker/sandbox_install.h"

namespace isobar::worker {

// `extensions` add globals to every context: empty in production; test binaries add test-only ops.
int WorkerMain(int argc, char** argv, std::vector<ContextExtension> extensions);

// Touches every lazily initialised path of V8, the runtime, OpenSSL and the kernel that invocations
// use (the prelude, modules and the code cache, digests, randomness), so that none is first reached
// under the filter.
absl::Status WarmUpWorker(Evaluator& evaluator);

}  // namespace isobar::worker

#endif  // ISOBAR_WORKER_WORKER_MAIN_H_
