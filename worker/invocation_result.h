// What an invocation produces, and the limits every invocation runs under.
#ifndef ISOBAR_WORKER_INVOCATION_RESULT_H_
#define ISOBAR_WORKER_INVOCATION_RESULT_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

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
  // For a user error: "\n    at fn (convex:/path.js:line:column)" per frame, the runtime's frames left out.
  std::string stack;
  std::vector<LogLine> logs;
  absl::Duration cpu_time;
  // The function (or module top-level code it depends on) read the clock.
  bool observed_time = false;
  bool snapshot_missing = false;  // Done.snapshot_missing
  std::vector<std::string> prefetch_used;  // Done.prefetched_used
};

struct EvaluatorLimits {
  // Convex's user heap is 64 MiB, with 32 MiB more as V8's hard limit, where it terminates (its
  // message says 64 MB). Ours is shared by the invocations of one deployment that a worker interleaves
  // (an action and the query it calls, say), and a 16 MiB value takes several copies on its way out
  // (base64, JSON): with 96 MiB, an action passing 16 MiB of arguments ran out after a first one.
  size_t max_heap_bytes = 128u << 20;
  size_t max_array_buffer_bytes = 64u << 20;  // per isolate, outside the V8 heap (Convex's 64 MiB)
  // One ArrayBuffer: Convex's cap (ISOLATE_MAX_ARRAY_BUFFER_TOTAL_SIZE, 64 MiB per isolate, where an
  // isolate runs one request at a time; ours interleave calls, which share the budget above).
  size_t max_array_buffer_one_bytes = 64u << 20;
  size_t max_log_lines = 256;
  size_t max_log_line_bytes = 32u << 10;
  size_t max_host_call_bytes = 48u << 20;  // a host call's JSON text (nested calls carry up to 16 MiB of arguments)
  size_t max_pending_async_syscalls = 10000;
  // Arguments and results crossing the process boundary, as JSON text. The supervisor holds them to
  // Convex's 16 MiB by value size (supervisor/runner/value_limits.h); their text may be larger (base64 bytes,
  // escapes), within the worker stream's 64 MiB frames.
  size_t max_value_bytes = 48u << 20;
  // Beyond what any Convex value nests (64): the supervisor checks values with Convex's messages; this
  // only keeps absurd depths from leaving the worker.
  int max_value_nesting = 256;
  // The isolate pool: at most this many deployments' isolates, and this much V8 heap in use in all.
  size_t max_isolates = 16;
  size_t isolate_memory_budget_bytes = 512u << 20;
  // Idle warm contexts kept per isolate: as many as invocations a worker interleaves (the supervisor
  // sends at most 16 at once), so that a busy deployment's calls never build contexts in warm mode
  // (with 4, at 8 calls in flight half of them made a context and evaluated their modules: ~2 ms each).
  size_t max_warm_contexts = 16;
  // An isolate whose heap is this full after an invocation is recycled.
  double recycle_heap_fraction = 0.8;
  // The worker-wide V8 code cache, keyed by module SHA-256.
  size_t max_code_cache_bytes = 64u << 20;
  // Startup snapshots per code version made in this process (version_snapshot.h): for tests and
  // benchmarks only. A serving worker never makes blobs; it gets them made by a snapshot maker process
  // (Invoke.snapshot). The blobs kept, either way (about 1.5 MB each):
  bool version_snapshots = false;
  size_t max_snapshot_bytes = 64u << 20;
};

}  // namespace isobar::worker

#endif  // ISOBAR_WORKER_INVOCATION_RESULT_H_
