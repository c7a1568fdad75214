#include "supervisor/http/streamed_response.h"

#include <algorithm>
#include <deque>
#include <utility>

#include "absl/strings/str_cat.h"
#include "supervisor/http/http_actions.h"

namespace isobar::supervisor {

// The queue between the function's Writes and the listener's Nexts.
class StreamedResponse::Body final : public BodySource {
 public:
  ~Body() override {
    // The connection is gone: Writes waiting for room will never get it.
    std::deque<Waiting> waiting;
    {
      absl::MutexLock lock(&mu_);
      waiting.swap(waiting_);
    }
    for (Waiting& writer : waiting) std::move(writer.done)(absl::UnavailableError("the client has gone"));
  }

  void Next(BodySource::Done next) override ABSL_LOCKS_EXCLUDED(mu_) {
    absl::StatusOr<std::string> part;
    std::deque<HttpResponseStream::Done> room;
    {
      absl::MutexLock lock(&mu_);
      if (parts_.empty() && !end_.has_value()) {
        next_ = std::move(next);
        return;
      }
      if (!parts_.empty()) {
        part = std::move(parts_.front());
        parts_.pop_front();
        queued_ -= part->size();
        room = Admit();
      } else {
        part = end_->ok() ? absl::StatusOr<std::string>(std::string()) : absl::StatusOr<std::string>(*end_);
      }
    }
    std::move(next)(std::move(part));
    for (HttpResponseStream::Done& done : room) std::move(done)(absl::OkStatus());
  }

  // Queues `part`; `done` once it fits under kQueueBytes.
  void Push(std::string part, HttpResponseStream::Done done) ABSL_LOCKS_EXCLUDED(mu_) {
    std::optional<BodySource::Done> next;
    {
      absl::MutexLock lock(&mu_);
      if (next_.has_value()) {
        // The listener is waiting: the part goes straight out.
        next.swap(next_);
      } else if (queued_ + part.size() > kQueueBytes && queued_ > 0) {
        waiting_.push_back(Waiting{std::move(part), std::move(done)});
        return;
      } else {
        queued_ += part.size();
        parts_.push_back(std::move(part));
      }
    }
    if (next.has_value()) std::move(*next)(std::move(part));
    std::move(done)(absl::OkStatus());
  }

  void End(absl::Status status) ABSL_LOCKS_EXCLUDED(mu_) {
    std::optional<BodySource::Done> next;
    {
      absl::MutexLock lock(&mu_);
      if (end_.has_value()) return;
      end_ = status;
      next.swap(next_);
    }
    if (next.has_value()) std::move(*next)(status.ok() ? absl::StatusOr<std::string>(std::string()) : status);
  }

 private:
  struct Waiting {
    std::string part;
    HttpResponseStream::Done done;
  };

  // Moves waiting parts into the queue while they fit; returns their writers, to be told outside mu_.
  std::deque<HttpResponseStream::Done> Admit() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::deque<HttpResponseStream::Done> admitted;
    while (!waiting_.empty() && (queued_ == 0 || queued_ + waiting_.front().part.size() <= kQueueBytes)) {
      queued_ += waiting_.front().part.size();
      parts_.push_back(std::move(waiting_.front().part));
      admitted.push_back(std::move(waiting_.front().done));
      waiting_.pop_front();
    }
    return admitted;
  }

  absl::Mutex mu_;
  std::deque<std::string> parts_ ABSL_GUARDED_BY(mu_);
  size_t queued_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<Waiting> waiting_ ABSL_GUARDED_BY(mu_);
  std::optional<BodySource::Done> next_ ABSL_GUARDED_BY(mu_);  // the listener, waiting for a part
  std::optional<absl::Status> end_ ABSL_GUARDED_BY(mu_);
};

StreamedResponse::StreamedResponse(HttpServer::Reply reply, bool head_only, size_t max_body_bytes)
    : reply_(std::move(reply)), head_only_(head_only), max_body_bytes_(max_body_bytes) {}

absl::Status StreamedResponse::Start(absl::string_view head_json) {
  absl::StatusOr<HttpResponse> head = HttpActionResponse(head_json, 0);
  if (!head.ok()) return head.status();
  if (!head->body.empty()) return absl::InvalidArgumentError("a streamed response's head has no body");
  if (head->status == 204 || head->status == 304) {
    return absl::InvalidArgumentError(absl::StrCat("a ", head->status, " response has no body to stream"));
  }
  HttpServer::Reply reply;
  {
    absl::MutexLock lock(&mu_);
    if (started_) return absl::FailedPreconditionError("the response has already started");
    started_ = true;
    reply = std::move(reply_);
    // (A HEAD's answer is sent without asking its source for anything: what is written is dropped.)
    auto body = std::make_shared<Body>();
    body_ = body;
    head->source = std::move(body);
  }
  std::move(reply)(*std::move(head));
  return absl::OkStatus();
}

void StreamedResponse::Write(std::string part, Done done) {
  std::shared_ptr<Body> body;
  {
    absl::MutexLock lock(&mu_);
    if (!started_) return std::move(done)(absl::FailedPreconditionError("the response has not started"));
    // In order: each chunk once the one before it is answered (host calls run on many threads).
    if (writing_) return std::move(done)(absl::FailedPreconditionError("a response chunk is already on its way"));
    written_ += part.size();
    if (written_ > max_body_bytes_) {
      body = body_.lock();
      if (body != nullptr) body->End(absl::ResourceExhaustedError("the streamed response is over its limit"));
      return std::move(done)(absl::ResourceExhaustedError(absl::StrCat(
          "HttpResponseTooLarge: HTTP actions support responses up to ", max_body_bytes_ >> 20, " MiB")));
    }
    if (head_only_) return std::move(done)(absl::OkStatus());
    body = body_.lock();
  }
  if (body == nullptr) return std::move(done)(absl::UnavailableError("the client has gone"));
  {
    absl::MutexLock lock(&mu_);
    writing_ = true;
  }
  body->Push(std::move(part), [this, self = shared_from_this(), done = std::move(done)](absl::Status written) mutable {
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
    }
    std::move(done)(written);
  });
}

std::optional<HttpServer::Reply> StreamedResponse::Finish(bool ok) {
  std::shared_ptr<Body> body;
  {
    absl::MutexLock lock(&mu_);
    if (!started_) {
      started_ = true;  // no Start after this
      return std::move(reply_);
    }
    body = body_.lock();
  }
  if (body != nullptr) body->End(ok ? absl::OkStatus() : absl::AbortedError("the HTTP action failed mid-response"));
  return std::nullopt;
}

void StreamedRequest::Read(size_t max_bytes, Done done) {
  std::optional<absl::StatusOr<std::string>> at_once;
  {
    absl::MutexLock lock(&mu_);
    if (reading_) {
      at_once = absl::FailedPreconditionError("the request body is already being read");
    } else if (!read_ahead_.empty()) {
      const size_t take = std::min(max_bytes, read_ahead_.size());
      at_once = read_ahead_.substr(0, take);
      read_ahead_.erase(0, take);
    } else {
      reading_ = true;
    }
  }
  if (at_once.has_value()) return std::move(done)(*std::move(at_once));
  reader_->Read(max_bytes, [this, self = shared_from_this(), done = std::move(done)](absl::StatusOr<std::string> part) mutable {
    {
      absl::MutexLock lock(&mu_);
      reading_ = false;
    }
    std::move(done)(std::move(part));
  });
}

namespace {

struct ReadingAhead : std::enable_shared_from_this<ReadingAhead> {
  std::shared_ptr<BodyReader> reader;
  std::string bytes;
  absl::AnyInvocable<void(absl::StatusOr<std::string>, bool) &&> done;

  void Next() {
    reader->Read(StreamedRequest::kInlineBytes + 1 - bytes.size(), [self = shared_from_this()](absl::StatusOr<std::string> part) {
      if (!part.ok()) return std::move(self->done)(part.status(), false);
      if (part->empty()) return std::move(self->done)(std::move(self->bytes), true);
      self->bytes += *part;
      if (self->bytes.size() > StreamedRequest::kInlineBytes) return std::move(self->done)(std::move(self->bytes), false);
      self->Next();
    });
  }
};

}  // namespace

void StreamedRequest::ReadAhead(std::shared_ptr<BodyReader> reader,
                                absl::AnyInvocable<void(absl::StatusOr<std::string>, bool) &&> done) {
  auto reading = std::make_shared<ReadingAhead>();
  reading->reader = std::move(reader);
  reading->done = std::move(done);
  reading->Next();
}

}  // namespace isobar::supervisor
