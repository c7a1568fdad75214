// An HTTP action's response, streamed: when the handler returns a Response whose body is a
// ReadableStream, the runtime (runtime-js/src/js_syscall.js runHttpAction) sends its head and then its
// body a chunk at a time, as the stream gives them, with two host calls:
//
//   isobar/httpResponseStart  {status, headerPairs, body: null}   once, before any chunk
//   isobar/httpResponseChunk  {data: <base64>}                     answered once the chunk is queued
//
// They go to the call's HttpResponseStream, which the HTTP room implements (http_actions.cc) and hands
// to the runner with the call (FunctionCallRequest::http_stream). A chunk is answered once the stream
// has room for it, so the handler goes at the pace the client reads, and no thread waits meanwhile.
#ifndef ISOBAR_SUPERVISOR_RUNNER_HTTP_RESPONSE_STREAM_H_
#define ISOBAR_SUPERVISOR_RUNNER_HTTP_RESPONSE_STREAM_H_

#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace isobar::supervisor {

struct InvocationSession;

class HttpResponseStream {
 public:
  using Done = absl::AnyInvocable<void(absl::Status) &&>;
  virtual ~HttpResponseStream() = default;
  // The response's head, as the runtime's JSON {status, headerPairs, body: null}. INVALID_ARGUMENT for
  // a head that cannot go out (or a second one).
  virtual absl::Status Start(absl::string_view head_json) = 0;
  // Queues a part of the body; `done` is called (from any thread) once it is queued, or with an
  // error: the client has gone or stopped reading, or the body is over its limit.
  virtual void Write(std::string part, Done done) = 0;
};

// An HTTP action's request body when it is larger than the call carries inline: the runtime reads it
// as the handler consumes it, with
//
//   isobar/httpRequestRead  {}   -> {data: <base64>} or {done: true}
//
// Implemented by the HTTP room over the listener's BodyReader (FunctionCallRequest::http_request_body).
class HttpRequestBody {
 public:
  using Done = absl::AnyInvocable<void(absl::StatusOr<std::string>) &&>;
  virtual ~HttpRequestBody() = default;
  // The next part, 1 to `max_bytes` bytes, or empty at the end; `done` from any thread.
  virtual void Read(size_t max_bytes, Done done) = 0;
};

// The three calls above.
bool IsHttpResponseSyscall(absl::string_view op);
// Serves one of them for `session` (which must outlive `done`); `done` gets the result JSON.
void ServeHttpResponseSyscall(InvocationSession& session, absl::string_view op, absl::string_view args_json,
                              absl::AnyInvocable<void(absl::StatusOr<std::string>) &&> done);

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_RUNNER_HTTP_RESPONSE_STREAM_H_
