// Serves host calls: the things user code asks of the outside world, by op name.
//
// Every call that may wait (on PostgreSQL, a lock, a nested function, the network) is served on the
// executor, never on the worker stream's reader thread, so one invocation waiting never holds up the
// others of its worker; the few that cannot wait (IsImmediateSyscall: the caller's identity, the
// function's and the deployment's names) are answered on the calling thread. Dispatch is
// by a static table from op to handler; an op not in it is refused, and no name is ever built from
// input. Errors that could reveal internals (INTERNAL, UNAVAILABLE, ...) reach the worker as "internal
// error; reference = <id>"; the details are logged here only (STYLE.md §5.4).
//
// Ops:
//   the Convex syscalls of a function invocation (syscalls.h), against its session;
//   1.0/actions/query|mutation|action: an action's nested calls (FunctionRunner::RunFromAction);
//   isobar/echo  args: any JSON value. Appends it to isobar.echo_log and returns
//                {"echo": <args>, "row": <id>}. The walking skeleton's proof of a full round trip;
//                served to Admin.Eval only (calls without a session), never to a deployed function.
#ifndef ISOBAR_SUPERVISOR_RUNNER_HOST_CALL_ROUTER_H_
#define ISOBAR_SUPERVISOR_RUNNER_HOST_CALL_ROUTER_H_

#include <atomic>
#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/executor.h"
#include "base/strong_id.h"
#include "isobar/worker/v1/worker.pb.h"
#include "storage/pg_pool.h"
#include "supervisor/egress/http_fetcher.h"
#include "supervisor/runner/function_runner.h"
#include "supervisor/runner/invocation_session.h"

namespace isobar::supervisor {

class HostCallRouter {
 public:
  using Reply = absl::AnyInvocable<void(isobar::worker::v1::HostResult) &&>;

  // Not owned; all must outlive the router.
  // `fetcher` makes actions' fetches; null: fetch is refused.
  HostCallRouter(storage::PgPool& pg, Executor& executor, FunctionRunner& runner, HttpFetcher* fetcher = nullptr)
      : pg_(pg), executor_(executor), runner_(runner), fetcher_(fetcher) {}

  // Thread-safe. The caller has checked that `worker` runs the call's invocation; `session` is that
  // invocation's (null for invocations without one, such as Admin.Eval). `reply` runs exactly once.
  void Handle(WorkerId worker, std::shared_ptr<InvocationSession> session, isobar::worker::v1::HostCall call,
              Reply reply);

 private:
  absl::StatusOr<std::string> Echo(WorkerId worker, absl::string_view args_json);
  // The result for the worker. A failure of ours (not meant for user code) reaches it as a reference to
  // our log, and is noted in `session` (if any) as the invocation's host failure.
  isobar::worker::v1::HostResult Result(WorkerId worker, InvocationSession* session,
                                        const isobar::worker::v1::HostCall& call, absl::StatusOr<std::string> outcome);

  storage::PgPool& pg_;
  Executor& executor_;
  FunctionRunner& runner_;
  HttpFetcher* const fetcher_;
};

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_RUNNER_HOST_CALL_ROUTER_H_
