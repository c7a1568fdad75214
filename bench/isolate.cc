// bench/isolate: the worker's JavaScript engine against raw V8 in the same run (PERFORMANCE.md):
//   P7  a cold isolate ready to serve (Evaluator: isolate + context + prelude) vs raw
//       Isolate::New + Context::New;
//   P6  invocation overhead with a prepared context (fresh policy) vs a raw V8 call of a compiled
//       function with JSON in and out;
//   P8  RSS of one idle isolate holding a prepared context.
// Last line: {"bench":"isolate", ...}. Run: bazel run //bench:isolate
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "bench/harness.h"
#include "v8-context.h"
#include "v8-function.h"
#include "v8-isolate.h"
#include "v8-json.h"
#include "v8-local-handle.h"
#include "v8-primitive.h"
#include "v8-script.h"
#include "worker/evaluator.h"
#include "worker/v8_runtime.h"
#include "worker/watchdog.h"

namespace isobar::bench {
namespace {

size_t RssBytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

int Main(const char* argv0) {
  std::unique_ptr<v8::Platform> platform = worker::InitializeV8(argv0);
  std::unique_ptr<v8::ArrayBuffer::Allocator> allocator(v8::ArrayBuffer::Allocator::NewDefaultAllocator());
  worker::DenyAllHostCalls host;
  worker::Watchdog watchdog;

  // P7: cold start.
  std::vector<double> raw_cold, ours_cold;
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
    raw_cold.push_back(absl::ToDoubleMicroseconds(absl::Now() - t0));
    isolate->Dispose();
    absl::Time t1 = absl::Now();
    {
      worker::Evaluator evaluator(host, watchdog, {});
      evaluator.Prepare();
      ours_cold.push_back(absl::ToDoubleMicroseconds(absl::Now() - t1));
    }
  }

  // P6: overhead of one invocation ("1 + 2" with its result as JSON) vs a raw call with JSON in/out.
  std::vector<double> raw_call, ours_call;
  {
    v8::Isolate::CreateParams params;
    params.array_buffer_allocator = allocator.get();
    v8::Isolate* isolate = v8::Isolate::New(params);
    {
      v8::Isolate::Scope scope(isolate);
      v8::HandleScope handles(isolate);
      v8::Local<v8::Context> context = v8::Context::New(isolate);
      v8::Context::Scope context_scope(context);
      v8::Local<v8::Function> f = v8::Script::Compile(context, v8::String::NewFromUtf8Literal(isolate, "(s) => JSON.parse(s).a + 2"))
                                      .ToLocalChecked()->Run(context).ToLocalChecked().As<v8::Function>();
      for (int i = 0; i < 3000; ++i) {
        v8::HandleScope inner(isolate);
        absl::Time t0 = absl::Now();
        v8::Local<v8::Value> arg = v8::String::NewFromUtf8Literal(isolate, "{\"a\":1}");
        v8::Local<v8::Value> r = f->Call(context, context->Global(), 1, &arg).ToLocalChecked();
        v8::String::Utf8Value out(isolate, v8::JSON::Stringify(context, r).ToLocalChecked());
        raw_call.push_back(absl::ToDoubleMicroseconds(absl::Now() - t0));
      }
    }
    isolate->Dispose();
    worker::Evaluator evaluator(host, watchdog, {});
    for (int i = 0; i < 2000; ++i) {
      evaluator.Prepare();  // idle time, not measured
      absl::Time t0 = absl::Now();
      worker::InvocationResult r = evaluator.Eval(InvocationId(i + 1), "1 + 2", absl::Seconds(1));
      if (!r.result_json.ok()) return 1;
      ours_call.push_back(absl::ToDoubleMicroseconds(absl::Now() - t0));
    }
  }

  // P8: RSS per idle isolate with a prepared context.
  constexpr int kIsolates = 40;
  std::vector<std::unique_ptr<worker::Evaluator>> idle;
  const size_t rss_before = RssBytes();
  for (int i = 0; i < kIsolates; ++i) {
    idle.push_back(std::make_unique<worker::Evaluator>(host, watchdog, std::vector<worker::ContextExtension>{}));
    idle.back()->Prepare();
  }
  const double rss_per_isolate_mb = static_cast<double>(RssBytes() - rss_before) / kIsolates / (1 << 20);

  const double raw7 = Median(raw_cold), ours7 = Median(ours_cold), raw6 = Median(raw_call), ours6 = Median(ours_call);
  std::printf("cold: raw Isolate::New+Context::New %.0f us; Evaluator ready %.0f us (%.2fx)\n", raw7, ours7, ours7 / raw7);
  std::printf("invocation: raw call with JSON %.1f us; Eval on a prepared context %.1f us\n", raw6, ours6);
  std::printf("idle isolate with a prepared context: %.2f MB RSS\n", rss_per_isolate_mb);
  std::printf("{\"bench\": \"isolate\", \"cold_ready_us\": %s, \"invocation_us\": %s, \"rss_per_idle_isolate_mb\": %s, "
              "\"floor\": {\"what\": \"raw V8 in the same process\", \"isolate_and_context_us\": %s, \"call_json_us\": %s}, "
              "\"ratio\": %s, \"invocation_overhead_us\": %s}\n",
              Num(ours7).c_str(), Num(ours6).c_str(), Num(rss_per_isolate_mb).c_str(), Num(raw7).c_str(), Num(raw6).c_str(),
              Num(ours7 / raw7).c_str(), Num(ours6 - raw6).c_str());
  return 0;
}

}  // namespace
}  // namespace isobar::bench

int main(int, char** argv) { return isobar::bench::Main(argv[0]); }
