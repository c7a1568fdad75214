// V8 isolates by deployment: an isolate is never shared across deployments (SECURITY.md §2). The pool
// keeps at most `max_isolates` of them within a V8-heap budget, evicting the least recently used idle
// one; an isolate that was terminated, ran out of heap or is nearly full is retired: it takes no new
// invocations and is disposed of once its last one ends.
//
// Contexts: with the `fresh` policy every invocation gets a new context (one is created ahead, while
// the worker is idle: Prepare); with `warm` a context and the modules evaluated in it are kept for
// the deployment's next invocation of the same code version and determinism, and the prelude's
// per-request globals are reset on entry. Not thread-safe: the JS thread owns the pool.
#ifndef ISOBAR_WORKER_ISOLATE_POOL_H_
#define ISOBAR_WORKER_ISOLATE_POOL_H_

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "v8-context.h"
#include "v8-function.h"
#include "v8-isolate.h"
#include "v8-persistent-handle.h"
#include "v8-script.h"
#include "worker/capped_allocator.h"
#include "worker/invocation_result.h"

namespace isobar::worker {

class CodeCache;
struct PreloadPlan;
class VersionSnapshot;

// The isolates' WebAssembly gate: the context's kWasmSlot says whether code may compile.
bool AllowWasm(v8::Local<v8::Context> context, v8::Local<v8::String> source);
// A new context's embedder data (no invocation attached, the WebAssembly gate), and no WebAssembly
// global unless `wasm` (V8 installs it in every context, those made from a snapshot included).
void SetUpContext(v8::Local<v8::Context> context, bool wasm);

// Adds globals to every new context (tests add test-only operations; production adds none).
using ContextExtension = std::function<void(v8::Isolate*, v8::Local<v8::Context>)>;

enum class ContextPolicy { kFresh, kWarm };

// A context with the prelude installed, its enterInvocation function, and the modules evaluated in it.
struct JsContext {
  struct LoadedModule {
    std::string path;
    std::string sha256;
    v8::Global<v8::Module> module;
  };
  v8::Global<v8::Context> context;
  v8::Global<v8::Function> enter;
  std::vector<LoadedModule> modules;
  // What the context may serve: warm contexts and preloaded fresh ones (preload.h) only the same code
  // version (a digest of every module's path and SHA-256) and determinism. Empty: anything.
  std::string code_version;
  bool deterministic = true;
  // Console output of module top-level code evaluated ahead (preload.h), for the invocation.
  std::vector<LogLine> preload_logs;
  // Module top-level code read the clock: every invocation in this context depends on time.
  bool time_observed_at_import = false;
  // A copy of the isolate's version snapshot (version_snapshot.h): its modules, evaluated, by path
  // ({"messages.js": its exports}); empty for a context that imports ES modules.
  v8::Global<v8::Object> snapshot_modules;
  bool from_snapshot() const { return !snapshot_modules.IsEmpty(); }
};

class DeploymentIsolate {
 public:
  // With `snapshot`, the isolate is made from that version's blob (and keeps it).
  DeploymentIsolate(std::string deployment, bool wasm, const EvaluatorLimits& limits,
                    const std::vector<ContextExtension>& extensions, CodeCache& code_cache,
                    std::shared_ptr<const VersionSnapshot> snapshot = nullptr);
  ~DeploymentIsolate();
  DeploymentIsolate(const DeploymentIsolate&) = delete;
  DeploymentIsolate& operator=(const DeploymentIsolate&) = delete;

  const std::string& deployment() const { return deployment_; }
  // A spare isolate (made ahead, never used) becomes `deployment`'s.
  void Adopt(std::string deployment) { deployment_ = std::move(deployment); }
  bool wasm() const { return wasm_; }
  v8::Isolate* isolate() const { return isolate_; }
  const VersionSnapshot* snapshot() const { return snapshot_.get(); }
  const std::shared_ptr<const VersionSnapshot>& shared_snapshot() const { return snapshot_; }

  // A context for one invocation: an idle warm one of this code version and determinism (kWarm); with
  // `from_snapshot` (the version is the isolate's snapshot's), a copy of the snapshot's context
  // (prepared ahead or made now); otherwise the prepared one (if it was preloaded, only for the same
  // code version and determinism), or a new one. Null if the prelude failed.
  std::unique_ptr<JsContext> TakeContext(ContextPolicy policy, const std::string& code_version, bool deterministic,
                                         bool from_snapshot);
  // Keeps a warm context for reuse (the oldest idle one is dropped beyond the limit).
  void KeepWarm(std::unique_ptr<JsContext> context);
  // Creates the next fresh context now, if none is ready.
  void Prepare();
  bool prepared() const { return prepared_ != nullptr; }
  // A prepared context that has evaluated no module yet (and is no snapshot's).
  bool prepared_unloaded() const {
    return prepared_ != nullptr && prepared_->modules.empty() && !prepared_->from_snapshot();
  }
  // The prepared context, if it has evaluated no module yet (null otherwise); and back.
  std::unique_ptr<JsContext> TakeUnloadedPrepared();
  void SetPrepared(std::unique_ptr<JsContext> context) { prepared_ = std::move(context); }

  // Fresh contexts taken: made ahead (Prepare) or on the call.
  uint64_t contexts_prepared = 0;
  uint64_t contexts_on_call = 0;

  // V8 heap in use, measured when the isolate was last released (or created).
  size_t heap_in_use() const { return heap_in_use_; }
  void MeasureHeap();
  // The near-heap-limit callback fired: every invocation in this isolate must end.
  bool heap_exhausted() const { return heap_exhausted_; }
  // ArrayBuffer allocations the isolate's budget refused so far.
  uint64_t array_buffer_refusals() const { return allocator_->refusals(); }
  size_t array_buffer_bytes() const { return allocator_->used(); }  // held now, garbage included

  int active = 0;        // invocations using the isolate
  bool retiring = false;
  uint64_t last_used = 0;
  // What the next prepared context should evaluate ahead (preload.h): the last function call's module.
  std::shared_ptr<PreloadPlan> preload_plan;

 private:
  std::unique_ptr<JsContext> NewContext();
  std::unique_ptr<JsContext> NewSnapshotContext();
  static size_t NearHeapLimit(void* data, size_t current_limit, size_t initial_limit);

  std::string deployment_;
  const bool wasm_;
  const EvaluatorLimits& limits_;
  const std::vector<ContextExtension>& extensions_;
  CodeCache& code_cache_;
  const std::shared_ptr<const VersionSnapshot> snapshot_;  // outlives isolate_
  std::unique_ptr<CappedArrayBufferAllocator> allocator_;
  v8::Isolate* isolate_ = nullptr;
  v8::Global<v8::UnboundScript> prelude_;  // compiled once per isolate
  bool heap_exhausted_ = false;
  bool raised_limit_ = false;  // NearHeapLimit gave room once already
  size_t heap_in_use_ = 0;
  std::unique_ptr<JsContext> prepared_;
  std::list<std::unique_ptr<JsContext>> warm_;  // idle, most recently used first
};

struct IsolateStats {
  uint64_t hits = 0;       // an invocation found its deployment's isolate
  uint64_t misses = 0;     // ... and one had to be created
  uint64_t evictions = 0;  // idle isolates dropped for the count or memory budget
  uint64_t recycles = 0;   // isolates retired after a termination, heap exhaustion or a full heap
  uint64_t creations = 0;  // spares included
  uint64_t contexts_prepared = 0;  // invocations whose fresh context was made ahead, while idle
  uint64_t contexts_on_call = 0;   // ... and those that waited for one to be made
  size_t isolates = 0;     // cached now (retiring ones included)
  size_t heap_in_use_bytes = 0;
};

class IsolatePool {
 public:
  // `code_cache` must outlive the pool.
  IsolatePool(const EvaluatorLimits& limits, std::vector<ContextExtension> extensions, CodeCache& code_cache);
  ~IsolatePool();

  // The deployment's isolate, created on a miss (or when its wasm setting changed, or when `snapshot`
  // is given and the isolate is not made from it); counted as in use until Release.
  DeploymentIsolate* Acquire(const std::string& deployment, bool wasm,
                             std::shared_ptr<const VersionSnapshot> snapshot = nullptr);
  // The invocation using `isolate` ended. Disposes of a retired isolate once idle, retires a nearly full
  // one, and evicts idle isolates beyond the count or memory budget.
  void Release(DeploymentIsolate* isolate);
  // No new invocations in `isolate`.
  void Retire(DeploymentIsolate* isolate);
  // Idle work: disposes of evicted and retired isolates, makes a spare isolate (with a context ready)
  // for the next deployment that has none, and prepares the next context of the most recently used
  // isolate.
  void Prepare();
  // Whether Prepare has anything to do.
  bool HasIdleWork() const;
  // The isolate of the latest Acquire, while it is live (null after its eviction or retirement).
  DeploymentIsolate* most_recent() const { return most_recent_; }
  // The snapshot named `key` that `deployment`'s live isolate was made from, if it was (a blob the
  // worker's store has let go of may still serve there).
  std::shared_ptr<const VersionSnapshot> LiveSnapshot(const std::string& deployment, const std::string& key) const;

  IsolateStats stats() const;

 private:
  void Evict();
  void DisposeIfIdle(DeploymentIsolate* isolate);
  void Discard(std::unique_ptr<DeploymentIsolate> isolate);

  const EvaluatorLimits& limits_;
  const std::vector<ContextExtension> extensions_;
  CodeCache& code_cache_;
  absl::flat_hash_map<std::string, std::unique_ptr<DeploymentIsolate>> live_;
  std::vector<std::unique_ptr<DeploymentIsolate>> retired_;
  // Isolates no longer used, disposed of when the worker is idle (Isolate::Dispose costs about 0.2 ms:
  // not on a request's path), or at once beyond a few.
  std::vector<std::unique_ptr<DeploymentIsolate>> unused_;
  uint64_t clock_ = 0;
  DeploymentIsolate* most_recent_ = nullptr;
  // Made while idle so that a deployment's first invocation need not create an isolate; it has never
  // run anything when a deployment adopts it (isolates are still never shared).
  std::unique_ptr<DeploymentIsolate> spare_;
  IsolateStats stats_;
};

}  // namespace isobar::worker

#endif  // ISOBAR_WORKER_ISOLATE_POOL_H_
