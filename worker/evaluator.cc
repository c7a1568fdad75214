#include "worker/evaluator.h"

#include <pthread.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "v8-exception.h"
#include "v8-external.h"
#include "v8-function.h"
#include "v8-json.h"
#include "v8-local-handle.h"
#include "v8-message.h"
#include "v8-microtask-queue.h"
#include "v8-object.h"
#include "v8-primitive.h"
#include "v8-promise.h"
#include "v8-script.h"
#include "v8-template.h"

namespace isobar::worker {
namespace {

clockid_t CurrentThreadCpuClock() {
  clockid_t clock = CLOCK_THREAD_CPUTIME_ID;
  pthread_getcpuclockid(pthread_self(), &clock);
  return clock;
}

// What the bindings of one invocation's context need. Lives on the Eval stack frame.
struct InvocationState {
  InvocationId id;
  HostCalls* host;
  const EvaluatorLimits* limits;
  std::vector<LogLine> logs;
  bool logs_truncated = false;
};

InvocationState* StateOf(const v8::FunctionCallbackInfo<v8::Value>& info) {
  return static_cast<InvocationState*>(info.Data().As<v8::External>()->Value());
}

std::string ToUtf8(v8::Isolate* isolate, v8::Local<v8::Value> value) {
  v8::String::Utf8Value utf8(isolate, value);
  return *utf8 != nullptr ? std::string(*utf8, static_cast<size_t>(utf8.length())) : std::string();
}

void ThrowError(v8::Isolate* isolate, absl::string_view message) {
  isolate->ThrowException(v8::Exception::Error(
      v8::String::NewFromUtf8(isolate, message.data(), v8::NewStringType::kNormal,
                              static_cast<int>(message.size()))
          .ToLocalChecked()));
}

// Reads (op, argsJson) from a syscall's arguments, or throws a TypeError and returns false.
bool SyscallArguments(const v8::FunctionCallbackInfo<v8::Value>& info, std::string* op, std::string* args) {
  v8::Isolate* isolate = info.GetIsolate();
  InvocationState* state = StateOf(info);
  if (info.Length() < 2 || !info[0]->IsString() || !info[1]->IsString()) {
    isolate->ThrowException(v8::Exception::TypeError(
        v8::String::NewFromUtf8Literal(isolate, "Convex syscalls take (op: string, argsJson: string)")));
    return false;
  }
  // Size checks before copying anything out of the isolate.
  if (info[0].As<v8::String>()->Length() > 256 ||
      static_cast<size_t>(info[1].As<v8::String>()->Utf8Length(isolate)) > state->limits->max_host_call_bytes) {
    isolate->ThrowException(v8::Exception::RangeError(
        v8::String::NewFromUtf8Literal(isolate, "Convex syscall arguments are too large")));
    return false;
  }
  *op = ToUtf8(isolate, info[0]);
  *args = ToUtf8(isolate, info[1]);
  return true;
}

v8::Local<v8::String> NewString(v8::Isolate* isolate, const std::string& s) {
  return v8::String::NewFromUtf8(isolate, s.data(), v8::NewStringType::kNormal, static_cast<int>(s.size()))
      .ToLocalChecked();
}

std::string ErrorText(const absl::Status& status) {
  return std::string(status.message());
}

void Syscall(const v8::FunctionCallbackInfo<v8::Value>& info) {
  std::string op, args;
  if (!SyscallArguments(info, &op, &args)) return;
  InvocationState* state = StateOf(info);
  absl::StatusOr<std::string> result = state->host->Call(state->id, op, args);
  if (!result.ok()) {
    ThrowError(info.GetIsolate(), ErrorText(result.status()));
    return;
  }
  info.GetReturnValue().Set(NewString(info.GetIsolate(), *result));
}

// Performed at once; the promise is settled before it is returned. (Batching after each microtask
// checkpoint, CONVEX_ABI.md §2.10, comes with the function runtime.)
void AsyncSyscall(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  std::string op, args;
  if (!SyscallArguments(info, &op, &args)) return;
  v8::Local<v8::Promise::Resolver> resolver;
  if (!v8::Promise::Resolver::New(context).ToLocal(&resolver)) return;
  InvocationState* state = StateOf(info);
  absl::StatusOr<std::string> result = state->host->Call(state->id, op, args);
  if (result.ok()) {
    resolver->Resolve(context, NewString(isolate, *result)).Check();
  } else {
    std::string message = ErrorText(result.status());
    resolver->Reject(context, v8::Exception::Error(NewString(isolate, message))).Check();
  }
  info.GetReturnValue().Set(resolver->GetPromise());
}

// console.*: arguments joined by spaces; strings as they are, other values as JSON where they have
// one, else String(value). Runs under the invocation's CPU budget (toJSON and getters are user code).
void ConsoleLog(const v8::FunctionCallbackInfo<v8::Value>& info, const char* level) {
  v8::Isolate* isolate = info.GetIsolate();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  InvocationState* state = StateOf(info);
  if (state->logs.size() >= state->limits->max_log_lines) {
    if (!state->logs_truncated) {
      state->logs_truncated = true;
      state->logs.push_back({"warn", absl::StrCat("Log overflow (maximum ", state->limits->max_log_lines,
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
        text = v8::String::NewFromUtf8Literal(isolate, "[object]");
      }
    } else if (!value->ToString(context).ToLocal(&text)) {
      return;  // an exception (e.g. a Symbol's toString) propagates
    }
    line += ToUtf8(isolate, text);
    if (line.size() > state->limits->max_log_line_bytes) break;
  }
  if (line.size() > state->limits->max_log_line_bytes) {
    line.resize(state->limits->max_log_line_bytes);
    line += " (truncated)";
  }
  state->logs.push_back({level, std::move(line)});
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

void SetFunction(v8::Isolate* isolate, v8::Local<v8::Context> context, v8::Local<v8::Object> target,
                 const char* name, v8::FunctionCallback callback, v8::Local<v8::External> data) {
  v8::Local<v8::Function> function =
      v8::FunctionTemplate::New(isolate, callback, data)->GetFunction(context).ToLocalChecked();
  target->Set(context, v8::String::NewFromUtf8(isolate, name).ToLocalChecked(), function).Check();
}

void InstallGlobals(v8::Isolate* isolate, v8::Local<v8::Context> context, InvocationState* state) {
  v8::Local<v8::External> data = v8::External::New(isolate, state);
  v8::Local<v8::Object> global = context->Global();
  v8::Local<v8::Object> convex = v8::Object::New(isolate);
  SetFunction(isolate, context, convex, "syscall", Syscall, data);
  SetFunction(isolate, context, convex, "asyncSyscall", AsyncSyscall, data);
  convex->SetIntegrityLevel(context, v8::IntegrityLevel::kFrozen).Check();
  global->Set(context, v8::String::NewFromUtf8Literal(isolate, "Convex"), convex).Check();

  v8::Local<v8::Object> console = v8::Object::New(isolate);
  SetFunction(isolate, context, console, "log", ConsoleMethod<kLog>, data);
  SetFunction(isolate, context, console, "info", ConsoleMethod<kInfo>, data);
  SetFunction(isolate, context, console, "warn", ConsoleMethod<kWarn>, data);
  SetFunction(isolate, context, console, "error", ConsoleMethod<kError>, data);
  SetFunction(isolate, context, console, "debug", ConsoleMethod<kDebug>, data);
  global->Set(context, v8::String::NewFromUtf8Literal(isolate, "console"), console).Check();
}

// The text of a thrown value, as "Name: message" for errors.
std::string DescribeException(v8::Isolate* isolate, v8::Local<v8::Context> context, v8::TryCatch& try_catch) {
  v8::Local<v8::Message> message = try_catch.Message();
  if (!message.IsEmpty()) {
    std::string text = ToUtf8(isolate, message->Get());
    constexpr absl::string_view kUncaught = "Uncaught ";
    if (absl::string_view(text).substr(0, kUncaught.size()) == kUncaught) text = text.substr(kUncaught.size());
    return text;
  }
  v8::Local<v8::String> text;
  if (try_catch.Exception()->ToString(context).ToLocal(&text)) return ToUtf8(isolate, text);
  return "Uncaught exception";
}

}  // namespace

Evaluator::Evaluator(HostCalls& host, Watchdog& watchdog, std::vector<ContextExtension> extensions,
                     EvaluatorLimits limits)
    : host_(host),
      watchdog_(watchdog),
      extensions_(std::move(extensions)),
      limits_(limits),
      js_thread_clock_(CurrentThreadCpuClock()),
      allocator_(v8::ArrayBuffer::Allocator::NewDefaultAllocator()) {
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
  heap_exhausted_ = false;
  ++isolates_created_;
}

void Evaluator::DisposeIsolate() {
  if (isolate_ != nullptr) {
    isolate_->Dispose();
    isolate_ = nullptr;
  }
}

size_t Evaluator::NearHeapLimit(void* data, size_t current_limit, size_t) {
  auto* self = static_cast<Evaluator*>(data);
  self->heap_exhausted_ = true;
  self->isolate_->TerminateExecution();
  // Room to unwind; the isolate is discarded after this invocation.
  return current_limit + (16u << 20);
}

InvocationResult Evaluator::Eval(InvocationId id, absl::string_view source, absl::Duration cpu_budget) {
  InvocationResult out;
  InvocationState state{id, &host_, &limits_, {}, false};
  const absl::Duration cpu_start = Watchdog::CpuTime(js_thread_clock_);
  bool terminated = false;
  {
    v8::Isolate::Scope isolate_scope(isolate_);
    v8::HandleScope handle_scope(isolate_);
    v8::Local<v8::Context> context = v8::Context::New(isolate_);
    v8::Context::Scope context_scope(context);
    InstallGlobals(isolate_, context, &state);
    for (const ContextExtension& extend : extensions_) extend(isolate_, context);

    watchdog_.Arm(isolate_, js_thread_clock_, cpu_budget);
    v8::TryCatch try_catch(isolate_);
    v8::Local<v8::String> code;
    v8::Local<v8::Script> script;
    v8::Local<v8::Value> value;
    bool ok = v8::String::NewFromUtf8(isolate_, source.data(), v8::NewStringType::kNormal,
                                      static_cast<int>(source.size()))
                  .ToLocal(&code);
    v8::ScriptOrigin origin(isolate_, v8::String::NewFromUtf8Literal(isolate_, "eval.js"));
    ok = ok && v8::Script::Compile(context, code, &origin).ToLocal(&script);
    ok = ok && script->Run(context).ToLocal(&value);
    if (ok) {
      isolate_->PerformMicrotaskCheckpoint();
      ok = !try_catch.HasCaught();
    }
    bool never_resolves = false;
    if (ok && value->IsPromise()) {
      v8::Local<v8::Promise> promise = value.As<v8::Promise>();
      switch (promise->State()) {
        case v8::Promise::kFulfilled:
          value = promise->Result();
          break;
        case v8::Promise::kRejected:
          isolate_->ThrowException(promise->Result());
          ok = false;
          break;
        case v8::Promise::kPending:
          never_resolves = true;
          break;
      }
    }
    std::string json;
    if (ok && !never_resolves && !value->IsUndefined()) {
      v8::Local<v8::String> text;
      ok = v8::JSON::Stringify(context, value).ToLocal(&text);
      if (ok) json = ToUtf8(isolate_, text);
    }
    std::string thrown;
    if (!ok && !try_catch.HasTerminated() && try_catch.HasCaught()) {
      thrown = DescribeException(isolate_, context, try_catch);
    }
    terminated = watchdog_.Disarm() || try_catch.HasTerminated() || heap_exhausted_;
    if (terminated) {
      isolate_->CancelTerminateExecution();
      out.result_json = heap_exhausted_
                            ? absl::ResourceExhaustedError("JavaScript heap out of memory")
                            : absl::DeadlineExceededError(absl::StrCat(
                                  "CPU time limit exceeded (", absl::FormatDuration(cpu_budget), ")"));
    } else if (!ok) {
      out.result_json = absl::UnknownError(thrown.empty() ? "Uncaught exception" : thrown);
      out.user_error = true;
    } else if (never_resolves) {
      out.result_json = absl::UnknownError("Returned promise will never resolve");
      out.user_error = true;
    } else {
      out.result_json = std::move(json);
    }
  }
  out.cpu_time = Watchdog::CpuTime(js_thread_clock_) - cpu_start;
  out.logs = std::move(state.logs);
  if (terminated) {
    // Nothing of a terminated or exhausted run may leak into the next one.
    DisposeIsolate();
    NewIsolate();
  }
  return out;
}

}  // namespace isobar::worker
