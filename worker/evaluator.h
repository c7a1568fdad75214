// Runs JavaScript for invocations, on the worker's JS thread.
//
//   Evaluator evaluator(host_calls, watchdog, {});      // on the JS thread
//   InvocationResult r = evaluator.Eval(InvocationId(1), "1 + 2", absl::Seconds(1));
//   r.result_json == "3"
//
// Each invocation gets a fresh context in the worker's isolate, with:
//   Convex.syscall(op, argsJson) -> string            a host call (blocks until answered)
//   Convex.asyncSyscall(op, argsJson) -> Promise<string>
//   console.log/info/warn/error/debug                 captured as log lines (at most 256, 32 KiB each)
// Code generation from strings (eval, new Function) is refused. The CPU budget is enforced by the
// watchdog; a heap near its limit (64 MiB) ends the invocation. After either, the isolate is discarded
// and a new one is made for the next invocation, so nothing of a terminated run survives.
//
// Not thread-safe: construct and use it on one thread (the JS thread).
#ifndef ISOBAR_WORKER_EVALUATOR_H_
#define ISOBAR_WORKER_EVALUATOR_H_

#include <time.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "base/strong_id.h"
#include "v8-array-buffer.h"
#include "v8-context.h"
#include "v8-isolate.h"
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
  std::vector<LogLine> logs;
  absl::Duration cpu_time;
};

// Adds globals to every new context (tests add test-only operations; production adds none).
using ContextExtension = std::function<void(v8::Isolate*, v8::Local<v8::Context>)>;

struct EvaluatorLimits {
  size_t max_heap_bytes = 64u << 20;
  size_t max_log_lines = 256;
  size_t max_log_line_bytes = 32u << 10;
  size_t max_host_call_bytes = 16u << 20;
};

class Evaluator {
 public:
  // `host` and `watchdog` are not owned and must outlive the evaluator.
  Evaluator(HostCalls& host, Watchdog& watchdog, std::vector<ContextExtension> extensions,
            EvaluatorLimits limits = {});
  ~Evaluator();
  Evaluator(const Evaluator&) = delete;
  Evaluator& operator=(const Evaluator&) = delete;

  // Evaluates `source` as a script; a returned promise is awaited (by running microtasks).
  InvocationResult Eval(InvocationId id, absl::string_view source, absl::Duration cpu_budget);

  // Isolates made so far (1 + the number of recycles).
  int isolates_created() const { return isolates_created_; }

 private:
  void NewIsolate();
  void DisposeIsolate();
  static size_t NearHeapLimit(void* data, size_t current_limit, size_t initial_limit);

  HostCalls& host_;
  Watchdog& watchdog_;
  const std::vector<ContextExtension> extensions_;
  const EvaluatorLimits limits_;
  const clockid_t js_thread_clock_;
  std::unique_ptr<v8::ArrayBuffer::Allocator> allocator_;
  v8::Isolate* isolate_ = nullptr;
  bool heap_exhausted_ = false;
  int isolates_created_ = 0;
};

}  // namespace isobar::worker

#endif  // ISOBAR_WORKER_EVALUATOR_H_
