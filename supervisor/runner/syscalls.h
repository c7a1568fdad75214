// The host calls of a Convex function that the supervisor answers from its own state (CONVEX_ABI.md
// §2.1, §2.2, §2.5, §2.7): database reads and writes in the invocation's transaction, query streams
// and pages, normalizeId, the caller's identity, function and transaction metadata, and environment
// variables (`isobar/env`). Cross-function calls are the runner's (function_runner.h).
//
// Authorization is per invocation: queries cannot write, actions have no database, and every id is
// resolved inside the invocation's own deployment. With schemaValidation, every written document must
// match its table's validator.
//
// Returns the op's JSON result, or an error whose code and message user code sees.
#ifndef ISOBAR_SUPERVISOR_RUNNER_SYSCALLS_H_
#define ISOBAR_SUPERVISOR_RUNNER_SYSCALLS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "supervisor/runner/invocation_session.h"

namespace isobar::supervisor {

// Whether ServeSyscall knows `op`.
bool IsSessionSyscall(absl::string_view op);

// Whether `op` is answered from the session's fixed facts alone (the caller's identity, the names of
// the function and the deployment): no PostgreSQL, no lock, bounded work. Such an op may be served on
// any thread, the worker stream's reader included, without a hop to the executor.
bool IsImmediateSyscall(absl::string_view op);

absl::StatusOr<std::string> ServeSyscall(InvocationSession& session, absl::string_view op, absl::string_view args_json);

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_RUNNER_SYSCALLS_H_
