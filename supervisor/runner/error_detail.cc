#include "supervisor/runner/error_detail.h"

#include <string>

#include "storage/commit_outcome.h"

namespace isobar::supervisor {
namespace {

using isobar::v1::ErrorDetail;

ErrorDetail::Kind KindOf(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::OUT_OF_RANGE:
      return ErrorDetail::INVALID_REQUEST;
    case grpc::StatusCode::NOT_FOUND:
      return ErrorDetail::NOT_FOUND;
    case grpc::StatusCode::ALREADY_EXISTS:
      return ErrorDetail::ALREADY_EXISTS;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return ErrorDetail::LIMIT;
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::ABORTED:
      return ErrorDetail::UNAVAILABLE;
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::PERMISSION_DENIED:
      return ErrorDetail::PRECONDITION;
    case grpc::StatusCode::UNAUTHENTICATED:
      return ErrorDetail::UNAUTHENTICATED;
    default:
      return ErrorDetail::INTERNAL;
  }
}

bool Retryable(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::ABORTED ||
         code == grpc::StatusCode::RESOURCE_EXHAUSTED || code == grpc::StatusCode::DEADLINE_EXCEEDED;
}

}  // namespace

grpc::Status Detailed(grpc::ServerContextBase& context, grpc::StatusCode code, const ErrorDetail& detail) {
  context.AddTrailingMetadata(kErrorDetailKey, detail.SerializeAsString());
  return grpc::Status(code, detail.message());
}

DescribedError Describe(const absl::Status& status) {
  DescribedError out;
  out.code = static_cast<grpc::StatusCode>(status.code());
  out.detail.set_kind(KindOf(out.code));
  out.detail.set_message(std::string(status.message()));
  out.detail.set_retryable(Retryable(out.code));
  if (storage::IsCommitOutcomeUnknown(status)) out.detail.set_kind(ErrorDetail::OUTCOME_UNKNOWN);
  return out;
}

DescribedError DescribeWorkerError(const isobar::worker::v1::Error& error) {
  const int raw = error.code();
  const bool canonical = raw > 0 && raw <= static_cast<int>(grpc::StatusCode::UNAUTHENTICATED);
  DescribedError out;
  out.code = canonical ? static_cast<grpc::StatusCode>(raw) : grpc::StatusCode::INTERNAL;
  ErrorDetail& detail = out.detail;
  if (error.user_error()) {
    detail.set_kind(error.convex_error_data().empty() ? ErrorDetail::USER_ERROR : ErrorDetail::CONVEX_ERROR);
    detail.set_convex_error_data_json(error.convex_error_data());
    detail.set_stack(error.stack());
    detail.set_retryable(false);
  } else {
    detail.set_kind(canonical ? KindOf(out.code) : ErrorDetail::INTERNAL);
    detail.set_retryable(Retryable(out.code));
  }
  detail.set_message(canonical ? error.message() : "the worker reported an invalid error");
  return out;
}

grpc::Status WithDetail(grpc::ServerContextBase& context, const grpc::Status& status) {
  if (status.ok()) return status;
  ErrorDetail detail;
  detail.set_kind(KindOf(status.error_code()));
  detail.set_message(status.error_message());
  detail.set_retryable(Retryable(status.error_code()));
  return Detailed(context, status.error_code(), detail);
}

grpc::Status WithDetail(grpc::ServerContextBase& context, const absl::Status& status) {
  return WithDetail(context, grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message())));
}

grpc::Status WorkerError(grpc::ServerContextBase& context, const isobar::worker::v1::Error& error) {
  DescribedError described = DescribeWorkerError(error);
  return Detailed(context, described.code, described.detail);
}

}  // namespace isobar::supervisor
