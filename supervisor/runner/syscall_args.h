// The arguments of host calls (CONVEX_ABI.md §2): a plain JSON object whose nested values are Convex
// JSON, and, for calls that name another function (runUdf, actions' runQuery/runMutation/runAction,
// schedule), the function and its arguments.
#ifndef ISOBAR_SUPERVISOR_RUNNER_SYSCALL_ARGS_H_
#define ISOBAR_SUPERVISOR_RUNNER_SYSCALL_ARGS_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/value.h"

namespace isobar::supervisor {

// INVALID_ARGUMENT unless `args_json` is a JSON object.
absl::StatusOr<storage::Value> ParseSyscallArgs(absl::string_view args_json);

// The path in `{name: "mod:fn", ...}`. Components and function handles ({reference}, {functionHandle})
// are refused, saying the function cannot be `verb` ("called", "scheduled").
absl::StatusOr<std::string> ReferencedFunction(const storage::Value& args, absl::string_view verb);

// `text` as a JSON string (a syscall's string result).
std::string Quote(absl::string_view text);

// `args[name]`, which must be a string (INVALID_ARGUMENT naming it otherwise); or, optional, nullopt
// when it is not one.
absl::StatusOr<std::string> StringArg(const storage::Value& args, absl::string_view name);
std::optional<std::string> OptionalString(const storage::Value& args, absl::string_view name);

// `args.args` decoded from Convex JSON.
absl::StatusOr<storage::Value> CallArguments(const storage::Value& args);

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_RUNNER_SYSCALL_ARGS_H_
