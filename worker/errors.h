// Turns what user code threw into an InvocationResult without running any user code: the message,
// ConvexError data (CONVEX_ABI.md §3.5), and a stack trace without the runtime's own frames.
#ifndef ISOBAR_WORKER_ERRORS_H_
#define ISOBAR_WORKER_ERRORS_H_

#include "v8-context.h"
#include "v8-local-handle.h"
#include "worker/invocation_result.h"

namespace isobar::worker {

void DescribeThrown(v8::Local<v8::Context> context, v8::Local<v8::Value> thrown, InvocationResult* out);

}  // namespace isobar::worker

#endif  // ISOBAR_WORKER_ERRORS_H_
