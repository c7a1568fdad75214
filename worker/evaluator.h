// Runs JavaScript for invocations on the worker's JS thread: development evals and Convex function
// calls, in the same isolate management, bindings and completion loop.
//
//   Evaluator evaluator(host_calls, watchdog, {});                 // on the JS thread
//   InvocationResult r = evaluator.Eval(InvocationId(1), "1 + 2", absl::Seconds(1));
//   r.result_json == "3"
//   InvocationResult q = evaluator.Call(InvocationId(2), call, {.seed = 7, .unix_time_ms = now},
//                                       absl::Seconds(1));
//
// Each invocation gets a fresh context in which runtime-js/prelude.js has installed `Convex`
// (syscall, asyncSyscall), `process.env` and, for queries and mutations, determinism (seeded
// Math.random, fixed Date, no fetch or timers). `console` is captured (at most 256 lines, 32 KiB
// each). Function calls load the deployment's ES modules (relative imports resolved among them; each
// module's bytes must match its SHA-256 before it is compiled) and call the export's invokeQuery /
// invokeMutation / invokeAction (CONVEX_ABI.md §3).
//
// Async syscalls follow CONVEX_ABI.md §2.10: asyncSyscall only queues; after each microtask checkpoint
// the queue's next batch (consecutive 1.0/get and 1.0/queryStreamNext, up to 16; anything else alone)
// is performed and its promises settle in order. When nothing is queued and the result is still
// pending, the invocation fails with "Returned promise will never resolve". An unhandled rejection
// fails it too.
//
// Limits: the CPU budget (watchdog), a 64 MiB heap (the near-heap-limit callback ends the invocation),
// code generation from strings refused, Atomics.wait off. After a termination or heap exhaustion the
// isolate is discarded. Not thread-safe: construct and use it on one thread.
#ifndef ISOBAR_WORKER_EVALUATOR_H_
#define ISOBAR_WORKER_EVALUATOR_H_

#include <time.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "base/strong_id.h"
#include "isobar/worker/v1/worker.pb.h"
#include "v8-array-buffer.h"
#include "v8-context.h"
#include "v8-isolate.h"
#include "worker/capped_allocator.h"
#include "worker/host_calls.h"
#include "worker/watchdog.h"

namespace isobar::worker {

struct LogLine {
  std::string level;
  std::string message;
};

struct InvocationResult {
  // The value as JSON ("" for undefined), or the failure: UNKNOWN for an exception thrown by user code,
  // DEADLINE_EXCEEDED for the CPU budget, RESOURCE_EXHAUSTED for the heap.
  absl::StatusOr<std::string> result_json;
  // The failure was raised by user code (its message may be shown to the caller).
  bool user_error = false;
  // A ConvexError's data, as Convex JSON.
  std::optional<std::string> convex_error_data;
  std::vector<LogLine> logs;
  absl::Duration cpu_time;
};

// Per-invocation inputs that make queries and mutations deterministic.
struct InvocationEnvironment {
  uint64_t seed = 0;
  double unix_time_ms = 0;
};

// Adds globals to every new context (tests add test-only operations; production adds none).
using ContextExtension = std::function<void(v8::Isolate*, v8::Local<v8::Context>)>;

struct EvaluatorLimits {
  size_t max_heap_bytes = 64u << 20;
  size_t max_array_buffer_bytes = 128u << 20;  // outside the V8 heap
  size_t max_log_lines = 256;
  size_t max_log_line_bytes = 32u << 10;
  size_t max_host_call_bytes = 16u << 20;
  size_t max_pending_async_syscalls = 10000;
};

class Evaluator {
 public:
  // `host` and `watchdog` are not owned and must outlive the evaluator.
  Evaluator(HostCalls& host, Watchdog& watchdog, std::vector<ContextExtension> extensions,
            EvaluatorLimits limits = {});
  ~Evaluator();
  Evaluator(const Evaluator&) = delete;
  Evaluator& operator=(const Evaluator&) = delete;

  // Evaluates `source` as a classic script; a returned promise is driven to completion.
  InvocationResult Eval(InvocationId id, absl::string_view source, absl::Duration cpu_budget);

  // Runs one Convex function (see the header comment).
  InvocationResult Call(InvocationId id, const isobar::worker::v1::FunctionCall& call,
                        const InvocationEnvironment& environment, absl::Duration cpu_budget);

  // Creates the next invocation's context now (Context::New and the prelude cost about a millisecond
  // on this V8), so that it is off the request path. Call when idle; a no-op if one is ready. Every
  // context still serves exactly one invocation.
  void Prepare();

  // Isolates made so far (1 + the number of recycles).
  int isolates_created() const { return isolates_created_; }

  // One invocation's state: an implementation detail of evaluator.cc (public only so that the V8
  // callbacks there can name it).
  struct Run;

 private:
  InvocationResult Execute(InvocationId id, bool deterministic, const InvocationEnvironment& environment,
                           absl::Duration cpu_budget,
                           const std::function<v8::MaybeLocal<v8::Value>(Run&, v8::Local<v8::Context>)>& body);
  void NewIsolate();
  void DisposeIsolate();
  static size_t NearHeapLimit(void* data, size_t current_limit, size_t initial_limit);

  // A context with the prelude installed, and the prelude's enterInvocation(params).
  struct PreparedContext {
    v8::Global<v8::Context> context;
    v8::Global<v8::Function> enter;
  };
  // A context ready for an invocation: the prepared one, or a new one.
  std::optional<PreparedContext> TakeContext();
  std::optional<PreparedContext> NewContext();

  HostCalls& host_;
  Watchdog& watchdog_;
  const std::vector<ContextExtension> extensions_;
  const EvaluatorLimits limits_;
  const clockid_t js_thread_clock_;
  std::unique_ptr<CappedArrayBufferAllocator> allocator_;
  v8::Isolate* isolate_ = nullptr;
  bool heap_exhausted_ = false;
  int isolates_created_ = 0;
  std::optional<PreparedContext> prepared_;
};

}  // namespace isobar::worker

#endif  // ISOBAR_WORKER_EVALUATOR_H_
