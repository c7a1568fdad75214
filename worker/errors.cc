#include "worker/errors.h"

#include <string>

#include "absl/strings/cord.h"
#include "absl/types/optional.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "v8-debug.h"
#include "v8-exception.h"
#include "v8-json.h"
#include "v8-message.h"
#include "v8-primitive.h"
#include "worker/host_calls.h"
#include "worker/js_util.h"

namespace isobar::worker {
namespace {

constexpr int kMaxStackFrames = 32;

// "    at fn (convex:/messages.js:3:9)" lines; frames of the runtime's prelude are left out.
std::string UserStack(v8::Isolate* isolate, v8::Local<v8::Value> thrown) {
  v8::Local<v8::StackTrace> trace = v8::Exception::GetStackTrace(thrown);
  if (trace.IsEmpty()) return "";
  std::string stack;
  for (int i = 0; i < trace->GetFrameCount() && i < kMaxStackFrames; ++i) {
    v8::Local<v8::StackFrame> frame = trace->GetFrame(isolate, i);
    std::string script = ToUtf8(isolate, frame->GetScriptName());
    if (script.empty() || absl::StartsWith(script, "isobar:")) continue;
    std::string function = ToUtf8(isolate, frame->GetFunctionName());
    std::string location = absl::StrCat(script, ":", frame->GetLineNumber(), ":", frame->GetColumn());
    absl::StrAppend(&stack, "\n    at ", function.empty() ? location : absl::StrCat(function, " (", location, ")"));
  }
  return stack;
}


// As Convex words an exception nobody caught: V8's message for it ("Uncaught Error: boom",
// "Uncaught ConvexError: {...}", "Uncaught #<Object>", "Uncaught 42").
std::string UncaughtMessage(v8::Local<v8::Context> context, v8::Local<v8::Value> thrown, const std::string& name,
                            const std::string& message) {
  v8::Isolate* isolate = context->GetIsolate();
  v8::TryCatch ignore(isolate);  // a getter that throws while V8 describes the value
  v8::Local<v8::Message> described = v8::Exception::CreateMessage(isolate, thrown);
  if (!described.IsEmpty()) {
    std::string text = ToUtf8(isolate, described->Get());
    if (!text.empty() && !ignore.HasCaught()) return text;
  }
  if (name.empty()) return "Uncaught exception";
  return absl::StrCat("Uncaught ", message.empty() ? name : absl::StrCat(name, ": ", message));
}

}  // namespace

void DescribeThrown(v8::Local<v8::Context> context, v8::Local<v8::Value> thrown, InvocationResult* out) {
  v8::Isolate* isolate = context->GetIsolate();
  out->user_error = true;
  if (thrown->IsNativeError() && thrown->IsObject()) {
    v8::Local<v8::Object> error = thrown.As<v8::Object>();
    v8::Local<v8::Value> name = OwnData(context, error, "name");
    v8::Local<v8::Value> message = OwnData(context, error, "message");
    std::string name_text = name->IsString() ? ToUtf8(isolate, name) : ToUtf8(isolate, error->GetConstructorName());
    std::string message_text = message->IsString() ? ToUtf8(isolate, message) : "";
    // A ConvexError: error[Symbol.for("ConvexError")] === true, data serialised by the library.
    v8::Local<v8::Value> marker = OwnData(context, error, v8::Symbol::For(isolate, NewString(isolate, "ConvexError")));
    if (marker->IsTrue()) {
      v8::Local<v8::Value> data = OwnData(context, error, "data");
      v8::Local<v8::String> serialized;
      if (data->IsString()) {
        out->convex_error_data = ToUtf8(isolate, data);
      } else if (!data->IsUndefined() && v8::JSON::Stringify(context, data).ToLocal(&serialized)) {
        out->convex_error_data = ToUtf8(isolate, serialized);  // a nested call's error, passed through
      }
    }
    out->result_json = absl::UnknownError(UncaughtMessage(context, thrown, name_text, message_text));
    out->stack = UserStack(isolate, thrown);
    return;
  }
  out->result_json = absl::UnknownError(UncaughtMessage(context, thrown, "", ""));
}

v8::Local<v8::Value> HostCallError(v8::Local<v8::Context> context, const absl::Status& status) {
  v8::Isolate* isolate = context->GetIsolate();
  v8::Local<v8::Value> exception = v8::Exception::Error(NewString(isolate, status.message()));
  absl::optional<absl::Cord> data = status.GetPayload(kConvexErrorDataPayload);
  if (!data.has_value()) return exception;
  v8::Local<v8::Object> error = exception.As<v8::Object>();
  v8::Local<v8::Value> value;
  v8::TryCatch ignore(isolate);
  if (!v8::JSON::Parse(context, NewString(isolate, std::string(*data))).ToLocal(&value)) {
    value = NewString(isolate, std::string(*data));
  }
  bool set = error->Set(context, NewString(isolate, "name"), NewString(isolate, "ConvexError")).FromMaybe(false) &&
             error->Set(context, NewString(isolate, "data"), value).FromMaybe(false) &&
             error->Set(context, v8::Symbol::For(isolate, NewString(isolate, "ConvexError")), v8::True(isolate))
                 .FromMaybe(false);
  (void)set;  // a property that could not be set leaves a plain Error, which is still an error
  return exception;
}

}  // namespace isobar::worker
