// The warnings Convex adds to a function's log when it comes near a limit (crates/udf/src/warnings.rs):
// a "warn" line for each count above 80% of its limit and not past it, in Convex's order and words.
//
//   ExecutionSize size{.documents_read = 25700};
//   LimitWarnings(size)  // "Many documents read in a single function execution (actual: 25700,
//                        //  limit: 32000). Consider using smaller limits in your queries, ..."
#ifndef ISOBAR_SUPERVISOR_RUNNER_LIMIT_WARNINGS_H_
#define ISOBAR_SUPERVISOR_RUNNER_LIMIT_WARNINGS_H_

#include <cstddef>
#include <optional>
#include <vector>

#include "isobar/v1/api.pb.h"

namespace isobar::supervisor {

struct ExecutionSize {
  size_t args_bytes = 0;  // of the argument array, [args]
  size_t documents_read = 0;
  size_t read_intervals = 0;
  size_t bytes_read = 0;
  size_t writes = 0;
  size_t bytes_written = 0;
  size_t scheduled = 0;
  size_t scheduled_args_bytes = 0;
  size_t max_scheduled_args_bytes = 0;
  std::optional<size_t> result_bytes;  // when the function returned a value
};

std::vector<isobar::v1::LogLine> LimitWarnings(const ExecutionSize& size);

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_RUNNER_LIMIT_WARNINGS_H_
