#include "worker/bindings.h"

#include <openssl/evp.h>
#include <sys/random.h>

#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "base/base64.h"
#include "base/sha256.h"
#include "runtime-js/prelude.h"
#include "v8-array-buffer.h"
#include "v8-exception.h"
#include "v8-json.h"
#include "v8-primitive.h"
#include "v8-typed-array.h"
#include "worker/crypto_bindings.h"
#include "worker/invocation.h"
#include "worker/js_util.h"
#include "worker/module_loader.h"
#include "worker/pkey_bindings.h"

namespace isobar::worker {
namespace {

constexpr size_t kMaxRandomBytes = 65536;

// The invocation of the context a binding was called in; throws and returns null outside one.
Invocation* CurrentInvocation(const v8::FunctionCallbackInfo<v8::Value>& info) {
  Invocation* invocation = Invocation::Of(info.GetIsolate()->GetCurrentContext());
  if (invocation == nullptr) {
    ThrowError(info.GetIsolate(), v8::Exception::Error, "Convex syscalls are unavailable outside an invocation");
  }
  return invocation;
}

bool SyscallArguments(const v8::FunctionCallbackInfo<v8::Value>& info, Invocation* invocation, std::string* op,
                      std::string* args) {
  v8::Isolate* isolate = info.GetIsolate();
  if (info.Length() < 2 || !info[0]->IsString() || !info[1]->IsString()) {
    ThrowError(isolate, v8::Exception::TypeError, "Convex syscalls take (op: string, argsJson: string)");
    return false;
  }
  if (info[0].As<v8::String>()->Length() > 256 ||
      static_cast<size_t>(info[1].As<v8::String>()->Utf8Length(isolate)) > invocation->limits->max_host_call_bytes) {
    ThrowError(isolate, v8::Exception::RangeError, "Convex syscall arguments are too large");
    return false;
  }
  *op = ToUtf8(isolate, info[0]);
  *args = ToUtf8(isolate, info[1]);
  if (invocation->importing && absl::StartsWith(*op, "1.0/")) {
    ThrowError(isolate, v8::Exception::Error, "Can't use database at import time");
    return false;
  }
  return true;
}

// The frozen Date was read: results depend on time (a cached query's result expires).
void ObservedTime(const v8::FunctionCallbackInfo<v8::Value>& info) {
  Invocation* invocation = Invocation::Of(info.GetIsolate()->GetCurrentContext());
  if (invocation == nullptr) return;
  invocation->observed_time = true;
  if (invocation->importing && invocation->context != nullptr) invocation->context->time_observed_at_import = true;
}

// Calls that change nothing a db.get of the same transaction could see.
bool IsReadOnlySyscall(absl::string_view op) {
  static constexpr absl::string_view kReads[] = {
      "1.0/get",           "1.0/queryStream",          "1.0/queryStreamNext",      "1.0/queryCleanup",
      "1.0/queryPage",     "1.0/count",                "1.0/getUserIdentity",      "1.0/getFunctionMetadata",
      "1.0/db/normalizeId", "1.0/getDeploymentMetadata", "1.0/getTransactionMetrics", "1.0/getSnapshotTs",
      "isobar/env"};
  for (absl::string_view read : kReads) {
    if (op == read) return true;
  }
  return false;
}

// The answer Invoke.prefetched holds for the db.get whose arguments are `args_json`, if any: the
// supervisor read the document ahead (an id in the function's arguments), in the call's transaction.
// Only a get by id alone (no table named, not through db.system), and only while the invocation has
// made no call but reads: its own writes would change what the get sees.
const isobar::worker::v1::Prefetched* PrefetchedGet(v8::Isolate* isolate, Invocation& invocation,
                                                    const std::string& args_json) {
  // At most so many per invocation (the host applies the read limits past them), and only with
  // nothing of the invocation's queued or out: answered now, it settles in the order it was made.
  constexpr size_t kMaxPrefetchAnswers = 256;
  if (invocation.invoke.prefetched().empty() || invocation.prefetch_answered >= kMaxPrefetchAnswers ||
      !invocation.queue.empty() || !invocation.in_flight.empty()) {
    return nullptr;
  }
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  // Own properties of the parsed object only (no getter of user code's on Object.prototype runs),
  // and no exception left behind.
  v8::TryCatch try_catch(isolate);
  v8::Local<v8::Value> parsed;
  if (!v8::JSON::Parse(context, NewString(isolate, args_json)).ToLocal(&parsed) || !parsed->IsObject()) return nullptr;
  v8::Local<v8::Object> args = parsed.As<v8::Object>();
  const auto own = [&](const char* name, v8::Local<v8::Value>* value) {
    v8::Local<v8::String> key = NewString(isolate, name);
    if (!args->HasOwnProperty(context, key).FromMaybe(false)) {
      *value = v8::Undefined(isolate);
      return true;
    }
    return args->Get(context, key).ToLocal(value);
  };
  v8::Local<v8::Value> id, table, system;
  if (!own("id", &id) || !id->IsString() || !own("table", &table) || !table->IsUndefined() || !own("isSystem", &system) ||
      !(system->IsUndefined() || system->IsFalse()) || !invocation.prefetch_valid) {
    return nullptr;
  }
  const std::string id_text = ToUtf8(isolate, id);
  for (const isobar::worker::v1::Prefetched& prefetched : invocation.invoke.prefetched()) {
    if (prefetched.id() == id_text) return &prefetched;
  }
  return nullptr;
}

void Syscall(const v8::FunctionCallbackInfo<v8::Value>& info) {
  Invocation* invocation = CurrentInvocation(info);
  std::string op, args;
  if (invocation == nullptr || !SyscallArguments(info, invocation, &op, &args)) return;
  if (!IsReadOnlySyscall(op)) invocation->prefetch_valid = false;
  absl::StatusOr<std::string> result = invocation->host->Call(invocation->id, op, args);
  if (!result.ok()) {
    ThrowError(info.GetIsolate(), v8::Exception::Error, result.status().message());
    return;
  }
  info.GetReturnValue().Set(NewString(info.GetIsolate(), *result));
}

// Queues the call (CONVEX_ABI.md §2.10); the evaluator sends it in the next batch.
void AsyncSyscall(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  Invocation* invocation = CurrentInvocation(info);
  std::string op, args;
  if (invocation == nullptr || !SyscallArguments(info, invocation, &op, &args)) return;
  if (invocation->queue.size() + invocation->in_flight_calls >= invocation->limits->max_pending_async_syscalls) {
    ThrowError(isolate, v8::Exception::RangeError,
               absl::StrCat("Too many concurrent async syscalls (limit ", invocation->limits->max_pending_async_syscalls, ")"));
    return;
  }
  v8::Local<v8::Promise::Resolver> resolver;
  if (!v8::Promise::Resolver::New(isolate->GetCurrentContext()).ToLocal(&resolver)) return;
  if (!IsReadOnlySyscall(op)) invocation->prefetch_valid = false;
  if (invocation->prefetch_valid && op == "1.0/get") {
    if (const isobar::worker::v1::Prefetched* prefetched = PrefetchedGet(isolate, *invocation, args)) {
      // Answered here, as the host would have (its promise settles in a later microtask all the same).
      (void)resolver->Resolve(isolate->GetCurrentContext(), NewString(isolate, prefetched->result_json())).FromMaybe(false);
      invocation->prefetch_used.push_back(prefetched->id());
      ++invocation->prefetch_answered;
      info.GetReturnValue().Set(resolver->GetPromise());
      return;
    }
  }
  invocation->queue.push_back({std::move(op), std::move(args), v8::Global<v8::Promise::Resolver>(isolate, resolver)});
  info.GetReturnValue().Set(resolver->GetPromise());
}

// native.log(level, text): the prelude has formatted the line (and stopped at the length cap).
void Log(const v8::FunctionCallbackInfo<v8::Value>& info) {
  Invocation* invocation = Invocation::Of(info.GetIsolate()->GetCurrentContext());
  if (invocation == nullptr || info.Length() < 2 || !info[0]->IsString() || !info[1]->IsString()) return;
  AppendLog(*invocation, ToUtf8(info.GetIsolate(), info[0]), ToUtf8(info.GetIsolate(), info[1]));
}

}  // namespace

void AppendLog(Invocation& invocation, std::string level, std::string line) {
  const EvaluatorLimits& limits = *invocation.limits;
  // As Convex: the last line is kept for the overflow notice, and lines after it are dropped.
  if (invocation.logs.size() >= limits.max_log_lines) return;
  if (invocation.logs.size() + 1 == limits.max_log_lines) {
    invocation.logs_truncated = true;
    invocation.logs.push_back(
        {"error", absl::StrCat("Log overflow (maximum ", limits.max_log_lines, "). Remaining log lines omitted.")});
    return;
  }
  if (level != "log" && level != "info" && level != "warn" && level != "error" && level != "debug") level = "log";
  if (line.size() > limits.max_log_line_bytes) {
    size_t cut = limits.max_log_line_bytes;
    while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;  // whole UTF-8 characters
    line.resize(cut);
    line += " (truncated due to length)";
  }
  invocation.logs.push_back({std::move(level), std::move(line)});
}

namespace {

v8::Local<v8::ArrayBuffer> NewArrayBuffer(v8::Isolate* isolate, const void* data, size_t size) {
  v8::Local<v8::ArrayBuffer> buffer = v8::ArrayBuffer::New(isolate, size);
  if (size > 0) std::memcpy(buffer->GetBackingStore()->Data(), data, size);
  return buffer;
}

// The same for a buffer of any size: its memory comes from the isolate's (capped) allocator, and a
// refusal is a RangeError in JavaScript, as `new ArrayBuffer(n)` past the cap is. (ArrayBuffer::New
// would end the process instead, and with it every invocation the worker runs.)
v8::MaybeLocal<v8::ArrayBuffer> TryNewArrayBuffer(v8::Isolate* isolate, const void* data, size_t size) {
  if (size == 0) return v8::ArrayBuffer::New(isolate, 0);
  v8::ArrayBuffer::Allocator* allocator = isolate->GetArrayBufferAllocator();
  void* memory = allocator->AllocateUninitialized(size);
  if (memory == nullptr) {
    ThrowError(isolate, v8::Exception::RangeError, "Array buffer allocation failed");
    return {};
  }
  std::memcpy(memory, data, size);
  std::unique_ptr<v8::BackingStore> store = v8::ArrayBuffer::NewBackingStore(
      memory, size,
      [](void* bytes, size_t length, void* owner) { static_cast<v8::ArrayBuffer::Allocator*>(owner)->Free(bytes, length); },
      allocator);
  return v8::ArrayBuffer::New(isolate, std::move(store));
}

void RandomBytes(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  if (info.Length() < 1 || !info[0]->IsUint32() || info[0].As<v8::Uint32>()->Value() > kMaxRandomBytes) {
    ThrowError(isolate, v8::Exception::RangeError, "randomBytes takes a length of at most 65536");
    return;
  }
  std::string bytes(info[0].As<v8::Uint32>()->Value(), '\0');
  for (size_t filled = 0; filled < bytes.size();) {
    ssize_t n = getrandom(bytes.data() + filled, bytes.size() - filled, 0);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      ThrowError(isolate, v8::Exception::Error, "the kernel's random source failed");
      return;
    }
    filled += static_cast<size_t>(n);
  }
  info.GetReturnValue().Set(NewArrayBuffer(isolate, bytes.data(), bytes.size()));
}

void Digest(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  const EVP_MD* md = info.Length() >= 2 && info[0]->IsString() ? DigestByName(ToUtf8(isolate, info[0])) : nullptr;
  if (md == nullptr || !info[1]->IsUint8Array()) {
    ThrowError(isolate, v8::Exception::TypeError, "digest takes (algorithm, Uint8Array)");
    return;
  }
  v8::Local<v8::Uint8Array> data = info[1].As<v8::Uint8Array>();
  const auto* bytes = static_cast<const unsigned char*>(data->Buffer()->GetBackingStore()->Data()) + data->ByteOffset();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(bytes, data->ByteLength(), digest, &length, md, nullptr) != 1) {
    ThrowError(isolate, v8::Exception::Error, "digest failed");
    return;
  }
  info.GetReturnValue().Set(NewArrayBuffer(isolate, digest, length));
}

// The runtime's own bodies and blobs cross to the supervisor as base64 (up to tens of MiB): encoded
// and decoded here, since building such a string in JS holds millions of pieces at once.
void Base64Encode(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  if (info.Length() < 1 || !info[0]->IsUint8Array()) {
    ThrowError(isolate, v8::Exception::TypeError, "base64Encode takes a Uint8Array");
    return;
  }
  v8::Local<v8::Uint8Array> data = info[0].As<v8::Uint8Array>();
  const char* bytes = static_cast<const char*>(data->Buffer()->GetBackingStore()->Data()) + data->ByteOffset();
  const std::string encoded = ::isobar::Base64Encode(absl::string_view(bytes, data->ByteLength()));
  v8::Local<v8::String> text;
  if (!v8::String::NewFromOneByte(isolate, reinterpret_cast<const uint8_t*>(encoded.data()), v8::NewStringType::kNormal,
                                  static_cast<int>(encoded.size()))
           .ToLocal(&text)) {
    return;  // too long for a string: V8 threw
  }
  info.GetReturnValue().Set(text);
}

// Canonical base64 (as the supervisor writes it) to a Uint8Array; throws on anything else.
void Base64Decode(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  if (info.Length() < 1 || !info[0]->IsString()) {
    ThrowError(isolate, v8::Exception::TypeError, "base64Decode takes a string");
    return;
  }
  v8::Local<v8::String> text = info[0].As<v8::String>();
  std::string encoded(static_cast<size_t>(text->Length()), '\0');
  if (!text->ContainsOnlyOneByte()) {
    ThrowError(isolate, v8::Exception::TypeError, "not base64");
    return;
  }
  text->WriteOneByte(isolate, reinterpret_cast<uint8_t*>(encoded.data()), 0, text->Length(), v8::String::NO_NULL_TERMINATION);
  std::optional<std::string> maybe_decoded = ::isobar::Base64Decode(encoded);
  if (!maybe_decoded.has_value()) {
    ThrowError(isolate, v8::Exception::TypeError, "not base64");
    return;
  }
  const std::string& decoded = *maybe_decoded;
  v8::Local<v8::ArrayBuffer> buffer;
  if (!TryNewArrayBuffer(isolate, decoded.data(), decoded.size()).ToLocal(&buffer)) return;
  info.GetReturnValue().Set(v8::Uint8Array::New(buffer, 0, decoded.size()));
}

}  // namespace

namespace {

// The natives of every context: this file's, crypto.subtle's and the key functions.
std::vector<absl::Span<const NativeFunction>> AllNatives() {
  static constexpr NativeFunction kFunctions[] = {
      {"syscall", Syscall},       {"asyncSyscall", AsyncSyscall}, {"log", Log},
      {"randomBytes", RandomBytes}, {"digest", Digest},           {"observedTime", ObservedTime},
      {"base64Encode", Base64Encode}, {"base64Decode", Base64Decode}};
  return {kFunctions, CryptoBindings(), PkeyBindings()};
}

// The code cache key of the prelude (which is part of the worker binary).
const std::string& PreludeKey() {
  static const std::string* key = new std::string(Sha256(runtime_js::kPrelude));
  return *key;
}

}  // namespace

v8::MaybeLocal<v8::UnboundScript> CompilePrelude(v8::Isolate* isolate, CodeCache& cache) {
  v8::ScriptOrigin origin(isolate, NewString(isolate, "isobar:prelude.js"));
  const std::string* cached = cache.Find(PreludeKey());
  if (cached == nullptr) {
    v8::ScriptCompiler::Source source(NewString(isolate, runtime_js::kPrelude), origin);
    return v8::ScriptCompiler::CompileUnboundScript(isolate, &source);
  }
  auto* data = new v8::ScriptCompiler::CachedData(reinterpret_cast<const uint8_t*>(cached->data()),
                                                  static_cast<int>(cached->size()));
  v8::ScriptCompiler::Source source(NewString(isolate, runtime_js::kPrelude), origin, data);  // owns `data`
  v8::MaybeLocal<v8::UnboundScript> script =
      v8::ScriptCompiler::CompileUnboundScript(isolate, &source, v8::ScriptCompiler::kConsumeCodeCache);
  if (source.GetCachedData()->rejected) cache.Drop(PreludeKey());
  return script;
}

void CachePrelude(v8::Local<v8::UnboundScript> prelude, CodeCache& cache) {
  if (cache.Contains(PreludeKey())) return;
  std::unique_ptr<v8::ScriptCompiler::CachedData> data(v8::ScriptCompiler::CreateCodeCache(prelude));
  if (data != nullptr) {
    cache.Store(PreludeKey(), std::string(reinterpret_cast<const char*>(data->data), static_cast<size_t>(data->length)));
  }
}

v8::MaybeLocal<v8::Function> InstallPrelude(v8::Local<v8::Context> context, v8::Local<v8::UnboundScript> prelude) {
  v8::Isolate* isolate = context->GetIsolate();
  v8::Local<v8::Object> native = v8::Object::New(isolate);
  for (absl::Span<const NativeFunction> functions : AllNatives()) {
    for (const NativeFunction& function : functions) SetFunction(context, native, function.name, function.callback);
  }
  v8::Local<v8::Value> installer;
  v8::Local<v8::Value> enter;
  v8::Local<v8::Value> argv[] = {native};
  if (!prelude->BindToCurrentContext()->Run(context).ToLocal(&installer) || !installer->IsFunction() ||
      !installer.As<v8::Function>()->Call(context, v8::Undefined(isolate), 1, argv).ToLocal(&enter) ||
      !enter->IsFunction()) {
    return {};
  }
  return enter.As<v8::Function>();
}

bool EnterInvocation(v8::Local<v8::Context> context, v8::Local<v8::Function> enter, bool deterministic, uint64_t seed,
                     double unix_time_ms) {
  v8::Isolate* isolate = context->GetIsolate();
  v8::HandleScope handle_scope(isolate);  // the parameters are garbage once the call returns
  v8::Local<v8::Object> params = v8::Object::New(isolate);
  // Data properties: user code may have put setters on Object.prototype.
  bool ok = true;
  auto set = [&](const char* name, v8::Local<v8::Value> value) {
    ok = ok && params->CreateDataProperty(context, NewString(isolate, name), value).FromMaybe(false);
  };
  set("seedHigh", v8::Number::New(isolate, static_cast<double>(seed >> 32)));
  set("seedLow", v8::Number::New(isolate, static_cast<double>(seed & 0xFFFFFFFF)));
  set("now", v8::Number::New(isolate, unix_time_ms));
  set("deterministic", v8::Boolean::New(isolate, deterministic));
  if (!ok) return false;
  v8::Local<v8::Value> argv[] = {params};
  return !enter->Call(context, v8::Undefined(isolate), 1, argv).IsEmpty();
}

void OnPromiseReject(v8::PromiseRejectMessage message) {
  v8::Local<v8::Promise> promise = message.GetPromise();
  v8::Isolate* isolate = promise->GetIsolate();
  Invocation* invocation = Invocation::Of(isolate->GetCurrentContext());
  if (invocation == nullptr) return;
  if (message.GetEvent() == v8::kPromiseRejectWithNoHandler) {
    invocation->unhandled.emplace_back(v8::Global<v8::Promise>(isolate, promise),
                                       v8::Global<v8::Value>(isolate, message.GetValue()));
  } else if (message.GetEvent() == v8::kPromiseHandlerAddedAfterReject) {
    for (auto it = invocation->unhandled.begin(); it != invocation->unhandled.end(); ++it) {
      if (it->first == promise) {
        invocation->unhandled.erase(it);
        break;
      }
    }
  }
}

const intptr_t* BindingReferences() {
  // Every callback a context may hold, so that a startup snapshot of one can name them all (V8 aborts
  // on a function whose callback it cannot name).
  static const intptr_t* references = [] {
    auto* list = new std::vector<intptr_t>;
    for (absl::Span<const NativeFunction> functions : AllNatives()) {
      for (const NativeFunction& function : functions) list->push_back(reinterpret_cast<intptr_t>(function.callback));
    }
    list->push_back(0);
    return list->data();
  }();
  return references;
}

void WarmUpBindings() {
  for (const char* name : {"SHA-1", "SHA-256", "SHA-384", "SHA-512"}) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_Digest("", 0, digest, &length, DigestByName(name), nullptr);
  }
  WarmUpCryptoBindings();
  WarmUpPkeyBindings();
  unsigned char byte;
  if (getrandom(&byte, 1, 0) != 1) {
    // Nothing to do: RandomBytes reports the failure if it persists.
  }
}

}  // namespace isobar::worker
