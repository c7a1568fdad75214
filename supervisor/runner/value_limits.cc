#include "supervisor/runner/value_limits.h"

#include "absl/strings/str_cat.h"
#include "base/rust_format.h"

namespace isobar::supervisor {

absl::Status CheckArgsSize(absl::string_view function, const storage::Value& args) {
  const size_t size = 2 + storage::ConvexSize(args);  // as the array [args]
  if (size <= kMaxFunctionArgsBytes) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("Arguments for ", function, " are too large (actual: ",
                                                 FormatBinarySize(size), ", limit: ",
                                                 FormatBinarySize(kMaxFunctionArgsBytes), ")"));
}

absl::Status CheckResultSize(absl::string_view function, const storage::Value& result) {
  const size_t size = storage::ConvexSize(result);
  if (size <= kMaxFunctionResultBytes) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("Function ", function, " return value is too large (actual: ",
                                                 FormatBinarySize(size), ", limit: ",
                                                 FormatBinarySize(kMaxFunctionResultBytes), ")"));
}

}  // namespace isobar::supervisor
