// The worker's end of the isobar.worker.v1 protocol: WorkerMessages out and HostMessages in, one per
// frame (base/frames.h), on the socketpair fd inherited from the supervisor (the worker never creates
// a socket).
//
//   ASSIGN_OR_RETURN(std::unique_ptr<HostChannel> channel, HostChannel::Open(/*fd=*/3));
//   channel->Send(hello);
//   while (std::optional<HostEvent> event = channel->NextEvent()) { ... channel->Send(done); }
//
// The JS thread reads its own stream while it waits (in NextEvent or Call): a message that arrives
// for an idle worker wakes the thread that runs it, with no hand-off between threads. A reader
// thread takes over the stream only while the JS thread has been busy for a while (kTakeOverAfter),
// so that heartbeats are answered during long computations; whoever reads a message dispatches it:
// Invokes, Cancels and the results of asynchronous host calls (StartCall) are queued as events for
// the JS thread, the result of a synchronous Call completes the Call blocked on it, a heartbeat is
// answered at once. Call() implements HostCalls: it sends a HostCall and blocks the JS thread until
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
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
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
  // An event is waiting, or a message is arriving (NextEvent would not wait long).
  bool HasEvent() ABSL_LOCKS_EXCLUDED(mu_);

  // Sends a host call whose result comes back as a kResult event with the returned call id.
  // `prefetched_used`: HostCall.prefetched_used.
  absl::StatusOr<uint64_t> StartCall(InvocationId invocation, absl::string_view op, absl::string_view args_json,
                                     const std::vector<std::string>& prefetched_used = {}) ABSL_LOCKS_EXCLUDED(mu_);

  absl::StatusOr<std::string> Call(InvocationId invocation, absl::string_view op,
                                   absl::string_view args_json) override ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // The reader thread: reads only while the JS thread is busy and nobody else reads.
  void ReadLoop() ABSL_LOCKS_EXCLUDED(mu_);
  // The JS thread's wait until `ready()` (called with mu_ held) or the end of the stream, reading it itself
  // whenever nobody else is.
  void AwaitLocked(absl::FunctionRef<bool()> ready) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Takes the free reading role, reads and dispatches one message (mu_ released meanwhile), gives
  // the role back.
  void ReadOneLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Handles one message from the supervisor.
  void Dispatch(isobar::worker::v1::HostMessage& message) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The stream ended: every waiter learns it.
  void CloseLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status SendCall(uint64_t call_id, InvocationId invocation, absl::string_view op, absl::string_view args_json,
                        const std::vector<std::string>& prefetched_used = {});

  struct PendingCall {
    bool done = false;
    absl::StatusOr<std::string> result;
  };

  explicit HostChannel(int fd) : fd_(fd), writer_(fd), reader_(fd) {}

  // How long the JS thread must have been busy before the reader thread takes over the stream.
  static constexpr absl::Duration kTakeOverAfter = absl::Milliseconds(100);

  const int fd_;
  FrameWriter writer_;
  FrameReader reader_;  // used by the holder of the reading role only (reading_)
  std::thread reader_thread_;

  absl::Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool reading_ ABSL_GUARDED_BY(mu_) = false;  // a thread holds the reading role (it is in reader_)
  int js_waiting_ ABSL_GUARDED_BY(mu_) = 0;     // the JS thread waits (and reads when it can)
  absl::Time busy_since_ ABSL_GUARDED_BY(mu_) = absl::Now();  // when the JS thread last stopped waiting
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
