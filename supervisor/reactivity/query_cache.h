// Query results shared by time (CONVEX_SEMANTICS.md §3): a query's result is kept with what it read
// and served again, without a worker, for as long as no commit overlapped its reads.
//
//   QueryCache cache(tracker, {});
//   cache.Evaluate(request, at_ts, run, [](std::shared_ptr<QueryResult> result) { ... });
//
// Key: deployment, code version, path, canonical arguments, and the caller's identity only when the
// query read it (ctx.auth), so results are shared across callers otherwise. A result computed at ts0
// serves a request at `at` when ts0 <= at and no commit up to `at` overlapped it; one whose query read
// the clock (Date.now(), new Date()) also expires after `max_age` of wall time. Identical concurrent
// requests at one timestamp share one execution. Failed results are never kept (subscriptions may
// still watch them). Least recently used results go beyond `max_bytes`. Thread-safe.
#ifndef ISOBAR_SUPERVISOR_REACTIVITY_QUERY_CACHE_H_
#define ISOBAR_SUPERVISOR_REACTIVITY_QUERY_CACHE_H_

#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/base/call_once.h"
#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/executor.h"
#include "supervisor/reactivity/read_tracker.h"
#include "supervisor/runner/function_runner.h"

namespace isobar::supervisor {

// One evaluation of a query at one timestamp. Its validity ends when a commit overlaps its reads;
// listeners (subscriptions) are told once.
class QueryResult {
 public:
  // `fan_out` (may be null): where many listeners are called, in batches, when it is invalidated.
  QueryResult(std::string deployment, FunctionOutcome outcome, ReadTracker& tracker, Executor* fan_out = nullptr);
  ~QueryResult();  // stops watching
  QueryResult(const QueryResult&) = delete;
  QueryResult& operator=(const QueryResult&) = delete;

  const std::string& deployment() const { return deployment_; }
  const FunctionOutcome& outcome() const { return outcome_; }
  // A digest of what a client sees of it (value or error, and log lines), computed once.
  const std::string& fingerprint() const;
  storage::Timestamp ts() const { return outcome_.snapshot_ts; }
  absl::Time computed_at() const { return computed_at_; }
  size_t bytes() const;

  // Whether the result holds at `at`: computed at or before it, and no overlapping commit since
  // up to `at`.
  bool ValidAt(storage::Timestamp at) const ABSL_LOCKS_EXCLUDED(mu_);
  bool invalidated() const ABSL_LOCKS_EXCLUDED(mu_);
  // Calls `listener` once when the result is invalidated; false (and never calls it) if it already is.
  bool Listen(std::function<void()> listener) ABSL_LOCKS_EXCLUDED(mu_);

  // Starts watching its reads (a result with none is invalid at once). Call once, after construction.
  void StartWatching(const std::shared_ptr<QueryResult>& self) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Marks the result invalid; the listeners to call (outside every lock).
  std::vector<std::function<void()>> MarkInvalid(storage::Timestamp at) ABSL_LOCKS_EXCLUDED(mu_);

  const std::string deployment_;
  const FunctionOutcome outcome_;
  ReadTracker& tracker_;
  Executor* const fan_out_;
  const absl::Time computed_at_;
  mutable absl::once_flag fingerprint_once_;
  mutable std::string fingerprint_;
  mutable absl::Mutex mu_;
  ReadTracker::WatchId watch_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<storage::Timestamp> invalid_at_ ABSL_GUARDED_BY(mu_);
  std::vector<std::function<void()>> listeners_ ABSL_GUARDED_BY(mu_);
};

struct QueryCacheOptions {
  size_t max_bytes = 100u << 20;
  absl::Duration max_age = absl::Seconds(17);  // Convex's: the user and system timeouts, plus a second
  // When many requests shared one execution (or watch one result), their callbacks run in batches on
  // this executor (all cores) instead of one after another on the thread that finished it (or on the
  // committer's). Null: on that thread.
  Executor* fan_out = nullptr;
};

class QueryCache {
 public:
  using Done = std::function<void(std::shared_ptr<QueryResult>)>;
  // Runs the query for real (through admission, or not) and reports the runner's outcome.
  using Run = std::function<void(FunctionCallRequest, FunctionCallback)>;

  struct Stats {
    uint64_t hits = 0, misses = 0, shared = 0, evictions = 0;
    size_t entries = 0, bytes = 0;
  };

  QueryCache(ReadTracker& tracker, QueryCacheOptions options = {}) : tracker_(tracker), options_(options) {}

  // The result of `request` (a query; its deployment's code version `version`) at `at`, which must be
  // a timestamp the tracker has processed. `done` may run on the calling thread.
  void Evaluate(FunctionCallRequest request, int64_t version, storage::Timestamp at, const Run& run, Done done)
      ABSL_LOCKS_EXCLUDED(mu_);

  Stats stats() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // deployment, version, path, canonical args, identity ("" when the query did not read it).
  using Key = std::tuple<std::string, int64_t, std::string, std::string, std::string>;
  struct Entry {
    std::shared_ptr<QueryResult> result;
    std::list<Key>::iterator lru;
  };
  struct InFlight {
    std::vector<Done> waiting;
  };

  std::shared_ptr<QueryResult> Find(const Key& key, storage::Timestamp at) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Results it replaces or evicts go to `dropped`, to be released after the lock.
  void Store(const Key& key, std::shared_ptr<QueryResult> result, std::vector<std::shared_ptr<QueryResult>>* dropped)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Erase(const Key& key, const QueryResult* result) ABSL_LOCKS_EXCLUDED(mu_);

  ReadTracker& tracker_;
  const QueryCacheOptions options_;
  mutable absl::Mutex mu_;
  std::map<Key, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::list<Key> lru_ ABSL_GUARDED_BY(mu_);  // most recently used first
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::pair<Key, storage::Timestamp>, InFlight> in_flight_ ABSL_GUARDED_BY(mu_);
  Stats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_REACTIVITY_QUERY_CACHE_H_
