#include "worker/version_snapshot.h"

#include <algorithm>
#include <iterator>
#include <utility>
#include <vector>

#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "base/sha256.h"
#include "base/status_macros.h"
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
#include "v8-statistics.h"
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

// What top-level code can tell about its realm without calling anything: the own property names
// (symbols left out) of the global object and of the builtins V8 extends in copies, as
// "<builtin>.<name>".
absl::btree_set<std::string> RealmShape(v8::Local<v8::Context> context) {
  absl::btree_set<std::string> names = GlobalNames(context);
  v8::Isolate* isolate = context->GetIsolate();
  // The builtins V8 adds to in a copy (version_snapshot.h), found by expressions the prelude leaves
  // as they are.
  const char* const kBuiltins[] = {"Error", "Object", "Array.prototype", "String.prototype",
                                   "Object.getPrototypeOf(Uint8Array.prototype)",
                                   "Array.prototype[Symbol.unscopables]"};
  for (const char* builtin : kBuiltins) {
    v8::Local<v8::Script> script;
    v8::Local<v8::Value> object;
    v8::Local<v8::Array> keys;
    if (!v8::Script::Compile(context, NewString(isolate, builtin)).ToLocal(&script) ||
        !script->Run(context).ToLocal(&object) || !object->IsObject() ||
        !object.As<v8::Object>()
             ->GetOwnPropertyNames(context, static_cast<v8::PropertyFilter>(v8::ALL_PROPERTIES | v8::SKIP_SYMBOLS))
             .ToLocal(&keys)) {
      names.insert(absl::StrCat(builtin, " is missing"));
      continue;
    }
    for (uint32_t i = 0; i < keys->Length(); ++i) {
      v8::Local<v8::Value> key;
      if (keys->Get(context, i).ToLocal(&key)) names.insert(absl::StrCat(builtin, ".", ToUtf8(isolate, key)));
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

// V8 adds properties to builtins in every copy of a snapshot (version_snapshot.h), and aborts the
// process if it cannot: the script must leave those builtins extensible and without the properties
// (Array.prototype[Symbol.unscopables] an ordinary, extensible object). Checked with functions made
// before the script ran, from builtins it cannot have replaced yet, and with no iteration protocol
// or getter of the script's on the way.
class InstallTargetsCheck {
 public:
  static absl::StatusOr<InstallTargetsCheck> Before(v8::Local<v8::Context> context) {
    static constexpr char kSource[] = R"js((() => {
      const isExtensible = Object.isExtensible, own = Reflect.getOwnPropertyDescriptor;
      const array = Array.prototype, typed = Object.getPrototypeOf(Uint8Array.prototype);
      const added = ["at", "findLast", "findLastIndex"];
      const targets = [[globalThis, ["SharedArrayBuffer", "Atomics", "WebAssembly"]], [Error, ["stackTraceLimit"]],
                       [Object, ["hasOwn"]], [array, added], [String.prototype, ["at"]], [typed, added]];
      const fine = (target, keys) => {
        if (!isExtensible(target)) return false;
        for (let i = 0; i < keys.length; i++) if (own(target, keys[i]) !== undefined) return false;
        return true;
      };
      const builtins = () => {
        for (let i = 0; i < targets.length; i++) if (!fine(targets[i][0], targets[i][1])) return false;
        const d = own(array, Symbol.unscopables);
        return d !== undefined && "value" in d && typeof d.value === "object" && d.value !== null ? d.value : false;
      };
      return [builtins, (unscopables) => fine(unscopables, added)];
    })())js";
    v8::Isolate* isolate = context->GetIsolate();
    v8::Local<v8::Script> script;
    v8::Local<v8::Value> pair;
    v8::Local<v8::Value> builtins;
    v8::Local<v8::Value> unscopables;
    if (!v8::Script::Compile(context, NewString(isolate, kSource)).ToLocal(&script) ||
        !script->Run(context).ToLocal(&pair) || !pair->IsArray() ||
        !pair.As<v8::Array>()->Get(context, 0).ToLocal(&builtins) || !builtins->IsFunction() ||
        !pair.As<v8::Array>()->Get(context, 1).ToLocal(&unscopables) || !unscopables->IsFunction()) {
      return absl::InternalError("cannot prepare the check of the builtins");
    }
    return InstallTargetsCheck(builtins.As<v8::Function>(), unscopables.As<v8::Function>());
  }

  absl::Status After(v8::Local<v8::Context> context) const {
    v8::Local<v8::Value> unscopables;
    v8::Local<v8::Value> fine;
    if (!builtins_->Call(context, v8::Undefined(context->GetIsolate()), 0, nullptr).ToLocal(&unscopables) ||
        !unscopables->IsObject() || unscopables->IsProxy() ||
        !unscopables_->Call(context, v8::Undefined(context->GetIsolate()), 1, &unscopables).ToLocal(&fine) ||
        !fine->IsTrue()) {
      return Refuse("freezes a builtin, or defines what V8 adds to it in every copy (Error.stackTraceLimit, "
                    "Object.hasOwn, Array.prototype.at, ...)");
    }
    return absl::OkStatus();
  }

 private:
  InstallTargetsCheck(v8::Local<v8::Function> builtins, v8::Local<v8::Function> unscopables)
      : builtins_(builtins), unscopables_(unscopables) {}
  v8::Local<v8::Function> builtins_;
  v8::Local<v8::Function> unscopables_;
};

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
  // asm.js is instantiated without asking whether WebAssembly is allowed, and its instances cannot be
  // serialized.
  if (absl::StrContains(classic.source(), "use asm")) return Refuse("uses asm.js");
  absl::StatusOr<InstallTargetsCheck> targets = InstallTargetsCheck::Before(context);
  if (!targets.ok()) return targets.status();
  const absl::btree_set<std::string> before = GlobalNames(context);
  v8::ScriptOrigin origin(isolate, NewString(isolate, absl::StrCat("convex:/", kClassicBundlePath)));
  v8::ScriptCompiler::Source source(NewString(isolate, classic.source()), origin);
  v8::Local<v8::Script> script;
  v8::Local<v8::Value> ignored;
  if (!v8::ScriptCompiler::Compile(context, &source).ToLocal(&script) || !script->Run(context).ToLocal(&ignored)) {
    return Refuse("throws, or does not compile as one script");
  }
  isolate->PerformMicrotaskCheckpoint();
  RETURN_IF_ERROR(targets->After(context));
  // Randomness drawn shows as a sequence moved on: the next number is not the seed's first. (This
  // calls Math.random, which the script may have replaced: the checks below come after it.)
  const std::optional<double> next = NextRandom(context);
  if (!EnterInvocation(context, enter, /*deterministic=*/true, kSeed, kTime)) return Refuse("changes the runtime");
  const std::optional<double> first = NextRandom(context);
  isolate->PerformMicrotaskCheckpoint();
  if (isolate->IsExecutionTerminating()) return Refuse("ran out of time or memory");
  if (host.tried()) return Refuse("reads from outside (process.env, the database or another host call)");
  if (inv.observed_time) return Refuse("reads the clock");
  if (!inv.logs.empty()) return Refuse("logs");
  if (!inv.queue.empty() || !inv.unhandled.empty()) return Refuse("leaves asynchronous work or a rejection behind");
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

// A heap snapshot that shows numbers as nodes too (after a full collection); Delete() it.
const v8::HeapSnapshot* HeapSnapshotWithNumbers(v8::Isolate* isolate) {
  return isolate->GetHeapProfiler()->TakeHeapSnapshot(nullptr, nullptr, /*treat_global_objects_as_roots=*/true,
                                                     /*capture_numeric_value=*/true);
}

// The ids of the objects in the isolate's heap now, numbers included (V8 keeps an object's id from one
// heap snapshot to the next). Runs a full garbage collection first.
absl::flat_hash_set<v8::SnapshotObjectId> HeapObjectIds(v8::Isolate* isolate) {
  absl::flat_hash_set<v8::SnapshotObjectId> ids;
  const v8::HeapSnapshot* heap = HeapSnapshotWithNumbers(isolate);
  ids.reserve(static_cast<size_t>(heap->GetNodesCount()));
  for (int i = 0; i < heap->GetNodesCount(); ++i) ids.insert(heap->GetNode(i)->GetId());
  const_cast<v8::HeapSnapshot*>(heap)->Delete();
  return ids;
}

// What the script left in the heap that a copy could not have for its own, compared with `before`; an
// explanation, or nullopt. A full collection runs first, so only what the modules keep counts:
//   - a heap number (a fractional or large number) held by an object, in its properties or its
//     out-of-object property array, that the script made or put there: V8 10.2 writes a number field's
//     new value into its box in place, and a snapshot keeps every heap number in its part shared by
//     all copies, so a copy changing `state.x` from 0.5 would change it for every later copy.
//     (Numbers in variables, array elements and code are replaced, never written in place; a number
//     in a dictionary-mode or frozen object is refused too, conservatively.)
//   - ArrayBuffer memory: a copy allocates it again, and V8 aborts if the isolate's cap refuses it.
std::optional<std::string> RetainedProblem(v8::Isolate* isolate, const absl::flat_hash_set<v8::SnapshotObjectId>& before) {
  // A heap snapshot costs tens of bytes per object outside V8's heap: not taken of a big one.
  constexpr size_t kMaxHeap = 48u << 20;
  isolate->LowMemoryNotification();
  v8::HeapStatistics statistics;
  isolate->GetHeapStatistics(&statistics);
  if (statistics.used_heap_size() > kMaxHeap) return absl::StrCat("keeps more than ", kMaxHeap >> 20, " MB");
  const v8::HeapSnapshot* heap = HeapSnapshotWithNumbers(isolate);
  std::optional<std::string> problem;
  for (int i = 0; i < heap->GetNodesCount() && !problem.has_value(); ++i) {
    const v8::HeapGraphNode* node = heap->GetNode(i);
    const v8::HeapGraphNode::Type type = node->GetType();
    const bool is_new = !before.contains(node->GetId());
    if (is_new && type == v8::HeapGraphNode::kNative && node->GetShallowSize() > 0 &&
        ToUtf8(isolate, node->GetName()) == "system / JSArrayBufferData") {
      problem = "keeps ArrayBuffer memory (every copy would allocate it again)";
      break;
    }
    const bool holds_fields =
        type == v8::HeapGraphNode::kObject || type == v8::HeapGraphNode::kClosure ||
        type == v8::HeapGraphNode::kRegExp ||
        (type == v8::HeapGraphNode::kHidden && ToUtf8(isolate, node->GetName()) == "system / PropertyArray");
    if (!holds_fields) continue;
    for (int j = 0; j < node->GetChildrenCount(); ++j) {
      const v8::HeapGraphEdge* edge = node->GetChild(j);
      const v8::HeapGraphNode* value = edge->GetToNode();
      // (Small integers show as nodes too, named "smi number": they are never boxed. Elements and
      // variables are tagged or raw doubles, replaced on write.)
      if (edge->GetType() == v8::HeapGraphEdge::kElement || edge->GetType() == v8::HeapGraphEdge::kWeak ||
          edge->GetType() == v8::HeapGraphEdge::kContextVariable ||
          value->GetType() != v8::HeapGraphNode::kHeapNumber || ToUtf8(isolate, value->GetName()) != "heap number" ||
          (!is_new && before.contains(value->GetId()))) {
        continue;
      }
      problem = absl::StrCat("keeps a fractional or large number in an object's property (\"",
                             ToUtf8(isolate, edge->GetName()), "\"; this V8 would share it between copies)");
      break;
    }
  }
  const_cast<v8::HeapSnapshot*>(heap)->Delete();
  return problem;
}

// V8 leaves these out of a context in an isolate that makes a snapshot, and adds them to every
// context copied from one: the trial imports without them, as the snapshot's isolate will (RunScript
// then checks the two realms' shapes are the same).
bool WithoutSnapshotlessGlobals(v8::Local<v8::Context> context) {
  static constexpr char kSource[] = R"js((() => {
    delete globalThis.SharedArrayBuffer;
    delete globalThis.Atomics;
    delete Error.stackTraceLimit;
    delete Object.hasOwn;
    const typed = Object.getPrototypeOf(Uint8Array.prototype), unscopables = Array.prototype[Symbol.unscopables];
    for (const target of [Array.prototype, typed, unscopables]) {
      delete target.at;
      delete target.findLast;
      delete target.findLastIndex;
    }
    delete String.prototype.at;
    return true;
  })())js";
  v8::Local<v8::Script> script;
  v8::Local<v8::Value> done;
  return v8::Script::Compile(context, NewString(context->GetIsolate(), kSource)).ToLocal(&script) &&
         script->Run(context).ToLocal(&done) && done->IsTrue();
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
      if (std::optional<std::string> problem = RetainedProblem(isolate.isolate(), heap_before)) outcome = Refuse(*problem);
    }
    // (Also by the allocator's count: what the heap snapshot would not show.)
    if (outcome.ok() && isolate.array_buffer_bytes() > buffers_before) outcome = Refuse("keeps ArrayBuffer memory");
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
  // V8 gives this isolate its own heap limit (large): reaching it ends the script, not the process.
  struct HeapGuard {
    v8::Isolate* isolate = nullptr;
    bool exhausted = false;
    static size_t NearLimit(void* data, size_t current_limit, size_t) {
      auto* guard = static_cast<HeapGuard*>(data);
      guard->exhausted = true;
      guard->isolate->TerminateExecution();
      return current_limit + (64u << 20);  // room to unwind
    }
  } guard;  // (outlives the creator)
  v8::SnapshotCreator creator(BindingReferences());
  v8::Isolate* isolate = creator.GetIsolate();
  guard.isolate = isolate;
  isolate->AddNearHeapLimitCallback(&HeapGuard::NearLimit, &guard);
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
    absl::flat_hash_set<v8::SnapshotObjectId> heap_before;
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
        heap_before = HeapObjectIds(isolate);
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
      if (env.watchdog.Disarm() || try_catch.HasTerminated() || guard.exhausted) outcome = Refuse("ran out of time or memory");
      // Checked here too, not only in the trial: code can tell the two isolates apart (stack depth, say)
      // and keep here what it did not keep there.
      if (outcome.ok()) {
        if (std::optional<std::string> problem = RetainedProblem(isolate, heap_before)) outcome = Refuse(*problem);
      }
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
  isolate->ClearKeptObjects();  // WeakRef targets kept for the current job are no roots of the blob
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


absl::StatusOr<std::shared_ptr<const VersionSnapshot>> MakeVersionSnapshot(std::string key, const Module& classic,
                                                                           bool wasm, const SnapshotEnvironment& env) {
  if (!Sha256Matches(classic.source(), classic.sha256())) {
    return absl::DataLossError(absl::StrCat("module ", kClassicBundlePath, " does not match its SHA-256"));
  }
  absl::btree_set<std::string> shape;
  absl::Status trial = Trial(classic, wasm, env, shape);
  if (!trial.ok()) return trial;
  std::vector<std::string> paths;
  absl::StatusOr<std::string> blob = Create(classic, wasm, env, shape, paths);
  if (!blob.ok()) return blob.status();
  return std::make_shared<const VersionSnapshot>(std::move(key), *std::move(blob), std::move(paths));
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
  for (auto it = ready_.begin(); it != ready_.end(); ++it) {
    if ((*it)->key() != snapshot->key()) continue;
    ready_.splice(ready_.begin(), ready_, it);  // sent again: the copy kept stays, most recently used
    return;
  }
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
