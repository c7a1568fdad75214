#include "worker/errors.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "v8-debug.h"
#include "v8-exception.h"
#include "v8-primitive.h"
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
      if (data->IsString()) out->convex_error_data = ToUtf8(isolate, data);
    }
    out->result_json = absl::UnknownError(message_text.empty() ? name_text : absl::StrCat(name_text, ": ", message_text));
    out->stack = UserStack(isolate, thrown);
    return;
  }
  std::string text = "a value that is not an Error";
  if (thrown->IsString() || thrown->IsNumber() || thrown->IsBoolean() || thrown->IsNullOrUndefined()) {
    text = ToUtf8(isolate, thrown);
  }
  out->result_json = absl::UnknownError(absl::StrCat("Uncaught ", text));
}

}  // namespace isobar::worker
