#include "worker/call_steps.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "v8-exception.h"
#include "v8-json.h"
#include "v8-primitive.h"
#include "v8-promise.h"
#include "v8-script.h"
#include "worker/bindings.h"
#include "worker/js_util.h"
#include "worker/module_loader.h"

namespace isobar::worker {

using isobar::worker::v1::FunctionCall;

namespace {

// `value` as a promise (already resolved if it is not one).
v8::MaybeLocal<v8::Value> AsPromise(v8::Local<v8::Context> context, v8::Local<v8::Value> value) {
  if (value->IsPromise()) return value;
  v8::Local<v8::Promise::Resolver> resolver;
  if (!v8::Promise::Resolver::New(context).ToLocal(&resolver) || resolver->Resolve(context, value).IsNothing()) return {};
  return resolver->GetPromise();
}

// The function object's invoke method for the call's kind, with Convex's messages when it is something else.
v8::MaybeLocal<v8::Function> InvokeFunction(v8::Local<v8::Context> context, v8::Local<v8::Value> exported,
                                            const FunctionCall& call, Invocation& invocation) {
  const std::string display = absl::StrCat(call.module_path(), ":", call.export_name());
  if (exported->IsUndefined()) {
    invocation.failure = absl::NotFoundError(absl::StrCat("Function \"", display, "\" not found"));
    return {};
  }
  auto flag = [&](const char* name) {
    return exported->IsObject() && OwnData(context, exported.As<v8::Object>(), name)->IsTrue();
  };
  const char* actual = flag("isQuery") ? "query" : flag("isMutation") ? "mutation" : flag("isAction") ? "action" : nullptr;
  const char* wanted = call.kind() == FunctionCall::QUERY      ? "query"
                       : call.kind() == FunctionCall::MUTATION ? "mutation"
                                                               : "action";
  if (actual == nullptr) {
    invocation.failure = absl::InvalidArgumentError(absl::StrCat(
        "Function \"", display, "\" is not a Convex function. Did you forget to wrap it with `query` or `mutation`?"));
    return {};
  }
  if (std::string(actual) != wanted) {
    invocation.failure = absl::InvalidArgumentError(
        absl::StrCat("Function \"", display, "\" is registered as a ", actual, " but is being run as a ", wanted));
    return {};
  }
  const char* method = call.kind() == FunctionCall::QUERY      ? "invokeQuery"
                       : call.kind() == FunctionCall::MUTATION ? "invokeMutation"
                                                               : "invokeAction";
  v8::Local<v8::Value> invoke = OwnData(context, exported.As<v8::Object>(), method);
  if (!invoke->IsFunction()) {
    invocation.failure = absl::InvalidArgumentError(absl::StrCat("Function \"", display, "\" has no ", method));
    return {};
  }
  return invoke.As<v8::Function>();
}

// An HTTP action (CONVEX_ABI.md §3.3): http.js's default export must be the app's router. The
// runtime's runHttpAction (runtime-js/src/js_syscall.js) runs it as the router's own runRequest would,
// routing on the given path, and resolves to the response as JSON text, or sends a streamed body as it
// comes and resolves to {"streamed":true}.
v8::MaybeLocal<v8::Value> RunRequest(v8::Local<v8::Context> context, Invocation& inv, v8::Local<v8::Object> exports) {
  v8::Isolate* isolate = context->GetIsolate();
  const FunctionCall& call = inv.invoke.function();
  v8::Local<v8::Value> router;
  if (!exports->Get(context, NewString(isolate, "default")).ToLocal(&router)) return {};
  if (!router->IsObject() || !OwnData(context, router.As<v8::Object>(), "isRouter")->IsTrue()) {
    inv.failure = absl::NotFoundError(absl::StrCat(call.module_path(), " does not export an HTTP router as its default"));
    return {};
  }
  // The prelude's Convex global is frozen and cannot be replaced, so user code cannot stand in for it.
  v8::Local<v8::Value> convex = OwnData(context, context->Global(), "Convex");
  v8::Local<v8::Value> js_syscall = convex->IsObject() ? OwnData(context, convex.As<v8::Object>(), "jsSyscall")
                                                       : v8::Local<v8::Value>(v8::Undefined(isolate));
  if (!js_syscall->IsFunction()) {
    inv.failure = absl::InternalError("the runtime's Convex.jsSyscall is missing");
    return {};
  }
  v8::Local<v8::Object> args = v8::Object::New(isolate);
  if (args->Set(context, NewString(isolate, "router"), router).IsNothing() ||
      args->Set(context, NewString(isolate, "args"), NewString(isolate, call.args_json())).IsNothing() ||
      args->Set(context, NewString(isolate, "path"), NewString(isolate, call.http_path())).IsNothing()) {
    return {};
  }
  v8::Local<v8::Value> argv[] = {NewString(isolate, "isobar/runHttpAction"), args};
  v8::Local<v8::Value> result;
  if (!js_syscall.As<v8::Function>()->Call(context, convex, 2, argv).ToLocal(&result)) return {};
  return AsPromise(context, result);
}

// Queries and mutations import their modules with the version's pinned import phase; actions keep
// real time and randomness (their module scope may make secrets).
bool PinnedImportPhase(const Invocation& inv) {
  return inv.deterministic && inv.invoke.import_unix_time_ms() > 0 && !inv.context->from_snapshot();
}

// The exports of the call's module: its namespace, or, in a copy of the version's snapshot, the object
// the bundle made for it (its properties are the bundle's getters: user code, run in this turn).
v8::MaybeLocal<v8::Object> ModuleExports(v8::Local<v8::Context> context, Invocation& inv) {
  v8::Isolate* isolate = context->GetIsolate();
  const std::string& path = inv.invoke.function().module_path();
  if (inv.context->from_snapshot()) {
    v8::Local<v8::Value> exports;
    if (!inv.context->snapshot_modules.Get(isolate)->Get(context, NewString(isolate, path)).ToLocal(&exports)) return {};
    if (!exports->IsObject()) {
      ThrowError(isolate, v8::Exception::Error, absl::StrCat("Module \"", path.substr(0, 200), "\" not found"));
      return {};
    }
    return exports.As<v8::Object>();
  }
  v8::Local<v8::Module> module;
  if (!LoadModule(context, inv, path).ToLocal(&module)) return {};
  return module->GetModuleNamespace().As<v8::Object>();
}

}  // namespace

bool IsActionKind(FunctionCall::Kind kind) { return kind == FunctionCall::ACTION || kind == FunctionCall::HTTP_ACTION; }

void EvalSteps(Invocation& invocation) {
  invocation.steps.push_back([](Invocation& inv, v8::Local<v8::Context> context, v8::Local<v8::Value>) {
    v8::Isolate* isolate = context->GetIsolate();
    v8::ScriptOrigin origin(isolate, NewString(isolate, "eval.js"));
    v8::Local<v8::Script> script;
    v8::Local<v8::Value> value;
    if (!v8::Script::Compile(context, NewString(isolate, inv.invoke.eval().source()), &origin).ToLocal(&script) ||
        !script->Run(context).ToLocal(&value)) {
      return v8::MaybeLocal<v8::Value>();
    }
    return AsPromise(context, value);
  });
  invocation.steps.push_back([](Invocation&, v8::Local<v8::Context> context, v8::Local<v8::Value> value) {
    if (value->IsUndefined()) return v8::MaybeLocal<v8::Value>(NewString(context->GetIsolate(), ""));
    v8::Local<v8::String> json;
    if (!v8::JSON::Stringify(context, value).ToLocal(&json)) return v8::MaybeLocal<v8::Value>();
    return v8::MaybeLocal<v8::Value>(json);
  });
}

void FunctionSteps(Invocation& invocation) {
  invocation.steps.push_back([](Invocation& inv, v8::Local<v8::Context> context, v8::Local<v8::Value>) {
    const FunctionCall& call = inv.invoke.function();
    if (absl::StartsWith(call.module_path(), "_deps/")) {
      inv.failure = absl::InvalidArgumentError("Functions cannot be run from _deps/ modules");
      return v8::MaybeLocal<v8::Value>();
    }
    if (inv.context->from_snapshot()) return v8::MaybeLocal<v8::Value>(v8::Undefined(context->GetIsolate()));
    inv.importing = true;
    if (PinnedImportPhase(inv) &&
        !EnterInvocation(context, inv.context->enter.Get(context->GetIsolate()), /*deterministic=*/true,
                         inv.invoke.import_seed(), inv.invoke.import_unix_time_ms())) {
      return v8::MaybeLocal<v8::Value>();
    }
    v8::Local<v8::Module> module;
    return EvaluateModule(context, inv, call.module_path(), &module);
  });
  invocation.steps.push_back([](Invocation& inv, v8::Local<v8::Context> context, v8::Local<v8::Value>) {
    v8::Isolate* isolate = context->GetIsolate();
    inv.importing = false;
    if (PinnedImportPhase(inv) && !EnterInvocation(context, inv.context->enter.Get(isolate), inv.deterministic,
                                                          inv.invoke.seed(), inv.invoke.unix_time_ms())) {
      return v8::MaybeLocal<v8::Value>();
    }
    const FunctionCall& call = inv.invoke.function();
    v8::Local<v8::Object> exports;
    if (!ModuleExports(context, inv).ToLocal(&exports)) return v8::MaybeLocal<v8::Value>();
    if (call.kind() == FunctionCall::HTTP_ACTION) return RunRequest(context, inv, exports);
    v8::Local<v8::Value> exported;
    if (!exports->Get(context, NewString(isolate, call.export_name())).ToLocal(&exported)) {
      return v8::MaybeLocal<v8::Value>();
    }
    v8::Local<v8::Function> invoke;
    if (!InvokeFunction(context, exported, call, inv).ToLocal(&invoke)) return v8::MaybeLocal<v8::Value>();
    std::vector<v8::Local<v8::Value>> argv;
    if (call.kind() == FunctionCall::ACTION) argv.push_back(NewString(isolate, call.request_id()));
    argv.push_back(NewString(isolate, call.args_json()));
    v8::Local<v8::Value> result;
    if (!invoke->Call(context, context->Global(), static_cast<int>(argv.size()), argv.data()).ToLocal(&result)) {
      return v8::MaybeLocal<v8::Value>();
    }
    return AsPromise(context, result);
  });
  invocation.steps.push_back([](Invocation& inv, v8::Local<v8::Context>, v8::Local<v8::Value> value) {
    if (!value->IsString()) {
      // The convex package serialises the result with the global JSON.stringify, which the app's code
      // may have replaced: its own result, its own error.
      inv.failure = absl::InvalidArgumentError(
          "The function's result could not be serialized: the convex package's invoke did not produce a JSON "
          "string (was JSON.stringify replaced?)");
      inv.failure_is_user = true;
      return v8::MaybeLocal<v8::Value>();
    }
    return v8::MaybeLocal<v8::Value>(value);
  });
}

}  // namespace isobar::worker
