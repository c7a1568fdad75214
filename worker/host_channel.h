// The worker's end of the isobar.worker.v1 stream: a gRPC client over the socketpair fd inherited
// from the supervisor (the worker never creates a socket).
//
//   ASSIGN_OR_RETURN(std::unique_ptr<HostChannel> channel, HostChannel::Open(/*fd=*/3));
//   channel->Send(hello);
//   while (std::optional<Invoke> invoke = channel->NextInvoke()) { ... channel->Send(done); }
//
// A reader thread receives HostMessages: Invokes are queued for NextInvoke, HostResults complete the
// Call blocked on them, Cancels are remembered. Call() implements HostCalls: it sends a HostCall and
// blocks the JS thread until its HostResult arrives or the stream ends.
#ifndef ISOBAR_WORKER_HOST_CHANNEL_H_
#define ISOBAR_WORKER_HOST_CHANNEL_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"
#include "isobar/worker/v1/worker.grpc.pb.h"
#include "worker/host_calls.h"

namespace isobar::worker {

class HostChannel final : public HostCalls {
 public:
  // Takes ownership of `fd` and opens the Connect stream.
  static absl::StatusOr<std::unique_ptr<HostChannel>> Open(int fd);
  ~HostChannel() override;

  // Thread-safe. UNAVAILABLE once the stream is gone.
  absl::Status Send(const isobar::worker::v1::WorkerMessage& message) ABSL_LOCKS_EXCLUDED(write_mu_);

  // The next invocation to run; nullopt once the stream has ended (the supervisor went away).
  std::optional<isobar::worker::v1::Invoke> NextInvoke() ABSL_LOCKS_EXCLUDED(mu_);

  absl::StatusOr<std::string> Call(InvocationId invocation, absl::string_view op,
                                   absl::string_view args_json) override ABSL_LOCKS_EXCLUDED(mu_);

 private:
  HostChannel() = default;
  void ReadLoop() ABSL_LOCKS_EXCLUDED(mu_);

  struct PendingCall {
    bool done = false;
    absl::StatusOr<std::string> result;
  };

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<isobar::worker::v1::WorkerHost::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<isobar::worker::v1::WorkerMessage, isobar::worker::v1::HostMessage>>
      stream_;
  std::thread reader_;

  absl::Mutex write_mu_;  // one writer at a time on the stream
  bool write_failed_ ABSL_GUARDED_BY(write_mu_) = false;

  absl::Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<isobar::worker::v1::Invoke> invokes_ ABSL_GUARDED_BY(mu_);
  uint64_t next_call_id_ ABSL_GUARDED_BY(mu_) = 1;
  // By call id (unique across the worker's invocations).
  absl::flat_hash_map<uint64_t, PendingCall*> pending_ ABSL_GUARDED_BY(mu_);
};

}  // namespace isobar::worker

#endif  // ISOBAR_WORKER_HOST_CHANNEL_H_
