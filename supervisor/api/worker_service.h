// The supervisor's end of every worker's socketpair: WorkerMessages in, one per frame
// (base/frames.h), on a reader thread per worker.
//
// The pool hands it each new worker's fd (WorkerPool::Start's Connect); nothing else can reach it. Each
// stream is tied to its worker by the pool (WorkerPool::Attach), then: Hello marks the worker ready;
// HostCall is checked against the invocation the worker is running and served by the router; Done
// completes the invocation. A stream that breaks the protocol (a message that does not parse, a frame
// past the limit, a second Hello, ...) is ended, and the pool restarts the worker.
#ifndef ISOBAR_SUPERVISOR_API_WORKER_SERVICE_H_
#define ISOBAR_SUPERVISOR_API_WORKER_SERVICE_H_

#include <atomic>
#include <list>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "supervisor/runner/host_call_router.h"
#include "supervisor/workers/worker_pool.h"

namespace isobar::supervisor {

class WorkerService {
 public:
  // Not owned; both must outlive the service.
  WorkerService(WorkerPool& pool, HostCallRouter& router) : pool_(pool), router_(router) {}
  ~WorkerService();  // Shutdown()

  // Takes ownership of `fd` (the pool's `connection`) and reads it on a new thread until the worker's
  // stream ends.
  void Connect(int fd, WorkerPool::Connection connection) ABSL_LOCKS_EXCLUDED(mu_);
  // Shuts the pool down (its workers go, so their streams end) and waits for every reader to end.
  // Idempotent.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Reads one worker's messages until its stream ends or breaks the protocol; then closes `fd`.
  void Serve(int fd, WorkerPool::Connection attached);

  struct Reader {
    std::thread thread;
    std::atomic<bool> done{false};
  };

  WorkerPool& pool_;
  HostCallRouter& router_;
  absl::Mutex mu_;
  std::list<Reader> readers_ ABSL_GUARDED_BY(mu_);  // a list: each reader's thread points at its `done`
};

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_API_WORKER_SERVICE_H_
