#include "worker/js_util.h"

#include <algorithm>

#include "v8-exception.h"
#include "v8-function.h"
#include "v8-isolate.h"
#include "v8-template.h"

namespace isobar::worker {

std::string ToUtf8(v8::Isolate* isolate, v8::Local<v8::Value> value) {
  if (value.IsEmpty()) return std::string();
  v8::TryCatch try_catch(isolate);
  v8::Local<v8::String> string;
  if (!value->ToString(isolate->GetCurrentContext()).ToLocal(&string)) return std::string();
  // A lone surrogate takes three bytes either way (as V8 writes it, or as U+FFFD).
  std::string out(static_cast<size_t>(string->Utf8Length(isolate)), '\0');
  const int written = string->WriteUtf8(isolate, out.data(), static_cast<int>(out.size()), nullptr,
                                        v8::String::REPLACE_INVALID_UTF8 | v8::String::NO_NULL_TERMINATION);
  out.resize(static_cast<size_t>(std::max(written, 0)));
  return out;
}

v8::Local<v8::String> NewString(v8::Isolate* isolate, absl::string_view s) {
  return v8::String::NewFromUtf8(isolate, s.data(), v8::NewStringType::kNormal, static_cast<int>(s.size()))
      .ToLocalChecked();
}

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

v8::Local<v8::Value> OwnData(v8::Local<v8::Context> context, v8::Local<v8::Object> object, absl::string_view key) {
  return OwnData(context, object, NewString(context->GetIsolate(), key));
}

void SetFunction(v8::Local<v8::Context> context, v8::Local<v8::Object> target, const char* name,
                 v8::FunctionCallback callback) {
  v8::Isolate* isolate = context->GetIsolate();
  v8::Local<v8::Function> function = v8::FunctionTemplate::New(isolate, callback)->GetFunction(context).ToLocalChecked();
  target->Set(context, NewString(isolate, name), function).Check();
}

void ThrowError(v8::Isolate* isolate, v8::Local<v8::Value> (*error)(v8::Local<v8::String>), absl::string_view message) {
  isolate->ThrowException(error(NewString(isolate, message)));
}

int JsonNestingDepth(absl::string_view json) {
  int depth = 0;
  int deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

}  // namespace isobar::worker
