// The single committer of one deployment (CONVEX_SEMANTICS.md §2).
//
//   Committer committer(persistence, {});
//   RETURN_IF_ERROR(committer.Start());                 // takes the lease, finds the newest ts
//   Transaction txn(persistence, schemas, committer.Latest(), seed);
//   ... reads and writes ...
//   ASSIGN_OR_RETURN(Timestamp ts, committer.Commit(txn));   // ABORTED on an OCC conflict
//
// Commit() queues the transaction and blocks until it is durable and published, or refused. The
// committer thread takes every queued transaction as one group: validates each against the write log
// (every commit after its begin_ts, and the group's earlier members), assigns strictly increasing
// timestamps, writes the whole group in one PostgreSQL transaction, then publishes in timestamp order:
// the write log grows, Latest() advances, and the publish hook sees each commit. Nothing is
// acknowledged before it is durable.
//
// A COMMIT whose outcome PostgreSQL left unknown (the connection broke during it) is resolved by
// looking for it in the document log once PostgreSQL answers again, never reported blindly: while it
// is being resolved new commits fail at once (UNAVAILABLE, nothing written), and a caller whose
// deadline passes before the answer gets an error that IsCommitOutcomeUnknown() recognises (retrying
// with the same idempotency key is safe). Losing the lease stops the committer.
#ifndef ISOBAR_STORAGE_COMMITTER_H_
#define ISOBAR_STORAGE_COMMITTER_H_

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "storage/commit_outcome.h"
#include "storage/leases.h"
#include "storage/persistence.h"
#include "storage/transaction.h"

namespace isobar::storage {

// What one published commit changed: every index key written (old and new), for conflict checks and
// subscriptions.
struct PublishedCommit {
  Timestamp ts;
  struct Change {
    DocumentId id;
    std::string table;
    std::vector<std::pair<IndexId, std::string>> keys;
  };
  std::vector<Change> changes;
};

struct CommitterOptions {
  size_t max_group = 512;                             // transactions per PostgreSQL write
  absl::Duration write_log_retention = absl::Minutes(5);
  std::function<Timestamp()> clock;                   // default: the real-time clock in ns
  LeaseOptions lease;                                 // the writer lease (leases.h)
};

class Committer {
 public:
  // `persistence` is not owned and must outlive the committer.
  Committer(Persistence& persistence, CommitterOptions options);
  ~Committer();  // Stop()
  Committer(const Committer&) = delete;
  Committer& operator=(const Committer&) = delete;

  // Takes the writer lease (UNAVAILABLE when another supervisor holds it live and `lease.take_over`
  // is off; with it, waits for that holder's lease to lapse) and finds the newest timestamp.
  absl::Status Start() ABSL_LOCKS_EXCLUDED(mu_);
  // Stops the thread. The lease is not trusted afterwards; giving it up (ReleaseLeases) is the
  // owner's, which closes many at once.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);
  bool lease_lost() const { return lease_lost_.load(); }

  // The writer lease. Valid until it is found lost and, when `lease.time_bound`, until
  // `lease.duration` after the last renewal that succeeded was sent (steady clock); nothing may be
  // served from this database when it is not (leases.h).
  LeaseEpoch lease() const { return lease_; }
  // Who held the lease before Start took it (AcquiredLease::previous_holder).
  const std::string& previous_holder() const { return previous_holder_; }
  bool LeaseValid() const;
  // A renewal sent at `sent` (std::chrono::steady_clock) succeeded.
  void LeaseRenewed(std::chrono::steady_clock::time_point sent);
  // Renewal found the lease taken: every commit fails from now on, and the lease is not released.
  void LeaseLost() ABSL_LOCKS_EXCLUDED(mu_);

  // Returns once every transaction queued before the call has been committed or refused, and
  // published: after a schema change, commits that could have used the old indexes are all visible at
  // Latest(). UNAVAILABLE when the committer is not running.
  absl::Status Barrier() ABSL_LOCKS_EXCLUDED(mu_);

  // The newest published timestamp: new transactions begin here.
  Timestamp Latest() const ABSL_LOCKS_EXCLUDED(mu_);

  // A read-only transaction commits at its begin_ts without writing. Thread-safe. When `deadline`
  // passes while the commit is still queued it is withdrawn (DEADLINE_EXCEEDED, nothing written);
  // when the commit's outcome is being resolved and is still unknown shortly (250 ms) before
  // `deadline`, the outcome-unknown error, so that the caller still hears it.
  absl::StatusOr<Timestamp> Commit(const Transaction& txn, absl::Time deadline = absl::InfiniteFuture())
      ABSL_LOCKS_EXCLUDED(mu_);

  // Called on the committer thread for each published commit, in timestamp order. Set before Start.
  void SetPublishHook(std::function<void(const PublishedCommit&)> hook) { publish_hook_ = std::move(hook); }

  struct Stats {
    uint64_t commits = 0, conflicts = 0, groups = 0;
    uint64_t ambiguous = 0;  // groups whose COMMIT outcome had to be looked up
  };
  Stats stats() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // kQueued -> kTaken (staged into a group) -> kResolving (its write's outcome is being looked up)
  // -> done. The caller may leave early only while it is queued or resolving: never while the
  // committer may still read its transaction.
  enum class Phase { kQueued, kTaken, kResolving };
  struct Request {
    explicit Request(const Transaction* t) : txn(t) {}
    const Transaction* txn;  // null for a barrier
    Phase phase = Phase::kQueued;
    bool done = false;
    absl::StatusOr<Timestamp> result = absl::UnknownError("not committed");
  };
  using RequestPtr = std::shared_ptr<Request>;

  void Loop() ABSL_LOCKS_EXCLUDED(mu_);
  // Looks the group's outcome up until PostgreSQL answers (or Stop). OK: it committed.
  absl::Status ResolveAmbiguous(const std::vector<CommitWrites>& writes, const std::vector<RequestPtr>& staged)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Validates and stages one request of a group; returns false (with the request failed) on conflict.
  bool Stage(Request& request, const std::vector<PublishedCommit>& staged_log, std::vector<CommitWrites>* writes,
             std::vector<PublishedCommit>* published) ABSL_LOCKS_EXCLUDED(mu_);
  Timestamp NextTimestamp();
  absl::Status WriteGroup(const std::vector<CommitWrites>& writes, const std::vector<RequestPtr>& staged);

  Persistence& persistence_;
  const CommitterOptions options_;
  std::function<void(const PublishedCommit&)> publish_hook_;
  LeaseEpoch lease_;  // set by Start
  std::string previous_holder_;  // set by Start
  std::atomic<int64_t> lease_valid_until_{0};  // steady_clock nanoseconds since its epoch
  std::atomic<bool> lease_lost_{false};
  Timestamp last_assigned_{0};  // committer thread only

  mutable absl::Mutex mu_;
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status failed_ ABSL_GUARDED_BY(mu_);  // set when the committer cannot go on (lease lost)
  Timestamp latest_ ABSL_GUARDED_BY(mu_){0};
  Timestamp purged_ ABSL_GUARDED_BY(mu_){0};  // the write log holds every commit after this
  std::deque<PublishedCommit> log_ ABSL_GUARDED_BY(mu_);
  std::deque<RequestPtr> queue_ ABSL_GUARDED_BY(mu_);
  bool resolving_ ABSL_GUARDED_BY(mu_) = false;  // a write's outcome is being looked up
  Stats stats_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace isobar::storage

#endif  // ISOBAR_STORAGE_COMMITTER_H_
