// Errors as clients see them: a gRPC status code and message, plus an isobar.v1.ErrorDetail in the
// binary trailing metadata "isobar-error-bin" saying what kind of failure it was, the ConvexError data,
// the user's stack and whether a retry may help (api.proto).
//
//   return WithDetail(*context, absl::InvalidArgumentError("..."));       // kind from the code
//   reactor->Finish(WorkerError(*context, done->error()));                // a worker's Done error
#ifndef ISOBAR_SUPERVISOR_RUNNER_ERROR_DETAIL_H_
#define ISOBAR_SUPERVISOR_RUNNER_ERROR_DETAIL_H_

#include "absl/status/status.h"
#include "grpcpp/grpcpp.h"
#include "isobar/v1/api.pb.h"
#include "isobar/worker/v1/worker.pb.h"

namespace isobar::supervisor {

inline constexpr char kErrorDetailKey[] = "isobar-error-bin";

// An error as clients will see it: its code and its detail.
struct DescribedError {
  grpc::StatusCode code = grpc::StatusCode::UNKNOWN;
  isobar::v1::ErrorDetail detail;
};

// A supervisor-side failure; its kind and retryability follow from the code.
DescribedError Describe(const absl::Status& status);
// A worker's Done error. Its code is untrusted input: anything outside the canonical codes becomes
// INTERNAL, and only user errors keep their message and stack.
DescribedError DescribeWorkerError(const isobar::worker::v1::Error& error);

// Attaches `detail` to the call and returns the status to finish it with.
grpc::Status Detailed(grpc::ServerContextBase& context, grpc::StatusCode code, const isobar::v1::ErrorDetail& detail);

// A supervisor-side failure; its kind and retryability follow from the code.
grpc::Status WithDetail(grpc::ServerContextBase& context, const absl::Status& status);
grpc::Status WithDetail(grpc::ServerContextBase& context, const grpc::Status& status);

// A worker's Done error. Its code is untrusted input: anything outside the canonical codes becomes
// INTERNAL, and only user errors keep their message and stack.
grpc::Status WorkerError(grpc::ServerContextBase& context, const isobar::worker::v1::Error& error);

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_RUNNER_ERROR_DETAIL_H_
