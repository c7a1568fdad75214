// How the pool writes to one worker's Connect stream, whoever owns the stream.
//
// The gRPC handler that owns the stream creates one, attaches it to the pool, and Close()s it before
// the handler returns; a Write after Close fails instead of touching a finished stream. Writes from
// several threads are serialised.
#ifndef ISOBAR_SUPERVISOR_WORKERS_WORKER_STREAM_H_
#define ISOBAR_SUPERVISOR_WORKERS_WORKER_STREAM_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"
#include "isobar/worker/v1/worker.grpc.pb.h"

namespace isobar::supervisor {

class WorkerStream {
 public:
  using Stream = grpc::ServerReaderWriter<isobar::worker::v1::HostMessage, isobar::worker::v1::WorkerMessage>;

  explicit WorkerStream(Stream* stream) : stream_(stream) {}

  // False once closed or broken.
  bool Write(const isobar::worker::v1::HostMessage& message) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (stream_ == nullptr) return false;
    if (!stream_->Write(message)) {
      stream_ = nullptr;
      return false;
    }
    return true;
  }

  void Close() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    stream_ = nullptr;
  }

 private:
  absl::Mutex mu_;
  Stream* stream_ ABSL_GUARDED_BY(mu_);  // not owned; null once closed
};

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_WORKERS_WORKER_STREAM_H_
