// An HTTP action's streams. Its response on its way to the client (runner/http_response_stream.h): the
// head is the answer to the request, its body a BodySource the listener sends in chunks. Chunks wait
// in a queue of at most kQueueBytes; a Write beyond that is answered once the client has taken enough,
// so the handler goes at the client's pace and nothing waits on a thread. The body may have
// `max_body_bytes` in all; past that (Convex cuts at 20 MiB and logs) the Write fails and the
// connection is cut, so the client sees a truncated body rather than a short one.
#ifndef ISOBAR_SUPERVISOR_HTTP_STREAMED_RESPONSE_H_
#define ISOBAR_SUPERVISOR_HTTP_STREAMED_RESPONSE_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "supervisor/http/http_server.h"
#include "supervisor/runner/http_response_stream.h"

namespace isobar::supervisor {

class StreamedResponse final : public HttpResponseStream, public std::enable_shared_from_this<StreamedResponse> {
 public:
  static constexpr size_t kQueueBytes = 1 << 20;

  // `reply` answers the request when Start comes; `head_only` for a HEAD (the body is counted and
  // dropped).
  StreamedResponse(HttpServer::Reply reply, bool head_only, size_t max_body_bytes);

  absl::Status Start(absl::string_view head_json) override ABSL_LOCKS_EXCLUDED(mu_);
  void Write(std::string part, Done done) override ABSL_LOCKS_EXCLUDED(mu_);
  // The function ended. If the response started, its body is now complete (`ok`) or cut, and nullopt
  // comes back; if not, the reply does, for the caller to answer with the function's outcome.
  std::optional<HttpServer::Reply> Finish(bool ok) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  class Body;

  absl::Mutex mu_;
  HttpServer::Reply reply_ ABSL_GUARDED_BY(mu_);
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  // The body as the listener holds it: gone once the connection is (the client went away).
  std::weak_ptr<Body> body_ ABSL_GUARDED_BY(mu_);
  const bool head_only_;
  const size_t max_body_bytes_;
  size_t written_ ABSL_GUARDED_BY(mu_) = 0;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;  // a chunk is queued and not yet answered
};

// An HTTP action's request body larger than kInlineBytes, read by the runtime as the handler consumes
// it: what was read ahead to find that out, then the rest from the listener.
class StreamedRequest final : public HttpRequestBody, public std::enable_shared_from_this<StreamedRequest> {
 public:
  static constexpr size_t kInlineBytes = 64 << 10;

  StreamedRequest(std::string read_ahead, std::shared_ptr<BodyReader> reader)
      : read_ahead_(std::move(read_ahead)), reader_(std::move(reader)) {}
  ~StreamedRequest() override = default;

  // One at a time (a second while one is outstanding is refused: the runtime's reads are sequential,
  // and tenant code calling the host itself must not interleave them).
  void Read(size_t max_bytes, Done done) override ABSL_LOCKS_EXCLUDED(mu_);

  // Reads up to kInlineBytes + 1 of `reader`'s body and hands it to `done`, with whether that was all
  // of it. `done` is called on the listener's thread.
  static void ReadAhead(std::shared_ptr<BodyReader> reader,
                        absl::AnyInvocable<void(absl::StatusOr<std::string> bytes, bool whole) &&> done);

 private:
  absl::Mutex mu_;
  std::string read_ahead_ ABSL_GUARDED_BY(mu_);
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  const std::shared_ptr<BodyReader> reader_;
};

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_HTTP_STREAMED_RESPONSE_H_
