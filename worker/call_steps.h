// The steps of an invocation's body (after analyze.h's for an analysis): a development eval, a Convex
// function call (CONVEX_ABI.md §3.2), and an HTTP action (§3.3). Each step gets the previous step's
// value, awaited; the evaluator runs them in turn.
#ifndef ISOBAR_WORKER_CALL_STEPS_H_
#define ISOBAR_WORKER_CALL_STEPS_H_

#include "isobar/worker/v1/worker.pb.h"
#include "worker/invocation.h"

namespace isobar::worker {

// Actions and HTTP actions: real time and randomness, and calls left dangling are not waited for.
bool IsActionKind(isobar::worker::v1::FunctionCall::Kind kind);

// Run the script, await its value, serialise it.
void EvalSteps(Invocation& invocation);
// Import the module, call its export's invoke method (or, for an HTTP action, http.js's router's
// runRequest) and check that the result is a JSON string.
void FunctionSteps(Invocation& invocation);

}  // namespace isobar::worker

#endif  // ISOBAR_WORKER_CALL_STEPS_H_
