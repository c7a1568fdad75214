// An action's fetch (issue 19), as host calls the runtime makes (runtime-js/src/fetch_client.js). The
// request is made by the supervisor's HttpFetcher under the deployment's egress policy; the worker
// never holds a socket.
//
//   isobar/fetchStart  {url, method, headerPairs, body: <base64>|null, streamed, redirect}
//                      -> {id} for a streamed body (sent next, then fetchHead), else {id, head} once
//                         the response's head is in (one round trip fewer)
//   isobar/fetchWrite  {id, data: <base64>, last}        a part of a streamed request body -> null
//   isobar/fetchHead   {id}  -> {status, headerPairs, url, redirected}   once the headers are in
//   isobar/fetchRead   {id}  -> {data: <base64>, done?: true} or {done: true}   the body, a part at
//                      a time; `done` with the last part when the response has ended
//   isobar/fetchCancel {id}  -> null                                      AbortSignal
//
// A failure the code should see (a refused address, the network, a limit) is a result, not a host
// call error: {error: {message, type: "TypeError"|"Error"}}; the runtime throws it as that type.
// Fetches still going when the invocation ends are cancelled.
#ifndef ISOBAR_SUPERVISOR_RUNNER_FETCH_CALLS_H_
#define ISOBAR_SUPERVISOR_RUNNER_FETCH_CALLS_H_

#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "supervisor/egress/http_fetcher.h"

namespace isobar::supervisor {

struct InvocationSession;

bool IsFetchSyscall(absl::string_view op);

// Serves one of the calls above for `session` (an action's); `done` gets the result JSON, from any
// thread.
void ServeFetchSyscall(HttpFetcher& fetcher, const std::shared_ptr<InvocationSession>& session, absl::string_view op,
                       absl::string_view args_json, absl::AnyInvocable<void(absl::StatusOr<std::string>) &&> done);

// Cancels the session's fetches that are still going (its invocation ended).
void CancelFetches(InvocationSession& session);

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_RUNNER_FETCH_CALLS_H_
