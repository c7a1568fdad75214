// Runs invocations on the worker's JS thread: development evals, Convex function calls and deploy-time
// analysis, interleaved. One thread, many invocations: while one waits for host results, others run.
//
//   Evaluator evaluator(host_calls, watchdog, {});                  // on the JS thread
//   Evaluator::Step step = evaluator.Start(std::move(invoke));
//   while (!step.done) {
//     ... send each of step.batches; when all the results of one are in (other invocations may Start
//     meanwhile, and other batches of this one may still be out) ...
//     step = evaluator.Resume(id, batch.id, std::move(results));
//   }
//   SendDone(*step.done);
//
// `Run` does exactly that with the synchronous HostCalls given at construction (tests, the warm-up,
// benchmarks).
//
// Each invocation runs in its deployment's isolate (IsolatePool), in a fresh context (or a warm one,
// by the Invoke's context policy) where runtime-js's prelude installed `Convex`, `process.env`,
// console, the Web APIs and, for queries and mutations, determinism. Function calls load the
// deployment's ES modules (module_loader.h) and call invokeQuery / invokeMutation / invokeAction
// (CONVEX_ABI.md §3); Analyze evaluates every module and describes its exports (analyze.h).
//
// Async syscalls follow CONVEX_ABI.md §2.10: asyncSyscall only queues; after each microtask checkpoint
// the queue's next batch (consecutive 1.0/get and 1.0/queryStreamNext, up to 16; anything else alone)
// is handed to the caller in `batches`, and its promises settle in order on Resume. A query or
// mutation has one batch out at a time; an action sends every queued call at once, each its own batch,
// so a fetch, a timer and a nested call wait side by side. When nothing is queued or out and the
// result is still pending, the invocation fails with "Returned promise will never resolve"; an
// unhandled rejection fails it too. Synchronous syscalls block the thread (HostCalls).
//
// Limits: a CPU budget counted only while the invocation's JS runs (watchdog), 64 MiB of heap (the
// near-heap-limit callback ends the invocations of that isolate, not the worker), arguments and
// results of at most 16 MiB and nesting 64, code generation from strings refused, Atomics.wait off,
// WebAssembly only where the Invoke allows it. An isolate is retired after a termination or heap
// exhaustion. Not thread-safe: construct and use it on one thread.
#ifndef ISOBAR_WORKER_EVALUATOR_H_
#define ISOBAR_WORKER_EVALUATOR_H_

#include <time.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "base/strong_id.h"
#include "isobar/worker/v1/worker.pb.h"
#include "worker/host_calls.h"
#include "worker/invocation_result.h"
#include "worker/isolate_pool.h"
#include "worker/watchdog.h"

namespace isobar::worker {

struct Invocation;
class CodeCache;
class SnapshotStore;
class VersionSnapshot;
struct SnapshotRequest;
struct SnapshotStats;

// Per-invocation inputs that make queries and mutations deterministic.
struct InvocationEnvironment {
  uint64_t seed = 0;
  double unix_time_ms = 0;
};

// An async host call an invocation waits for.
struct HostRequest {
  std::string op;
  std::string args_json;
};
// Calls answered together (their promises settle in one turn).
struct HostBatch {
  uint64_t id = 0;
  std::vector<HostRequest> calls;
  // Invoke.prefetched ids the invocation read since its last batch (HostCall.prefetched_used).
  std::vector<std::string> prefetched_used;
};

class Evaluator {
 public:
  // The outcome of Start or Resume: finished, or batches of host calls to send (possibly none, while
  // an action waits for batches sent before).
  struct Step {
    std::optional<InvocationResult> done;
    std::vector<HostBatch> batches;
  };

  // `host` and `watchdog` are not owned and must outlive the evaluator.
  Evaluator(HostCalls& host, Watchdog& watchdog, std::vector<ContextExtension> extensions,
            EvaluatorLimits limits = {});
  ~Evaluator();
  Evaluator(const Evaluator&) = delete;
  Evaluator& operator=(const Evaluator&) = delete;

  // Starts an invocation (its id must not be running already).
  Step Start(isobar::worker::v1::Invoke invoke);
  // Continues `id` with the results of its batch `batch`, in the order of its calls.
  Step Resume(InvocationId id, uint64_t batch, std::vector<absl::StatusOr<std::string>> results);
  // Adds a nested function call's log lines to `id`'s log (within its limits).
  void AddLogs(InvocationId id, std::vector<LogLine> lines);
  // Drops a waiting invocation; its result is no longer wanted.
  void Cancel(InvocationId id);
  // Invocations started and not finished.
  size_t running() const { return running_.size(); }

  // Start + Resume until done, performing host calls one by one through the construction-time host.
  InvocationResult Run(isobar::worker::v1::Invoke invoke);
  // Conveniences over Run, in the development isolate ("" deployment).
  InvocationResult Eval(InvocationId id, absl::string_view source, absl::Duration cpu_budget);
  InvocationResult Call(InvocationId id, const isobar::worker::v1::FunctionCall& call,
                        const InvocationEnvironment& environment, absl::Duration cpu_budget);

  // Creates the most recently used isolate's next context now (Context::New and the prelude cost about
  // a millisecond on this V8), and evaluates in it the module of that isolate's last function call
  // (preload.h), so that both are off the request path. Call when idle.
  void Prepare();
  // Whether Prepare has anything to do (it would spend time).
  bool HasIdleWork() const;

  // For a snapshot maker process (--make-snapshot): the blob of `classic`'s version, made here in a
  // creator isolate (version_snapshot.h), or FAILED_PRECONDITION saying why the version cannot have one.
  absl::StatusOr<std::shared_ptr<const VersionSnapshot>> MakeSnapshotBlob(std::string key,
                                                                         const isobar::worker::v1::Module& classic,
                                                                         bool wasm);
  // Keeps a blob a snapshot maker made (HostMessage.snapshot_blob), for the calls that name it.
  void AddSnapshot(isobar::worker::v1::VersionBlob blob);

  IsolateStats isolate_stats() const;
  const SnapshotStats& snapshot_stats() const;
  const CodeCache& code_cache() const { return *code_cache_; }

 private:
  // Convex's warning for calls an action started and did not await (they are dropped).
  static void WarnUnawaited(Invocation& inv);
  Step Advance(Invocation& invocation, const std::function<bool(Invocation&, v8::Local<v8::Context>)>& before);
  Step Finish(std::unique_ptr<Invocation> invocation, InvocationResult result, bool retire_isolate);
  // After a successful function call: what the isolate's next fresh context should evaluate ahead.
  void UpdatePreloadPlan(Invocation& invocation);
  // The isolate whose next fresh context Prepare would evaluate modules in: the most recently used
  // one, if it has a preload plan that has not failed (null otherwise).
  DeploymentIsolate* PreloadCandidate() const;
  // The snapshot of the function call's version (version_snapshot.h): the one its Invoke names (with
  // the blob, or sent before); or, with EvaluatorLimits::version_snapshots, made here already, or made
  // now if the version was called before and is still waiting for idle time. Null if it has none (yet).
  std::shared_ptr<const VersionSnapshot> SnapshotFor(Invocation& invocation);
  std::shared_ptr<const VersionSnapshot> MakeSnapshot(const SnapshotRequest& request);

  HostCalls& host_;
  Watchdog& watchdog_;
  const EvaluatorLimits limits_;
  const clockid_t js_thread_clock_;
  std::unique_ptr<CodeCache> code_cache_;
  std::unique_ptr<SnapshotStore> snapshots_;  // before pool_: isolates keep the blobs they use anyway
  std::unique_ptr<IsolatePool> pool_;
  absl::flat_hash_map<InvocationId, std::unique_ptr<Invocation>> running_;
};

}  // namespace isobar::worker

#endif  // ISOBAR_WORKER_EVALUATOR_H_
