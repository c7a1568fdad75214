// FunctionRunner, the calls a running function makes to other functions: ctx.runQuery/runMutation
// in queries and mutations (runUdf, in the caller's transaction), an action's
// runQuery/runMutation/runAction (calls of their own, at most kMaxConcurrentActionOps at once), and an
// action's ctx.scheduler (a transaction of its own). A client's call is in function_runner.cc.
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "storage/convex_json.h"
#include "supervisor/runner/function_runner.h"
#include "supervisor/runner/scheduled_jobs.h"
#include "supervisor/runner/syscall_args.h"

namespace isobar::supervisor {

using storage::Value;

void FunctionRunner::RunUdf(std::shared_ptr<InvocationSession> caller, absl::string_view args_json,
                            FunctionCallback done) {
  if (caller->function.kind == FunctionKind::kAction) {
    std::move(done)(FunctionOutcome::Failure(absl::InvalidArgumentError("1.0/runUdf is not available in actions")));
    return;
  }
  absl::StatusOr<Value> args = ParseSyscallArgs(args_json);
  if (!args.ok()) {
    std::move(done)(FunctionOutcome::Failure(args.status()));
    return;
  }
  const Value& type = args->Get("udfType");
  FunctionKind kind;
  if (type.type() == Value::Type::kString && (type.string() == "query" || type.string() == "snapshotQuery")) {
    kind = FunctionKind::kQuery;
  } else if (type.type() == Value::Type::kString && type.string() == "mutation") {
    kind = FunctionKind::kMutation;
  } else {
    std::move(done)(FunctionOutcome::Failure(absl::InvalidArgumentError("`udfType` must be query, snapshotQuery or mutation")));
    return;
  }
  if (caller->function.kind == FunctionKind::kQuery && kind != FunctionKind::kQuery) {
    std::move(done)(FunctionOutcome::Failure(absl::InvalidArgumentError("A query can only call other queries (ctx.runQuery)")));
    return;
  }
  absl::StatusOr<FunctionCallRequest> request = NestedRequest(*caller, *args, kind);
  if (!request.ok()) {
    std::move(done)(FunctionOutcome::Failure(request.status()));
    return;
  }
  request->deadline = absl::Now() + options_.mutation_cpu_budget + absl::Seconds(30);
  request->parent = std::move(caller);
  RunOnThisThread(*std::move(request), std::move(done));  // the router calls this on the executor
}

absl::StatusOr<FunctionCallRequest> FunctionRunner::NestedRequest(const InvocationSession& caller, const Value& args,
                                                                  FunctionKind kind) {
  FunctionCallRequest request;
  ASSIGN_OR_RETURN(request.path, ReferencedFunction(args, "called"));
  absl::StatusOr<Value> call_args = CallArguments(args);
  if (!call_args.ok() && caller.function.kind != FunctionKind::kAction) {
    // ctx.runQuery/runMutation inside a query or mutation, in Convex's words.
    return absl::InvalidArgumentError(absl::StrCat("Invalid argument `args` for `runUdf`: ", call_args.status().message()));
  }
  if (!call_args.ok()) return call_args.status();
  request.deployment = caller.deployment->info().name;
  request.kind = kind;
  request.args_json = storage::ToConvexJson(*call_args);
  request.identity_json = caller.identity_json;
  request.identity_error = caller.identity_error;
  request.allow_internal = true;
  request.depth = caller.depth + 1;
  request.request_id = caller.request_id;  // one request, however many calls it makes
  return request;
}

bool FunctionRunner::IsActionCall(absl::string_view op) {
  return op == "1.0/actions/query" || op == "1.0/actions/mutation" || op == "1.0/actions/action";
}

void FunctionRunner::RunFromAction(std::shared_ptr<InvocationSession> caller, absl::string_view op,
                                   absl::string_view args_json, FunctionCallback done) {
  if (caller->function.kind != FunctionKind::kAction) {
    std::move(done)(FunctionOutcome::Failure(absl::InvalidArgumentError(absl::StrCat(op, " is only available in actions"))));
    return;
  }
  absl::StatusOr<Value> args = ParseSyscallArgs(args_json);
  const FunctionKind kind = op == "1.0/actions/query"      ? FunctionKind::kQuery
                            : op == "1.0/actions/mutation" ? FunctionKind::kMutation
                                                           : FunctionKind::kAction;
  absl::StatusOr<FunctionCallRequest> request = args.ok() ? NestedRequest(*caller, *args, kind)
                                                          : absl::StatusOr<FunctionCallRequest>(args.status());
  if (!request.ok()) {
    std::move(done)(FunctionOutcome::Failure(request.status()));
    return;
  }
  // Never past the action's own deadline: a nested call outliving its caller helps nobody.
  request->deadline = std::min(caller->deadline, absl::Now() + options_.action_cpu_budget);
  auto run = [this, caller, request = *std::move(request), done = std::move(done)]() mutable {
    bool finished;
    {
      absl::MutexLock lock(&caller->nested.mu);
      finished = caller->nested.finished;
    }
    if (finished) {  // it waited its turn past the end of the action that made it
      NestedDone(*caller);
      std::move(done)(FunctionOutcome::Failure(absl::CancelledError("the action that made this call has finished")));
      return;
    }
    StartNested(std::move(request), [this, caller, done = std::move(done)](FunctionOutcome outcome) mutable {
      NestedDone(*caller);
      std::move(done)(std::move(outcome));
    });
  };
  {
    absl::MutexLock lock(&caller->nested.mu);
    if (caller->nested.running >= kMaxConcurrentActionOps) {
      caller->nested.waiting.push_back(std::move(run));
      return;
    }
    ++caller->nested.running;
  }
  run();  // the router calls this on the executor
}

void FunctionRunner::NestedDone(InvocationSession& caller) {
  absl::AnyInvocable<void() &&> next;
  {
    absl::MutexLock lock(&caller.nested.mu);
    if (caller.nested.waiting.empty()) {
      --caller.nested.running;
      return;
    }
    next = std::move(caller.nested.waiting.front());
    caller.nested.waiting.pop_front();
  }
  executor_.Run([next = std::move(next)]() mutable { std::move(next)(); });  // keeps the slot
}

void FunctionRunner::StartNested(FunctionCallRequest request, FunctionCallback done) {
  // Nested actions are not admitted: an action holding its slot while it waits for another action's
  // slot could deadlock a deployment whose action slots are all held by such parents (admission.h).
  // They are bounded by the per-action cap and the caller's deadline instead.
  if (options_.admission == nullptr || request.kind == FunctionKind::kAction) {
    RunOnThisThread(std::move(request), std::move(done));
    return;
  }
  const std::string deployment = request.deployment;
  const FunctionKind kind = request.kind;
  const absl::Time deadline = request.deadline;
  auto shared_done = std::make_shared<FunctionCallback>(std::move(done));
  options_.admission->Admit(
      deployment, kind, deadline,
      [this, request = std::move(request), shared_done](Admission::Ticket ticket) mutable {
        RunOnThisThread(std::move(request), [shared_done, ticket = std::move(ticket)](FunctionOutcome outcome) mutable {
          ticket.Release();
          std::move(*shared_done)(std::move(outcome));
        });
      },
      [shared_done](absl::Status refused) { std::move(*shared_done)(FunctionOutcome::Failure(refused)); });
}

bool FunctionRunner::IsActionSchedulerCall(absl::string_view op) {
  return op == "1.0/actions/schedule" || op == "1.0/actions/cancel_job";
}

absl::StatusOr<std::string> FunctionRunner::SchedulerFromAction(const InvocationSession& caller, absl::string_view op,
                                                                absl::string_view args_json) {
  if (caller.function.kind != FunctionKind::kAction) {
    return absl::InvalidArgumentError(absl::StrCat(op, " is only available in actions"));
  }
  ASSIGN_OR_RETURN(Value args, ParseSyscallArgs(args_json));
  // A transaction of its own, run again if it conflicts (it touches one job).
  absl::Status last = absl::OkStatus();
  for (int attempt = 0; attempt <= options_.max_occ_retries; ++attempt) {
    std::unique_ptr<storage::Transaction> txn = caller.deployment->db().Begin();
    std::string result = "null";
    if (op == "1.0/actions/schedule") {
      ASSIGN_OR_RETURN(result, ScheduleJob(*txn, *caller.code, args, absl::Now(), caller.scheduled_job));
      result = storage::ToConvexJson(Value::String(result));
    } else {
      const Value& id = args.Get("id");
      if (id.type() != Value::Type::kString) return absl::InvalidArgumentError("`id` must be a string");
      RETURN_IF_ERROR(CancelJob(*txn, id.string()));
    }
    absl::StatusOr<storage::Timestamp> committed = caller.deployment->db().Commit(*txn);
    if (committed.ok()) return result;
    last = committed.status();
    if (!absl::IsAborted(last)) break;
    ++occ_retries_;
  }
  return last;
}

}  // namespace isobar::supervisor
