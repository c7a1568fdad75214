// bench/isolate: the worker's JavaScript engine against raw V8 in the same run (PERFORMANCE.md):
//   P7  an isolate ready to serve (isolate, prelude compiled from the worker's code cache, a context
//       with the prelude installed) vs raw Isolate::New + Context::New; and a new deployment's first
//       invocation on the request path (the pool makes a spare isolate while idle) vs raw
//       Isolate::New + Context::New + the same call;
//   P6  invocation overhead of a query in the fresh policy (a context prepared while idle) and in the
//       warm policy (context and module reused) vs a raw V8 call of a compiled function with JSON
//       in and out; and a fresh context's whole cost (making it + the invocation) vs raw
//       Context::New in a warm isolate;
//   P8  RSS per idle cached isolate (40 deployments, one invocation each).
// And a real app's query (tests/apps/chat messages:get, bundled from the convex npm package, its one
// db.get answered at once by a fake host): fresh with nothing prepared, fresh with the context and its
// modules prepared while idle (preload.h), and warm.
// Last line: {"bench":"isolate", ...}. Run: bazel run //bench:isolate
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "bench/chat_target.h"
#include "bench/harness.h"
#include "v8-context.h"
#include "v8-function.h"
#include "v8-isolate.h"
#include "v8-json.h"
#include "v8-local-handle.h"
#include "v8-primitive.h"
#include "v8-script.h"
#include "worker/evaluator.h"
#include "worker/version_snapshot.h"
#include "worker/isolate_pool.h"
#include "worker/module_hash.h"
#include "worker/module_loader.h"
#include "worker/v8_runtime.h"
#include "worker/watchdog.h"
#include "tests/module_bundle.h"
#include "tests/supervisor_fixture.h"

namespace isobar::bench {
namespace {

size_t RssBytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

constexpr char kModule[] =
    "export const fn = { isQuery: true, invokeQuery: async (args) => JSON.stringify(JSON.parse(args)[0].a + 2) };";

// A query of kModule in `deployment`.
worker::v1::Invoke QueryInvoke(uint64_t id, const std::string& deployment, worker::v1::Invoke::ContextPolicy policy) {
  worker::v1::Invoke invoke;
  invoke.set_invocation_id(id);
  invoke.set_deployment(deployment);
  invoke.set_context_policy(policy);
  invoke.set_cpu_budget_ms(1000);
  worker::v1::FunctionCall* call = invoke.mutable_function();
  call->set_kind(worker::v1::FunctionCall::QUERY);
  call->set_module_path("m.js");
  call->set_export_name("fn");
  call->set_args_json(R"([{"a":1}])");
  *call->add_modules() = worker::ModuleFromSource("m.js", kModule);
  return invoke;
}

// Answers every host call with `null` (db.get of a missing document).
class NullHost final : public worker::HostCalls {
 public:
  absl::StatusOr<std::string> Call(InvocationId, absl::string_view, absl::string_view) override { return std::string("null"); }
};

// tests/apps/chat's messages:get, per invocation: {nothing prepared, prepared while idle, warm} medians,
// with its version's snapshot (worker/version_snapshot.h) or with its ES modules evaluated per call.
absl::StatusOr<std::vector<double>> AppQuery(worker::Watchdog& watchdog, bool snapshots) {
  absl::StatusOr<std::vector<worker::v1::Module>> bundle = testing::ReadModuleBundle(testing::Runfile("tests/apps/chat.modules"));
  if (!bundle.ok()) return bundle.status();
  NullHost host;
  worker::EvaluatorLimits limits;
  limits.version_snapshots = snapshots;
  worker::Evaluator evaluator(host, watchdog, {}, limits);
  uint64_t next_id = 0;
  auto run = [&](worker::v1::Invoke::ContextPolicy policy) -> absl::StatusOr<double> {
    worker::v1::Invoke invoke = ChatGetInvoke(++next_id, *bundle, policy);
    absl::Time t0 = absl::Now();
    worker::InvocationResult r = evaluator.Run(std::move(invoke));
    const double us = absl::ToDoubleMicroseconds(absl::Now() - t0);
    if (!r.result_json.ok()) return r.result_json.status();
    if (!absl::StrContains(*r.result_json, "null")) return absl::InternalError("unexpected result " + *r.result_json);
    return us;
  };
  std::vector<double> cold, prepared, warm;
  for (int i = 0; i < 300; ++i) {
    absl::StatusOr<double> us = run(worker::v1::Invoke::FRESH);
    if (!us.ok()) return us.status();
    if (i >= 20) cold.push_back(*us);
  }
  for (int i = 0; i < 300; ++i) {
    evaluator.Prepare();  // idle time, not measured
    absl::StatusOr<double> us = run(worker::v1::Invoke::FRESH);
    if (!us.ok()) return us.status();
    if (i >= 20) prepared.push_back(*us);
  }
  for (int i = 0; i < 1000; ++i) {
    absl::StatusOr<double> us = run(worker::v1::Invoke::WARM);
    if (!us.ok()) return us.status();
    if (i >= 20) warm.push_back(*us);
  }
  const worker::SnapshotStats& stats = evaluator.snapshot_stats();
  if (snapshots && stats.made != 1) return absl::InternalError("the chat app got no snapshot");
  // With snapshots: the time its blob took to make (trial included) and its size.
  return std::vector<double>{Median(cold), Median(prepared), Median(warm), absl::ToDoubleMilliseconds(stats.making_time),
                             static_cast<double>(stats.bytes) / 1024};
}

// Raw V8: a compiled function called with JSON in and out, as the floor of one invocation.
double RawCall(v8::Isolate* isolate, v8::Local<v8::Context> context, v8::Local<v8::Function> f) {
  v8::HandleScope inner(isolate);
  absl::Time t0 = absl::Now();
  v8::Local<v8::Value> arg = v8::String::NewFromUtf8Literal(isolate, "[{\"a\":1}]");
  v8::Local<v8::Value> r = f->Call(context, context->Global(), 1, &arg).ToLocalChecked();
  v8::String::Utf8Value out(isolate, v8::JSON::Stringify(context, r).ToLocalChecked());
  return absl::ToDoubleMicroseconds(absl::Now() - t0);
}

v8::Local<v8::Function> RawFunction(v8::Isolate* isolate, v8::Local<v8::Context> context) {
  return v8::Script::Compile(context, v8::String::NewFromUtf8Literal(isolate, "(s) => JSON.parse(s)[0].a + 2"))
      .ToLocalChecked()->Run(context).ToLocalChecked().As<v8::Function>();
}

int Main(const char* argv0) {
  std::unique_ptr<v8::Platform> platform = worker::InitializeV8(argv0);
  std::unique_ptr<v8::ArrayBuffer::Allocator> allocator(v8::ArrayBuffer::Allocator::NewDefaultAllocator());
  worker::DenyAllHostCalls host;
  worker::Watchdog watchdog;
  uint64_t next_id = 0;

  // P7: an isolate ready, from nothing.
  std::vector<double> raw_ready, ours_ready;
  {
    worker::CodeCache cache(64 << 20);
    worker::EvaluatorLimits limits;
    std::vector<worker::ContextExtension> none;
    {
      worker::DeploymentIsolate first("warm-up", false, limits, none, cache);  // the worker's code cache, as after start-up
      first.Prepare();
    }
    for (int i = 0; i < 30; ++i) {
      absl::Time t0 = absl::Now();
      v8::Isolate::CreateParams params;
      params.array_buffer_allocator = allocator.get();
      v8::Isolate* isolate = v8::Isolate::New(params);
      {
        v8::Isolate::Scope scope(isolate);
        v8::HandleScope handles(isolate);
        v8::Context::New(isolate);
      }
      raw_ready.push_back(absl::ToDoubleMicroseconds(absl::Now() - t0));
      isolate->Dispose();
      absl::Time t1 = absl::Now();
      auto ours = std::make_unique<worker::DeploymentIsolate>("d", false, limits, none, cache);
      ours->Prepare();
      ours_ready.push_back(absl::ToDoubleMicroseconds(absl::Now() - t1));
    }
  }

  // P6 (fresh): making a context (Context::New + the prelude) in a warm isolate vs raw Context::New.
  std::vector<double> raw_context, ours_context;
  {
    v8::Isolate::CreateParams params;
    params.array_buffer_allocator = allocator.get();
    v8::Isolate* isolate = v8::Isolate::New(params);
    {
      v8::Isolate::Scope scope(isolate);
      for (int i = 0; i < 200; ++i) {
        v8::HandleScope handles(isolate);
        absl::Time t0 = absl::Now();
        v8::Context::New(isolate);
        raw_context.push_back(absl::ToDoubleMicroseconds(absl::Now() - t0));
      }
    }
    isolate->Dispose();
    worker::CodeCache cache(64 << 20);
    worker::EvaluatorLimits limits;
    std::vector<worker::ContextExtension> none;
    worker::DeploymentIsolate ours("d", false, limits, none, cache);
    for (int i = 0; i < 200; ++i) {
      absl::Time t0 = absl::Now();
      ours.Prepare();
      ours_context.push_back(absl::ToDoubleMicroseconds(absl::Now() - t0));
      ours.TakeContext(worker::ContextPolicy::kFresh, "", true, /*from_snapshot=*/false);  // used up, as by an invocation
    }
  }

  // P7: a new deployment's first invocation.
  std::vector<double> raw_cold, ours_cold;
  {
    worker::EvaluatorLimits limits;
    limits.max_isolates = 2;  // each new deployment evicts an old one
    worker::Evaluator evaluator(host, watchdog, {}, limits);
    for (int i = 0; i < 40; ++i) {
      evaluator.Prepare();  // idle time, as between requests in a worker (not measured)
      absl::Time t0 = absl::Now();
      v8::Isolate::CreateParams params;
      params.array_buffer_allocator = allocator.get();
      v8::Isolate* isolate = v8::Isolate::New(params);
      {
        v8::Isolate::Scope scope(isolate);
        v8::HandleScope handles(isolate);
        v8::Local<v8::Context> context = v8::Context::New(isolate);
        v8::Context::Scope context_scope(context);
        RawCall(isolate, context, RawFunction(isolate, context));
      }
      raw_cold.push_back(absl::ToDoubleMicroseconds(absl::Now() - t0));
      isolate->Dispose();
      absl::Time t1 = absl::Now();
      worker::InvocationResult r = evaluator.Run(QueryInvoke(++next_id, "cold-" + std::to_string(i), worker::v1::Invoke::FRESH));
      if (!r.result_json.ok() || *r.result_json != "3") return 1;
      if (i >= 2) ours_cold.push_back(absl::ToDoubleMicroseconds(absl::Now() - t1));  // the first two warm the code cache
    }
  }

  // P6: one invocation, fresh and warm, vs a raw call with JSON in and out.
  std::vector<double> raw_call, fresh_call, warm_call;
  {
    v8::Isolate::CreateParams params;
    params.array_buffer_allocator = allocator.get();
    v8::Isolate* isolate = v8::Isolate::New(params);
    {
      v8::Isolate::Scope scope(isolate);
      v8::HandleScope handles(isolate);
      v8::Local<v8::Context> context = v8::Context::New(isolate);
      v8::Context::Scope context_scope(context);
      v8::Local<v8::Function> f = RawFunction(isolate, context);
      for (int i = 0; i < 3000; ++i) raw_call.push_back(RawCall(isolate, context, f));
    }
    isolate->Dispose();
    worker::Evaluator evaluator(host, watchdog, {});
    for (int i = 0; i < 2000; ++i) {
      evaluator.Prepare();  // idle time, not measured
      worker::v1::Invoke invoke = QueryInvoke(++next_id, "p6", worker::v1::Invoke::FRESH);  // arrives built
      absl::Time t0 = absl::Now();
      worker::InvocationResult r = evaluator.Run(std::move(invoke));
      if (!r.result_json.ok()) return 1;
      fresh_call.push_back(absl::ToDoubleMicroseconds(absl::Now() - t0));
    }
    for (int i = 0; i < 5000; ++i) {
      worker::v1::Invoke invoke = QueryInvoke(++next_id, "p6", worker::v1::Invoke::WARM);
      absl::Time t0 = absl::Now();
      worker::InvocationResult r = evaluator.Run(std::move(invoke));
      if (!r.result_json.ok()) return 1;
      warm_call.push_back(absl::ToDoubleMicroseconds(absl::Now() - t0));
    }
  }

  // P8: RSS per idle cached isolate.
  constexpr int kIsolates = 40;
  worker::EvaluatorLimits limits;
  limits.max_isolates = kIsolates;
  worker::Evaluator cached(host, watchdog, {}, limits);
  cached.Run(QueryInvoke(++next_id, "first", worker::v1::Invoke::FRESH));  // code cache and JIT warmed outside the measurement
  const size_t rss_before = RssBytes();
  for (int i = 1; i < kIsolates; ++i) {
    if (!cached.Run(QueryInvoke(++next_id, "idle-" + std::to_string(i), worker::v1::Invoke::FRESH)).result_json.ok()) return 1;
  }
  const double rss_per_isolate_mb = static_cast<double>(RssBytes() - rss_before) / (kIsolates - 1) / (1 << 20);

  absl::StatusOr<std::vector<double>> app = AppQuery(watchdog, /*snapshots=*/false);
  absl::StatusOr<std::vector<double>> snap = AppQuery(watchdog, /*snapshots=*/true);
  if (!app.ok() || !snap.ok()) {
    std::fprintf(stderr, "isolate: the chat app's query: %s %s\n", app.status().ToString().c_str(),
                 snap.status().ToString().c_str());
    return 1;
  }

  const double raw7 = Median(raw_ready), ours7 = Median(ours_ready), raw6 = Median(raw_call);
  const double raw_first = Median(raw_cold), ours_first = Median(ours_cold);
  const double fresh6 = Median(fresh_call), warm6 = Median(warm_call);
  const double raw_new_context = Median(raw_context), ours_new_context = Median(ours_context);
  const double fresh_ratio = (ours_new_context + fresh6) / raw_new_context;
  std::printf("isolate ready: raw Isolate::New+Context::New %.0f us; ours %.0f us (%.2fx)\n", raw7, ours7, ours7 / raw7);
  std::printf("a new deployment's first invocation: raw Isolate::New+Context::New+call %.0f us; ours %.0f us (%.2fx)\n",
              raw_first, ours_first, ours_first / raw_first);
  std::printf("invocation: raw call with JSON %.1f us; fresh (prepared context) %.1f us; warm %.1f us\n", raw6, fresh6,
              warm6);
  std::printf("fresh context: raw Context::New %.0f us; ours (Context::New + prelude) %.0f us; with the invocation %.2fx\n",
              raw_new_context, ours_new_context, fresh_ratio);
  std::printf("idle cached isolate: %.2f MB RSS\n", rss_per_isolate_mb);
  std::printf("chat app messages:get, ES modules per call: fresh, nothing prepared %.0f us; fresh, prepared while idle %.0f us; warm %.0f us\n",
              (*app)[0], (*app)[1], (*app)[2]);
  std::printf("chat app messages:get, version snapshot: fresh, nothing prepared %.0f us (%.2fx); prepared while idle %.0f us; warm %.0f us; "
              "made in %.1f ms, %.0f KB\n",
              (*snap)[0], (*snap)[0] / (*app)[0], (*snap)[1], (*snap)[2], (*snap)[3], (*snap)[4]);
  std::printf("{\"bench\": \"isolate\", \"isolate_ready_us\": %s, \"first_invocation_us\": %s, "
              "\"fresh_invocation_us\": %s, \"warm_invocation_us\": %s, \"rss_per_idle_isolate_mb\": %s, "
              "\"floor\": {\"what\": \"raw V8 in the same process\", \"isolate_context_us\": %s, "
              "\"isolate_context_call_us\": %s, \"call_json_us\": %s}, "
              "\"ratio\": %s, \"first_invocation_ratio\": %s, \"fresh_overhead_us\": %s, \"warm_overhead_us\": %s, "
              "\"fresh_context_us\": %s, \"raw_context_new_us\": %s, \"fresh_vs_context_new_ratio\": %s, "
              "\"app_query_us\": {\"fresh_unprepared\": %s, \"fresh_prepared\": %s, \"warm\": %s}, "
              "\"app_query_snapshot_us\": {\"fresh_unprepared\": %s, \"fresh_prepared\": %s, \"warm\": %s}, "
              "\"snapshot_making_ms\": %s, \"snapshot_kb\": %s, "
              "\"snapshot_vs_modules_unprepared_ratio\": %s}\n",
              Num(ours7).c_str(), Num(ours_first).c_str(), Num(fresh6).c_str(), Num(warm6).c_str(),
              Num(rss_per_isolate_mb).c_str(), Num(raw7).c_str(), Num(raw_first).c_str(), Num(raw6).c_str(),
              Num(ours7 / raw7).c_str(), Num(ours_first / raw_first).c_str(), Num(fresh6 - raw6).c_str(),
              Num(warm6 - raw6).c_str(), Num(ours_new_context).c_str(), Num(raw_new_context).c_str(), Num(fresh_ratio).c_str(),
              Num((*app)[0]).c_str(), Num((*app)[1]).c_str(), Num((*app)[2]).c_str(), Num((*snap)[0]).c_str(),
              Num((*snap)[1]).c_str(), Num((*snap)[2]).c_str(), Num((*snap)[3]).c_str(), Num((*snap)[4]).c_str(),
              Num((*snap)[0] / (*app)[0]).c_str());
  return 0;
}

}  // namespace
}  // namespace isobar::bench

int main(int, char** argv) { return isobar::bench::Main(argv[0]); }
