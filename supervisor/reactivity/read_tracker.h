// Which query results a commit invalidates (CONVEX_SEMANTICS.md §3): the read sets of the live
// results (cached queries, subscriptions) indexed per deployment, per index, by interval
// Every published commit is looked up key by key; each result it overlaps is told once, with the
// commit's timestamp, and forgotten. Reads are kept by the longest prefix of whole values that holds
// them (a bucket): an Eq range (withIndex(..., q => q.eq("channel", c))) and a db.get's point read
// all of their bucket; a range under Eq fields (q.eq("channel", c).gt("_creationTime", t), the part
// a take consumed) lies in its Eq prefix's bucket, in an IntervalIndex (interval_index.h); ranges
// with no Eq prefix are in the index's root bucket. A written key visits the buckets of its own
// leading values (IndexKeyValueEnds) and the root: O(fields + log(ranges in those buckets) + hits),
// whatever the number of live results.
//
//   ReadTracker tracker;
//   live.SetCommitObserver(... tracker.Observe(deployment, commit) ...);   // on the committer thread
//   ReadTracker::WatchId id = tracker.Watch("chat", reads, ts, [](storage::Timestamp invalid_at) { ... });
//   tracker.Unwatch("chat", id);
//
// A result computed at `ts` may be watched after later commits were published: Watch checks it
// against the commits it already saw after `ts` (a recent log), and calls back at once if one
// overlaps (or if the log no longer reaches back to `ts`). processed() is the newest commit seen:
// a result not invalidated by then is valid at that timestamp. Callbacks run on the caller's thread
// (Observe's or Watch's). Thread-safe.
#ifndef ISOBAR_SUPERVISOR_REACTIVITY_READ_TRACKER_H_
#define ISOBAR_SUPERVISOR_REACTIVITY_READ_TRACKER_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "storage/committer.h"
#include "storage/database.h"
#include "storage/read_set.h"
#include "supervisor/reactivity/interval_index.h"

namespace isobar::supervisor {

class ReadTracker {
 public:
  using WatchId = uint64_t;
  // Called under the deployment's lock, before processed() moves past the commit, so that nobody can
  // see the result as valid at that timestamp: it must only mark the result (no other locks held
  // for long, no calls back into the tracker). What it returns (may be null) runs after the lock.
  using OnInvalid = std::function<std::function<void()>(storage::Timestamp invalid_at)>;

  // `log_commits` and `log_keys`: how many recent commits per deployment, and index keys written by
  // them, are kept to check late watches against (a watch older than the log counts as stale).
  explicit ReadTracker(size_t log_commits = 4096, size_t log_keys = 16384)
      : log_commits_(log_commits), log_keys_(log_keys) {}

  // Watches `reads`, a result computed at `ts`. Returns 0 when it is invalid already (`on_invalid`
  // has then been called).
  WatchId Watch(const std::string& deployment, std::shared_ptr<const storage::ReadSet> reads, storage::Timestamp ts,
                OnInvalid on_invalid) ABSL_LOCKS_EXCLUDED(mu_);
  void Unwatch(const std::string& deployment, WatchId id) ABSL_LOCKS_EXCLUDED(mu_);
  // Every result of `deployment` becomes invalid (its code changed: a push).
  void InvalidateAll(const std::string& deployment) ABSL_LOCKS_EXCLUDED(mu_);
  // `deployment` was closed: its results go (as InvalidateAll), and so does what is kept about it.
  void Forget(const std::string& deployment) ABSL_LOCKS_EXCLUDED(mu_);

  // A published commit of `deployment`, in timestamp order (LiveDeployments' commit observer).
  void Observe(const std::string& deployment, const storage::PublishedCommit& commit) ABSL_LOCKS_EXCLUDED(mu_);

  // The newest commit of `deployment` seen (0 before any): results not invalidated are valid there.
  storage::Timestamp processed(const std::string& deployment) const ABSL_LOCKS_EXCLUDED(mu_);
  // processed(), or, before the first commit since this supervisor started, `db`'s newest timestamp
  // (everything before it was committed before anything could be watched): the timestamp to
  // evaluate queries at.
  storage::Timestamp Now(const std::string& deployment, storage::Database& db) ABSL_LOCKS_EXCLUDED(mu_);
  // Results watched now, in all deployments.
  size_t watched() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // The live reads of one index under one prefix of whole values ("" for the root).
  struct Bucket {
    absl::InlinedVector<WatchId, 1> whole;  // read every key with this prefix
    IntervalIndex ranges;                   // read a range of them
    bool empty() const { return whole.empty() && ranges.empty(); }
  };
  using IndexWatches = absl::flat_hash_map<std::string, Bucket>;  // by prefix: owned, as its first
                                                                   // watcher may leave before the rest
  struct Entry {
    storage::IndexId index;
    absl::string_view bucket;  // a view into the watch's own read set
    bool whole = false;
    IntervalIndex::Handle range = 0;  // a range's place in its bucket
  };
  struct Watched {
    std::shared_ptr<const storage::ReadSet> reads;  // owns the keys the indexes borrow
    OnInvalid on_invalid;
    std::vector<Entry> entries;
  };
  using LoggedCommit = std::pair<storage::Timestamp, std::vector<std::pair<storage::IndexId, std::string>>>;
  struct Deployment {
    mutable absl::Mutex mu;
    storage::Timestamp processed ABSL_GUARDED_BY(mu){0};
    std::map<storage::IndexId, IndexWatches> indexes ABSL_GUARDED_BY(mu);
    absl::flat_hash_map<WatchId, Watched> watches ABSL_GUARDED_BY(mu);
    // Recent commits' written keys, oldest first, to check results computed before them.
    std::deque<LoggedCommit> log ABSL_GUARDED_BY(mu);
    size_t log_keys ABSL_GUARDED_BY(mu) = 0;
    storage::Timestamp log_floor ABSL_GUARDED_BY(mu){0};  // the log holds every commit seen after this
    bool forgotten ABSL_GUARDED_BY(mu) = false;  // Forget dropped it: a watch that still finds it is stale
  };

  std::shared_ptr<Deployment> FindOrCreate(absl::string_view deployment) ABSL_LOCKS_EXCLUDED(mu_);
  std::shared_ptr<Deployment> Find(absl::string_view deployment) const ABSL_LOCKS_EXCLUDED(mu_);  // or null
  // Whether a commit in the log after `ts` overlaps `reads`: the first such commit's timestamp, or
  // processed when the log does not reach back to `ts`.
  std::optional<storage::Timestamp> StaleSince(const Deployment& d, const storage::ReadSet& reads,
                                               storage::Timestamp ts) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(d.mu);
  // Removes `id`'s intervals; its callback, or null if it was not watched.
  OnInvalid Drop(Deployment& d, WatchId id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(d.mu);
  // Drops `ids` (a watch listed twice is told once) and marks each invalid at `at`; what their
  // callbacks return goes to `after`, to run once the lock is released.
  void InvalidateLocked(Deployment& d, const std::vector<WatchId>& ids, storage::Timestamp at,
                        std::vector<std::function<void()>>* after) ABSL_EXCLUSIVE_LOCKS_REQUIRED(d.mu);

  const size_t log_commits_;
  const size_t log_keys_;
  std::atomic<WatchId> next_id_{1};
  mutable absl::Mutex mu_;  // the map only; each deployment's state has its own lock
  std::map<std::string, std::shared_ptr<Deployment>, std::less<>> deployments_ ABSL_GUARDED_BY(mu_);
};

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_REACTIVITY_READ_TRACKER_H_
