#include "worker/host_calls.h"

#include "absl/strings/str_cat.h"

namespace isobar::worker {

absl::StatusOr<std::string> DenyAllHostCalls::Call(InvocationId, absl::string_view op, absl::string_view) {
  return absl::PermissionDeniedError(absl::StrCat("host call ", op, " is not available here"));
}

}  // namespace isobar::worker
