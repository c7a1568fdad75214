// The WorkerHost gRPC service: the supervisor's end of every worker's Connect stream.
//
// Registered only on the internal server, which has no listening port: the only way in is a socketpair
// the pool created. Each stream is tied to its worker by the pool (WorkerPool::Attach), then:
// Hello marks the worker ready; HostCall is checked against the invocation the worker is running and
// served by the router; Done completes the invocation. A stream that breaks the protocol is ended.
#ifndef ISOBAR_SUPERVISOR_API_WORKER_SERVICE_H_
#define ISOBAR_SUPERVISOR_API_WORKER_SERVICE_H_

#include "isobar/worker/v1/worker.grpc.pb.h"
#include "supervisor/runner/host_call_router.h"
#include "supervisor/workers/worker_pool.h"

namespace isobar::supervisor {

class WorkerService final : public isobar::worker::v1::WorkerHost::Service {
 public:
  // Not owned; both must outlive the service.
  WorkerService(WorkerPool& pool, HostCallRouter& router) : pool_(pool), router_(router) {}

  grpc::Status Connect(grpc::ServerContext* context, WorkerStream::Stream* stream) override;

 private:
  WorkerPool& pool_;
  HostCallRouter& router_;
};

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_API_WORKER_SERVICE_H_
