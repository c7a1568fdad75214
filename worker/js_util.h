// Small V8 helpers shared by the worker's bindings, module loader and evaluator.
#ifndef ISOBAR_WORKER_JS_UTIL_H_
#define ISOBAR_WORKER_JS_UTIL_H_

#include <string>

#include "absl/strings/string_view.h"
#include "v8-context.h"
#include "v8-function-callback.h"
#include "v8-local-handle.h"
#include "v8-object.h"
#include "v8-primitive.h"

namespace isobar::worker {

// The value as a string (ToString, as String::Utf8Value does), in well-formed UTF-8: a lone UTF-16
// surrogate becomes U+FFFD, as Convex's runtime makes it in log lines and error messages. Empty when
// ToString throws.
std::string ToUtf8(v8::Isolate* isolate, v8::Local<v8::Value> value);
v8::Local<v8::String> NewString(v8::Isolate* isolate, absl::string_view s);

// An own data property, read without running any user code (no getters, no proxy traps); undefined
// when absent, an accessor, or the object is a proxy.
v8::Local<v8::Value> OwnData(v8::Local<v8::Context> context, v8::Local<v8::Object> object, v8::Local<v8::Name> key);
v8::Local<v8::Value> OwnData(v8::Local<v8::Context> context, v8::Local<v8::Object> object, absl::string_view key);

// A native function the prelude receives, by name.
struct NativeFunction {
  const char* name;
  v8::FunctionCallback callback;
};

void SetFunction(v8::Local<v8::Context> context, v8::Local<v8::Object> target, const char* name,
                 v8::FunctionCallback callback);

// Throws `error` (made by v8::Exception::Error and friends) with `message` in the current context.
void ThrowError(v8::Isolate* isolate, v8::Local<v8::Value> (*error)(v8::Local<v8::String>), absl::string_view message);

// How deeply arrays and objects nest in `json` (0 for a scalar); strings are skipped correctly. The
// text is assumed to be JSON (V8's or the supervisor's); this only measures it.
int JsonNestingDepth(absl::string_view json);

}  // namespace isobar::worker

#endif  // ISOBAR_WORKER_JS_UTIL_H_
