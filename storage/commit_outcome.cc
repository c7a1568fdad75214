#include "storage/commit_outcome.h"

#include "absl/strings/cord.h"

namespace isobar::storage {
namespace {

constexpr char kOutcomeUnknownPayload[] = "isobar.dev/commit-outcome-unknown";

}  // namespace

absl::Status CommitOutcomeUnknownError() {
  return CommitOutcomeUnknownError(
      "The database went away while this mutation was committing, and whether it committed is not known yet. "
      "Retrying it with the same idempotency key is safe: it applies at most once.");
}

absl::Status CommitOutcomeUnknownError(absl::string_view message) {
  absl::Status status = absl::UnavailableError(message);
  status.SetPayload(kOutcomeUnknownPayload, absl::Cord("1"));
  return status;
}

bool IsCommitOutcomeUnknown(const absl::Status& status) { return status.GetPayload(kOutcomeUnknownPayload).has_value(); }

}  // namespace isobar::storage
