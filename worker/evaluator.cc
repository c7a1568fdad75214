#include "worker/evaluator.h"

#include <pthread.h>

#include <algorithm>
#include <deque>
#include <map>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/log.h"
#include "base/rust_format.h"
#include "base/sha256.h"
#include "v8-exception.h"
#include "v8-json.h"
#include "v8-local-handle.h"
#include "v8-microtask-queue.h"
#include "v8-primitive.h"
#include "v8-promise.h"
#include "v8-script.h"
#include "worker/analyze.h"
#include "worker/bindings.h"
#include "worker/call_steps.h"
#include "worker/errors.h"
#include "worker/invocation.h"
#include "worker/js_turn.h"
#include "worker/js_util.h"
#include "worker/module_loader.h"
#include "worker/preload.h"
#include "worker/version_snapshot.h"

namespace isobar::worker {

using isobar::worker::v1::FunctionCall;
using isobar::worker::v1::Invoke;
using isobar::worker::v1::Module;

namespace {

constexpr size_t kMaxBatch = 16;

clockid_t CurrentThreadCpuClock() {
  clockid_t clock = CLOCK_THREAD_CPUTIME_ID;
  pthread_getcpuclockid(pthread_self(), &clock);
  return clock;
}

// Convex's messages for its time and memory limits.
constexpr char kOutOfMemory[] = "JavaScript execution ran out of memory (maximum memory usage: 64 MB)";

// An action's calls out at once, timers and cancels aside (which hold nothing of the supervisor's):
// more wait in its queue, so that one action cannot fill the supervisor's host-call threads.
constexpr size_t kMaxActionCallsInFlight = 64;

bool Uncapped(const std::string& op) { return op == "isobar/sleep" || op == "isobar/fetchCancel"; }

size_t CallsInFlight(const Invocation& inv) {
  size_t n = 0;
  for (const auto& [batch, calls] : inv.in_flight) {
    for (const Invocation::PendingAsync& call : calls) n += !Uncapped(call.op);
  }
  return n;
}

bool IsBatchable(const std::string& op) { return op == "1.0/get" || op == "1.0/queryStreamNext"; }

// Arguments or a result that may cross the process boundary.
absl::Status CheckValue(const EvaluatorLimits& limits, absl::string_view json, absl::string_view what) {
  if (json.size() > limits.max_value_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is too large (", json.size(), " bytes; the limit is ",
                                                   limits.max_value_bytes, ")"));
  }
  if (JsonNestingDepth(json) > limits.max_value_nesting) {
    return absl::InvalidArgumentError(absl::StrCat(what, " nests too deeply (the limit is ", limits.max_value_nesting, ")"));
  }
  return absl::OkStatus();
}

// Warm contexts are reused only for the same modules: a digest of every (path, SHA-256) in the request.
std::string CodeVersion(const Invoke& invoke) {
  std::string all;
  auto add = [&](const auto& modules) {
    for (const auto& module : modules) absl::StrAppend(&all, module.path(), "\n", module.sha256(), "\n");
  };
  if (invoke.has_function()) add(invoke.function().modules());
  if (invoke.has_analyze()) add(invoke.analyze().modules());
  // Module state made while importing depends on the import phase's values too.
  absl::StrAppend(&all, invoke.import_seed(), "\n", invoke.import_unix_time_ms(), "\n");
  return Sha256(all);
}

// Whether `snapshot`'s script holds exactly the call's modules (a push that added one by hand to a
// bundle would otherwise call into the script's older set).
bool HoldsExactly(const VersionSnapshot& snapshot, const Invocation& inv) {
  auto path = snapshot.module_paths().begin();
  for (const auto& [module_path, module] : inv.sources) {
    if (absl::StartsWith(module_path, "_deps/")) continue;
    if (path == snapshot.module_paths().end() || *path != module_path) return false;
    ++path;
  }
  return path == snapshot.module_paths().end();
}

}  // namespace

Evaluator::Evaluator(HostCalls& host, Watchdog& watchdog, std::vector<ContextExtension> extensions,
                     EvaluatorLimits limits)
    : host_(host),
      watchdog_(watchdog),
      limits_(limits),
      js_thread_clock_(CurrentThreadCpuClock()),
      code_cache_(std::make_unique<CodeCache>(limits_.max_code_cache_bytes)),
      snapshots_(std::make_unique<SnapshotStore>(limits_.max_snapshot_bytes)),
      pool_(std::make_unique<IsolatePool>(limits_, std::move(extensions), *code_cache_)) {}

Evaluator::~Evaluator() {
  running_.clear();  // their contexts belong to the pool's isolates
  pool_.reset();
}

Evaluator::Step Evaluator::Start(Invoke invoke) {
  const InvocationId id(invoke.invocation_id());
  InvocationResult refused;
  if (running_.contains(id)) {
    refused.result_json = absl::AlreadyExistsError(absl::StrCat("invocation ", id.value(), " is already running"));
    return Step{std::move(refused), {}};
  }
  if (invoke.has_function()) {
    absl::Status args = CheckValue(limits_, invoke.function().args_json(), "The arguments");
    if (!args.ok()) {
      refused.result_json = args;
      refused.user_error = true;
      return Step{std::move(refused), {}};
    }
  }
  auto invocation = std::make_unique<Invocation>();
  Invocation& inv = *invocation;
  inv.id = id;
  inv.host = &host_;
  inv.limits = &limits_;
  inv.code_cache = code_cache_.get();
  const bool action = invoke.has_function() && IsActionKind(invoke.function().kind());
  inv.deterministic = !invoke.has_eval() && !action;
  inv.concurrent = action;
  inv.cpu_budget = invoke.cpu_budget_ms() > 0 ? absl::Milliseconds(invoke.cpu_budget_ms())
                   : action                    ? absl::Minutes(10)
                                               : absl::Seconds(1);
  inv.invoke = std::move(invoke);
  switch (inv.invoke.body_case()) {
    case Invoke::kEval:
      EvalSteps(inv);
      break;
    case Invoke::kFunction:
      for (const auto& module : inv.invoke.function().modules()) inv.sources[module.path()] = &module;
      FunctionSteps(inv);
      break;
    case Invoke::kAnalyze:
      for (const auto& module : inv.invoke.analyze().modules()) inv.sources[module.path()] = &module;
      AnalyzeSteps(inv);
      break;
    case Invoke::BODY_NOT_SET:
      refused.result_json = absl::InvalidArgumentError("the invocation has no body");
      return Step{std::move(refused), {}};
  }
  const ContextPolicy policy =
      inv.invoke.context_policy() == Invoke::WARM ? ContextPolicy::kWarm : ContextPolicy::kFresh;
  std::shared_ptr<const VersionSnapshot> snapshot = SnapshotFor(inv);
  inv.isolate = pool_->Acquire(inv.invoke.deployment(), inv.invoke.allow_wasm(), snapshot);
  inv.context = inv.isolate->TakeContext(policy, CodeVersion(inv.invoke), inv.deterministic, snapshot != nullptr);
  if (inv.context != nullptr && inv.context->from_snapshot()) snapshots_->Served();
  running_[id] = std::move(invocation);
  if (inv.context == nullptr) {
    InvocationResult failed;
    failed.result_json = absl::InternalError("the runtime prelude failed to start");
    return Finish(std::move(running_[id]), std::move(failed), /*retire_isolate=*/true);
  }
  inv.logs = std::move(inv.context->preload_logs);  // its modules' top-level output, when preloaded
  inv.observed_time = inv.context->time_observed_at_import;
  return Advance(inv, [](Invocation& inv, v8::Local<v8::Context> context) {
    return EnterInvocation(context, inv.context->enter.Get(context->GetIsolate()), inv.deterministic, inv.invoke.seed(),
                           inv.invoke.unix_time_ms());
  });
}

Evaluator::Step Evaluator::Resume(InvocationId id, uint64_t batch, std::vector<absl::StatusOr<std::string>> results) {
  auto it = running_.find(id);
  if (it == running_.end()) {
    InvocationResult unknown;
    unknown.result_json = absl::NotFoundError(absl::StrCat("invocation ", id.value(), " is not running"));
    return Step{std::move(unknown), {}};
  }
  Invocation& inv = *it->second;
  auto sent = inv.in_flight.find(batch);
  if (sent == inv.in_flight.end() || results.size() != sent->second.size()) {
    InvocationResult wrong;
    wrong.result_json = absl::InternalError("host results do not match the calls made");
    return Finish(std::move(it->second), std::move(wrong), /*retire_isolate=*/false);
  }
  std::vector<Invocation::PendingAsync> calls = std::move(sent->second);
  inv.in_flight.erase(sent);
  inv.in_flight_calls -= calls.size();
  return Advance(inv, [&results, &calls](Invocation& inv, v8::Local<v8::Context> context) {
    v8::Isolate* isolate = context->GetIsolate();
    for (size_t i = 0; i < results.size(); ++i) {
      v8::Local<v8::Promise::Resolver> resolver = calls[i].resolver.Get(isolate);
      if (results[i].ok()) {
        (void)resolver->Resolve(context, NewString(isolate, *results[i])).FromMaybe(false);
      } else if (absl::StartsWith(results[i].status().message(), "Unknown operation ")) {
        // The host does not know whether a call was made with syscall or asyncSyscall; Convex words
        // the two apart.
        const absl::Status& status = results[i].status();
        (void)resolver->Reject(context, HostCallError(context, absl::Status(status.code(), absl::StrCat(
                                                                              "Unknown async operation ",
                                                                              status.message().substr(18))))).FromMaybe(false);
      } else {
        (void)resolver->Reject(context, HostCallError(context, results[i].status())).FromMaybe(false);
      }
    }
    return true;
  });
}

void Evaluator::AddLogs(InvocationId id, std::vector<LogLine> lines) {
  auto it = running_.find(id);
  if (it == running_.end()) return;
  for (LogLine& line : lines) AppendLog(*it->second, std::move(line.level), std::move(line.message));
}

void Evaluator::Cancel(InvocationId id) {
  auto it = running_.find(id);
  if (it == running_.end()) return;
  InvocationResult cancelled;
  cancelled.result_json = absl::CancelledError("cancelled");
  Finish(std::move(it->second), std::move(cancelled), /*retire_isolate=*/false);
}

void Evaluator::WarnUnawaited(Invocation& inv) {
  std::map<std::string, size_t> counts;  // by name, sorted as Convex lists them
  auto count = [&counts](const Invocation::PendingAsync& call) {
    // As Convex: timers are not operations it warns about, and a fetch is one "fetch" whatever step
    // of it was out (a cancel the runtime sends on its own is none).
    if (call.op == "isobar/sleep" || call.op == "isobar/fetchCancel") return;
    if (absl::StartsWith(call.op, "isobar/fetch")) {
      ++counts["fetch"];
      return;
    }
    const size_t slash = call.op.rfind('/');
    ++counts[slash == std::string::npos ? call.op : call.op.substr(slash + 1)];
  };
  for (const Invocation::PendingAsync& call : inv.queue) count(call);
  for (const auto& [batch, calls] : inv.in_flight) {
    for (const Invocation::PendingAsync& call : calls) count(call);
  }
  if (counts.empty()) return;
  size_t total = 0;
  std::vector<std::string> names;
  for (const auto& [name, count] : counts) {
    total += count;
    names.push_back(name);
  }
  AppendLog(inv, "warn",
            absl::StrCat(total, " unawaited operation", total == 1 ? "" : "s", ": [", absl::StrJoin(names, ", "),
                         "]. Async operations should be awaited or they might not run. See "
                         "https://docs.convex.dev/functions/actions#dangling-promises for more information."));
}

Evaluator::Step Evaluator::Advance(Invocation& inv,
                                   const std::function<bool(Invocation&, v8::Local<v8::Context>)>& before) {
  DeploymentIsolate& deployment_isolate = *inv.isolate;
  v8::Isolate* isolate = deployment_isolate.isolate();
  if (deployment_isolate.heap_exhausted()) {
    // Another invocation exhausted this isolate's heap: nothing more runs in it.
    InvocationResult exhausted;
    exhausted.result_json = absl::ResourceExhaustedError(kOutOfMemory);
    return Finish(std::move(running_[inv.id]), std::move(exhausted), /*retire_isolate=*/true);
  }
  InvocationResult out;
  std::vector<HostBatch> batches;
  bool terminated = false;
  {
    const absl::Duration cpu_start = Watchdog::CpuTime(js_thread_clock_);
    JsTurn turn(inv, watchdog_, js_thread_clock_, std::max(inv.cpu_budget - inv.cpu_used, absl::Microseconds(1)));
    v8::Local<v8::Context> context = turn.context();
    const v8::TryCatch& try_catch = turn.try_catch();
    v8::Local<v8::Value> value = v8::Undefined(isolate);
    bool ok = before(inv, context);
    bool finished = false;
    if (!ok && !try_catch.HasCaught() && !try_catch.HasTerminated() && inv.failure.ok()) {
      inv.failure = absl::InternalError("the runtime prelude failed to start");
      inv.failure_is_user = false;
    }
    // The queue's next batch (consecutive gets and stream reads, up to 16, or one call of anything
    // else); for an action, every queued call, each its own batch, up to kMaxActionCallsInFlight.
    auto send_batches = [&] {
      if (inv.concurrent) {
        // Every queued call that may go now, each its own batch, in order; capped ones wait their turn
        // while timers and cancels behind them still go.
        size_t out_now = CallsInFlight(inv);
        std::deque<Invocation::PendingAsync> waiting;
        while (!inv.queue.empty()) {
          Invocation::PendingAsync call = std::move(inv.queue.front());
          inv.queue.pop_front();
          const bool capped = !Uncapped(call.op);
          if (capped && out_now >= kMaxActionCallsInFlight) {
            waiting.push_back(std::move(call));
            continue;
          }
          out_now += capped;
          HostBatch out;
          out.id = inv.next_batch++;
          out.prefetched_used = std::exchange(inv.prefetch_used, {});
          out.calls.push_back({call.op, call.args});
          inv.in_flight[out.id].push_back(std::move(call));
          ++inv.in_flight_calls;
          batches.push_back(std::move(out));
        }
        inv.queue = std::move(waiting);
        return;
      }
      // A query's or mutation's next batch: consecutive gets and stream reads (up to 16), or one call.
      HostBatch out;
      out.id = inv.next_batch++;
      out.prefetched_used = std::exchange(inv.prefetch_used, {});
      std::vector<Invocation::PendingAsync>& calls = inv.in_flight[out.id];
      do {
        calls.push_back(std::move(inv.queue.front()));
        inv.queue.pop_front();
      } while (IsBatchable(calls.front().op) && calls.size() < kMaxBatch && !inv.queue.empty() &&
               IsBatchable(inv.queue.front().op));
      for (const Invocation::PendingAsync& call : calls) out.calls.push_back({call.op, call.args});
      inv.in_flight_calls += calls.size();
      batches.push_back(std::move(out));
    };
    while (ok) {
      if (!inv.awaiting.IsEmpty()) {
        isolate->PerformMicrotaskCheckpoint();
        if (isolate->IsExecutionTerminating()) {
          ok = false;
          break;
        }
        v8::Local<v8::Promise> promise = inv.awaiting.Get(isolate);
        if (promise->State() == v8::Promise::kRejected) {
          isolate->ThrowException(promise->Result());
          ok = false;
          break;
        }
        if (promise->State() == v8::Promise::kPending) {
          if (inv.queue.empty() && inv.in_flight.empty()) {
            inv.failure = absl::UnknownError("Returned promise will never resolve");
            ok = false;
            break;
          }
          if (!inv.queue.empty() && (inv.concurrent || inv.in_flight.empty())) send_batches();
          break;
        }
        value = promise->Result();
        inv.awaiting.Reset();
      }
      if (inv.next_step == inv.steps.size()) {
        // Calls the function started and did not await still run, as on Convex: a dangling
        // ctx.db.insert commits with the mutation. The result waits for them.
        // An action's are not waited for: Convex warns that they might not run.
        const bool udf = inv.invoke.has_function() && !IsActionKind(inv.invoke.function().kind());
        if (!inv.dangling_result.IsEmpty()) value = inv.dangling_result.Get(isolate);
        if (udf) {
          isolate->PerformMicrotaskCheckpoint();
          if (isolate->IsExecutionTerminating()) {
            ok = false;
            break;
          }
          if (!inv.queue.empty()) {
            if (inv.dangling_result.IsEmpty()) inv.dangling_result.Reset(isolate, value);
            send_batches();
            break;
          }
        } else if (inv.invoke.has_function() && (!inv.queue.empty() || !inv.in_flight.empty())) {
          WarnUnawaited(inv);
        }
        finished = true;
        break;
      }
      v8::Local<v8::Value> next;
      if (!inv.steps[inv.next_step++](inv, context, value).ToLocal(&next)) {
        ok = false;
        break;
      }
      if (next->IsPromise() && inv.next_step < inv.steps.size()) {
        inv.awaiting.Reset(isolate, next.As<v8::Promise>());
      } else {
        value = next;
      }
    }
    terminated = turn.End();
    inv.cpu_used += Watchdog::CpuTime(js_thread_clock_) - cpu_start;
    if (!finished && ok && !terminated) return Step{std::nullopt, std::move(batches)};
    if (terminated) {
      out.result_json = deployment_isolate.heap_exhausted()
                            ? absl::ResourceExhaustedError(kOutOfMemory)
                            : absl::DeadlineExceededError(absl::StrCat(
                                  "Function execution timed out (maximum duration: ",
                                  FormatRustDuration(absl::ToDoubleSeconds(inv.cpu_budget)), ")"));
    } else if (!inv.failure.ok()) {
      out.result_json = inv.failure;
      out.user_error = inv.failure_is_user;
    } else if (try_catch.HasCaught()) {
      DescribeThrown(context, try_catch.Exception(), &out);
    } else if (finished && !inv.unhandled.empty()) {
      // A rejection nobody handled fails the invocation, even when the result itself is fine.
      DescribeThrown(context, inv.unhandled.front().second.Get(isolate), &out);
    } else if (finished && value->IsString()) {
      std::string json = ToUtf8(isolate, value);
      absl::Status checked = inv.invoke.has_analyze() ? absl::OkStatus() : CheckValue(limits_, json, "The result");
      if (checked.ok()) {
        out.result_json = std::move(json);
      } else {
        out.result_json = checked;
        out.user_error = true;
      }
    } else {
      out.result_json = absl::InternalError("the invocation produced no result");
    }
  }
  return Finish(std::move(running_[inv.id]), std::move(out), terminated);
}

Evaluator::Step Evaluator::Finish(std::unique_ptr<Invocation> invocation, InvocationResult result, bool retire_isolate) {
  running_.erase(invocation->id);
  result.cpu_time = invocation->cpu_used;
  result.logs = std::move(invocation->logs);
  result.observed_time = invocation->observed_time;
  result.snapshot_missing = invocation->snapshot_missing;
  result.prefetch_used = std::move(invocation->prefetch_used);
  DeploymentIsolate* isolate = invocation->isolate;
  if (invocation->context != nullptr && !retire_isolate && result.result_json.ok()) UpdatePreloadPlan(*invocation);
  if (invocation->context != nullptr && !retire_isolate && result.result_json.ok() &&
      invocation->invoke.context_policy() == Invoke::WARM && invocation->queue.empty() &&
      invocation->in_flight.empty()) {
    isolate->KeepWarm(std::move(invocation->context));
  }
  invocation.reset();  // its handles go before the isolate may
  if (retire_isolate) pool_->Retire(isolate);
  pool_->Release(isolate);
  return Step{std::move(result), {}};
}

InvocationResult Evaluator::Run(Invoke invoke) {
  const InvocationId id(invoke.invocation_id());
  Step step = Start(std::move(invoke));
  std::deque<HostBatch> sent;  // answered in the order they were sent
  while (!step.done.has_value()) {
    for (HostBatch& batch : step.batches) sent.push_back(std::move(batch));
    if (sent.empty()) {
      Cancel(id);
      InvocationResult stuck;
      stuck.result_json = absl::InternalError("an invocation waits with no host call out");
      return stuck;
    }
    const HostBatch batch = std::move(sent.front());
    sent.pop_front();
    std::vector<absl::StatusOr<std::string>> results;
    for (const HostRequest& call : batch.calls) results.push_back(host_.Call(id, call.op, call.args_json));
    step = Resume(id, batch.id, std::move(results));
  }
  return std::move(*step.done);
}

InvocationResult Evaluator::Eval(InvocationId id, absl::string_view source, absl::Duration cpu_budget) {
  Invoke invoke;
  invoke.set_invocation_id(id.value());
  invoke.set_cpu_budget_ms(static_cast<uint32_t>(std::max<int64_t>(1, absl::ToInt64Milliseconds(cpu_budget))));
  invoke.mutable_eval()->set_source(std::string(source));
  return Run(std::move(invoke));
}

InvocationResult Evaluator::Call(InvocationId id, const FunctionCall& call, const InvocationEnvironment& environment,
                                 absl::Duration cpu_budget) {
  Invoke invoke;
  invoke.set_invocation_id(id.value());
  invoke.set_cpu_budget_ms(static_cast<uint32_t>(std::max<int64_t>(1, absl::ToInt64Milliseconds(cpu_budget))));
  *invoke.mutable_function() = call;
  invoke.set_seed(environment.seed);
  invoke.set_unix_time_ms(environment.unix_time_ms);
  return Run(std::move(invoke));
}

std::shared_ptr<const VersionSnapshot> Evaluator::SnapshotFor(Invocation& inv) {
  if (!inv.invoke.has_function() || (!inv.invoke.has_snapshot() && !limits_.version_snapshots)) return nullptr;
  auto classic = inv.sources.find(kClassicBundlePath);
  if (classic == inv.sources.end()) return nullptr;
  const std::string key = VersionSnapshotKey(inv.invoke.deployment(), classic->second->sha256(), inv.invoke.allow_wasm());
  std::shared_ptr<const VersionSnapshot> snapshot;
  if (inv.invoke.has_snapshot()) {
    // (Its blob came before, in a message of its own: AddSnapshot.) Only the blob of this call's own
    // deployment and script: the key says so, and it is checked here too.
    if (inv.invoke.snapshot().key() != key) return nullptr;
    snapshot = snapshots_->Find(key);
    if (snapshot == nullptr) snapshot = pool_->LiveSnapshot(inv.invoke.deployment(), key);
    inv.snapshot_missing = snapshot == nullptr;
  } else {
    snapshot = snapshots_->Find(key);
    if (snapshot == nullptr) {
      // Called again before idle time made it: now.
      std::optional<SnapshotRequest> now =
          snapshots_->Wanted(key, inv.invoke.deployment(), inv.invoke.allow_wasm(), *classic->second);
      if (now.has_value()) snapshot = MakeSnapshot(*now);
    }
  }
  return snapshot != nullptr && HoldsExactly(*snapshot, inv) ? snapshot : nullptr;
}

absl::StatusOr<std::shared_ptr<const VersionSnapshot>> Evaluator::MakeSnapshotBlob(std::string key,
                                                                                  const Module& classic, bool wasm) {
  const SnapshotEnvironment environment{limits_, *code_cache_, watchdog_, js_thread_clock_, absl::Seconds(1)};
  return MakeVersionSnapshot(std::move(key), classic, wasm, environment);
}

void Evaluator::AddSnapshot(isobar::worker::v1::VersionBlob blob) {
  if (blob.blob().empty()) return;
  std::vector<std::string> paths(blob.module_paths().begin(), blob.module_paths().end());
  snapshots_->Add(std::make_shared<VersionSnapshot>(blob.key(), std::move(*blob.mutable_blob()), std::move(paths)),
                  absl::ZeroDuration());
}

std::shared_ptr<const VersionSnapshot> Evaluator::MakeSnapshot(const SnapshotRequest& request) {
  const absl::Time start = absl::Now();
  absl::StatusOr<std::shared_ptr<const VersionSnapshot>> made = MakeSnapshotBlob(request.key, request.classic, request.wasm);
  const absl::Duration took = absl::Now() - start;
  if (!made.ok()) {
    snapshots_->Refused(request.key, took);
    ISOBAR_LOG(kInfo, "worker") << "a version of " << request.deployment
                                << " evaluates its modules per invocation (no snapshot): " << made.status().message();
    return nullptr;
  }
  ISOBAR_LOG(kDebug, "worker") << "snapshot of a version of " << request.deployment << ": " << (*made)->size()
                               << " bytes in " << absl::ToInt64Milliseconds(took) << " ms";
  snapshots_->Add(*made, took);
  return *std::move(made);
}

void Evaluator::UpdatePreloadPlan(Invocation& invocation) {
  if (!invocation.invoke.has_function() || invocation.context->from_snapshot()) return;
  std::shared_ptr<PreloadPlan>& plan = invocation.isolate->preload_plan;
  const std::string& entry = invocation.invoke.function().module_path();
  if (plan != nullptr && plan->code_version == invocation.context->code_version && plan->entry == entry &&
      plan->deterministic == invocation.deterministic) {
    return;
  }
  auto next = std::make_shared<PreloadPlan>();
  next->code_version = invocation.context->code_version;
  next->entry = entry;
  next->deterministic = invocation.deterministic;
  next->import_seed = invocation.invoke.import_seed();
  next->import_unix_time_ms = invocation.invoke.import_unix_time_ms();
  next->modules.Swap(invocation.invoke.mutable_function()->mutable_modules());  // the invocation is over
  plan = std::move(next);
}

DeploymentIsolate* Evaluator::PreloadCandidate() const {
  DeploymentIsolate* isolate = pool_->most_recent();
  if (isolate == nullptr || isolate->preload_plan == nullptr || isolate->preload_plan->failed) return nullptr;
  return isolate;
}

void Evaluator::Prepare() {
  if (std::optional<SnapshotRequest> request = snapshots_->TakeWaiting()) {
    MakeSnapshot(*request);  // a version called once: its next calls copy its snapshot
  }
  pool_->Prepare();
  DeploymentIsolate* isolate = PreloadCandidate();
  if (isolate == nullptr) return;
  std::unique_ptr<JsContext> context = isolate->TakeUnloadedPrepared();
  if (context == nullptr) return;  // preloaded already
  std::shared_ptr<PreloadPlan> plan = isolate->preload_plan;
  const PreloadEnvironment environment{limits_, *code_cache_, watchdog_, js_thread_clock_, absl::Seconds(1)};
  context = PreloadContext(*isolate, std::move(context), *plan, environment);
  if (isolate->heap_exhausted()) {
    pool_->Retire(isolate);
    return;
  }
  if (context == nullptr) {
    ISOBAR_LOG(kInfo, "worker") << "modules of " << isolate->deployment() << " evaluate per invocation: \""
                                << plan->entry << "\" could not be evaluated ahead";
    return;
  }
  isolate->SetPrepared(std::move(context));
}

bool Evaluator::HasIdleWork() const {
  if (pool_->HasIdleWork() || snapshots_->has_waiting()) return true;
  const DeploymentIsolate* isolate = PreloadCandidate();
  return isolate != nullptr && isolate->prepared_unloaded();
}

IsolateStats Evaluator::isolate_stats() const { return pool_->stats(); }

const SnapshotStats& Evaluator::snapshot_stats() const { return snapshots_->stats(); }

}  // namespace isobar::worker
