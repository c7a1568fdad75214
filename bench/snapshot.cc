// bench/snapshot: is a V8 startup snapshot holding the installed prelude worth it on this V8? Compares,
// in one run, the worker's path (the prelude compiled from the code cache once per isolate, then run
// in each context) with a snapshot made in-process by v8::SnapshotCreator whose default context
// already has the prelude installed:
//   - an isolate ready (isolate + one context with the prelude),
//   - one more context with the prelude in a warm isolate,
//   - RSS per idle isolate with one context.
// Last line: {"bench":"snapshot", ...}. Run: bazel run //bench:snapshot
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <vector>

#include "absl/time/clock.h"
#include "bench/harness.h"
#include "v8-context.h"
#include "v8-function.h"
#include "v8-isolate.h"
#include "v8-local-handle.h"
#include "v8-snapshot.h"
#include "worker/bindings.h"
#include "worker/isolate_pool.h"
#include "worker/module_loader.h"
#include "worker/v8_runtime.h"

namespace isobar::bench {
namespace {

size_t RssBytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

// A snapshot whose default context has the prelude installed; enterInvocation is its data 0.
v8::StartupData MakeSnapshot() {
  worker::CodeCache cache(64 << 20);
  v8::SnapshotCreator creator(worker::BindingReferences());
  v8::Isolate* isolate = creator.GetIsolate();
  {
    v8::HandleScope handles(isolate);
    v8::Local<v8::Context> context = v8::Context::New(isolate);
    v8::Context::Scope scope(context);
    v8::Local<v8::UnboundScript> prelude = worker::CompilePrelude(isolate, cache).ToLocalChecked();
    v8::Local<v8::Function> enter = worker::InstallPrelude(context, prelude).ToLocalChecked();
    creator.AddData(context, enter);
    creator.SetDefaultContext(context);
  }
  return creator.CreateBlob(v8::SnapshotCreator::FunctionCodeHandling::kKeep);
}

// A context from the snapshot, with its enterInvocation.
bool ContextFromSnapshot(v8::Isolate* isolate) {
  v8::HandleScope handles(isolate);
  v8::Local<v8::Context> context = v8::Context::New(isolate);
  return !context->GetDataFromSnapshotOnce<v8::Function>(0).IsEmpty();
}

int Main(const char* argv0) {
  std::unique_ptr<v8::Platform> platform = worker::InitializeV8(argv0);
  std::unique_ptr<v8::ArrayBuffer::Allocator> allocator(v8::ArrayBuffer::Allocator::NewDefaultAllocator());
  v8::StartupData blob = MakeSnapshot();
  if (blob.data == nullptr) return 1;
  auto new_snapshot_isolate = [&] {
    v8::Isolate::CreateParams params;
    params.array_buffer_allocator = allocator.get();
    params.snapshot_blob = &blob;
    params.external_references = worker::BindingReferences();
    return v8::Isolate::New(params);
  };

  worker::CodeCache cache(64 << 20);
  worker::EvaluatorLimits limits;
  std::vector<worker::ContextExtension> none;
  { worker::DeploymentIsolate("warm-up", false, limits, none, cache).Prepare(); }

  // An isolate ready.
  std::vector<double> ours_ready, snapshot_ready;
  for (int i = 0; i < 30; ++i) {
    absl::Time t0 = absl::Now();
    auto ours = std::make_unique<worker::DeploymentIsolate>("d", false, limits, none, cache);
    ours->Prepare();
    ours_ready.push_back(absl::ToDoubleMicroseconds(absl::Now() - t0));
    ours.reset();
    absl::Time t1 = absl::Now();
    v8::Isolate* isolate = new_snapshot_isolate();
    {
      v8::Isolate::Scope scope(isolate);
      if (!ContextFromSnapshot(isolate)) return 1;
    }
    snapshot_ready.push_back(absl::ToDoubleMicroseconds(absl::Now() - t1));
    isolate->Dispose();
  }

  // One more context in a warm isolate.
  std::vector<double> ours_context, snapshot_context;
  {
    worker::DeploymentIsolate ours("d", false, limits, none, cache);
    for (int i = 0; i < 200; ++i) {
      absl::Time t0 = absl::Now();
      ours.Prepare();
      ours_context.push_back(absl::ToDoubleMicroseconds(absl::Now() - t0));
      ours.TakeContext(worker::ContextPolicy::kFresh, "", true, /*from_snapshot=*/false);
    }
    v8::Isolate* isolate = new_snapshot_isolate();
    {
      v8::Isolate::Scope scope(isolate);
      for (int i = 0; i < 200; ++i) {
        absl::Time t0 = absl::Now();
        if (!ContextFromSnapshot(isolate)) return 1;
        snapshot_context.push_back(absl::ToDoubleMicroseconds(absl::Now() - t0));
      }
    }
    isolate->Dispose();
  }

  // RSS per idle isolate with one context.
  constexpr int kIsolates = 30;
  size_t before = RssBytes();
  std::vector<std::unique_ptr<worker::DeploymentIsolate>> ours_idle;
  for (int i = 0; i < kIsolates; ++i) {
    ours_idle.push_back(std::make_unique<worker::DeploymentIsolate>("d", false, limits, none, cache));
    ours_idle.back()->Prepare();
  }
  const double ours_rss = static_cast<double>(RssBytes() - before) / kIsolates / (1 << 20);
  before = RssBytes();
  std::vector<v8::Isolate*> snapshot_idle;
  std::vector<v8::Global<v8::Context>> snapshot_contexts;
  for (int i = 0; i < kIsolates; ++i) {
    v8::Isolate* isolate = new_snapshot_isolate();
    v8::Isolate::Scope scope(isolate);
    v8::HandleScope handles(isolate);
    snapshot_contexts.emplace_back(isolate, v8::Context::New(isolate));
    snapshot_idle.push_back(isolate);
  }
  const double snapshot_rss = static_cast<double>(RssBytes() - before) / kIsolates / (1 << 20);

  const double ready_ours = Median(ours_ready), ready_snapshot = Median(snapshot_ready);
  const double context_ours = Median(ours_context), context_snapshot = Median(snapshot_context);
  std::printf("isolate ready: code-cache path %.0f us, snapshot %.0f us\n", ready_ours, ready_snapshot);
  std::printf("one more context: code-cache path %.0f us, snapshot %.0f us\n", context_ours, context_snapshot);
  std::printf("RSS per idle isolate: code-cache path %.2f MB, snapshot %.2f MB (blob %d KB)\n", ours_rss, snapshot_rss,
              blob.raw_size / 1024);
  std::printf("{\"bench\": \"snapshot\", \"isolate_ready_us\": %s, \"context_us\": %s, \"rss_mb\": %s, "
              "\"floor\": {\"what\": \"the worker's code-cache path in the same run\", \"isolate_ready_us\": %s, "
              "\"context_us\": %s, \"rss_mb\": %s}, \"ratio\": %s, \"context_ratio\": %s}\n",
              Num(ready_snapshot).c_str(), Num(context_snapshot).c_str(), Num(snapshot_rss).c_str(), Num(ready_ours).c_str(),
              Num(context_ours).c_str(), Num(ours_rss).c_str(), Num(ready_snapshot / ready_ours).c_str(),
              Num(context_snapshot / context_ours).c_str());
  snapshot_contexts.clear();
  for (v8::Isolate* isolate : snapshot_idle) isolate->Dispose();
  return 0;
}

}  // namespace
}  // namespace isobar::bench

int main(int, char** argv) { return isobar::bench::Main(argv[0]); }
