// Turns what user code threw into an InvocationResult without running any user code: the message,
// ConvexError data (CONVEX_ABI.md §3.5), and a stack trace without the runtime's own frames.
#ifndef ISOBAR_WORKER_ERRORS_H_
#define ISOBAR_WORKER_ERRORS_H_

#include "absl/status/status.h"
#include "v8-context.h"
#include "v8-local-handle.h"
#include "worker/invocation_result.h"

namespace isobar::worker {

void DescribeThrown(v8::Local<v8::Context> context, v8::Local<v8::Value> thrown, InvocationResult* out);

// The exception a failed host call rejects with: an Error with the status's message; for a nested
// function's ConvexError (kConvexErrorDataPayload) one that looks like the library's: name
// "ConvexError", `data`, and the Symbol.for("ConvexError") marker.
v8::Local<v8::Value> HostCallError(v8::Local<v8::Context> context, const absl::Status& status);

}  // namespace isobar::worker

#endif  // ISOBAR_WORKER_ERRORS_H_
