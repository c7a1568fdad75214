#include "supervisor/host_call_router.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "storage/echo_log.h"

namespace isobar::supervisor {
namespace {

using Handler = absl::StatusOr<std::string> (HostCallRouter::*)(WorkerId, absl::string_view);

// Codes whose messages are ours and safe to show to user code.
bool ShownToUser(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kUnimplemented:
      return true;
    default:
      return false;
  }
}

}  // namespace

isobar::worker::v1::HostResult HostCallRouter::Handle(WorkerId worker, const isobar::worker::v1::HostCall& call) {
  static constexpr std::pair<absl::string_view, Handler> kOps[] = {
      {"isobar/echo", &HostCallRouter::Echo},
  };
  isobar::worker::v1::HostResult result;
  result.set_invocation_id(call.invocation_id());
  result.set_call_id(call.call_id());
  absl::StatusOr<std::string> outcome = absl::UnimplementedError("Unknown operation");
  for (const auto& [op, handler] : kOps) {
    if (op == call.op()) {
      outcome = (this->*handler)(worker, call.args_json());
      break;
    }
  }
  if (outcome.ok()) {
    result.set_result_json(std::move(*outcome));
    return result;
  }
  absl::Status status = outcome.status();
  auto* error = result.mutable_error();
  error->set_code(static_cast<int>(status.code()));
  if (ShownToUser(status.code())) {
    error->set_message(std::string(status.message()));
  } else {
    const uint64_t reference = next_reference_.fetch_add(1);
    ISOBAR_LOG(kError, "host-call") << "reference " << reference << ": worker " << worker << ", invocation "
                                    << call.invocation_id() << ", op " << call.op() << ": " << status;
    error->set_message(absl::StrCat("internal error; reference = ", reference));
  }
  return result;
}

absl::StatusOr<std::string> HostCallRouter::Echo(WorkerId worker, absl::string_view args_json) {
  google::protobuf::Value parsed;
  if (!google::protobuf::util::JsonStringToMessage(std::string(args_json), &parsed).ok()) {
    return absl::InvalidArgumentError("isobar/echo takes one JSON value");
  }
  ASSIGN_OR_RETURN(storage::PgPool::Lease conn, pg_.Acquire());
  ASSIGN_OR_RETURN(int64_t row, storage::AppendEcho(*conn, worker, args_json));
  return absl::StrCat("{\"echo\":", args_json, ",\"row\":", row, "}");
}

}  // namespace isobar::supervisor
