#include "worker/preload.h"

#include <sys/random.h>

#include <utility>

#include "absl/time/clock.h"
#include "v8-exception.h"
#include "v8-local-handle.h"
#include "v8-microtask-queue.h"
#include "v8-promise.h"
#include "worker/bindings.h"
#include "worker/invocation.h"
#include "worker/js_turn.h"
#include "worker/module_loader.h"

namespace isobar::worker {
namespace {

uint64_t RandomSeed() {
  uint64_t seed = 0;
  if (getrandom(&seed, sizeof(seed), 0) != static_cast<ssize_t>(sizeof(seed))) seed = absl::ToUnixNanos(absl::Now());
  return seed;
}

}  // namespace

std::unique_ptr<JsContext> PreloadContext(DeploymentIsolate& deployment_isolate, std::unique_ptr<JsContext> context,
                                          PreloadPlan& plan, const PreloadEnvironment& environment) {
  if (context == nullptr) return nullptr;
  RefusingHostCalls host;
  Invocation inv;
  inv.host = &host;
  inv.limits = &environment.limits;
  inv.code_cache = &environment.code_cache;
  inv.isolate = &deployment_isolate;
  inv.context = std::move(context);
  inv.deterministic = plan.deterministic;
  inv.importing = true;
  for (const auto& module : plan.modules) inv.sources[module.path()] = &module;

  v8::Isolate* isolate = deployment_isolate.isolate();
  bool finished = false;
  {
    JsTurn turn(inv, environment.watchdog, environment.js_thread_clock, environment.cpu_budget);
    v8::Local<v8::Context> js_context = turn.context();
    v8::Local<v8::Module> module;
    v8::Local<v8::Value> evaluated;
    const bool pinned = plan.deterministic && plan.import_unix_time_ms > 0;  // as the evaluator pins it
    const bool entered = EnterInvocation(js_context, inv.context->enter.Get(isolate), plan.deterministic,
                                         pinned ? plan.import_seed : RandomSeed(),
                                         pinned ? plan.import_unix_time_ms : static_cast<double>(absl::ToUnixMillis(absl::Now())));
    if (entered && EvaluateModule(js_context, inv, plan.entry, &module).ToLocal(&evaluated)) {
      isolate->PerformMicrotaskCheckpoint();
      finished = evaluated->IsPromise() && evaluated.As<v8::Promise>()->State() == v8::Promise::kFulfilled;
    }
    const bool terminated = turn.End();
    finished = finished && !terminated && !turn.try_catch().HasCaught() && inv.failure.ok() && inv.unhandled.empty() &&
               inv.queue.empty() && !host.tried();
  }
  if (!finished) {
    plan.failed = true;
    return nullptr;  // `inv` releases the context's handles
  }
  std::unique_ptr<JsContext> preloaded = std::move(inv.context);
  preloaded->code_version = plan.code_version;
  preloaded->deterministic = plan.deterministic;
  preloaded->preload_logs = std::move(inv.logs);
  return preloaded;
}

}  // namespace isobar::worker
