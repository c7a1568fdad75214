#include "supervisor/worker_service.h"

#include <memory>

#include "base/log.h"

namespace isobar::supervisor {

using isobar::worker::v1::HostMessage;
using isobar::worker::v1::WorkerMessage;

grpc::Status WorkerService::Connect(grpc::ServerContext* context, WorkerStream::Stream* stream) {
  auto writer = std::make_shared<WorkerStream>(stream);
  absl::StatusOr<WorkerPool::Connection> connection = pool_.Attach(context->peer(), writer);
  if (!connection.ok()) {
    ISOBAR_LOG(kSecurity, "workers") << "refused a WorkerHost stream from " << context->peer() << ": "
                                     << connection.status();
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, std::string(connection.status().message()));
  }
  const WorkerId worker = connection->worker;
  bool said_hello = false;
  std::string violation;
  WorkerMessage message;
  while (violation.empty() && stream->Read(&message)) {
    switch (message.kind_case()) {
      case WorkerMessage::kHello:
        if (said_hello) {
          violation = "a second Hello";
          break;
        }
        said_hello = true;
        pool_.OnHello(*connection, message.hello());
        break;
      case WorkerMessage::kHostCall: {
        HostMessage reply;
        const auto& call = message.host_call();
        if (!said_hello || !pool_.IsRunning(*connection, call.invocation_id())) {
          // Identity comes from the connection: a worker may only act for the invocation it runs.
          ISOBAR_LOG(kSecurity, "workers") << "worker " << worker << " made a host call for invocation "
                                           << call.invocation_id() << ", which it is not running; refused";
          auto* result = reply.mutable_host_result();
          result->set_invocation_id(call.invocation_id());
          result->set_call_id(call.call_id());
          result->mutable_error()->set_code(static_cast<int>(absl::StatusCode::kPermissionDenied));
          result->mutable_error()->set_message("host call for an invocation this worker is not running");
        } else {
          *reply.mutable_host_result() = router_.Handle(worker, call);
        }
        writer->Write(reply);
        break;
      }
      case WorkerMessage::kDone:
        if (!said_hello) {
          violation = "Done before Hello";
          break;
        }
        pool_.OnDone(*connection, std::move(*message.mutable_done()));
        break;
      case WorkerMessage::KIND_NOT_SET:
        violation = "an empty message";
        break;
    }
  }
  writer->Close();
  pool_.Detach(*connection);
  if (!violation.empty()) {
    ISOBAR_LOG(kSecurity, "workers") << "worker " << worker << " broke the protocol (" << violation << ")";
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, violation);
  }
  return grpc::Status::OK;
}

}  // namespace isobar::supervisor
