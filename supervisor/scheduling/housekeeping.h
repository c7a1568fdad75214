// Background upkeep of the deployments this supervisor has open, on a timer (Clock::WakeAt), one pass
// at a time on the executor:
//  - history: document revisions, tombstones and index entries older than `history_window` (an
//    operator setting, ARCHITECTURE.md §4) are collected up to Database::RetentionHorizon, which
//    never passes an open snapshot (storage/retention.h);
//  - idempotency records (`_idempotency_keys`) older than `idempotency_window` are deleted: a client
//    retrying a mutation later than that runs it again;
//  - stored files' bytes whose _storage document is gone (deleted, or an upload that never
//    committed) are deleted once `file_orphan_age` old (storage/file_blobs.h);
//  - deployments nobody asked for in `deployment_idle` are closed (LiveDeployments::CloseIdle), and the
//    freed heap goes back to the system (malloc_trim), checked every `deployment_idle` / 2.
//
//   Housekeeping housekeeping(live, pg_pool, clock, executor, {});
//   housekeeping.Start();   // a pass every `interval`
//   ...
//   housekeeping.Stop();
#ifndef ISOBAR_SUPERVISOR_SCHEDULING_HOUSEKEEPING_H_
#define ISOBAR_SUPERVISOR_SCHEDULING_HOUSEKEEPING_H_

#include <cstdint>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "base/executor.h"
#include "storage/pg_pool.h"
#include "supervisor/deploy/live_deployments.h"

namespace isobar::supervisor {

struct HousekeepingOptions {
  absl::Duration interval = absl::Minutes(10);
  absl::Duration history_window = absl::Hours(24);
  absl::Duration idempotency_window = absl::Hours(24);
  size_t idempotency_batch = 500;  // records deleted per deployment and transaction
  absl::Duration deployment_idle = absl::Minutes(5);  // InfiniteDuration: never closed
  // Stored files' bytes with no _storage document (deleted, or never committed) are collected once
  // they were written this long ago (an upload's document commits well within it).
  absl::Duration file_orphan_age = absl::Hours(1);
  size_t file_orphan_batch = 1000;  // keys looked at per round trip
};

class Housekeeping {
 public:
  struct Stats {
    uint64_t passes = 0;
    int64_t documents_collected = 0;
    int64_t index_entries_collected = 0;
    uint64_t idempotency_records_deleted = 0;
    uint64_t deployments_closed = 0;
    uint64_t files_collected = 0;
  };

  // Not owned; all must outlive this.
  Housekeeping(LiveDeployments& deployments, storage::PgPool& pool, Clock& clock, Executor& executor,
               HousekeepingOptions options = {});
  ~Housekeeping() { Stop(); }

  void Start() ABSL_LOCKS_EXCLUDED(mu_);
  // No pass starts after this; one under way finishes.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);
  // One pass over every open deployment, now, on the calling thread.
  void RunOnce();
  // Closes the idle deployments now, on the calling thread.
  void CloseIdle();

  Stats stats() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // `task` on the executor after `delay`, then armed again, until Stop.
  void Arm(absl::Duration delay, void (Housekeeping::*task)()) ABSL_LOCKS_EXCLUDED(mu_);
  // Deletes the bytes of files whose _storage document is gone (or never committed).
  absl::StatusOr<size_t> CollectFiles(LiveDeployment& deployment);
  absl::StatusOr<uint64_t> PurgeIdempotencyRecords(LiveDeployment& deployment, absl::Time cutoff);

  LiveDeployments& deployments_;
  storage::PgPool& pool_;
  Clock& clock_;
  Executor& executor_;
  const HousekeepingOptions options_;
  // Timer wakes hold this, and run a pass holding its lock; Stop clears `self` under that lock, so it
  // waits out a pass under way and later wakes do nothing.
  struct Alive {
    absl::Mutex mu;
    Housekeeping* self ABSL_GUARDED_BY(mu);
  };
  std::shared_ptr<Alive> alive_;  // set by Start, before any wake
  absl::Mutex pass_mu_;  // one pass at a time
  mutable absl::Mutex mu_ ABSL_ACQUIRED_AFTER(pass_mu_);
  Stats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_SCHEDULING_HOUSEKEEPING_H_
