// How the pool writes to one worker: HostMessages, one per frame (base/frames.h), on the supervisor's
// end of the worker's socketpair.
//
// The thread that reads the worker's messages (WorkerService) creates one, attaches it to the pool,
// and Close()s it when the worker's stream ends; a Write after Close fails instead of touching a
// socket that may be closed and its number reused. Writes from several threads are serialised, and
// never wait for the worker to read (FrameWriter): a worker that reads slowly or not at all holds no
// thread of the supervisor's; its stream fails after 10 s of waiting and the pool replaces it.
#ifndef ISOBAR_SUPERVISOR_WORKERS_WORKER_STREAM_H_
#define ISOBAR_SUPERVISOR_WORKERS_WORKER_STREAM_H_

#include "base/frames.h"
#include "isobar/worker/v1/worker.pb.h"

namespace isobar::supervisor {

class WorkerStream {
 public:
  // `fd` is not owned; it must stay open until Close() returns.
  explicit WorkerStream(int fd) : writer_(fd) {}

  // False once closed or broken.
  bool Write(const isobar::worker::v1::HostMessage& message) { return writer_.Write(message.SerializeAsString()).ok(); }

  void Close() { writer_.Close(); }

 private:
  FrameWriter writer_;
};

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_WORKERS_WORKER_STREAM_H_
