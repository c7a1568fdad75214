#include "supervisor/runner/limit_warnings.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "storage/read_set.h"
#include "storage/transaction.h"
#include "supervisor/runner/scheduled_jobs.h"
#include "supervisor/runner/value_limits.h"

namespace isobar::supervisor {
namespace {

constexpr double kWarningRatio = 0.8;  // FUNCTION_LIMIT_WARNING_RATIO

void Warn(std::vector<isobar::v1::LogLine>& out, const std::string& what, size_t actual, size_t limit,
          const char* unit, const char* suffix) {
  isobar::v1::LogLine& line = out.emplace_back();
  line.set_level("warn");
  line.set_message(absl::StrCat(what, " (actual: ", actual, unit, ", limit: ", limit, unit, ").",
                                suffix[0] == '\0' ? "" : " ", suffix));
}

// Above 80% of `limit`, and not past it (past it, the function failed with the limit's error).
void Approaching(std::vector<isobar::v1::LogLine>& out, const std::string& what, size_t actual, size_t limit,
                 const char* unit = "", const char* suffix = "") {
  const size_t warning_limit = static_cast<size_t>(kWarningRatio * static_cast<double>(limit));
  if (actual > warning_limit && actual <= limit) Warn(out, what, actual, limit, unit, suffix);
}

}  // namespace

std::vector<isobar::v1::LogLine> LimitWarnings(const ExecutionSize& size) {
  const storage::TransactionLimits limits;
  std::vector<isobar::v1::LogLine> out;
  Approaching(out, "Large size of the function arguments", size.args_bytes, kMaxFunctionArgsBytes, " bytes");
  Approaching(out, "Many documents read in a single function execution", size.documents_read,
              limits.max_documents_read, "", storage::kReadLimitHelp);
  Approaching(out, "Many reads in a single function execution", size.read_intervals, limits.max_read_intervals, "",
              storage::kReadLimitHelp);
  Approaching(out, "Many bytes read in a single function execution", size.bytes_read, limits.max_bytes_read, " bytes",
              storage::kReadLimitHelp);
  Approaching(out, "Many writes in a single function execution", size.writes, limits.max_documents_written);
  Approaching(out, "Many bytes written in a single function execution", size.bytes_written, limits.max_bytes_written,
              " bytes");
  Approaching(out, "Many functions scheduled by this mutation", size.scheduled, kMaxScheduledPerMutation);
  Approaching(out, "Large total size of the arguments of scheduled functions from this mutation",
              size.scheduled_args_bytes, kMaxScheduledTotalArgsBytes, " bytes");
  // One job's arguments: not a limit yet on Convex, so it warns past it too.
  if (size.max_scheduled_args_bytes >
      static_cast<size_t>(kWarningRatio * static_cast<double>(kScheduledArgsWarnBytes))) {
    Warn(out,
         size.max_scheduled_args_bytes > kScheduledArgsWarnBytes
             ? "Large arguments for a single scheduled function from this mutation. This will become a hard error in "
               "the future"
             : "Large arguments for a single scheduled function from this mutation",
         size.max_scheduled_args_bytes, kScheduledArgsWarnBytes, " bytes", "");
  }
  if (size.result_bytes.has_value()) {
    Approaching(out, "Large size of the function return value", *size.result_bytes, kMaxFunctionResultBytes, " bytes");
  }
  return out;
}

}  // namespace isobar::supervisor
