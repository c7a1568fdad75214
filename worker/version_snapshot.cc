#include "worker/version_snapshot.h"

#include <algorithm>
#include <iterator>
#include <utility>
#include <vector>

#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "base/sha256.h"
#include "v8-container.h"
#include "v8-context.h"
#include "v8-exception.h"
#include "v8-function.h"
#include "v8-isolate.h"
#include "v8-local-handle.h"
#include "v8-microtask-queue.h"
#include "v8-primitive.h"
#include "v8-profiler.h"
#include "v8-script.h"
#include "worker/bindings.h"
#include "worker/host_calls.h"
#include "worker/invocation.h"
#include "worker/isolate_pool.h"
#include "worker/js_turn.h"
#include "worker/js_util.h"
#include "worker/module_loader.h"

namespace isobar::worker {

using isobar::worker::v1::Module;

namespace {

// The import phase's values in both runs. Top-level code that reads either is refused a snapshot, so
// they never reach an invocation; each invocation enters with its own.
constexpr uint64_t kSeed = 0x15063a7c0ffee;
constexpr double kTime = 1.7e12;

absl::Status Refuse(absl::string_view why) {
  return absl::FailedPreconditionError(absl::StrCat("its modules' top-level code ", why));
}

absl::btree_set<std::string> GlobalNames(v8::Local<v8::Context> context) {
  absl::btree_set<std::string> names;
  v8::Local<v8::Array> keys;
  if (!context->Global()
           ->GetOwnPropertyNames(context, static_cast<v8::PropertyFilter>(v8::ALL_PROPERTIES | v8::SKIP_SYMBOLS))
           .ToLocal(&keys)) {
    return names;
  }
  for (uint32_t i = 0; i < keys->Length(); ++i) {
    v8::Local<v8::Value> key;
    if (keys->Get(context, i).ToLocal(&key)) names.insert(ToUtf8(context->GetIsolate(), key));
  }
  return names;
}

// What top-level code can tell about its realm without calling anything: the global object's own
// property names (symbols left out) and Error's (stackTraceLimit), as "Error.<name>".
absl::btree_set<std::string> RealmShape(v8::Local<v8::Context> context) {
  absl::btree_set<std::string> names = GlobalNames(context);
  v8::Isolate* isolate = context->GetIsolate();
  v8::Local<v8::Value> error;
  v8::Local<v8::Array> keys;
  if (context->Global()->Get(context, NewString(isolate, "Error")).ToLocal(&error) && error->IsObject() &&
      error.As<v8::Object>()
          ->GetOwnPropertyNames(context, static_cast<v8::PropertyFilter>(v8::ALL_PROPERTIES | v8::SKIP_SYMBOLS))
          .ToLocal(&keys)) {
    for (uint32_t i = 0; i < keys->Length(); ++i) {
      v8::Local<v8::Value> key;
      if (keys->Get(context, i).ToLocal(&key)) names.insert(absl::StrCat("Error.", ToUtf8(isolate, key)));
    }
  }
  return names;
}

// Math.random() as the context has it now.
std::optional<double> NextRandom(v8::Local<v8::Context> context) {
  v8::Isolate* isolate = context->GetIsolate();
  v8::Local<v8::Value> math;
  v8::Local<v8::Value> random;
  v8::Local<v8::Value> value;
  if (!context->Global()->Get(context, NewString(isolate, "Math")).ToLocal(&math) || !math->IsObject() ||
      !math.As<v8::Object>()->Get(context, NewString(isolate, "random")).ToLocal(&random) || !random->IsFunction() ||
      !random.As<v8::Function>()->Call(context, math, 0, nullptr).ToLocal(&value) || !value->IsNumber()) {
    return std::nullopt;
  }
  return value.As<v8::Number>()->Value();
}

// Runs the script in `context` (entered, with `enter` called) and checks what its top-level code did;
// its modules object (the global removed) when it may be kept. `shape` is the realm's shape before the
// script: recorded when empty (the trial), else required (the snapshot's isolate must offer the same
// realm, or the trial's verdict would not hold there).
absl::StatusOr<v8::Local<v8::Object>> RunScript(v8::Local<v8::Context> context, v8::Local<v8::Function> enter,
                                                const Module& classic, Invocation& inv, RefusingHostCalls& host,
                                                absl::btree_set<std::string>& shape) {
  v8::Isolate* isolate = context->GetIsolate();
  const absl::btree_set<std::string> now = RealmShape(context);
  if (shape.empty()) {
    shape = now;
  } else if (shape != now) {
    std::vector<std::string> differences;
    std::set_symmetric_difference(shape.begin(), shape.end(), now.begin(), now.end(), std::back_inserter(differences));
    return absl::InternalError(absl::StrCat("the snapshot isolate's realm differs from the trial's: ",
                                            absl::StrJoin(differences, ", ")));
  }
  const absl::btree_set<std::string> before = GlobalNames(context);
  v8::ScriptOrigin origin(isolate, NewString(isolate, absl::StrCat("convex:/", kClassicBundlePath)));
  v8::ScriptCompiler::Source source(NewString(isolate, classic.source()), origin);
  v8::Local<v8::Script> script;
  v8::Local<v8::Value> ignored;
  if (!v8::ScriptCompiler::Compile(context, &source).ToLocal(&script) || !script->Run(context).ToLocal(&ignored)) {
    return Refuse("throws, or does not compile as one script");
  }
  isolate->PerformMicrotaskCheckpoint();
  if (isolate->IsExecutionTerminating()) return Refuse("ran out of time or memory");
  if (host.tried()) return Refuse("reads from outside (process.env, the database or another host call)");
  if (inv.observed_time) return Refuse("reads the clock");
  if (!inv.logs.empty()) return Refuse("logs");
  if (!inv.queue.empty() || !inv.unhandled.empty()) return Refuse("leaves asynchronous work or a rejection behind");
  // Randomness drawn shows as a sequence moved on: the next number is not the seed's first.
  const std::optional<double> next = NextRandom(context);
  if (!EnterInvocation(context, enter, /*deterministic=*/true, kSeed, kTime)) return Refuse("changes the runtime");
  const std::optional<double> first = NextRandom(context);
  if (!next.has_value() || next != first) return Refuse("draws random numbers");

  v8::Local<v8::String> key = NewString(isolate, kClassicModulesGlobal);
  v8::Local<v8::Value> modules;
  if (!context->Global()->Get(context, key).ToLocal(&modules) || !modules->IsObject() ||
      !context->Global()->Delete(context, key).FromMaybe(false)) {
    return absl::FailedPreconditionError(absl::StrCat(kClassicBundlePath, " does not set globalThis.", kClassicModulesGlobal));
  }
  // Globals one module's top-level code sets would be seen by every module's functions (on Convex a
  // function sees those of the modules its own module imports).
  if (GlobalNames(context) != before) return Refuse("adds or removes globals");
  return modules.As<v8::Object>();
}

// The ids of the objects in the isolate's heap now, numbers included (V8 keeps an object's id from one
// heap snapshot to the next). Runs a full garbage collection first.
absl::flat_hash_set<v8::SnapshotObjectId> HeapObjectIds(v8::Isolate* isolate) {
  absl::flat_hash_set<v8::SnapshotObjectId> ids;
  const v8::HeapSnapshot* heap = isolate->GetHeapProfiler()->TakeHeapSnapshot(
      nullptr, nullptr, /*treat_global_objects_as_roots=*/true, /*capture_numeric_value=*/true);
  ids.reserve(static_cast<size_t>(heap->GetNodesCount()));
  for (int i = 0; i < heap->GetNodesCount(); ++i) ids.insert(heap->GetNode(i)->GetId());
  const_cast<v8::HeapSnapshot*>(heap)->Delete();
  return ids;
}

// The name of an object's property that now holds a heap number (a fractional or large number) that
// was not there in `before`, or belongs to an object that was not; nullopt if none does. V8 10.2 writes a new value of a number
// field into the field's box in place, and a snapshot keeps every heap number in its shared part: a
// copy changing `state.x` from 0.5 would change it for every later copy. (Conservative: a number in a
// dictionary-mode object or a frozen one is refused too.)
std::optional<std::string> NumberPropertyAdded(v8::Isolate* isolate,
                                               const absl::flat_hash_set<v8::SnapshotObjectId>& before) {
  const v8::HeapSnapshot* heap = isolate->GetHeapProfiler()->TakeHeapSnapshot(
      nullptr, nullptr, /*treat_global_objects_as_roots=*/true, /*capture_numeric_value=*/true);
  std::optional<std::string> added;
  for (int i = 0; i < heap->GetNodesCount() && !added.has_value(); ++i) {
    const v8::HeapGraphNode* node = heap->GetNode(i);
    for (int j = 0; j < node->GetChildrenCount(); ++j) {
      const v8::HeapGraphEdge* edge = node->GetChild(j);
      const v8::HeapGraphNode* value = edge->GetToNode();
      // (Small integers show as nodes too, named "smi number": they are never boxed.)
      if (edge->GetType() == v8::HeapGraphEdge::kProperty && value->GetType() == v8::HeapGraphNode::kHeapNumber &&
          ToUtf8(isolate, value->GetName()) != "smi number" &&
          (!before.contains(node->GetId()) || !before.contains(value->GetId()))) {
        added = ToUtf8(isolate, edge->GetName());
        break;
      }
    }
  }
  const_cast<v8::HeapSnapshot*>(heap)->Delete();
  return added;
}

// V8 leaves these out of a context in an isolate that makes a snapshot, and adds them to every
// context copied from one: the trial imports without them, as the snapshot's isolate will.
bool WithoutSnapshotlessGlobals(v8::Local<v8::Context> context) {
  v8::Isolate* isolate = context->GetIsolate();
  v8::Local<v8::Object> global = context->Global();
  v8::Local<v8::Value> error;
  return global->Delete(context, NewString(isolate, "SharedArrayBuffer")).FromMaybe(false) &&
         global->Delete(context, NewString(isolate, "Atomics")).FromMaybe(false) &&
         global->Get(context, NewString(isolate, "Error")).ToLocal(&error) && error->IsObject() &&
         error.As<v8::Object>()->Delete(context, NewString(isolate, "stackTraceLimit")).FromMaybe(false);
}

// 1. The trial, in a throwaway isolate with the deployment's limits.
absl::Status Trial(const Module& classic, bool wasm, const SnapshotEnvironment& env,
                   absl::btree_set<std::string>& shape) {
  static const std::vector<ContextExtension>* const kNoExtensions = new std::vector<ContextExtension>;
  DeploymentIsolate isolate("", wasm, env.limits, *kNoExtensions, env.code_cache);
  RefusingHostCalls host;
  Invocation inv;
  inv.host = &host;
  inv.limits = &env.limits;
  inv.code_cache = &env.code_cache;
  inv.isolate = &isolate;
  inv.context = isolate.TakeContext(ContextPolicy::kFresh, "", /*deterministic=*/true, /*from_snapshot=*/false);
  if (inv.context == nullptr) return absl::InternalError("the runtime prelude failed to start");
  absl::flat_hash_set<v8::SnapshotObjectId> heap_before;
  size_t buffers_before = 0;
  {
    v8::Isolate::Scope isolate_scope(isolate.isolate());
    v8::HandleScope handle_scope(isolate.isolate());
    heap_before = HeapObjectIds(isolate.isolate());  // (after a full collection)
    buffers_before = isolate.array_buffer_bytes();
  }
  absl::Status outcome;
  {
    JsTurn turn(inv, env.watchdog, env.js_thread_clock, env.cpu_budget);
    v8::Local<v8::Function> enter = inv.context->enter.Get(isolate.isolate());
    if (!EnterInvocation(turn.context(), enter, /*deterministic=*/true, kSeed, kTime) ||
        !WithoutSnapshotlessGlobals(turn.context())) {
      outcome = absl::InternalError("the runtime prelude failed to enter");
    } else {
      // (Its modules stay in a handle.)
      outcome = RunScript(turn.context(), enter, classic, inv, host, shape).status();
    }
    if (turn.End() || isolate.heap_exhausted()) outcome = Refuse("ran out of time or memory");
    if (outcome.ok()) {
      if (std::optional<std::string> property = NumberPropertyAdded(isolate.isolate(), heap_before)) {
        outcome = Refuse(absl::StrCat("keeps a fractional or large number in an object's property (\"", *property,
                                      "\"; this V8 would share it between copies)"));
      }
    }
    // A copy allocates the snapshot's ArrayBuffers again, and V8 aborts if the isolate's cap refuses one.
    if (outcome.ok() && isolate.array_buffer_bytes() > buffers_before) {
      outcome = Refuse("keeps ArrayBuffer memory");
    }
  }
  // The snapshot's isolate cannot cap ArrayBuffers (V8 gives it its own allocator): code that met the
  // cap here, even if it caught the RangeError, would allocate there what it could not here.
  if (outcome.ok() && isolate.array_buffer_refusals() > 0) outcome = Refuse("allocates more ArrayBuffer memory than it may");
  inv.unhandled.clear();
  inv.queue.clear();
  inv.context.reset();  // before the isolate goes
  return outcome;
}

// 2. The blob, from an isolate used for nothing else; the modules' paths in `paths`.
absl::StatusOr<std::string> Create(const Module& classic, bool wasm, const SnapshotEnvironment& env,
                                   absl::btree_set<std::string>& shape, std::vector<std::string>& paths) {
  v8::SnapshotCreator creator(BindingReferences());
  v8::Isolate* isolate = creator.GetIsolate();
  isolate->SetMicrotasksPolicy(v8::MicrotasksPolicy::kExplicit);
  isolate->SetAllowAtomicsWait(false);
  isolate->SetPromiseRejectCallback(OnPromiseReject);
  isolate->SetHostImportModuleDynamicallyCallback(DynamicImport);
  isolate->SetAllowWasmCodeGenerationCallback(AllowWasm);
  absl::Status outcome;
  {
    v8::HandleScope handle_scope(isolate);
    creator.SetDefaultContext(v8::Context::New(isolate));  // what Context::New gives: a bare context
    v8::Local<v8::Context> context = v8::Context::New(isolate);
    v8::Local<v8::Object> modules;
    v8::Local<v8::Function> enter;
    {
      v8::Context::Scope context_scope(context);
      RefusingHostCalls host;
      Invocation inv;
      inv.host = &host;
      inv.limits = &env.limits;
      inv.code_cache = &env.code_cache;
      inv.deterministic = true;
      SetUpContext(context, wasm);
      context->SetAlignedPointerInEmbedderData(kInvocationSlot, &inv);
      v8::TryCatch try_catch(isolate);
      v8::Local<v8::UnboundScript> prelude;
      env.watchdog.Arm(isolate, env.js_thread_clock, env.cpu_budget);
      if (!CompilePrelude(isolate, env.code_cache).ToLocal(&prelude) || !InstallPrelude(context, prelude).ToLocal(&enter) ||
          !EnterInvocation(context, enter, /*deterministic=*/true, kSeed, kTime)) {
        outcome = absl::InternalError("the runtime prelude failed to start in the snapshot isolate");
      } else {
        absl::StatusOr<v8::Local<v8::Object>> evaluated = RunScript(context, enter, classic, inv, host, shape);
        if (evaluated.ok()) modules = *evaluated;
        outcome = evaluated.status();
        v8::Local<v8::Array> keys;
        if (outcome.ok() && modules->GetOwnPropertyNames(context).ToLocal(&keys)) {
          for (uint32_t i = 0; i < keys->Length(); ++i) {
            v8::Local<v8::Value> key;
            if (keys->Get(context, i).ToLocal(&key)) paths.push_back(ToUtf8(isolate, key));
          }
        }
        std::sort(paths.begin(), paths.end());
      }
      if (env.watchdog.Disarm() || try_catch.HasTerminated()) outcome = Refuse("ran out of time");
      context->SetAlignedPointerInEmbedderData(kInvocationSlot, nullptr);
      inv.unhandled.clear();
      inv.queue.clear();
      if (outcome.ok() && (creator.AddData(context, enter) != kSnapshotEnterIndex ||
                           creator.AddData(context, modules) != kSnapshotModulesIndex)) {
        outcome = absl::InternalError("the snapshot's data went to unexpected indexes");
      }
    }
    if (outcome.ok() && creator.AddContext(context) != 0) outcome = absl::InternalError("the snapshot's context is not the first");
  }
  if (!outcome.ok()) return outcome;  // the creator is dropped without a blob
  v8::StartupData blob = creator.CreateBlob(v8::SnapshotCreator::FunctionCodeHandling::kClear);
  if (blob.data == nullptr) return absl::FailedPreconditionError("V8 could not make a snapshot of its modules");
  std::string bytes(blob.data, static_cast<size_t>(blob.raw_size));
  delete[] blob.data;
  // A version's blob is about 1 MB; one that holds much more data than code is not worth keeping.
  const size_t max_one = env.limits.max_snapshot_bytes / 4;
  if (bytes.size() > max_one) return Refuse(absl::StrCat("leaves more than ", max_one >> 20, " MB in its snapshot"));
  return bytes;
}

}  // namespace

VersionSnapshot::VersionSnapshot(std::string key, std::string blob, std::vector<std::string> module_paths)
    : key_(std::move(key)),
      blob_(std::move(blob)),
      module_paths_(std::move(module_paths)),
      data_{blob_.data(), static_cast<int>(blob_.size())} {}

std::string SnapshotKey(const Module& classic, bool wasm) { return absl::StrCat(classic.sha256(), wasm ? "w" : "-"); }

absl::StatusOr<std::shared_ptr<const VersionSnapshot>> MakeVersionSnapshot(const Module& classic, bool wasm,
                                                                           const SnapshotEnvironment& env) {
  if (!Sha256Matches(classic.source(), classic.sha256())) {
    return absl::DataLossError(absl::StrCat("module ", kClassicBundlePath, " does not match its SHA-256"));
  }
  absl::btree_set<std::string> shape;
  absl::Status trial = Trial(classic, wasm, env, shape);
  if (!trial.ok()) return trial;
  std::vector<std::string> paths;
  absl::StatusOr<std::string> blob = Create(classic, wasm, env, shape, paths);
  if (!blob.ok()) return blob.status();
  return std::make_shared<const VersionSnapshot>(SnapshotKey(classic, wasm), *std::move(blob), std::move(paths));
}

std::shared_ptr<const VersionSnapshot> SnapshotStore::Find(const std::string& key) {
  for (auto it = ready_.begin(); it != ready_.end(); ++it) {
    if ((*it)->key() == key) {
      ready_.splice(ready_.begin(), ready_, it);
      return ready_.front();
    }
  }
  return nullptr;
}

std::optional<SnapshotRequest> SnapshotStore::Wanted(const std::string& key, absl::string_view deployment, bool wasm,
                                                     const Module& classic) {
  if (refused_.contains(key)) return std::nullopt;
  for (auto it = waiting_.begin(); it != waiting_.end(); ++it) {
    if (it->key == key) {
      SnapshotRequest request = std::move(*it);
      waiting_.erase(it);
      return request;
    }
  }
  waiting_.push_back(SnapshotRequest{key, std::string(deployment), wasm, classic});
  if (waiting_.size() > kMaxWaiting) waiting_.pop_front();
  return std::nullopt;
}

std::optional<SnapshotRequest> SnapshotStore::TakeWaiting() {
  if (waiting_.empty()) return std::nullopt;
  SnapshotRequest request = std::move(waiting_.back());  // the most recently wanted first
  waiting_.pop_back();
  return request;
}

void SnapshotStore::Add(std::shared_ptr<const VersionSnapshot> snapshot, absl::Duration took) {
  ++stats_.made;
  stats_.making_time += took;
  stats_.bytes += snapshot->size();
  ready_.push_front(std::move(snapshot));
  while (stats_.bytes > max_bytes_ && ready_.size() > 1) {
    stats_.bytes -= ready_.back()->size();  // isolates made from it keep it while they live
    ready_.pop_back();
    ++stats_.evicted;
  }
  stats_.cached = ready_.size();
}

void SnapshotStore::Refused(const std::string& key, absl::Duration took) {
  ++stats_.refused;
  stats_.making_time += took;
  if (refused_.size() >= kMaxRefused) refused_.clear();
  refused_.insert(key);
}

}  // namespace isobar::worker
