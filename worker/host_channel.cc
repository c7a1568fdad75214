#include "worker/host_channel.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "base/log.h"

namespace isobar::worker {

using isobar::worker::v1::HostMessage;
using isobar::worker::v1::Invoke;
using isobar::worker::v1::WorkerMessage;

absl::StatusOr<std::unique_ptr<HostChannel>> HostChannel::Open(int fd) {
  if (fcntl(fd, F_GETFD) < 0) return absl::FailedPreconditionError(absl::StrCat("channel fd ", fd, " is not open"));
  auto channel = std::unique_ptr<HostChannel>(new HostChannel(fd));
  channel->reader_thread_ = std::thread([c = channel.get()] { c->ReadLoop(); });
  return channel;
}

HostChannel::~HostChannel() {
  writer_.Close();
  shutdown(fd_, SHUT_RDWR);  // a thread reading sees the end of the stream
  {
    absl::MutexLock lock(&mu_);
    if (!reading_) CloseLocked();
  }
  if (reader_thread_.joinable()) reader_thread_.join();
  close(fd_);
}

absl::Status HostChannel::Send(const WorkerMessage& message) {
  if (!writer_.Write(message.SerializeAsString()).ok()) return absl::UnavailableError("the supervisor stream is closed");
  return absl::OkStatus();
}

void HostChannel::AwaitLocked(absl::FunctionRef<bool()> ready) {
  ++js_waiting_;
  while (!closed_ && !ready()) {
    if (!reading_) {
      ReadOneLocked();
      continue;
    }
    // The reader thread is reading: wait for what it brings, or for the role.
    auto brought = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return closed_ || !reading_ || ready(); };
    mu_.Await(absl::Condition(&brought));
  }
  if (--js_waiting_ == 0) busy_since_ = absl::Now();
}

std::optional<HostEvent> HostChannel::NextEvent() {
  absl::MutexLock lock(&mu_);
  AwaitLocked([this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return !events_.empty(); });
  if (events_.empty()) return std::nullopt;
  HostEvent event = std::move(events_.front());
  events_.pop_front();
  return event;
}

bool HostChannel::HasEvent() {
  absl::MutexLock lock(&mu_);
  if (!events_.empty() || closed_) return true;
  // (A thread that is reading queues what it reads as an event.)
  return !reading_ && reader_.HasInput();
}

absl::Status HostChannel::SendCall(uint64_t call_id, InvocationId invocation, absl::string_view op,
                                   absl::string_view args_json, const std::vector<std::string>& prefetched_used) {
  WorkerMessage message;
  auto* call = message.mutable_host_call();
  call->set_invocation_id(invocation.value());
  call->set_call_id(call_id);
  call->set_op(std::string(op));
  call->set_args_json(std::string(args_json));
  for (const std::string& id : prefetched_used) call->add_prefetched_used(id);
  return Send(message);
}

absl::StatusOr<uint64_t> HostChannel::StartCall(InvocationId invocation, absl::string_view op,
                                                absl::string_view args_json,
                                                const std::vector<std::string>& prefetched_used) {
  uint64_t call_id;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return absl::UnavailableError("the supervisor stream is closed");
    call_id = next_call_id_++;
    async_[call_id] = invocation;
  }
  absl::Status sent = SendCall(call_id, invocation, op, args_json, prefetched_used);
  if (!sent.ok()) {
    absl::MutexLock lock(&mu_);
    async_.erase(call_id);
    return sent;
  }
  return call_id;
}

absl::StatusOr<std::string> HostChannel::Call(InvocationId invocation, absl::string_view op,
                                              absl::string_view args_json) {
  PendingCall pending;
  uint64_t call_id;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return absl::UnavailableError("the supervisor stream is closed");
    call_id = next_call_id_++;
    pending_[call_id] = &pending;
  }
  absl::Status sent = SendCall(call_id, invocation, op, args_json);
  absl::MutexLock lock(&mu_);
  if (!sent.ok()) {
    pending_.erase(call_id);
    return sent;
  }
  AwaitLocked([&pending] { return pending.done; });
  if (!pending.done) {  // the stream ended first (CloseLocked answered it, unless it came after)
    pending_.erase(call_id);
    return absl::UnavailableError("the supervisor stream closed");
  }
  return std::move(pending.result);
}

void HostChannel::ReadLoop() {
  prctl(PR_SET_NAME, "isobar-host-rx");
  absl::MutexLock lock(&mu_);
  while (!closed_) {
    // Only while the JS thread has been busy a while, and nobody reads: it reads for itself otherwise.
    if (reading_ || js_waiting_ > 0 || absl::Now() - busy_since_ < kTakeOverAfter) {
      mu_.AwaitWithTimeout(absl::Condition(&closed_), kTakeOverAfter);
      continue;
    }
    ReadOneLocked();
  }
}

void HostChannel::ReadOneLocked() {
  reading_ = true;
  mu_.Unlock();
  absl::StatusOr<std::string> frame = reader_.Read();
  HostMessage message;
  const bool parsed = frame.ok() && message.ParseFromString(*frame);
  if (frame.ok() && !parsed) ISOBAR_LOG(kError, "worker") << "a message from the supervisor does not parse; the stream ends";
  mu_.Lock();
  reading_ = false;
  if (!parsed) {
    CloseLocked();
    return;
  }
  Dispatch(message);
  if (heartbeats_.empty()) return;
  std::vector<isobar::worker::v1::WorkerMessage> replies;
  replies.swap(heartbeats_);
  mu_.Unlock();
  for (const auto& reply : replies) {
    absl::Status sent = Send(reply);
    (void)sent;  // a broken stream ends at its next read
  }
  mu_.Lock();
}

void HostChannel::Dispatch(isobar::worker::v1::HostMessage& message) {
  switch (message.kind_case()) {
    case HostMessage::kInvoke: {
      HostEvent event(HostEvent::Kind::kInvoke);
      event.invoke = std::move(*message.mutable_invoke());
      events_.push_back(std::move(event));
      break;
    }
    case HostMessage::kHostResult: {
      const auto& result = message.host_result();
      absl::StatusOr<std::string> outcome =
          result.outcome_case() == isobar::worker::v1::HostResult::kResultJson
              ? absl::StatusOr<std::string>(result.result_json())
              : absl::Status(static_cast<absl::StatusCode>(result.error().code()), result.error().message());
      if (!outcome.ok() && !result.error().convex_error_data().empty()) {
        absl::Status with_data = outcome.status();
        with_data.SetPayload(kConvexErrorDataPayload, absl::Cord(result.error().convex_error_data()));
        outcome = with_data;
      }
      if (auto it = pending_.find(result.call_id()); it != pending_.end()) {
        it->second->result = std::move(outcome);
        it->second->done = true;
        pending_.erase(it);
      } else if (auto async = async_.find(result.call_id()); async != async_.end()) {
        HostEvent event(HostEvent::Kind::kResult);
        event.invocation = async->second;
        event.call_id = result.call_id();
        event.result = std::move(outcome);
        event.logs.assign(result.log_lines().begin(), result.log_lines().end());
        events_.push_back(std::move(event));
        async_.erase(async);
      } else {
        ISOBAR_LOG(kWarning, "worker") << "host result for unknown call " << result.call_id();
      }
      break;
    }
    case HostMessage::kSnapshotBlob: {
      HostEvent event(HostEvent::Kind::kSnapshotBlob);
      event.snapshot_blob = std::move(*message.mutable_snapshot_blob());
      events_.push_back(std::move(event));
      break;
    }
    case HostMessage::kMakeSnapshot: {
      HostEvent event(HostEvent::Kind::kMakeSnapshot);
      event.make_snapshot = std::move(*message.mutable_make_snapshot());
      events_.push_back(std::move(event));
      break;
    }
    case HostMessage::kCancel: {
      // The supervisor has answered its client already and ignores the Done.
      HostEvent event(HostEvent::Kind::kCancel);
      event.invocation = InvocationId(message.cancel().invocation_id());
      events_.push_back(std::move(event));
      break;
    }
    case HostMessage::kHeartbeat: {
      // Answered from this thread: it proves the process and its stream are alive.
      isobar::worker::v1::WorkerMessage reply;
      reply.mutable_heartbeat()->set_sequence(message.heartbeat().sequence());
      heartbeats_.push_back(std::move(reply));
      break;
    }
    case HostMessage::KIND_NOT_SET:
      ISOBAR_LOG(kWarning, "worker") << "empty message from the supervisor";
      break;
  }
}

void HostChannel::CloseLocked() {
  if (closed_) return;
  closed_ = true;
  for (auto& [id, pending] : pending_) {
    pending->result = absl::UnavailableError("the supervisor stream closed");
    pending->done = true;
  }
  pending_.clear();
  // Asynchronous calls still out: their invocations resume with the failure and finish.
  for (auto& [call_id, invocation] : async_) {
    HostEvent event(HostEvent::Kind::kResult);
    event.invocation = invocation;
    event.call_id = call_id;
    event.result = absl::UnavailableError("the supervisor stream closed");
    events_.push_back(std::move(event));
  }
  async_.clear();
}

}  // namespace isobar::worker
