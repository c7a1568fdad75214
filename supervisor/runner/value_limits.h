// The sizes Convex allows a function's arguments and return value, measured as Convex measures values
// (storage::ConvexSize), not as JSON text, with Convex's messages:
//
//   RETURN_IF_ERROR(CheckArgsSize("messages.js:send", args));
//   "Arguments for messages.js:send are too large (actual: 16.5 MiB, limit: 16 MiB)"
#ifndef ISOBAR_SUPERVISOR_RUNNER_VALUE_LIMITS_H_
#define ISOBAR_SUPERVISOR_RUNNER_VALUE_LIMITS_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "storage/value.h"

namespace isobar::supervisor {

inline constexpr size_t kMaxFunctionArgsBytes = 16u << 20;    // FUNCTION_MAX_ARGS_SIZE
inline constexpr size_t kMaxFunctionResultBytes = 16u << 20;  // FUNCTION_MAX_RESULT_SIZE

// INVALID_ARGUMENT with Convex's message if `args` (the arguments object) is too large. Convex measures
// the array of positional arguments: [args].
absl::Status CheckArgsSize(absl::string_view function, const storage::Value& args);
// INVALID_ARGUMENT with Convex's message if a return value is too large.
absl::Status CheckResultSize(absl::string_view function, const storage::Value& result);

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_RUNNER_VALUE_LIMITS_H_
