// A client's live query set (CONVEX_SEMANTICS.md §3), whatever protocol carries it: gRPC's
// Functions.Subscribe (subscription.h) and the Convex sync protocol over WebSocket (http/).
//
// The client adds and removes queries and may replace its identity; the set answers with transitions
// {start version, end version, changes}. An update evaluates every query that needs it (new,
// invalidated by a commit, or all of them after an identity change) at one timestamp through the
// query cache, so thousands of sets watching one query share one execution; results still valid there
// are kept. A change is sent only for a query whose result or log lines changed, or that was removed.
// At most two transitions wait undelivered; while they do, further changes are coalesced into the next.
//
//   auto set = LiveQuerySet::Open(environment, deployment, access_internal, sink);
//   RETURN_IF_ERROR(set->Modify(changes));    // the sink gets transitions, from any thread
//   set->Delivered();                          // after the protocol wrote one
#ifndef ISOBAR_SUPERVISOR_REACTIVITY_LIVE_QUERY_SET_H_
#define ISOBAR_SUPERVISOR_REACTIVITY_LIVE_QUERY_SET_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/executor.h"
#include "supervisor/deploy/live_deployments.h"
#include "supervisor/reactivity/query_cache.h"
#include "supervisor/reactivity/read_tracker.h"

namespace isobar::supervisor {

struct QuerySetEnvironment {
  ReadTracker* tracker = nullptr;
  QueryCache* cache = nullptr;
  QueryCache::Run run;  // a cache miss: through admission to the runner
  Executor* executor = nullptr;
  absl::Duration query_deadline = absl::Minutes(1);
  size_t max_queries = 1024;
  // Convex's query journals (the sync protocol's): a paginated query's re-runs page up to where its
  // first run ended, so the page grows instead of shifting. Off, every run is a fresh one (gRPC's
  // Subscribe, whose results equal a fresh query's: tests/differential_test.cc holds it to that).
  bool journals = false;
};

struct QuerySetVersion {
  uint32_t query_set = 0;  // which modification of the set
  uint32_t identity = 0;   // which identity
  storage::Timestamp ts{0};
};

struct QueryChange {
  enum class Kind { kUpdated, kFailed, kRemoved };
  uint32_t query_id = 0;
  Kind kind = Kind::kRemoved;
  std::shared_ptr<QueryResult> result;  // updated and failed: the outcome
};

struct QuerySetTransition {
  QuerySetVersion start;
  QuerySetVersion end;
  std::vector<QueryChange> changes;
};

class LiveQuerySet : public std::enable_shared_from_this<LiveQuerySet> {
 public:
  // The protocol's side. Calls come from executor threads, one at a time, never with the set's lock
  // held; they must not block.
  class Sink {
   public:
    virtual ~Sink() = default;
    // A transition for the client; the set counts it undelivered until Delivered().
    virtual void Send(QuerySetTransition transition) = 0;
    // The set cannot go on (its deployment is not served here now); nothing more is sent.
    virtual void Fail(absl::Status status) = 0;
  };

  struct Add {
    uint32_t query_id = 0;
    std::string path;
    std::string args_json;  // Convex JSON of the arguments object
    std::string journal;    // from an earlier run for this client ("" for none)
  };
  struct Change {
    std::optional<Add> add;  // or, without one, a removal:
    uint32_t remove = 0;
  };
  struct Modification {
    std::vector<Change> changes;  // in order
    // The query set version after this modification: given by protocols that number their own
    // (Convex's newVersion); otherwise the next one if anything changed.
    std::optional<uint32_t> new_version;
    std::optional<std::string> identity_json;  // a new identity ("null": none)
    std::optional<bool> internal;               // whether internal functions may be watched now
  };

  // `sink` is held weakly: once it is gone, the set stops.
  static std::shared_ptr<LiveQuerySet> Open(const QuerySetEnvironment& environment,
                                            std::shared_ptr<LiveDeployment> deployment, bool internal,
                                            std::weak_ptr<Sink> sink);

  // Applies a modification and schedules an update. A query id added twice or removed while absent,
  // or a set over `max_queries`, is INVALID_ARGUMENT (and nothing of the modification applies).
  absl::Status Modify(Modification modification) ABSL_LOCKS_EXCLUDED(mu_);
  // One transition was written to the client.
  void Delivered() ABSL_LOCKS_EXCLUDED(mu_);
  // Sends a transition (empty if nothing changed) after this call, reaching `ts`, which the read
  // tracker must have seen: after a mutation's response, so the client knows its effects are in what
  // it shows.
  void AdvanceTo(storage::Timestamp ts) ABSL_LOCKS_EXCLUDED(mu_);
  // The version of the newest transition sent.
  QuerySetVersion sent() const ABSL_LOCKS_EXCLUDED(mu_);

  LiveQuerySet(const QuerySetEnvironment& environment, std::shared_ptr<LiveDeployment> deployment, bool internal,
               std::weak_ptr<Sink> sink);
  ~LiveQuerySet();

  // Query sets alive in this process (gRPC streams and WebSocket sessions alike), for metrics.
  static int64_t open_count() { return open_count_.load(std::memory_order_relaxed); }

 private:
  static std::atomic<int64_t> open_count_;

  struct Query {
    std::string path;
    std::string args_json;
    std::string journal;      // the newest run's, passed to the next
    uint64_t generation = 0;  // which add of this id
    std::shared_ptr<QueryResult> result;
    uint32_t identity_version = 0;
    int64_t code_version = -1;
    std::string sent;  // fingerprint of what the client has
  };
  struct Evaluation {
    uint32_t id;
    uint64_t generation;
    std::shared_ptr<QueryResult> result;
  };

  bool ClaimUpdateLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ScheduleLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Update() ABSL_LOCKS_EXCLUDED(mu_);
  void Evaluated(Evaluation evaluation) ABSL_LOCKS_EXCLUDED(mu_);
  void Complete() ABSL_LOCKS_EXCLUDED(mu_);
  void Invalidated() ABSL_LOCKS_EXCLUDED(mu_);
  void Stop(absl::Status status) ABSL_LOCKS_EXCLUDED(mu_);

  const QuerySetEnvironment& env_;
  const std::shared_ptr<LiveDeployment> live_;
  const std::weak_ptr<Sink> sink_;

  mutable absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  bool internal_ ABSL_GUARDED_BY(mu_);
  std::string identity_json_ ABSL_GUARDED_BY(mu_) = "null";
  std::map<uint32_t, Query> queries_ ABSL_GUARDED_BY(mu_);
  std::set<uint32_t> removed_ ABSL_GUARDED_BY(mu_);  // removals the client has not been told of
  uint64_t generations_ ABSL_GUARDED_BY(mu_) = 0;
  uint32_t query_set_version_ ABSL_GUARDED_BY(mu_) = 0;
  uint32_t identity_version_ ABSL_GUARDED_BY(mu_) = 0;
  QuerySetVersion sent_ ABSL_GUARDED_BY(mu_);  // the end version of the newest transition
  bool sent_any_ ABSL_GUARDED_BY(mu_) = false;
  bool owed_ ABSL_GUARDED_BY(mu_) = false;  // AdvanceTo: a transition is owed
  size_t undelivered_ ABSL_GUARDED_BY(mu_) = 0;
  bool updating_ ABSL_GUARDED_BY(mu_) = false;
  bool dirty_ ABSL_GUARDED_BY(mu_) = false;
  // The update under way.
  size_t pending_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<Evaluation> evaluated_ ABSL_GUARDED_BY(mu_);
  uint32_t update_query_set_ ABSL_GUARDED_BY(mu_) = 0;
  storage::Timestamp update_ts_ ABSL_GUARDED_BY(mu_){0};
  uint32_t update_identity_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t update_version_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_REACTIVITY_LIVE_QUERY_SET_H_
