// The worker's end of the isobar.worker.v1 protocol: WorkerMessages out and HostMessages in, one per
// frame (base/frames.h), on the socketpair fd inherited from the supervisor (the worker never creates
// a socket).
//
//   ASSIGN_OR_RETURN(std::unique_ptr<HostChannel> channel, HostChannel::Open(/*fd=*/3));
//   channel->Send(hello);
//   while (std::optional<HostEvent> event = channel->NextEvent()) { ... channel->Send(done); }
//
// A reader thread receives HostMessages. Invokes, Cancels and the results of asynchronous host calls
// (StartCall) are queued as events for the JS thread; the result of a synchronous Call completes the
// Call blocked on it. Call() implements HostCalls: it sends a HostCall and blocks the JS thread until
// its HostResult arrives or the stream ends.
#ifndef ISOBAR_WORKER_HOST_CHANNEL_H_
#define ISOBAR_WORKER_HOST_CHANNEL_H_

#include <cstdint>
#include <deque>
#include <vector>
#include <memory>
#include <optional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "base/frames.h"
#include "isobar/worker/v1/worker.pb.h"
#include "worker/host_calls.h"

namespace isobar::worker {

// Something for the JS thread to do.
struct HostEvent {
  enum class Kind { kInvoke, kResult, kCancel, kMakeSnapshot, kSnapshotBlob };
  explicit HostEvent(Kind k) : kind(k), result(absl::UnknownError("no result")) {}
  Kind kind;
  isobar::worker::v1::Invoke invoke;  // kInvoke
  isobar::worker::v1::MakeSnapshot make_snapshot;  // kMakeSnapshot (a snapshot maker's only event)
  isobar::worker::v1::VersionBlob snapshot_blob;   // kSnapshotBlob
  InvocationId invocation;            // kResult, kCancel
  uint64_t call_id = 0;               // kResult
  absl::StatusOr<std::string> result;  // kResult
  std::vector<isobar::worker::v1::LogLine> logs;  // kResult: a nested function call's log lines
};

class HostChannel final : public HostCalls {
 public:
  // Takes ownership of `fd` (a connected stream socket) and starts reading it.
  static absl::StatusOr<std::unique_ptr<HostChannel>> Open(int fd);
  ~HostChannel() override;

  // Thread-safe. UNAVAILABLE once the stream is gone.
  absl::Status Send(const isobar::worker::v1::WorkerMessage& message);

  // The next event, waiting for one; nullopt once the stream has ended (the supervisor went away).
  std::optional<HostEvent> NextEvent() ABSL_LOCKS_EXCLUDED(mu_);
  // An event is waiting (NextEvent would not block).
  bool HasEvent() ABSL_LOCKS_EXCLUDED(mu_);

  // Sends a host call whose result comes back as a kResult event with the returned call id.
  absl::StatusOr<uint64_t> StartCall(InvocationId invocation, absl::string_view op, absl::string_view args_json)
      ABSL_LOCKS_EXCLUDED(mu_);

  absl::StatusOr<std::string> Call(InvocationId invocation, absl::string_view op,
                                   absl::string_view args_json) override ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void ReadLoop() ABSL_LOCKS_EXCLUDED(mu_);
  // Handles one message from the supervisor.
  void Dispatch(isobar::worker::v1::HostMessage& message) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The stream ended: every waiter learns it.
  void ReaderDone() ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status SendCall(uint64_t call_id, InvocationId invocation, absl::string_view op, absl::string_view args_json);

  struct PendingCall {
    bool done = false;
    absl::StatusOr<std::string> result;
  };

  explicit HostChannel(int fd) : fd_(fd), writer_(fd) {}

  const int fd_;
  FrameWriter writer_;
  std::thread reader_;

  absl::Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<HostEvent> events_ ABSL_GUARDED_BY(mu_);
  uint64_t next_call_id_ ABSL_GUARDED_BY(mu_) = 1;
  // By call id (unique across the worker's invocations): synchronous calls waiting, and asynchronous
  // calls with the invocation they belong to.
  absl::flat_hash_map<uint64_t, PendingCall*> pending_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, InvocationId> async_ ABSL_GUARDED_BY(mu_);
  std::vector<isobar::worker::v1::WorkerMessage> heartbeats_ ABSL_GUARDED_BY(mu_);  // answers to send
};

}  // namespace isobar::worker

#endif  // ISOBAR_WORKER_HOST_CHANNEL_H_
