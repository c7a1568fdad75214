// Garbage collection of history (ARCHITECTURE.md §4: an operator-set window instead of Convex's fixed
// 14 days).
//
//   Retention retention(pool, deployment);
//   ASSIGN_OR_RETURN(RetentionStats s, retention.Collect(horizon));
//
// After Collect(horizon) every snapshot at or after `horizon` reads exactly what it read before, and
// nothing older may be read: superseded document revisions (their successor is at or before the
// horizon), tombstones at or before it, and index entries hidden by a newer entry at or before it are
// deleted. The newest commit is always kept, so the newest timestamp survives. Work is done in
// batches, so a large backlog does not hold long locks.
//
// The caller picks the horizon: no later than the oldest open transaction's snapshot
// (Database::RetentionHorizon does that).
#ifndef ISOBAR_STORAGE_RETENTION_H_
#define ISOBAR_STORAGE_RETENTION_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "storage/pg_pool.h"
#include "storage/types.h"

namespace isobar::storage {

struct RetentionStats {
  int64_t documents_deleted = 0;
  int64_t index_entries_deleted = 0;
};

class Retention {
 public:
  Retention(PgPool& pool, DeploymentId deployment, int64_t batch = 10000)
      : pool_(pool), deployment_(deployment), batch_(batch) {}

  absl::StatusOr<RetentionStats> Collect(Timestamp horizon);

 private:
  absl::StatusOr<int64_t> DeleteInBatches(const char* sql, Timestamp horizon);
  PgPool& pool_;
  const DeploymentId deployment_;
  const int64_t batch_;
};

}  // namespace isobar::storage

#endif  // ISOBAR_STORAGE_RETENTION_H_
