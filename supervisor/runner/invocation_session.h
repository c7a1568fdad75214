// What the supervisor keeps for one running invocation of a Convex function: whose it is, the code
// version it runs, its transaction (queries and mutations) and open query streams. Host calls of the
// invocation are served against it (syscalls.h); the pool hands it to the worker service for exactly
// the invocation it was dispatched with, so a worker can only ever reach its own invocation's session.
#ifndef ISOBAR_SUPERVISOR_RUNNER_INVOCATION_SESSION_H_
#define ISOBAR_SUPERVISOR_RUNNER_INVOCATION_SESSION_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "storage/query.h"
#include "storage/transaction.h"
#include "supervisor/deploy/code_version.h"
#include "supervisor/deploy/live_deployments.h"
#include "supervisor/runner/prefetch.h"

namespace isobar::supervisor {

class HttpRequestBody;
class HttpResponseStream;
struct SessionFetches;  // fetch_calls.cc

// What a transaction read and wrote, as Convex counts it (kept when the transaction is gone).
struct TransactionCounts {
  size_t documents_read = 0;
  size_t read_intervals = 0;
  size_t bytes_read = 0;
  size_t writes = 0;
  size_t bytes_written = 0;

  static TransactionCounts Of(const storage::Transaction& txn) {
    return {txn.documents_read(), txn.reads().intervals(), txn.bytes_read(), txn.write_count(), txn.bytes_written()};
  }
};

// What a transaction scheduled, as Convex's limits count it (nested mutations included).
struct ScheduledCounts {
  size_t jobs = 0;
  size_t args_bytes = 0;          // in all (Convex counts [args] per job)
  size_t largest_args_bytes = 0;  // of one job
};

// An action's nested calls (ctx.runQuery/runMutation/runAction) in flight: at most
// kMaxConcurrentActionOps run at once; the rest wait their turn, in order.
struct NestedOps {
  absl::Mutex mu;
  int running ABSL_GUARDED_BY(mu) = 0;
  std::deque<absl::AnyInvocable<void() &&>> waiting ABSL_GUARDED_BY(mu);
  bool finished ABSL_GUARDED_BY(mu) = false;  // the invocation ended: waiting calls are cancelled
};

struct InvocationSession {
  std::shared_ptr<LiveDeployment> deployment;
  std::shared_ptr<const CodeVersion> code;
  FunctionDef function;          // a copy: the session outlives nothing it points into
  std::string identity_json = "null";  // the caller's UserIdentity (Convex JSON object) or null
  std::string identity_error;  // an HTTP action's refused token: getUserIdentity() throws this
  int depth = 0;                 // 0 for a client's call; nested calls count up to kMaxCallDepth
  absl::Time deadline = absl::InfiniteFuture();  // the invocation's: nested calls and timers end by it
  std::string request_id;        // actions: what invokeAction was given
  std::optional<storage::DocumentId> scheduled_job;  // run by the scheduler: its job
  // What process.env.CONVEX_CLOUD_URL and CONVEX_SITE_URL read unless the deployment sets them.
  std::string cloud_url;
  std::string site_url;
  // A push's analysis: modules are only imported, and may read nothing but process.env.
  bool analysis = false;
  // An HTTP action's: where a streamed response goes (http_response_stream.h); null otherwise.
  std::shared_ptr<HttpResponseStream> http_stream;
  std::shared_ptr<HttpRequestBody> http_request_body;  // when the request's body is streamed
  // Whether the function (or a function it called with ctx.runQuery/runMutation) read the caller's
  // identity: a cached query result is then the caller's alone. Shared down nested calls.
  std::shared_ptr<std::atomic<bool>> identity_read = std::make_shared<std::atomic<bool>>(false);
  // Whether its result depends on the time (a signed file URL, which expires): a cached result then
  // expires too.
  std::atomic<bool> time_dependent{false};

  // Host calls of one invocation are served one at a time.
  absl::Mutex mu;
  std::unique_ptr<storage::Transaction> txn ABSL_GUARDED_BY(mu);  // null for actions
  std::map<uint32_t, std::unique_ptr<storage::QueryStream>> streams ABSL_GUARDED_BY(mu);
  uint32_t next_query_id ABSL_GUARDED_BY(mu) = 0;
  bool paginated ABSL_GUARDED_BY(mu) = false;
  // Convex's query journal (CONVEX_SEMANTICS.md §3): the end cursor its paginated query reached when
  // it last ran for this client ("" for none), which a re-run pages up to, so that a page grows with
  // new documents instead of shifting; and the one this run reached.
  std::string prev_journal;
  std::string next_journal ABSL_GUARDED_BY(mu);
  uint64_t database_queries ABSL_GUARDED_BY(mu) = 0;
  // Documents read ahead for it (prefetch.h), and how many of its gets they answered so far (each
  // recorded as its read when the worker said so: NotePrefetchesUsed).
  std::vector<Prefetcher::Read> prefetched ABSL_GUARDED_BY(mu);
  size_t prefetch_uses ABSL_GUARDED_BY(mu) = 0;
  // Recording them failed (a read limit, say): the invocation fails with it, whatever its code caught.
  absl::Status prefetch_failure ABSL_GUARDED_BY(mu);
  // The transaction's counts when it committed (the transaction is gone by then).
  std::optional<TransactionCounts> committed_counts ABSL_GUARDED_BY(mu);
  ScheduledCounts scheduled ABSL_GUARDED_BY(mu);  // shared with nested calls through their transaction
  // The deployment's environment variables, read once per invocation (process.env).
  std::optional<std::map<std::string, std::string>> env ABSL_GUARDED_BY(mu);
  int pending_sleeps ABSL_GUARDED_BY(mu) = 0;  // an action's timers waiting now
  std::shared_ptr<SessionFetches> fetches ABSL_GUARDED_BY(mu);  // an action's fetches (fetch_calls.h)
  NestedOps nested;
  // The first host call that failed for a reason of ours (PostgreSQL stalled or away, say), not of the
  // code's. User code saw only a reference to our log; if the function then fails, this is its outcome
  // (retryable where the code says so) rather than the JavaScript error it led to.
  absl::Status host_failure ABSL_GUARDED_BY(mu);
};

// Records in the session's transaction the reads of documents read ahead that the worker says the
// function made (HostCall.prefetched_used, Done.prefetched_used), as its db.get would have: before a
// host call is served (so it sees them), and at the end.
inline absl::Status NotePrefetchesUsed(InvocationSession& session,
                                       const google::protobuf::RepeatedPtrField<std::string>& used) {
  if (used.empty()) return absl::OkStatus();
  absl::MutexLock lock(&session.mu);
  if (session.txn == nullptr || session.prefetched.empty()) return absl::OkStatus();
  absl::StatusOr<size_t> noted = Prefetcher::NoteUsed(*session.txn, session.prefetched, used);
  if (!noted.ok()) {
    Prefetcher::AddAllReads(*session.txn, session.prefetched);
    if (session.prefetch_failure.ok()) session.prefetch_failure = noted.status();
    return noted.status();
  }
  session.prefetch_uses += *noted;
  session.database_queries += *noted;
  return absl::OkStatus();
}

inline constexpr int kMaxCallDepth = 8;
// As Convex's MAX_CONCURRENT_ACTION_OPS.
inline constexpr int kMaxConcurrentActionOps = 8;
// Timers an action may have waiting at once.
inline constexpr int kMaxPendingSleeps = 1000;

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_RUNNER_INVOCATION_SESSION_H_
