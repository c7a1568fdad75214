#include "worker/evaluator.h"

#include <pthread.h>

#include <deque>
#include <map>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "runtime-js/prelude.h"
#include "v8-exception.h"
#include "v8-function.h"
#include "v8-json.h"
#include "v8-local-handle.h"
#include "v8-message.h"
#include "v8-microtask-queue.h"
#include "v8-object.h"
#include "v8-primitive.h"
#include "v8-promise.h"
#include "v8-proxy.h"
#include "v8-script.h"
#include "v8-template.h"
#include "worker/module_hash.h"

namespace isobar::worker {

using isobar::worker::v1::FunctionCall;

namespace {

// The context embedder-data slot that points at the invocation's Run.
constexpr int kRunSlot = 1;
constexpr size_t kMaxBatch = 16;

clockid_t CurrentThreadCpuClock() {
  clockid_t clock = CLOCK_THREAD_CPUTIME_ID;
  pthread_getcpuclockid(pthread_self(), &clock);
  return clock;
}

std::string ToUtf8(v8::Isolate* isolate, v8::Local<v8::Value> value) {
  v8::String::Utf8Value utf8(isolate, value);
  return *utf8 != nullptr ? std::string(*utf8, static_cast<size_t>(utf8.length())) : std::string();
}

v8::Local<v8::String> NewString(v8::Isolate* isolate, absl::string_view s) {
  return v8::String::NewFromUtf8(isolate, s.data(), v8::NewStringType::kNormal, static_cast<int>(s.size()))
      .ToLocalChecked();
}

// An own data property, read without running any user code (no getters, no proxy traps).
v8::Local<v8::Value> OwnData(v8::Local<v8::Context> context, v8::Local<v8::Object> object, v8::Local<v8::Name> key) {
  v8::Isolate* isolate = context->GetIsolate();
  if (object->IsProxy()) return v8::Undefined(isolate);
  v8::Local<v8::Value> descriptor;
  if (!object->GetOwnPropertyDescriptor(context, key).ToLocal(&descriptor) || !descriptor->IsObject()) {
    return v8::Undefined(isolate);
  }
  // The descriptor is a fresh plain object made by V8: reading it runs no user code.
  v8::Local<v8::Value> value;
  if (!descriptor.As<v8::Object>()->Get(context, NewString(isolate, "value")).ToLocal(&value)) {
    return v8::Undefined(isolate);
  }
  return value;
}

bool IsBatchable(const std::string& op) { return op == "1.0/get" || op == "1.0/queryStreamNext"; }

// "./x.js" or "../y.js" against the importing module's path; only relative imports exist.
absl::StatusOr<std::string> ResolveRelative(absl::string_view referrer, absl::string_view specifier) {
  if (!absl::StartsWith(specifier, "./") && !absl::StartsWith(specifier, "../")) {
    return absl::InvalidArgumentError(
        absl::StrCat("Cannot import \"", specifier.substr(0, 100), "\": only relative imports of this deployment's modules exist"));
  }
  std::vector<std::string> parts = absl::StrSplit(referrer, '/');
  parts.pop_back();  // the importing file's name
  for (absl::string_view segment : absl::StrSplit(specifier, '/')) {
    if (segment == ".") continue;
    if (segment == "..") {
      if (parts.empty()) return absl::InvalidArgumentError(absl::StrCat("Cannot import \"", specifier, "\": it leaves the deployment"));
      parts.pop_back();
      continue;
    }
    parts.emplace_back(segment);
  }
  return absl::StrJoin(parts, "/");
}

}  // namespace

struct Evaluator::Run {
  struct PendingAsync {
    std::string op;
    std::string args;
    v8::Global<v8::Promise::Resolver> resolver;
  };

  InvocationId id;
  HostCalls* host;
  const EvaluatorLimits* limits;
  std::vector<LogLine> logs;
  bool logs_truncated = false;
  std::deque<PendingAsync> queue;
  // Rejected promises nobody handled (yet): promise, reason.
  std::vector<std::pair<v8::Global<v8::Promise>, v8::Global<v8::Value>>> unhandled;
  // A failure that is not a JS exception (never resolves, a bad module, ...).
  absl::Status failure;
  bool failure_is_user = true;
  // Modules of a function call.
  std::map<std::string, const isobar::worker::v1::Module*> sources;
  std::vector<std::pair<v8::Global<v8::Module>, std::string>> compiled;

  static Run* Of(v8::Local<v8::Context> context) {
    return static_cast<Run*>(context->GetAlignedPointerFromEmbedderData(kRunSlot));
  }
  // The invocation of the context a binding was called in.
  static Run* Of(const v8::FunctionCallbackInfo<v8::Value>& info) {
    return Of(info.GetIsolate()->GetCurrentContext());
  }
};

namespace {

using Run = Evaluator::Run;

bool SyscallArguments(const v8::FunctionCallbackInfo<v8::Value>& info, std::string* op, std::string* args) {
  v8::Isolate* isolate = info.GetIsolate();
  if (Run::Of(info) == nullptr) {
    isolate->ThrowException(v8::Exception::Error(NewString(isolate, "Convex syscalls are unavailable outside an invocation")));
    return false;
  }
  if (info.Length() < 2 || !info[0]->IsString() || !info[1]->IsString()) {
    isolate->ThrowException(v8::Exception::TypeError(NewString(isolate, "Convex syscalls take (op: string, argsJson: string)")));
    return false;
  }
  if (info[0].As<v8::String>()->Length() > 256 ||
      static_cast<size_t>(info[1].As<v8::String>()->Utf8Length(isolate)) > Run::Of(info)->limits->max_host_call_bytes) {
    isolate->ThrowException(v8::Exception::RangeError(NewString(isolate, "Convex syscall arguments are too large")));
    return false;
  }
  *op = ToUtf8(isolate, info[0]);
  *args = ToUtf8(isolate, info[1]);
  return true;
}

void Syscall(const v8::FunctionCallbackInfo<v8::Value>& info) {
  std::string op, args;
  if (!SyscallArguments(info, &op, &args)) return;
  Run* run = Run::Of(info);
  absl::StatusOr<std::string> result = run->host->Call(run->id, op, args);
  if (!result.ok()) {
    info.GetIsolate()->ThrowException(v8::Exception::Error(NewString(info.GetIsolate(), result.status().message())));
    return;
  }
  info.GetReturnValue().Set(NewString(info.GetIsolate(), *result));
}

// Queues the call (CONVEX_ABI.md §2.10); the completion loop performs it.
void AsyncSyscall(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  std::string op, args;
  if (!SyscallArguments(info, &op, &args)) return;
  Run* run = Run::Of(info);
  if (run->queue.size() >= run->limits->max_pending_async_syscalls) {
    isolate->ThrowException(v8::Exception::RangeError(NewString(
        isolate, absl::StrCat("Too many concurrent async syscalls (limit ", run->limits->max_pending_async_syscalls, ")"))));
    return;
  }
  v8::Local<v8::Promise::Resolver> resolver;
  if (!v8::Promise::Resolver::New(isolate->GetCurrentContext()).ToLocal(&resolver)) return;
  run->queue.push_back({std::move(op), std::move(args), v8::Global<v8::Promise::Resolver>(isolate, resolver)});
  info.GetReturnValue().Set(resolver->GetPromise());
}

// console.*: arguments joined by spaces; strings as they are, objects as JSON where they have one.
void ConsoleLog(const v8::FunctionCallbackInfo<v8::Value>& info, const char* level) {
  v8::Isolate* isolate = info.GetIsolate();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  Run* run = Run::Of(info);
  if (run == nullptr) return;  // no invocation attached: nowhere to log
  if (run->logs.size() >= run->limits->max_log_lines) {
    if (!run->logs_truncated) {
      run->logs_truncated = true;
      run->logs.push_back({"warn", absl::StrCat("Log overflow (maximum ", run->limits->max_log_lines,
                                                " lines); later lines were dropped")});
    }
    return;
  }
  std::string line;
  for (int i = 0; i < info.Length(); ++i) {
    if (i > 0) line += ' ';
    v8::Local<v8::Value> value = info[i];
    v8::Local<v8::String> text;
    if (value->IsObject() && !value->IsFunction()) {
      v8::TryCatch try_catch(isolate);
      if (!v8::JSON::Stringify(context, value).ToLocal(&text)) {
        if (try_catch.HasTerminated()) {
          try_catch.ReThrow();
          return;
        }
        text = NewString(isolate, "[object]");
      }
    } else if (!value->ToString(context).ToLocal(&text)) {
      return;
    }
    line += ToUtf8(isolate, text);
    if (line.size() > run->limits->max_log_line_bytes) break;
  }
  if (line.size() > run->limits->max_log_line_bytes) {
    line.resize(run->limits->max_log_line_bytes);
    line += " (truncated)";
  }
  run->logs.push_back({level, std::move(line)});
}

template <const char* kLevel>
void ConsoleMethod(const v8::FunctionCallbackInfo<v8::Value>& info) {
  ConsoleLog(info, kLevel);
}

constexpr char kLog[] = "log";
constexpr char kInfo[] = "info";
constexpr char kWarn[] = "warn";
constexpr char kError[] = "error";
constexpr char kDebug[] = "debug";

void SetFunction(v8::Local<v8::Context> context, v8::Local<v8::Object> target, const char* name,
                 v8::FunctionCallback callback) {
  v8::Isolate* isolate = context->GetIsolate();
  v8::Local<v8::Function> function = v8::FunctionTemplate::New(isolate, callback)->GetFunction(context).ToLocalChecked();
  target->Set(context, NewString(isolate, name), function).Check();
}

void SetNumber(v8::Local<v8::Context> context, v8::Local<v8::Object> target, const char* name, double value) {
  target->Set(context, NewString(context->GetIsolate(), name), v8::Number::New(context->GetIsolate(), value)).Check();
}

// Installs console and runs the prelude with the native bindings; its enterInvocation function, or
// nothing if the prelude failed. The bindings find their invocation through the context.
v8::MaybeLocal<v8::Function> InstallGlobals(v8::Local<v8::Context> context) {
  v8::Isolate* isolate = context->GetIsolate();
  v8::Local<v8::Object> console = v8::Object::New(isolate);
  SetFunction(context, console, "log", ConsoleMethod<kLog>);
  SetFunction(context, console, "info", ConsoleMethod<kInfo>);
  SetFunction(context, console, "warn", ConsoleMethod<kWarn>);
  SetFunction(context, console, "error", ConsoleMethod<kError>);
  SetFunction(context, console, "debug", ConsoleMethod<kDebug>);
  context->Global()->Set(context, NewString(isolate, "console"), console).Check();

  v8::Local<v8::Object> native = v8::Object::New(isolate);
  SetFunction(context, native, "syscall", Syscall);
  SetFunction(context, native, "asyncSyscall", AsyncSyscall);

  v8::ScriptOrigin origin(isolate, NewString(isolate, "isobar:prelude.js"));
  v8::Local<v8::Script> script;
  v8::Local<v8::Value> installer;
  v8::Local<v8::Value> enter;
  v8::Local<v8::Value> argv[] = {native};
  if (!v8::Script::Compile(context, NewString(isolate, runtime_js::kPrelude), &origin).ToLocal(&script) ||
      !script->Run(context).ToLocal(&installer) || !installer->IsFunction() ||
      !installer.As<v8::Function>()->Call(context, v8::Undefined(isolate), 1, argv).ToLocal(&enter) ||
      !enter->IsFunction()) {
    return {};
  }
  return enter.As<v8::Function>();
}

// Calls the prelude's enterInvocation with this invocation's parameters.
bool EnterInvocation(v8::Local<v8::Context> context, v8::Local<v8::Function> enter, bool deterministic,
                     const InvocationEnvironment& env) {
  v8::Isolate* isolate = context->GetIsolate();
  v8::Local<v8::Object> params = v8::Object::New(isolate);
  SetNumber(context, params, "seedHigh", static_cast<double>(env.seed >> 32));
  SetNumber(context, params, "seedLow", static_cast<double>(env.seed & 0xFFFFFFFF));
  SetNumber(context, params, "now", env.unix_time_ms);
  params->Set(context, NewString(isolate, "deterministic"), v8::Boolean::New(isolate, deterministic)).Check();
  v8::Local<v8::Value> argv[] = {params};
  return !enter->Call(context, v8::Undefined(isolate), 1, argv).IsEmpty();
}

void OnPromiseReject(v8::PromiseRejectMessage message) {
  v8::Local<v8::Promise> promise = message.GetPromise();
  v8::Isolate* isolate = promise->GetIsolate();
  Run* run = Run::Of(isolate->GetCurrentContext());
  if (run == nullptr) return;
  if (message.GetEvent() == v8::kPromiseRejectWithNoHandler) {
    run->unhandled.emplace_back(v8::Global<v8::Promise>(isolate, promise), v8::Global<v8::Value>(isolate, message.GetValue()));
  } else if (message.GetEvent() == v8::kPromiseHandlerAddedAfterReject) {
    for (auto it = run->unhandled.begin(); it != run->unhandled.end(); ++it) {
      if (it->first == promise) {
        run->unhandled.erase(it);
        break;
      }
    }
  }
}

// Runs microtasks and queued async syscalls until `promise` settles. On a rejection, throws its
// reason (so the caller's TryCatch sees it); on "never resolves" sets run.failure. Returns false if
// the promise did not fulfil.
bool Drive(Run& run, v8::Local<v8::Context> context, v8::Local<v8::Promise> promise) {
  v8::Isolate* isolate = context->GetIsolate();
  for (;;) {
    isolate->PerformMicrotaskCheckpoint();
    if (isolate->IsExecutionTerminating()) return false;
    if (promise->State() == v8::Promise::kFulfilled) return true;
    if (promise->State() == v8::Promise::kRejected) {
      isolate->ThrowException(promise->Result());
      return false;
    }
    if (run.queue.empty()) {
      run.failure = absl::UnknownError("Returned promise will never resolve");
      return false;
    }
    // The next batch: consecutive gets and stream reads (up to 16), or one call of anything else.
    std::vector<Run::PendingAsync> batch;
    batch.push_back(std::move(run.queue.front()));
    run.queue.pop_front();
    while (IsBatchable(batch.front().op) && batch.size() < kMaxBatch && !run.queue.empty() &&
           IsBatchable(run.queue.front().op)) {
      batch.push_back(std::move(run.queue.front()));
      run.queue.pop_front();
    }
    std::vector<absl::StatusOr<std::string>> results;
    for (const Run::PendingAsync& call : batch) results.push_back(run.host->Call(run.id, call.op, call.args));
    for (size_t i = 0; i < batch.size(); ++i) {
      v8::Local<v8::Promise::Resolver> resolver = batch[i].resolver.Get(isolate);
      if (results[i].ok()) {
        resolver->Resolve(context, NewString(isolate, *results[i])).Check();
      } else {
        resolver->Reject(context, v8::Exception::Error(NewString(isolate, results[i].status().message()))).Check();
      }
    }
  }
}

// Fills `out` from a thrown value without running user code.
void DescribeThrown(v8::Local<v8::Context> context, v8::Local<v8::Value> thrown, InvocationResult* out) {
  v8::Isolate* isolate = context->GetIsolate();
  out->user_error = true;
  if (thrown->IsNativeError() && thrown->IsObject()) {
    v8::Local<v8::Object> error = thrown.As<v8::Object>();
    v8::Local<v8::Value> name = OwnData(context, error, NewString(isolate, "name"));
    v8::Local<v8::Value> message = OwnData(context, error, NewString(isolate, "message"));
    std::string name_text = name->IsString() ? ToUtf8(isolate, name) : ToUtf8(isolate, error->GetConstructorName());
    std::string message_text = message->IsString() ? ToUtf8(isolate, message) : "";
    // A ConvexError: error[Symbol.for("ConvexError")] === true, data serialised by the library.
    v8::Local<v8::Value> marker = OwnData(context, error, v8::Symbol::For(isolate, NewString(isolate, "ConvexError")));
    if (marker->IsTrue()) {
      v8::Local<v8::Value> data = OwnData(context, error, NewString(isolate, "data"));
      if (data->IsString()) out->convex_error_data = ToUtf8(isolate, data);
    }
    out->result_json = absl::UnknownError(message_text.empty() ? name_text : absl::StrCat(name_text, ": ", message_text));
    return;
  }
  std::string text = "a value that is not an Error";
  if (thrown->IsString() || thrown->IsNumber() || thrown->IsBoolean() || thrown->IsNullOrUndefined()) {
    text = ToUtf8(isolate, thrown);
  }
  out->result_json = absl::UnknownError(absl::StrCat("Uncaught ", text));
}

v8::MaybeLocal<v8::Module> LoadModule(v8::Local<v8::Context> context, const std::string& path);

v8::MaybeLocal<v8::Module> ResolveImport(v8::Local<v8::Context> context, v8::Local<v8::String> specifier,
                                         v8::Local<v8::FixedArray>, v8::Local<v8::Module> referrer) {
  v8::Isolate* isolate = context->GetIsolate();
  Run* run = Run::Of(context);
  std::string referrer_path;
  for (const auto& [module, path] : run->compiled) {
    if (module == referrer) referrer_path = path;
  }
  absl::StatusOr<std::string> path = ResolveRelative(referrer_path, ToUtf8(isolate, specifier));
  if (!path.ok()) {
    isolate->ThrowException(v8::Exception::Error(NewString(isolate, path.status().message())));
    return {};
  }
  return LoadModule(context, *path);
}

v8::MaybeLocal<v8::Module> LoadModule(v8::Local<v8::Context> context, const std::string& path) {
  v8::Isolate* isolate = context->GetIsolate();
  Run* run = Run::Of(context);
  for (const auto& [module, compiled_path] : run->compiled) {
    if (compiled_path == path) return module.Get(isolate);
  }
  auto it = run->sources.find(path);
  if (it == run->sources.end()) {
    isolate->ThrowException(v8::Exception::Error(NewString(isolate, absl::StrCat("Module \"", path, "\" not found"))));
    return {};
  }
  if (!Sha256Matches(it->second->source(), it->second->sha256())) {
    run->failure = absl::DataLossError(absl::StrCat("module ", path, " does not match its SHA-256"));
    run->failure_is_user = false;
    isolate->ThrowException(v8::Exception::Error(NewString(isolate, "module hash mismatch")));
    return {};
  }
  v8::ScriptOrigin origin(isolate, NewString(isolate, absl::StrCat("convex:/", path)), 0, 0, false, -1,
                          v8::Local<v8::Value>(), false, false, /*is_module=*/true);
  v8::ScriptCompiler::Source source(NewString(isolate, it->second->source()), origin);
  v8::Local<v8::Module> module;
  if (!v8::ScriptCompiler::CompileModule(isolate, &source).ToLocal(&module)) return {};
  run->compiled.emplace_back(v8::Global<v8::Module>(isolate, module), path);
  return module;
}

// The function object's invoke method for `kind`, with Convex's messages when it is something else.
v8::MaybeLocal<v8::Function> InvokeFunction(v8::Local<v8::Context> context, v8::Local<v8::Value> exported,
                                            const FunctionCall& call, Run& run) {
  v8::Isolate* isolate = context->GetIsolate();
  const std::string display = absl::StrCat(call.module_path(), ":", call.export_name());
  if (exported->IsUndefined()) {
    run.failure = absl::NotFoundError(absl::StrCat("Function \"", display, "\" not found"));
    return {};
  }
  auto flag = [&](const char* name) {
    return exported->IsObject() && OwnData(context, exported.As<v8::Object>(), NewString(isolate, name))->IsTrue();
  };
  const char* actual = flag("isQuery") ? "query" : flag("isMutation") ? "mutation" : flag("isAction") ? "action" : nullptr;
  const char* wanted = call.kind() == FunctionCall::QUERY      ? "query"
                       : call.kind() == FunctionCall::MUTATION ? "mutation"
                                                               : "action";
  if (actual == nullptr) {
    run.failure = absl::InvalidArgumentError(absl::StrCat(
        "Function \"", display, "\" is not a Convex function. Did you forget to wrap it with `query` or `mutation`?"));
    return {};
  }
  if (std::string(actual) != wanted) {
    run.failure = absl::InvalidArgumentError(
        absl::StrCat("Function \"", display, "\" is registered as a ", actual, " but is being run as a ", wanted));
    return {};
  }
  const char* method = call.kind() == FunctionCall::QUERY      ? "invokeQuery"
                       : call.kind() == FunctionCall::MUTATION ? "invokeMutation"
                                                               : "invokeAction";
  v8::Local<v8::Value> invoke = OwnData(context, exported.As<v8::Object>(), NewString(isolate, method));
  if (!invoke->IsFunction()) {
    run.failure = absl::InvalidArgumentError(absl::StrCat("Function \"", display, "\" has no ", method));
    return {};
  }
  return invoke.As<v8::Function>();
}

}  // namespace

Evaluator::Evaluator(HostCalls& host, Watchdog& watchdog, std::vector<ContextExtension> extensions,
                     EvaluatorLimits limits)
    : host_(host),
      watchdog_(watchdog),
      extensions_(std::move(extensions)),
      limits_(limits),
      js_thread_clock_(CurrentThreadCpuClock()),
      allocator_(std::make_unique<CappedArrayBufferAllocator>(limits.max_array_buffer_bytes)) {
  NewIsolate();
}

Evaluator::~Evaluator() { DisposeIsolate(); }

void Evaluator::NewIsolate() {
  v8::Isolate::CreateParams params;
  params.array_buffer_allocator = allocator_.get();
  params.constraints.ConfigureDefaultsFromHeapSize(0, limits_.max_heap_bytes);
  isolate_ = v8::Isolate::New(params);
  isolate_->SetMicrotasksPolicy(v8::MicrotasksPolicy::kExplicit);
  isolate_->SetAllowAtomicsWait(false);
  isolate_->AddNearHeapLimitCallback(&Evaluator::NearHeapLimit, this);
  isolate_->SetPromiseRejectCallback(OnPromiseReject);
  heap_exhausted_ = false;
  ++isolates_created_;
}

void Evaluator::DisposeIsolate() {
  prepared_.reset();  // its handles belong to the isolate
  if (isolate_ != nullptr) {
    isolate_->Dispose();
    isolate_ = nullptr;
  }
}

size_t Evaluator::NearHeapLimit(void* data, size_t current_limit, size_t) {
  auto* self = static_cast<Evaluator*>(data);
  self->heap_exhausted_ = true;
  self->isolate_->TerminateExecution();
  return current_limit + (16u << 20);  // room to unwind; the isolate is discarded afterwards
}

std::optional<Evaluator::PreparedContext> Evaluator::NewContext() {
  v8::Isolate::Scope isolate_scope(isolate_);
  v8::HandleScope handle_scope(isolate_);
  v8::Local<v8::Context> context = v8::Context::New(isolate_);
  v8::Context::Scope context_scope(context);
  context->SetAlignedPointerInEmbedderData(kRunSlot, nullptr);  // no invocation attached yet
  v8::TryCatch try_catch(isolate_);
  v8::Local<v8::Function> enter;
  if (!InstallGlobals(context).ToLocal(&enter)) return std::nullopt;
  for (const ContextExtension& extend : extensions_) extend(isolate_, context);
  return PreparedContext{v8::Global<v8::Context>(isolate_, context), v8::Global<v8::Function>(isolate_, enter)};
}

void Evaluator::Prepare() {
  if (!prepared_.has_value()) prepared_ = NewContext();
}

std::optional<Evaluator::PreparedContext> Evaluator::TakeContext() {
  std::optional<PreparedContext> context = std::move(prepared_);
  prepared_.reset();
  return context.has_value() ? std::move(context) : NewContext();
}

InvocationResult Evaluator::Execute(
    InvocationId id, bool deterministic, const InvocationEnvironment& environment, absl::Duration cpu_budget,
    const std::function<v8::MaybeLocal<v8::Value>(Run&, v8::Local<v8::Context>)>& body) {
  InvocationResult out;
  Run run;
  run.id = id;
  run.host = &host_;
  run.limits = &limits_;
  const absl::Duration cpu_start = Watchdog::CpuTime(js_thread_clock_);
  bool terminated = false;
  std::optional<PreparedContext> prepared = TakeContext();
  {
    v8::Isolate::Scope isolate_scope(isolate_);
    v8::HandleScope handle_scope(isolate_);
    if (!prepared.has_value()) {
      out.result_json = absl::InternalError("the runtime prelude failed to start");
      return out;
    }
    v8::Local<v8::Context> context = prepared->context.Get(isolate_);
    v8::Local<v8::Function> enter = prepared->enter.Get(isolate_);
    prepared.reset();  // this context serves this invocation only
    v8::Context::Scope context_scope(context);
    context->SetAlignedPointerInEmbedderData(kRunSlot, &run);
    watchdog_.Arm(isolate_, js_thread_clock_, cpu_budget);
    v8::TryCatch try_catch(isolate_);
    v8::Local<v8::Value> value;
    bool ok = EnterInvocation(context, enter, deterministic, environment);
    if (ok) {
      ok = body(run, context).ToLocal(&value);
    } else if (!try_catch.HasTerminated()) {
      run.failure = absl::InternalError("the runtime prelude failed to start");
      run.failure_is_user = false;
    }
    // A rejection nobody handled fails the invocation, even when the result itself is fine.
    if (ok && !run.unhandled.empty()) {
      isolate_->ThrowException(run.unhandled.front().second.Get(isolate_));
      ok = false;
    }
    terminated = watchdog_.Disarm() || try_catch.HasTerminated() || isolate_->IsExecutionTerminating() ||
                 heap_exhausted_;
    if (terminated) {
      isolate_->CancelTerminateExecution();
      out.result_json = heap_exhausted_ ? absl::ResourceExhaustedError("JavaScript heap out of memory")
                                        : absl::DeadlineExceededError(absl::StrCat(
                                              "CPU time limit exceeded (", absl::FormatDuration(cpu_budget), ")"));
    } else if (!run.failure.ok()) {
      out.result_json = run.failure;
      out.user_error = run.failure_is_user;
    } else if (try_catch.HasCaught()) {
      DescribeThrown(context, try_catch.Exception(), &out);
    } else if (!ok || !value->IsString()) {
      out.result_json = absl::InternalError("the invocation produced no result");
    } else {
      out.result_json = ToUtf8(isolate_, value);
    }
    context->SetAlignedPointerInEmbedderData(kRunSlot, nullptr);
  }
  out.cpu_time = Watchdog::CpuTime(js_thread_clock_) - cpu_start;
  out.logs = std::move(run.logs);
  if (terminated) {
    // Nothing of a terminated or exhausted run may leak into the next one.
    DisposeIsolate();
    NewIsolate();
  }
  return out;
}

InvocationResult Evaluator::Eval(InvocationId id, absl::string_view source, absl::Duration cpu_budget) {
  return Execute(id, /*deterministic=*/false, {}, cpu_budget,
                 [&](Run& run, v8::Local<v8::Context> context) -> v8::MaybeLocal<v8::Value> {
                   v8::Isolate* isolate = context->GetIsolate();
                   v8::ScriptOrigin origin(isolate, NewString(isolate, "eval.js"));
                   v8::Local<v8::Script> script;
                   v8::Local<v8::Value> value;
                   if (!v8::Script::Compile(context, NewString(isolate, source), &origin).ToLocal(&script) ||
                       !script->Run(context).ToLocal(&value)) {
                     return {};
                   }
                   v8::Local<v8::Promise::Resolver> resolver;
                   if (!v8::Promise::Resolver::New(context).ToLocal(&resolver) ||
                       resolver->Resolve(context, value).IsNothing() ||
                       !Drive(run, context, resolver->GetPromise())) {
                     return {};
                   }
                   value = resolver->GetPromise()->Result();
                   if (value->IsUndefined()) return NewString(isolate, "");
                   v8::Local<v8::String> json;
                   if (!v8::JSON::Stringify(context, value).ToLocal(&json)) return {};
                   return json;
                 });
}

InvocationResult Evaluator::Call(InvocationId id, const FunctionCall& call, const InvocationEnvironment& environment,
                                 absl::Duration cpu_budget) {
  const bool deterministic = call.kind() != FunctionCall::ACTION;
  return Execute(id, deterministic, environment, cpu_budget,
                 [&](Run& run, v8::Local<v8::Context> context) -> v8::MaybeLocal<v8::Value> {
                   v8::Isolate* isolate = context->GetIsolate();
                   if (absl::StartsWith(call.module_path(), "_deps/")) {
                     run.failure = absl::InvalidArgumentError("Functions cannot be run from _deps/ modules");
                     return {};
                   }
                   for (const auto& module : call.modules()) run.sources[module.path()] = &module;
                   v8::Local<v8::Module> module;
                   v8::Local<v8::Value> evaluated;
                   if (!LoadModule(context, call.module_path()).ToLocal(&module) ||
                       module->InstantiateModule(context, ResolveImport).IsNothing() ||
                       !module->Evaluate(context).ToLocal(&evaluated)) {
                     return {};
                   }
                   if (evaluated->IsPromise() && !Drive(run, context, evaluated.As<v8::Promise>())) return {};
                   v8::Local<v8::Value> exported;
                   if (!module->GetModuleNamespace().As<v8::Object>()
                            ->Get(context, NewString(isolate, call.export_name()))
                            .ToLocal(&exported)) {
                     return {};
                   }
                   v8::Local<v8::Function> invoke;
                   if (!InvokeFunction(context, exported, call, run).ToLocal(&invoke)) return {};
                   std::vector<v8::Local<v8::Value>> argv;
                   if (call.kind() == FunctionCall::ACTION) argv.push_back(NewString(isolate, call.request_id()));
                   argv.push_back(NewString(isolate, call.args_json()));
                   v8::Local<v8::Value> result;
                   if (!invoke->Call(context, exported, static_cast<int>(argv.size()), argv.data()).ToLocal(&result)) {
                     return {};
                   }
                   if (!result->IsPromise()) return result;
                   if (!Drive(run, context, result.As<v8::Promise>())) return {};
                   return result.As<v8::Promise>()->Result();
                 });
}

}  // namespace isobar::worker
