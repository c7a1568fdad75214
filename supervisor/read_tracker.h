// Which query results a commit invalidates (CONVEX_SEMANTICS.md §3): the read sets of the live
// results (cached queries, subscriptions) indexed per deployment, per index, by interval. Every
// published commit is looked up key by key; each result it overlaps is told once, with the commit's
// timestamp, and forgotten.
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
#ifndef ISOBAR_SUPERVISOR_READ_TRACKER_H_
#define ISOBAR_SUPERVISOR_READ_TRACKER_H_

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
#include "absl/synchronization/mutex.h"
#include "storage/committer.h"
#include "storage/database.h"
#include "storage/read_set.h"

namespace isobar::supervisor {

class ReadTracker {
 public:
  using WatchId = uint64_t;
  // Called under the tracker's lock, before processed() moves past the commit, so that nobody can
  // see the result as valid at that timestamp: it must only mark the result (no other locks held
  // for long, no calls back into the tracker). What it returns (may be null) runs after the lock.
  using OnInvalid = std::function<std::function<void()>(storage::Timestamp invalid_at)>;

  // `log_commits`: how many recent commits per deployment are kept to check late watches against.
  explicit ReadTracker(size_t log_commits = 4096) : log_commits_(log_commits) {}

  // Watches `reads`, a result computed at `ts`. Returns 0 when it is invalid already (`on_invalid`
  // has then been called).
  WatchId Watch(const std::string& deployment, std::shared_ptr<const storage::ReadSet> reads, storage::Timestamp ts,
                OnInvalid on_invalid) ABSL_LOCKS_EXCLUDED(mu_);
  void Unwatch(const std::string& deployment, WatchId id) ABSL_LOCKS_EXCLUDED(mu_);
  // Every result of `deployment` becomes invalid (its code changed: a push).
  void InvalidateAll(const std::string& deployment) ABSL_LOCKS_EXCLUDED(mu_);

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
  struct Interval {
    std::optional<std::string> end;  // exclusive; none: unbounded above
    WatchId id;
  };
  struct Watched {
    std::shared_ptr<const storage::ReadSet> reads;
    OnInvalid on_invalid;
  };
  struct Deployment {
    storage::Timestamp processed{0};
    // Per index: intervals by their start key.
    std::map<storage::IndexId, std::multimap<std::string, Interval>> intervals;
    absl::flat_hash_map<WatchId, Watched> watches;
    // Recent commits' written keys, oldest first, to check results computed before them.
    std::deque<std::pair<storage::Timestamp, std::vector<std::pair<storage::IndexId, std::string>>>> log;
    storage::Timestamp log_floor{0};  // the log holds every commit seen after this
  };

  // Removes `id`'s intervals; its callback, or null if it was not watched.
  OnInvalid Drop(Deployment& d, WatchId id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops `ids` (a watch listed twice is told once) and marks each invalid at `at`; what their
  // callbacks return goes to `after`, to run once the lock is released.
  void InvalidateLocked(Deployment& d, const std::vector<WatchId>& ids, storage::Timestamp at,
                        std::vector<std::function<void()>>* after) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t log_commits_;
  mutable absl::Mutex mu_;
  WatchId next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<std::string, Deployment, std::less<>> deployments_ ABSL_GUARDED_BY(mu_);
};

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_READ_TRACKER_H_
