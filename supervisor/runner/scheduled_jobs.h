// ctx.scheduler's writes (CONVEX_ABI.md §2.7): a scheduled call becomes a pending job in the
// deployment's _scheduled_functions table, in the caller's transaction, so it exists exactly when the
// mutation that scheduled it commits. Running the jobs is the scheduler's (supervisor issue 7).
//
//   ASSIGN_OR_RETURN(std::string id, ScheduleJob(txn, *code, syscall_args, absl::Now()));
//   RETURN_IF_ERROR(CancelJob(txn, id_text));
#ifndef ISOBAR_SUPERVISOR_RUNNER_SCHEDULED_JOBS_H_
#define ISOBAR_SUPERVISOR_RUNNER_SCHEDULED_JOBS_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/transaction.h"
#include "storage/value.h"
#include "supervisor/deploy/code_version.h"

namespace isobar::supervisor {

// Convex's bounds: five years of 366 days either way; per mutation, 1000 jobs and 16 MiB of their
// arguments in all (each job's size is that of its argument array, [args]); 4 MiB per job only warns.
inline constexpr absl::Duration kMaxScheduleAhead = absl::Hours(24 * 366 * 5);
inline constexpr size_t kMaxScheduledPerMutation = 1000;
inline constexpr size_t kMaxScheduledTotalArgsBytes = 16u << 20;
inline constexpr size_t kScheduledArgsWarnBytes = 4u << 20;



// `args` is the syscall's envelope: {name, ts (seconds), args (Convex JSON object)}. The function must
// exist in `code` (internal ones too); `ts` must be finite and within five years of `now` (a time in
// the past runs as soon as possible). A job scheduled by a run of a job that has since been canceled
// (`parent_job`) is created canceled. The job's arguments (Convex's size of [args]) must fit in
// `args_budget` bytes, what its mutation has left of kMaxScheduledTotalArgsBytes; `args_bytes`, if
// given, receives their size. Returns the job's id.
absl::StatusOr<std::string> ScheduleJob(storage::Transaction& txn, const CodeVersion& code,
                                        const storage::Value& args, absl::Time now,
                                        std::optional<storage::DocumentId> parent_job = std::nullopt,
                                        size_t args_budget = kMaxScheduledTotalArgsBytes,
                                        size_t* args_bytes = nullptr);

// A pending job becomes canceled, and so does a running action's (it keeps running, but what it
// schedules from then on is created canceled); a job that already ran, failed or was canceled stays
// as it is. INVALID_ARGUMENT for an id that is not a scheduled function's.
absl::Status CancelJob(storage::Transaction& txn, const std::string& id_text);

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_RUNNER_SCHEDULED_JOBS_H_
