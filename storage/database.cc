#include "storage/database.h"

#include <algorithm>
#include <random>

#include "absl/time/clock.h"
#include "storage/directory_blobs.h"
#include "storage/file_blobs.h"

namespace isobar::storage {

Database::Database(PgPool& pool, DeploymentId deployment, CommitterOptions options, TransactionLimits limits,
                   const std::string& file_directory)
    : catalog_(pool),
      schemas_(catalog_, deployment),
      persistence_(pool, deployment),
      committer_(persistence_, std::move(options)),
      files_(file_directory.empty() ? std::unique_ptr<BlobStore>(std::make_unique<FileBlobs>(pool, deployment))
                                    : std::make_unique<DirectoryBlobs>(pool, file_directory, deployment)),
      limits_(limits) {}

std::unique_ptr<Transaction> Database::Begin() {
  thread_local std::mt19937_64 seeds(std::random_device{}());
  // Reading Latest() and registering it are one step for RetentionHorizon, which cannot then compute a
  // horizon past this snapshot in between.
  absl::MutexLock lock(&begin_mu_);
  const Timestamp begin = committer_.Latest();
  const Timestamp creation(std::max(absl::ToUnixNanos(absl::Now()), begin.value() + 1));
  return std::make_unique<Transaction>(persistence_, schemas_, begin, seeds(), limits_, snapshots_.Register(begin),
                                       creation);
}

absl::StatusOr<std::unique_ptr<Transaction>> Database::BeginAt(Timestamp ts) {
  thread_local std::mt19937_64 seeds(std::random_device{}());
  absl::MutexLock lock(&begin_mu_);
  const Timestamp latest = committer_.Latest();
  if (ts > latest) return absl::FailedPreconditionError("that timestamp is not published yet");
  const Timestamp creation(std::max(absl::ToUnixNanos(absl::Now()), latest.value() + 1));
  return std::make_unique<Transaction>(persistence_, schemas_, ts, seeds(), limits_, snapshots_.Register(ts), creation);
}

Timestamp Database::RetentionHorizon(absl::Duration window) const {
  absl::MutexLock lock(&begin_mu_);
  Timestamp horizon(committer_.Latest().value() - absl::ToInt64Nanoseconds(window));
  std::optional<Timestamp> oldest = snapshots_.Oldest();
  if (oldest.has_value() && *oldest < horizon) horizon = *oldest;
  return horizon;
}

}  // namespace isobar::storage
