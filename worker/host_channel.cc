#include "worker/host_channel.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "grpcpp/create_channel_posix.h"

namespace isobar::worker {

using isobar::worker::v1::HostMessage;
using isobar::worker::v1::Invoke;
using isobar::worker::v1::WorkerMessage;

absl::StatusOr<std::unique_ptr<HostChannel>> HostChannel::Open(int fd) {
  if (fcntl(fd, F_GETFD) < 0) return absl::FailedPreconditionError(absl::StrCat("channel fd ", fd, " is not open"));
  auto channel = std::unique_ptr<HostChannel>(new HostChannel());
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetMaxSendMessageSize(64 << 20);
  channel->channel_ = grpc::CreateCustomInsecureChannelFromFd("supervisor", fd, args);
  channel->stub_ = isobar::worker::v1::WorkerHost::NewStub(channel->channel_);
  channel->stream_ = channel->stub_->Connect(&channel->context_);
  if (channel->stream_ == nullptr) return absl::UnavailableError("cannot open the host stream");
  channel->reader_ = std::thread([c = channel.get()] { c->ReadLoop(); });
  return channel;
}

HostChannel::~HostChannel() {
  context_.TryCancel();
  if (reader_.joinable()) reader_.join();
}

absl::Status HostChannel::Send(const WorkerMessage& message) {
  absl::MutexLock lock(&write_mu_);
  if (write_failed_ || !stream_->Write(message)) {
    write_failed_ = true;
    return absl::UnavailableError("the supervisor stream is closed");
  }
  return absl::OkStatus();
}

std::optional<Invoke> HostChannel::NextInvoke() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](HostChannel* c) ABSL_NO_THREAD_SAFETY_ANALYSIS { return c->closed_ || !c->invokes_.empty(); }, this));
  if (invokes_.empty()) return std::nullopt;
  Invoke invoke = std::move(invokes_.front());
  invokes_.pop_front();
  return invoke;
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
  WorkerMessage message;
  auto* call = message.mutable_host_call();
  call->set_invocation_id(invocation.value());
  call->set_call_id(call_id);
  call->set_op(std::string(op));
  call->set_args_json(std::string(args_json));
  absl::Status sent = Send(message);
  absl::MutexLock lock(&mu_);
  if (!sent.ok()) {
    pending_.erase(call_id);
    return sent;
  }
  mu_.Await(absl::Condition(&pending.done));
  return std::move(pending.result);
}

void HostChannel::ReadLoop() {
  prctl(PR_SET_NAME, "isobar-host-rx");
  HostMessage message;
  while (stream_->Read(&message)) {
    absl::MutexLock lock(&mu_);
    switch (message.kind_case()) {
      case HostMessage::kInvoke:
        invokes_.push_back(std::move(*message.mutable_invoke()));
        break;
      case HostMessage::kHostResult: {
        const auto& result = message.host_result();
        auto it = pending_.find(result.call_id());
        if (it == pending_.end()) {
          ISOBAR_LOG(kWarning, "worker") << "host result for unknown call " << result.call_id();
          break;
        }
        PendingCall* pending = it->second;
        pending_.erase(it);
        if (result.outcome_case() == isobar::worker::v1::HostResult::kResultJson) {
          pending->result = result.result_json();
        } else {
          pending->result = absl::Status(static_cast<absl::StatusCode>(result.error().code()),
                                         result.error().message());
        }
        pending->done = true;
        break;
      }
      case HostMessage::kCancel:
        // Invocations run to completion or to their CPU budget; the supervisor has already answered
        // its client and ignores the Done.
        break;
      case HostMessage::KIND_NOT_SET:
        ISOBAR_LOG(kWarning, "worker") << "empty message from the supervisor";
        break;
    }
  }
  absl::MutexLock lock(&mu_);
  closed_ = true;
  for (auto& [id, pending] : pending_) {
    pending->result = absl::UnavailableError("the supervisor stream closed");
    pending->done = true;
  }
  pending_.clear();
}

}  // namespace isobar::worker
