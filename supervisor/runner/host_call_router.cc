#include "supervisor/runner/host_call_router.h"

#include <sys/random.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "storage/echo_log.h"
#include "supervisor/runner/fetch_calls.h"
#include "supervisor/runner/http_response_stream.h"
#include "supervisor/runner/syscall_args.h"
#include "supervisor/runner/file_storage.h"
#include "supervisor/runner/syscalls.h"

namespace isobar::supervisor {
namespace {

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
    case absl::StatusCode::kAborted:
      return true;
    default:
      return false;
  }
}

// 16 hex digits from the kernel's random source.
std::string RandomReference() {
  uint64_t bits = 0;
  if (getrandom(&bits, sizeof(bits), 0) != static_cast<ssize_t>(sizeof(bits))) bits = absl::GetCurrentTimeNanos();
  return absl::StrFormat("%016x", bits);
}

}  // namespace

void HostCallRouter::Handle(WorkerId worker, std::shared_ptr<InvocationSession> session,
                            isobar::worker::v1::HostCall call, Reply reply) {
  if (session != nullptr && !session->analysis && call.prefetched_used().empty() && IsImmediateSyscall(call.op())) {
    // Nothing to wait for (and no reads ahead to note first, which takes the session's lock): answered
    // right here, one thread hop fewer.
    absl::StatusOr<std::string> outcome = ServeSyscall(*session, call.op(), call.args_json());
    std::move(reply)(Result(worker, session.get(), call, std::move(outcome)));
    return;
  }
  executor_.Run([this, worker, session = std::move(session), call = std::move(call), reply = std::move(reply)]() mutable {
    const std::string op = call.op();
    if (session != nullptr) {
      // Gets the worker answered from documents read ahead are the function's reads before this call.
      if (absl::Status noted = NotePrefetchesUsed(*session, call.prefetched_used()); !noted.ok()) {
        std::move(reply)(Result(worker, session.get(), call, noted));
        return;
      }
    }
    if (session != nullptr && !session->analysis && (FunctionRunner::IsActionCall(op) || op == "1.0/runUdf")) {
      // Answered when the nested function finishes; a user error keeps its message and data. (The
      // arguments are copied out before `call` moves into the callback.)
      const std::string args_json = call.args_json();
      auto run = [&](FunctionCallback callback) {
        if (op == "1.0/runUdf") {
          runner_.RunUdf(session, args_json, std::move(callback));
        } else {
          runner_.RunFromAction(session, op, args_json, std::move(callback));
        }
      };
      const bool is_udf = op == "1.0/runUdf";
      run(
                            [this, worker, session, is_udf, call = std::move(call), reply = std::move(reply)](FunctionOutcome outcome) mutable {
                              isobar::worker::v1::HostResult result;
                              result.set_invocation_id(call.invocation_id());
                              result.set_call_id(call.call_id());
                              if (outcome.ok) {
                                result.set_result_json(std::move(outcome.result_json));
                              } else {
                                const auto& detail = outcome.error.detail;
                                if (detail.kind() == isobar::v1::ErrorDetail::USER_ERROR ||
                                    detail.kind() == isobar::v1::ErrorDetail::CONVEX_ERROR ||
                                    ShownToUser(static_cast<absl::StatusCode>(outcome.error.code))) {
                                  auto* error = result.mutable_error();
                                  error->set_code(static_cast<int>(outcome.error.code));
                                  error->set_message(detail.message());
                                  error->set_convex_error_data(detail.convex_error_data_json());
                                } else {
                                  result = Result(worker, session.get(), call,
                                                  absl::Status(static_cast<absl::StatusCode>(outcome.error.code),
                                                               detail.message()));
                                }
                              }
                              // A query's or mutation's nested call logs into its caller's log; an
                              // action's nested calls do not (Convex returns the action's own lines).
                              if (is_udf) {
                                for (const isobar::v1::LogLine& line : outcome.logs) {
                                  auto* out = result.add_log_lines();
                                  out->set_level(line.level());
                                  out->set_message(line.message());
                                }
                              }
                              std::move(reply)(std::move(result));
                            });
      return;
    }
    if (session != nullptr && !session->analysis && IsHttpResponseSyscall(op)) {
      // Answered when the chunk is queued: a client that reads slowly holds the handler, not a thread.
      InvocationSession& streaming = *session;
      std::string args_json = call.args_json();  // copied: `call` moves into the answer
      ServeHttpResponseSyscall(streaming, op, args_json,
                               [this, worker, session = std::move(session), call = std::move(call),
                                reply = std::move(reply)](absl::StatusOr<std::string> outcome) mutable {
                                 std::move(reply)(Result(worker, session.get(), call, std::move(outcome)));
                               });
      return;
    }
    if (session != nullptr && !session->analysis && IsFetchSyscall(op) &&
        session->function.kind == FunctionKind::kAction) {
      // Answered when the request has got that far (headers, a part of the body): a slow server holds
      // a fetch thread of the egress client's, never one of ours.
      if (fetcher_ == nullptr) {
        std::move(reply)(Result(worker, session.get(), call, absl::UnimplementedError("fetch is not available on this server")));
        return;
      }
      std::string args_json = call.args_json();  // copied: `call` moves into the answer
      std::shared_ptr<InvocationSession> fetching = session;
      ServeFetchSyscall(*fetcher_, fetching, op, args_json,
                        [this, worker, session = std::move(session), call = std::move(call),
                         reply = std::move(reply)](absl::StatusOr<std::string> outcome) mutable {
                          std::move(reply)(Result(worker, session.get(), call, std::move(outcome)));
                        });
      return;
    }
    if (session != nullptr && !session->analysis && op == "isobar/sleep" &&
        session->function.kind == FunctionKind::kAction) {
      // An action's setTimeout: answered once the time has passed (never past a minute at a time;
      // the runtime sleeps again for longer delays).
      absl::StatusOr<storage::Value> args = ParseSyscallArgs(call.args_json());
      const storage::Value ms = args.ok() ? args->Get("ms") : storage::Value::Null();
      const double wait_ms = ms.type() == storage::Value::Type::kFloat64 ? std::clamp(ms.float64(), 0.0, 60000.0) : 0.0;
      {
        absl::MutexLock lock(&session->mu);
        if (session->pending_sleeps >= kMaxPendingSleeps) {
          std::move(reply)(Result(worker, session.get(), call,
                                  absl::ResourceExhaustedError(absl::StrCat("Too many timers waiting at once (limit ",
                                                                            kMaxPendingSleeps, ")"))));
          return;
        }
        ++session->pending_sleeps;
      }
      // Never past the action's deadline: the timer of an action that is out of time fires at its end.
      executor_.RunAt(std::min(absl::Now() + absl::Milliseconds(wait_ms), session->deadline),
                      [this, worker, session, call = std::move(call), reply = std::move(reply)]() mutable {
                        {
                          absl::MutexLock lock(&session->mu);
                          --session->pending_sleeps;
                        }
                        std::move(reply)(Result(worker, session.get(), call, std::string("null")));
                      });
      return;
    }
    absl::StatusOr<std::string> outcome = absl::InvalidArgumentError(absl::StrCat("Unknown operation ", op.substr(0, 100)));
    if (session != nullptr && session->analysis) {
      // Importing a pushed module: process.env reads the deployment's variables, as on Convex.
      if (op == "isobar/env") outcome = ServeSyscall(*session, op, call.args_json());
    } else if (session != nullptr && IsSessionSyscall(op)) {
      outcome = ServeSyscall(*session, op, call.args_json());
    } else if (session != nullptr && IsStorageSyscall(op)) {
      outcome = ServeStorageSyscall(*session, op, call.args_json());
    } else if (session != nullptr && FunctionRunner::IsActionSchedulerCall(op)) {
      outcome = runner_.SchedulerFromAction(*session, op, call.args_json());
    } else if (session == nullptr && op == "isobar/echo") {
      // The walking skeleton's test call: only for Admin.Eval (the one caller without a session, and
      // off unless --enable-eval), never for a deployed function.
      outcome = Echo(worker, call.args_json());
    }
    std::move(reply)(Result(worker, session.get(), call, std::move(outcome)));
  });
}

isobar::worker::v1::HostResult HostCallRouter::Result(WorkerId worker, InvocationSession* session,
                                                      const isobar::worker::v1::HostCall& call,
                                                      absl::StatusOr<std::string> outcome) {
  isobar::worker::v1::HostResult result;
  result.set_invocation_id(call.invocation_id());
  result.set_call_id(call.call_id());
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
    // A random reference, not a counter: a counter would tell one tenant how many failures others had.
    const std::string reference = RandomReference();
    ISOBAR_LOG(kError, "host-call") << "reference " << reference << ": worker " << worker << ", invocation "
                                    << call.invocation_id() << ", op " << call.op().substr(0, 100) << ": " << status;
    error->set_message(absl::StrCat("internal error; reference = ", reference));
    if (session != nullptr) {
      absl::MutexLock lock(&session->mu);
      if (session->host_failure.ok()) session->host_failure = status;
    }
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
