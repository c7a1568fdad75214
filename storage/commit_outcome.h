// The error of a commit whose outcome could not be determined before its caller's deadline: the
// database went away during its COMMIT and had not answered again in time (committer.h).
//
//   if (IsCommitOutcomeUnknown(status)) ...   // api.proto ErrorDetail.OUTCOME_UNKNOWN
//
// It is UNAVAILABLE and retryable with the same idempotency key: the key's record commits with the
// mutation's writes, so a retry finds it (and answers with the stored result) or runs the mutation.
// Its own small library so that error reporting need not link the storage engine.
#ifndef ISOBAR_STORAGE_COMMIT_OUTCOME_H_
#define ISOBAR_STORAGE_COMMIT_OUTCOME_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace isobar::storage {

absl::Status CommitOutcomeUnknownError();
// The same, saying why in `message` (e.g. the member a mutation was forwarded to went away).
absl::Status CommitOutcomeUnknownError(absl::string_view message);
bool IsCommitOutcomeUnknown(const absl::Status& status);

}  // namespace isobar::storage

#endif  // ISOBAR_STORAGE_COMMIT_OUTCOME_H_
