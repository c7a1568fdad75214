// The single door out of a worker's JavaScript (STYLE.md convention 1).
//
// Everything user code can do to the outside world is a call through this interface: JS bindings are
// given a HostCalls& and nothing else. The production implementation (HostChannel) forwards each call
// to the supervisor on the worker's framed stream; DenyAllHostCalls refuses everything, and a context
// given only that can have no effect outside itself.
#ifndef ISOBAR_WORKER_HOST_CALLS_H_
#define ISOBAR_WORKER_HOST_CALLS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/strong_id.h"

namespace isobar::worker {

// A failed host call whose error is a ConvexError (a nested function threw one) carries the error's
// data, as Convex JSON, in this payload of its status.
inline constexpr char kConvexErrorDataPayload[] = "type.isobar.dev/convex-error-data";

class HostCalls {
 public:
  virtual ~HostCalls() = default;

  // Performs `op` with JSON arguments for `invocation` and returns the JSON result. Blocks the calling
  // (JS) thread until the supervisor answers. An error's code and message come from the supervisor.
  virtual absl::StatusOr<std::string> Call(InvocationId invocation, absl::string_view op,
                                           absl::string_view args_json) = 0;
};

class DenyAllHostCalls final : public HostCalls {
 public:
  absl::StatusOr<std::string> Call(InvocationId, absl::string_view op, absl::string_view) override;
};

// Refuses every host call and remembers that one was tried: code run ahead of any invocation (modules
// preloaded, a version's snapshot) must not read anything from outside (process.env, say), which it
// must see at its invocation instead.
class RefusingHostCalls final : public HostCalls {
 public:
  absl::StatusOr<std::string> Call(InvocationId, absl::string_view, absl::string_view) override {
    tried_ = true;
    return absl::UnavailableError("host calls are unavailable while modules are evaluated ahead");
  }
  bool tried() const { return tried_; }

 private:
  bool tried_ = false;
};

}  // namespace isobar::worker

#endif  // ISOBAR_WORKER_HOST_CALLS_H_
