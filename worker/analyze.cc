#include "worker/analyze.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "v8-array-buffer.h"
#include "v8-container.h"
#include "v8-json.h"
#include "v8-primitive.h"
#include "worker/js_util.h"
#include "worker/module_loader.h"

namespace isobar::worker {
namespace {

using Maybe = v8::MaybeLocal<v8::Value>;

// The modules whose exports are analysed: every .js module outside _deps/, in path order.
std::vector<std::string> AnalyzedPaths(const Invocation& invocation) {
  std::vector<std::string> paths;
  for (const auto& [path, module] : invocation.sources) {
    if (!absl::StartsWith(path, "_deps/") && absl::EndsWith(path, ".js")) paths.push_back(path);
  }
  return paths;  // std::map order
}

// "dir/messages.js" + "send" -> "dir/messages:send"
std::string FunctionPath(absl::string_view module, absl::string_view name) {
  absl::ConsumeSuffix(&module, ".js");
  return absl::StrCat(module, ":", name);
}

bool Set(v8::Local<v8::Context> context, v8::Local<v8::Object> object, absl::string_view key, v8::Local<v8::Value> value) {
  return object->Set(context, NewString(context->GetIsolate(), key), value).FromMaybe(false);
}

// Calls `object.method()` (a normal property read: these are library methods) and parses the JSON
// string it returns; null when there is no such method.
Maybe CallExport(v8::Local<v8::Context> context, Invocation& invocation, v8::Local<v8::Object> object,
                 absl::string_view method, absl::string_view what) {
  v8::Isolate* isolate = context->GetIsolate();
  v8::Local<v8::Value> function;
  if (!object->Get(context, NewString(isolate, method)).ToLocal(&function)) return {};
  if (!function->IsFunction()) return v8::Null(isolate);
  v8::Local<v8::Value> text;
  if (!function.As<v8::Function>()->Call(context, object, 0, nullptr).ToLocal(&text)) return {};
  if (!text->IsString()) {
    invocation.failure = absl::InvalidArgumentError(absl::StrCat(what, " did not return a JSON string"));
    return {};
  }
  return v8::JSON::Parse(context, text.As<v8::String>());
}

// The namespace's default export, if it is an object with `flag` set to true.
v8::Local<v8::Object> FlaggedDefault(v8::Local<v8::Context> context, v8::Local<v8::Object> module_namespace,
                                     const char* flag) {
  v8::Local<v8::Value> exported = OwnData(context, module_namespace, "default");
  if (!exported->IsObject()) return {};
  if (flag != nullptr && !OwnData(context, exported.As<v8::Object>(), flag)->IsTrue()) return {};
  return exported.As<v8::Object>();
}

// router.getRoutes() is [[path, method, handler], ...]; described as [{path, method}, ...].
Maybe DescribeRoutes(v8::Local<v8::Context> context, Invocation& invocation, v8::Local<v8::Object> router) {
  v8::Isolate* isolate = context->GetIsolate();
  v8::Local<v8::Value> get_routes;
  v8::Local<v8::Value> routes;
  if (!router->Get(context, NewString(isolate, "getRoutes")).ToLocal(&get_routes)) return {};
  if (!get_routes->IsFunction() || !get_routes.As<v8::Function>()->Call(context, router, 0, nullptr).ToLocal(&routes)) {
    if (invocation.failure.ok()) invocation.failure = absl::InvalidArgumentError("http.js: the router has no getRoutes()");
    return {};
  }
  if (!routes->IsArray()) {
    invocation.failure = absl::InvalidArgumentError("http.js: getRoutes() did not return an array");
    return {};
  }
  v8::Local<v8::Array> in = routes.As<v8::Array>();
  v8::Local<v8::Array> out = v8::Array::New(isolate);
  for (uint32_t i = 0; i < in->Length(); ++i) {
    v8::Local<v8::Value> route;
    v8::Local<v8::Value> path;
    v8::Local<v8::Value> method;
    if (!in->Get(context, i).ToLocal(&route) || !route->IsArray() ||
        !route.As<v8::Array>()->Get(context, 0).ToLocal(&path) || !route.As<v8::Array>()->Get(context, 1).ToLocal(&method) ||
        !path->IsString() || !method->IsString()) {
      if (invocation.failure.ok()) invocation.failure = absl::InvalidArgumentError("http.js: a route is not [path, method, handler]");
      return {};
    }
    v8::Local<v8::Object> entry = v8::Object::New(isolate);
    Set(context, entry, "path", path);
    Set(context, entry, "method", method);
    if (!out->CreateDataProperty(context, i, entry).FromMaybe(false)) return {};
  }
  return out;
}

Maybe DescribeModules(Invocation& invocation, v8::Local<v8::Context> context) {
  v8::Isolate* isolate = context->GetIsolate();
  v8::Local<v8::Array> functions = v8::Array::New(isolate);
  v8::Local<v8::Array> http_actions = v8::Array::New(isolate);
  v8::Local<v8::Object> out = v8::Object::New(isolate);
  v8::Local<v8::Value> schema = v8::Null(isolate);
  v8::Local<v8::Value> crons = v8::Null(isolate);
  v8::Local<v8::Value> routes = v8::Null(isolate);
  v8::Local<v8::Value> auth_config = v8::Undefined(isolate);  // undefined: no auth.config.js
  for (const std::string& path : AnalyzedPaths(invocation)) {
    v8::Local<v8::Module> module;
    if (!LoadModule(context, invocation, path).ToLocal(&module)) return {};
    v8::Local<v8::Object> ns = module->GetModuleNamespace().As<v8::Object>();
    v8::Local<v8::Array> names;
    if (!ns->GetOwnPropertyNames(context).ToLocal(&names)) return {};
    for (uint32_t i = 0; i < names->Length(); ++i) {
      v8::Local<v8::Value> name_value;
      if (!names->Get(context, i).ToLocal(&name_value) || !name_value->IsString()) continue;
      const std::string name = ToUtf8(isolate, name_value);
      v8::Local<v8::Value> exported = OwnData(context, ns, name);
      if (!exported->IsObject()) continue;
      v8::Local<v8::Object> object = exported.As<v8::Object>();
      auto flag = [&](const char* key) { return OwnData(context, object, key)->IsTrue(); };
      const int kinds = flag("isQuery") + flag("isMutation") + flag("isAction");
      v8::Local<v8::Object> entry = v8::Object::New(isolate);
      Set(context, entry, "path", NewString(isolate, FunctionPath(path, name)));
      Set(context, entry, "module", NewString(isolate, path));
      Set(context, entry, "name", NewString(isolate, name));
      if (kinds == 0 && flag("isHttp")) {
        if (!http_actions->CreateDataProperty(context, http_actions->Length(), entry).FromMaybe(false)) return {};
        continue;
      }
      if (kinds != 1) continue;
      const char* kind = flag("isQuery") ? "query" : flag("isMutation") ? "mutation" : "action";
      Set(context, entry, "kind", NewString(isolate, kind));
      Set(context, entry, "visibility", NewString(isolate, flag("isInternal") ? "internal" : "public"));
      v8::Local<v8::Value> args;
      v8::Local<v8::Value> returns;
      const std::string display = FunctionPath(path, name);
      if (!CallExport(context, invocation, object, "exportArgs", absl::StrCat(display, ".exportArgs()")).ToLocal(&args) ||
          !CallExport(context, invocation, object, "exportReturns", absl::StrCat(display, ".exportReturns()")).ToLocal(&returns)) {
        return {};
      }
      Set(context, entry, "args", args);
      Set(context, entry, "returns", returns);
      if (!functions->CreateDataProperty(context, functions->Length(), entry).FromMaybe(false)) return {};
    }
    if (path == "schema.js") {
      v8::Local<v8::Object> definition = FlaggedDefault(context, ns, nullptr);
      if (!definition.IsEmpty() && !CallExport(context, invocation, definition, "export", "schema.export()").ToLocal(&schema)) {
        return {};
      }
    } else if (path == "crons.js") {
      v8::Local<v8::Object> definition = FlaggedDefault(context, ns, "isCrons");
      if (!definition.IsEmpty() && !CallExport(context, invocation, definition, "export", "crons.export()").ToLocal(&crons)) {
        return {};
      }
    } else if (path == "http.js") {
      v8::Local<v8::Object> router = FlaggedDefault(context, ns, "isRouter");
      if (!router.IsEmpty() && !DescribeRoutes(context, invocation, router).ToLocal(&routes)) return {};
    } else if (path == "auth.config.js") {
      // Its default export, as JSON (null when there is none; the supervisor says so).
      auth_config = OwnData(context, ns, "default");
      if (auth_config->IsUndefined()) auth_config = v8::Null(isolate);
    }
  }
  if (!auth_config->IsUndefined()) Set(context, out, "authConfig", auth_config);
  Set(context, out, "functions", functions);
  Set(context, out, "httpActions", http_actions);
  Set(context, out, "schema", schema);
  Set(context, out, "crons", crons);
  Set(context, out, "httpRoutes", routes);
  v8::Local<v8::String> json;
  if (!v8::JSON::Stringify(context, out).ToLocal(&json)) return {};
  return json;
}

}  // namespace

void AnalyzeSteps(Invocation& invocation) {
  // One step per module: each evaluation may be asynchronous (top-level await).
  for (const std::string& path : AnalyzedPaths(invocation)) {
    invocation.steps.push_back([path](Invocation& inv, v8::Local<v8::Context> context, v8::Local<v8::Value>) {
      inv.importing = true;
      v8::Local<v8::Module> module;
      return EvaluateModule(context, inv, path, &module);
    });
  }
  invocation.steps.push_back([](Invocation& inv, v8::Local<v8::Context> context, v8::Local<v8::Value>) {
    inv.importing = false;
    return DescribeModules(inv, context);
  });
}

}  // namespace isobar::worker
