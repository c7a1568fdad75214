// Preloading a fresh context: while the worker is idle, the next context of the most recently used
// isolate evaluates the module that isolate's last function call ran, with everything it imports
// (notably the official CLI's `_deps/` chunks, ~75 KB of the convex library that otherwise evaluates
// again in every fresh context). Such a context has run no function: it still serves exactly one
// invocation, and only one whose modules (every path and SHA-256) and determinism are the plan's.
//
// Module top-level code runs as at import time (no database), but with no invocation at all: any host
// call, a pending promise, an exception, an unhandled rejection or the CPU budget abandons the preload
// (the plan is then marked failed and the modules evaluate per invocation, as without preloading).
// Top-level code sees the preload's time and a random seed; the invocation's own seed and time apply
// from its entry. Top-level console output is kept and handed to the invocation that takes the context.
#ifndef ISOBAR_WORKER_PRELOAD_H_
#define ISOBAR_WORKER_PRELOAD_H_

#include <time.h>

#include <cstdint>

#include <memory>
#include <string>

#include "isobar/worker/v1/worker.pb.h"
#include "worker/invocation_result.h"
#include "worker/isolate_pool.h"
#include "worker/watchdog.h"

namespace isobar::worker {

class CodeCache;

struct PreloadPlan {
  std::string code_version;  // the digest of every module's (path, SHA-256)
  std::string entry;         // the module to evaluate
  bool deterministic = true;
  // The version's pinned import phase (Invoke.import_seed / import_unix_time_ms); time 0: none.
  uint64_t import_seed = 0;
  double import_unix_time_ms = 0;
  google::protobuf::RepeatedPtrField<isobar::worker::v1::Module> modules;
  bool failed = false;  // a preload of this plan was abandoned: not tried again
};

struct PreloadEnvironment {
  const EvaluatorLimits& limits;
  CodeCache& code_cache;
  Watchdog& watchdog;
  clockid_t js_thread_clock;
  absl::Duration cpu_budget;
};

// Evaluates `plan.entry` in `context` (a new context of `isolate`, never used). The context, marked
// with the plan's code version and determinism, or null if the preload was abandoned (`plan.failed`
// is then set).
std::unique_ptr<JsContext> PreloadContext(DeploymentIsolate& isolate, std::unique_ptr<JsContext> context,
                                          PreloadPlan& plan, const PreloadEnvironment& environment);

}  // namespace isobar::worker

#endif  // ISOBAR_WORKER_PRELOAD_H_
