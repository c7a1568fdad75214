// One invocation's state while it runs on the worker's JS thread: an implementation detail shared by
// the evaluator, the native bindings and the module loader. Bindings find it through their context's
// embedder data (kInvocationSlot), never through a global.
#ifndef ISOBAR_WORKER_INVOCATION_H_
#define ISOBAR_WORKER_INVOCATION_H_

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/strong_id.h"
#include "isobar/worker/v1/worker.pb.h"
#include "v8-context.h"
#include "v8-persistent-handle.h"
#include "v8-promise.h"
#include "worker/host_calls.h"
#include "worker/invocation_result.h"
#include "worker/isolate_pool.h"

namespace isobar::worker {

class CodeCache;

// The context embedder-data slot that points at the Invocation using the context.
inline constexpr int kInvocationSlot = 1;
// The context embedder-data slot that says whether WebAssembly may compile (a Boolean).
inline constexpr int kWasmSlot = 2;

struct Invocation {
  struct PendingAsync {
    std::string op;
    std::string args;
    v8::Global<v8::Promise::Resolver> resolver;
  };
  // One step of the invocation, run in its context: given the previous step's settled value, returns
  // the next value (a promise is awaited before the following step) or nothing on an exception or a
  // `failure`. The last step returns the result as a JSON string.
  using Step = std::function<v8::MaybeLocal<v8::Value>(Invocation&, v8::Local<v8::Context>, v8::Local<v8::Value>)>;

  static Invocation* Of(v8::Local<v8::Context> context) {
    return static_cast<Invocation*>(context->GetAlignedPointerFromEmbedderData(kInvocationSlot));
  }

  isobar::worker::v1::Invoke invoke;  // owns the module sources
  InvocationId id;
  HostCalls* host = nullptr;
  const EvaluatorLimits* limits = nullptr;
  CodeCache* code_cache = nullptr;
  DeploymentIsolate* isolate = nullptr;  // acquired from the pool until the invocation ends
  std::unique_ptr<JsContext> context;
  bool deterministic = true;
  // Modules are being evaluated (the Importing phase): no database, dynamic import() allowed.
  bool importing = false;

  std::vector<LogLine> logs;
  bool logs_truncated = false;
  bool observed_time = false;  // Date.now() or new Date() was called
  bool snapshot_missing = false;  // its Invoke named a snapshot this worker no longer has
  std::deque<PendingAsync> queue;  // asyncSyscalls not yet sent
  // Invoke.prefetched answers the invocation's db.get of those ids while it has made no other call
  // than reads; the ids it answered since it last said so (in a batch, or in Done).
  bool prefetch_valid = true;
  std::vector<std::string> prefetch_used;
  size_t prefetch_answered = 0;  // (bounded: kMaxPrefetchAnswers, then the host answers)
  // The batches the host is answering, by id: a query's or mutation's one at a time; an action's all
  // at once (`concurrent`: its fetches, timers and nested calls run side by side, as on Convex).
  std::map<uint64_t, std::vector<PendingAsync>> in_flight;
  uint64_t next_batch = 1;
  size_t in_flight_calls = 0;
  bool concurrent = false;
  // Rejected promises nobody handled (yet): promise, reason.
  std::vector<std::pair<v8::Global<v8::Promise>, v8::Global<v8::Value>>> unhandled;
  // A failure that is not a JS exception (never resolves, a bad module, ...).
  absl::Status failure;
  bool failure_is_user = true;
  std::map<std::string, const isobar::worker::v1::Module*> sources;

  std::vector<Step> steps;
  size_t next_step = 0;
  v8::Global<v8::Promise> awaiting;  // the promise the next step waits for
  // The function's result while calls it did not await still run (they finish before it returns).
  v8::Global<v8::Value> dangling_result;

  absl::Duration cpu_budget;
  absl::Duration cpu_used;
};

}  // namespace isobar::worker

#endif  // ISOBAR_WORKER_INVOCATION_H_
