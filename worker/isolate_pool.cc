#include "worker/isolate_pool.h"

#include <utility>

#include "v8-exception.h"
#include "v8-local-handle.h"
#include "v8-microtask-queue.h"
#include "v8-primitive.h"
#include "v8-statistics.h"
#include "worker/bindings.h"
#include "worker/invocation.h"
#include "worker/module_loader.h"
#include "worker/preload.h"
#include "worker/version_snapshot.h"

namespace isobar::worker {
namespace {

constexpr size_t kMaxUnusedIsolates = 4;

}  // namespace

bool AllowWasm(v8::Local<v8::Context> context, v8::Local<v8::String>) {
  return context->GetEmbedderData(kWasmSlot)->IsTrue();
}

void SetUpContext(v8::Local<v8::Context> context, bool wasm) {
  v8::Isolate* isolate = context->GetIsolate();
  context->SetAlignedPointerInEmbedderData(kInvocationSlot, nullptr);  // no invocation attached yet
  context->SetEmbedderData(kWasmSlot, v8::Boolean::New(isolate, wasm));
  if (!wasm) context->Global()->Delete(context, v8::String::NewFromUtf8Literal(isolate, "WebAssembly")).Check();
}

DeploymentIsolate::DeploymentIsolate(std::string deployment, bool wasm, const EvaluatorLimits& limits,
                                     const std::vector<ContextExtension>& extensions, CodeCache& code_cache,
                                     std::shared_ptr<const VersionSnapshot> snapshot)
    : deployment_(std::move(deployment)),
      wasm_(wasm),
      limits_(limits),
      extensions_(extensions),
      code_cache_(code_cache),
      snapshot_(std::move(snapshot)),
      allocator_(std::make_unique<CappedArrayBufferAllocator>(limits.max_array_buffer_bytes,
                                                                limits.max_array_buffer_one_bytes)) {
  v8::Isolate::CreateParams params;
  params.array_buffer_allocator = allocator_.get();
  params.constraints.ConfigureDefaultsFromHeapSize(0, limits.max_heap_bytes);
  if (snapshot_ != nullptr) {
    params.snapshot_blob = snapshot_->startup_data();
    params.external_references = BindingReferences();
  }
  isolate_ = v8::Isolate::New(params);
  isolate_->SetMicrotasksPolicy(v8::MicrotasksPolicy::kExplicit);
  isolate_->SetAllowAtomicsWait(false);
  isolate_->AddNearHeapLimitCallback(&DeploymentIsolate::NearHeapLimit, this);
  isolate_->SetPromiseRejectCallback(OnPromiseReject);
  isolate_->SetHostImportModuleDynamicallyCallback(DynamicImport);
  isolate_->SetAllowWasmCodeGenerationCallback(AllowWasm);
  isolate_->SetCaptureStackTraceForUncaughtExceptions(true, 32);  // stacks of user errors
  v8::Isolate::Scope isolate_scope(isolate_);
  v8::HandleScope handle_scope(isolate_);
  v8::Local<v8::UnboundScript> prelude;
  if (CompilePrelude(isolate_, code_cache_).ToLocal(&prelude)) prelude_.Reset(isolate_, prelude);
  MeasureHeap();
}

DeploymentIsolate::~DeploymentIsolate() {
  prepared_.reset();  // handles belong to the isolate
  warm_.clear();
  prelude_.Reset();
  isolate_->Dispose();
}

size_t DeploymentIsolate::NearHeapLimit(void* data, size_t current_limit, size_t) {
  auto* self = static_cast<DeploymentIsolate*>(data);
  self->heap_exhausted_ = true;
  self->isolate_->TerminateExecution();
  // Room to unwind: one allocation that found the heap full may be large (a 22 MB string), and V8
  // aborts the process if it still does not fit. Once 64 MiB, then 16 MiB at a time: bounded, so that
  // isolates stay within the worker's cgroup. The isolate is retired afterwards.
  const size_t room = self->raised_limit_ ? (16u << 20) : (64u << 20);
  self->raised_limit_ = true;
  return current_limit + room;
}

void DeploymentIsolate::MeasureHeap() {
  v8::HeapStatistics statistics;
  isolate_->GetHeapStatistics(&statistics);
  heap_in_use_ = statistics.used_heap_size();
}

std::unique_ptr<JsContext> DeploymentIsolate::NewContext() {
  v8::Isolate::Scope isolate_scope(isolate_);
  v8::HandleScope handle_scope(isolate_);
  if (prelude_.IsEmpty()) return nullptr;
  v8::Local<v8::Context> context = v8::Context::New(isolate_);
  v8::Context::Scope context_scope(context);
  SetUpContext(context, wasm_);
  v8::TryCatch try_catch(isolate_);
  v8::Local<v8::Function> enter;
  if (!InstallPrelude(context, prelude_.Get(isolate_)).ToLocal(&enter)) return nullptr;
  CachePrelude(prelude_.Get(isolate_), code_cache_);
  for (const ContextExtension& extend : extensions_) extend(isolate_, context);
  auto js = std::make_unique<JsContext>();
  js->context.Reset(isolate_, context);
  js->enter.Reset(isolate_, enter);
  return js;
}

std::unique_ptr<JsContext> DeploymentIsolate::NewSnapshotContext() {
  v8::Isolate::Scope isolate_scope(isolate_);
  v8::HandleScope handle_scope(isolate_);
  v8::Local<v8::Context> context;
  if (!v8::Context::FromSnapshot(isolate_, 0).ToLocal(&context)) return nullptr;
  v8::Context::Scope context_scope(context);
  SetUpContext(context, wasm_);
  v8::Local<v8::Function> enter;
  v8::Local<v8::Object> modules;
  if (!context->GetDataFromSnapshotOnce<v8::Function>(kSnapshotEnterIndex).ToLocal(&enter) ||
      !context->GetDataFromSnapshotOnce<v8::Object>(kSnapshotModulesIndex).ToLocal(&modules)) {
    return nullptr;
  }
  for (const ContextExtension& extend : extensions_) extend(isolate_, context);
  auto js = std::make_unique<JsContext>();
  js->context.Reset(isolate_, context);
  js->enter.Reset(isolate_, enter);
  js->snapshot_modules.Reset(isolate_, modules);
  return js;
}

void DeploymentIsolate::Prepare() {
  if (prepared_ == nullptr) prepared_ = snapshot_ != nullptr ? NewSnapshotContext() : NewContext();
}

std::unique_ptr<JsContext> DeploymentIsolate::TakeContext(ContextPolicy policy, const std::string& code_version,
                                                          bool deterministic, bool from_snapshot) {
  if (policy == ContextPolicy::kWarm) {
    for (auto it = warm_.begin(); it != warm_.end(); ++it) {
      if ((*it)->code_version == code_version && (*it)->deterministic == deterministic) {
        std::unique_ptr<JsContext> context = std::move(*it);
        warm_.erase(it);
        return context;
      }
    }
  }
  std::unique_ptr<JsContext> context;
  if (from_snapshot && snapshot_ != nullptr) {
    // The version's modules are in every copy of the snapshot's context (any determinism: their
    // top-level code read neither time nor randomness).
    const bool ready = prepared_ != nullptr && prepared_->from_snapshot();
    ++(ready ? contexts_prepared : contexts_on_call);
    context = ready ? std::move(prepared_) : NewSnapshotContext();
  } else {
    if (prepared_ != nullptr && (prepared_->from_snapshot() || (!prepared_->code_version.empty() &&
        (prepared_->code_version != code_version || prepared_->deterministic != deterministic)))) {
      prepared_.reset();  // preloaded for other code, or the snapshot's: it cannot unload its modules
    }
    ++(prepared_ != nullptr ? contexts_prepared : contexts_on_call);
    context = prepared_ != nullptr ? std::move(prepared_) : NewContext();
  }
  if (context != nullptr) {
    context->code_version = code_version;
    context->deterministic = deterministic;
  }
  return context;
}

std::unique_ptr<JsContext> DeploymentIsolate::TakeUnloadedPrepared() {
  if (!prepared_unloaded()) return nullptr;
  return std::move(prepared_);
}

void DeploymentIsolate::KeepWarm(std::unique_ptr<JsContext> context) {
  warm_.push_front(std::move(context));
  while (warm_.size() > limits_.max_warm_contexts) warm_.pop_back();
}

IsolatePool::IsolatePool(const EvaluatorLimits& limits, std::vector<ContextExtension> extensions,
                         CodeCache& code_cache)
    : limits_(limits), extensions_(std::move(extensions)), code_cache_(code_cache) {}

IsolatePool::~IsolatePool() = default;

std::shared_ptr<const VersionSnapshot> IsolatePool::LiveSnapshot(const std::string& deployment,
                                                                 const std::string& key) const {
  auto it = live_.find(deployment);
  if (it == live_.end() || it->second->snapshot() == nullptr || it->second->snapshot()->key() != key) return nullptr;
  return it->second->shared_snapshot();
}

DeploymentIsolate* IsolatePool::Acquire(const std::string& deployment, bool wasm,
                                        std::shared_ptr<const VersionSnapshot> snapshot) {
  auto it = live_.find(deployment);
  // (Snapshots compare by key: the same version's blob sent again is the same snapshot.)
  if (it != live_.end() &&
      (it->second->wasm() != wasm ||
       (snapshot != nullptr && (it->second->snapshot() == nullptr || it->second->snapshot()->key() != snapshot->key())))) {
    Retire(it->second.get());  // the deployment's settings changed, or its version has a snapshot now
    it = live_.end();
  }
  DeploymentIsolate* isolate;
  const bool found = it != live_.end();  // `it` is not compared after live_ may have rehashed
  if (found) {
    ++stats_.hits;
    isolate = it->second.get();
  } else {
    ++stats_.misses;
    std::unique_ptr<DeploymentIsolate> created;
    if (snapshot != nullptr) {
      ++stats_.creations;
      created = std::make_unique<DeploymentIsolate>(deployment, wasm, limits_, extensions_, code_cache_,
                                                    std::move(snapshot));
    } else if (spare_ != nullptr && spare_->wasm() == wasm) {
      created = std::move(spare_);
      created->Adopt(deployment);
    } else {
      ++stats_.creations;
      created = std::make_unique<DeploymentIsolate>(deployment, wasm, limits_, extensions_, code_cache_);
    }
    isolate = created.get();
    live_[deployment] = std::move(created);
  }
  isolate->active++;
  isolate->last_used = ++clock_;
  most_recent_ = isolate;
  if (!found) Evict();  // a new isolate may take the pool over its limits
  return isolate;
}

void IsolatePool::Release(DeploymentIsolate* isolate) {
  isolate->active--;
  isolate->MeasureHeap();
  if (!isolate->retiring &&
      static_cast<double>(isolate->heap_in_use()) > limits_.recycle_heap_fraction * static_cast<double>(limits_.max_heap_bytes)) {
    Retire(isolate);
  }
  DisposeIfIdle(isolate);
  Evict();
}

void IsolatePool::Retire(DeploymentIsolate* isolate) {
  if (isolate->retiring) return;
  isolate->retiring = true;
  ++stats_.recycles;
  auto it = live_.find(isolate->deployment());
  if (it != live_.end() && it->second.get() == isolate) {
    retired_.push_back(std::move(it->second));
    live_.erase(it);
  }
  if (most_recent_ == isolate) most_recent_ = nullptr;
  DisposeIfIdle(isolate);
}

void IsolatePool::DisposeIfIdle(DeploymentIsolate* isolate) {
  if (!isolate->retiring || isolate->active > 0) return;
  for (auto it = retired_.begin(); it != retired_.end(); ++it) {
    if (it->get() == isolate) {
      Discard(std::move(*it));
      retired_.erase(it);
      return;
    }
  }
}

void IsolatePool::Evict() {
  for (;;) {
    size_t heap = 0;
    DeploymentIsolate* oldest_idle = nullptr;
    for (const auto& [deployment, isolate] : live_) {
      heap += isolate->heap_in_use();
      if (isolate->active == 0 && (oldest_idle == nullptr || isolate->last_used < oldest_idle->last_used)) {
        oldest_idle = isolate.get();
      }
    }
    if (oldest_idle == nullptr || (live_.size() <= limits_.max_isolates && heap <= limits_.isolate_memory_budget_bytes)) {
      return;
    }
    ++stats_.evictions;
    if (most_recent_ == oldest_idle) most_recent_ = nullptr;
    auto it = live_.find(oldest_idle->deployment());
    Discard(std::move(it->second));
    live_.erase(it);
  }
}

void IsolatePool::Discard(std::unique_ptr<DeploymentIsolate> isolate) {
  stats_.contexts_prepared += isolate->contexts_prepared;  // counted for good, not only while it lives
  stats_.contexts_on_call += isolate->contexts_on_call;
  unused_.push_back(std::move(isolate));
  if (unused_.size() > kMaxUnusedIsolates) unused_.erase(unused_.begin());
}

void IsolatePool::Prepare() {
  unused_.clear();
  if (spare_ == nullptr) {
    ++stats_.creations;
    spare_ = std::make_unique<DeploymentIsolate>("", /*wasm=*/false, limits_, extensions_, code_cache_);
    spare_->Prepare();
  }
  if (most_recent_ != nullptr) most_recent_->Prepare();
}

bool IsolatePool::HasIdleWork() const {
  return !unused_.empty() || spare_ == nullptr || (most_recent_ != nullptr && !most_recent_->prepared());
}

IsolateStats IsolatePool::stats() const {
  IsolateStats stats = stats_;
  stats.isolates = live_.size() + retired_.size() + (spare_ != nullptr ? 1 : 0);
  stats.heap_in_use_bytes = 0;
  for (const auto& [deployment, isolate] : live_) {
    stats.heap_in_use_bytes += isolate->heap_in_use();
    stats.contexts_prepared += isolate->contexts_prepared;
    stats.contexts_on_call += isolate->contexts_on_call;
  }
  for (const auto& isolate : retired_) {
    stats.heap_in_use_bytes += isolate->heap_in_use();
    stats.contexts_prepared += isolate->contexts_prepared;
    stats.contexts_on_call += isolate->contexts_on_call;
  }
  if (spare_ != nullptr) stats.heap_in_use_bytes += spare_->heap_in_use();
  return stats;
}

}  // namespace isobar::worker
