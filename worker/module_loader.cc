#include "worker/module_loader.h"

#include <memory>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/sha256.h"
#include "v8-exception.h"
#include "v8-primitive.h"
#include "worker/js_util.h"

namespace isobar::worker {

absl::StatusOr<std::string> ResolveRelative(absl::string_view referrer, absl::string_view specifier) {
  if (!absl::StartsWith(specifier, "./") && !absl::StartsWith(specifier, "../")) {
    return absl::InvalidArgumentError(absl::StrCat("Cannot import \"", specifier.substr(0, 100),
                                                   "\": only relative imports of this deployment's modules exist"));
  }
  std::vector<std::string> parts = absl::StrSplit(referrer, '/');
  parts.pop_back();  // the importing file's name
  for (absl::string_view segment : absl::StrSplit(specifier, '/')) {
    if (segment == ".") continue;
    if (segment == "..") {
      if (parts.empty()) {
        return absl::InvalidArgumentError(absl::StrCat("Cannot import \"", specifier.substr(0, 100), "\": it leaves the deployment"));
      }
      parts.pop_back();
      continue;
    }
    parts.emplace_back(segment);
  }
  return absl::StrJoin(parts, "/");
}

const std::string* CodeCache::Find(const std::string& sha256) {
  auto it = index_.find(sha256);
  if (it == index_.end()) {
    ++misses_;
    return nullptr;
  }
  ++hits_;
  return &it->second->second;
}

void CodeCache::Store(const std::string& sha256, std::string data) {
  if (data.size() > max_bytes_ || index_.contains(sha256)) return;
  bytes_ += data.size();
  entries_.emplace_back(sha256, std::move(data));
  index_[sha256] = std::prev(entries_.end());
  while (bytes_ > max_bytes_) {
    bytes_ -= entries_.front().second.size();
    index_.erase(entries_.front().first);
    entries_.pop_front();
  }
}

void CodeCache::Drop(const std::string& sha256) {
  auto it = index_.find(sha256);
  if (it == index_.end()) return;
  ++rejects_;
  bytes_ -= it->second->second.size();
  entries_.erase(it->second);
  index_.erase(it);
}

namespace {

v8::MaybeLocal<v8::Module> ResolveImport(v8::Local<v8::Context> context, v8::Local<v8::String> specifier,
                                         v8::Local<v8::FixedArray>, v8::Local<v8::Module> referrer) {
  v8::Isolate* isolate = context->GetIsolate();
  Invocation& invocation = *Invocation::Of(context);
  std::string referrer_path;
  for (const JsContext::LoadedModule& loaded : invocation.context->modules) {
    if (loaded.module == referrer) referrer_path = loaded.path;
  }
  absl::StatusOr<std::string> path = ResolveRelative(referrer_path, ToUtf8(isolate, specifier));
  if (!path.ok()) {
    ThrowError(isolate, v8::Exception::Error, path.status().message());
    return {};
  }
  return LoadModule(context, invocation, *path);
}

v8::MaybeLocal<v8::Module> Compile(v8::Isolate* isolate, Invocation& invocation, const isobar::worker::v1::Module& module) {
  v8::ScriptOrigin origin(isolate, NewString(isolate, absl::StrCat("convex:/", module.path())), 0, 0, false, -1,
                          v8::Local<v8::Value>(), false, false, /*is_module=*/true);
  const std::string* cached = invocation.code_cache->Find(module.sha256());
  if (cached != nullptr) {
    auto* data = new v8::ScriptCompiler::CachedData(reinterpret_cast<const uint8_t*>(cached->data()),
                                                    static_cast<int>(cached->size()));
    v8::ScriptCompiler::Source source(NewString(isolate, module.source()), origin, data);  // owns `data`
    v8::MaybeLocal<v8::Module> compiled =
        v8::ScriptCompiler::CompileModule(isolate, &source, v8::ScriptCompiler::kConsumeCodeCache);
    if (source.GetCachedData()->rejected) invocation.code_cache->Drop(module.sha256());
    return compiled;
  }
  v8::ScriptCompiler::Source source(NewString(isolate, module.source()), origin);
  v8::Local<v8::Module> compiled;
  if (!v8::ScriptCompiler::CompileModule(isolate, &source).ToLocal(&compiled)) return {};
  // The cache must be made before the module is evaluated (V8's rule for module scripts).
  std::unique_ptr<v8::ScriptCompiler::CachedData> data(v8::ScriptCompiler::CreateCodeCache(compiled->GetUnboundModuleScript()));
  if (data != nullptr) {
    invocation.code_cache->Store(module.sha256(),
                                 std::string(reinterpret_cast<const char*>(data->data), static_cast<size_t>(data->length)));
  }
  return compiled;
}

}  // namespace

v8::MaybeLocal<v8::Module> LoadModule(v8::Local<v8::Context> context, Invocation& invocation, const std::string& path) {
  v8::Isolate* isolate = context->GetIsolate();
  auto it = invocation.sources.find(path);
  if (it == invocation.sources.end()) {
    ThrowError(isolate, v8::Exception::Error, absl::StrCat("Module \"", path.substr(0, 200), "\" not found"));
    return {};
  }
  const isobar::worker::v1::Module& module = *it->second;
  for (const JsContext::LoadedModule& loaded : invocation.context->modules) {
    if (loaded.path == path && loaded.sha256 == module.sha256()) return loaded.module.Get(isolate);
  }
  if (!Sha256Matches(module.source(), module.sha256())) {
    invocation.failure = absl::DataLossError(absl::StrCat("module ", path, " does not match its SHA-256"));
    invocation.failure_is_user = false;
    ThrowError(isolate, v8::Exception::Error, "module hash mismatch");
    return {};
  }
  v8::Local<v8::Module> compiled;
  if (!Compile(isolate, invocation, module).ToLocal(&compiled)) return {};
  invocation.context->modules.push_back({path, module.sha256(), v8::Global<v8::Module>(isolate, compiled)});
  return compiled;
}

v8::MaybeLocal<v8::Value> EvaluateModule(v8::Local<v8::Context> context, Invocation& invocation, const std::string& path,
                                         v8::Local<v8::Module>* module) {
  if (!LoadModule(context, invocation, path).ToLocal(module)) return {};
  if ((*module)->GetStatus() == v8::Module::kEvaluated) {
    // Already evaluated in this (warm) context.
    v8::Local<v8::Promise::Resolver> resolver;
    if (!v8::Promise::Resolver::New(context).ToLocal(&resolver) ||
        resolver->Resolve(context, v8::Undefined(context->GetIsolate())).IsNothing()) {
      return {};
    }
    return resolver->GetPromise();
  }
  if ((*module)->InstantiateModule(context, ResolveImport).IsNothing()) return {};
  return (*module)->Evaluate(context);
}

v8::MaybeLocal<v8::Promise> DynamicImport(v8::Local<v8::Context> context, v8::Local<v8::Data>,
                                          v8::Local<v8::Value> resource_name, v8::Local<v8::String> specifier,
                                          v8::Local<v8::FixedArray>) {
  v8::Isolate* isolate = context->GetIsolate();
  v8::Local<v8::Promise::Resolver> resolver;
  if (!v8::Promise::Resolver::New(context).ToLocal(&resolver)) return {};
  Invocation* invocation = Invocation::Of(context);
  const std::string wanted = ToUtf8(isolate, specifier);
  auto refuse = [&](absl::string_view message) -> v8::MaybeLocal<v8::Promise> {
    (void)resolver->Reject(context, v8::Exception::Error(NewString(isolate, message))).FromMaybe(false);
    return resolver->GetPromise();
  };
  if (invocation == nullptr || !invocation->importing) {
    return refuse(absl::StrCat("import(\"", wanted.substr(0, 100), "\") is only allowed while modules are being imported"));
  }
  std::string referrer = ToUtf8(isolate, resource_name);
  if (absl::StartsWith(referrer, "convex:/")) referrer = referrer.substr(8);
  absl::StatusOr<std::string> path = ResolveRelative(referrer, wanted);
  if (!path.ok()) return refuse(path.status().message());
  v8::TryCatch try_catch(isolate);
  v8::Local<v8::Module> module;
  v8::Local<v8::Value> evaluated;
  if (!EvaluateModule(context, *invocation, *path, &module).ToLocal(&evaluated)) {
    if (try_catch.HasTerminated()) {
      try_catch.ReThrow();
      return {};
    }
    if (try_catch.HasCaught()) {
      (void)resolver->Reject(context, try_catch.Exception()).FromMaybe(false);
      return resolver->GetPromise();
    }
    return refuse("import() failed");
  }
  if (!evaluated->IsPromise() || evaluated.As<v8::Promise>()->State() != v8::Promise::kFulfilled) {
    return refuse(absl::StrCat("import(\"", wanted.substr(0, 100), "\"): modules with top-level await cannot be imported dynamically"));
  }
  (void)resolver->Resolve(context, module->GetModuleNamespace()).FromMaybe(false);
  return resolver->GetPromise();
}

}  // namespace isobar::worker
