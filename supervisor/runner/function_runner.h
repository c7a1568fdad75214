// Runs Convex functions (ARCHITECTURE.md §3): finds the function in the deployment's active code
// version, validates its arguments, begins its transaction, dispatches it to a worker, serves its host
// calls against the session (syscalls.h), then validates the return value and commits a mutation.
//
//   FunctionCallRequest request{.deployment = "chat", .path = "messages:send", .kind = FunctionKind::kMutation,
//                               .args_json = R"({"body":"hi"})", .deadline = absl::Now() + absl::Seconds(30)};
//   runner.Run(std::move(request), [](FunctionOutcome outcome) { ... });
//
// A mutation whose commit conflicts (OCC) runs again from the start, up to `max_occ_retries` times, after
// a jittered backoff doubling from `occ_backoff_min` to `occ_backoff_max`; the outcome says how many
// retries it took. The callback runs exactly once, on the runner's executor.
#ifndef ISOBAR_SUPERVISOR_RUNNER_FUNCTION_RUNNER_H_
#define ISOBAR_SUPERVISOR_RUNNER_FUNCTION_RUNNER_H_

#include <atomic>
#include <functional>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "base/executor.h"
#include "isobar/v1/api.pb.h"
#include "supervisor/deploy/code_version.h"
#include "supervisor/deploy/live_deployments.h"
#include "supervisor/logs/log_hub.h"
#include "supervisor/runner/admission.h"
#include "supervisor/runner/error_detail.h"
#include "supervisor/runner/http_response_stream.h"
#include "supervisor/metrics/metrics.h"
#include "supervisor/runner/invocation_session.h"
#include "supervisor/runner/prefetch.h"
#include "supervisor/runner/limit_warnings.h"
#include "supervisor/workers/worker_pool.h"

namespace isobar::supervisor {

// An HTTP action's request: its method, the path the router matches on ("/profile/abc"), and the
// route that matched it, as logs name the call ("GET /profile/*").
struct HttpRoute {
  std::string method;
  std::string path;
  std::string route;
};

struct FunctionCallRequest {
  std::string deployment;
  std::string path;  // "dir/mod:fn"
  FunctionKind kind = FunctionKind::kQuery;
  std::string args_json = "{}";       // one Convex JSON object
  std::string identity_json = "null";  // the caller's UserIdentity, or null
  // An HTTP action's: why the request's token stands for no one (getUserIdentity() throws it).
  std::string identity_error;
  // Mutations: a repeat with the same key returns the stored result of the first successful call.
  std::string idempotency_key;
  bool allow_internal = false;         // nested calls may reach internal functions; clients may not
  int depth = 0;
  // ctx.runQuery / runMutation inside a query or mutation: the caller, whose transaction (and code
  // version) the call borrows; a nested mutation that fails is rolled back to where it began.
  std::shared_ptr<InvocationSession> parent;
  absl::Time deadline = absl::InfiniteFuture();
  // Runs of the scheduler (scheduler.h): the scheduled job being run (what an action schedules after
  // its job was canceled is created canceled), and for a mutation the job's or cron's own bookkeeping,
  // done in the mutation's transaction just before it commits, so that both commit or neither. An
  // error from it fails the call without committing.
  std::optional<storage::DocumentId> scheduled_job;
  std::function<absl::Status(storage::Transaction&)> before_commit;
  // Queries: read at this published timestamp instead of the newest (subscriptions and the query
  // cache evaluate every query of a transition at one timestamp).
  std::optional<storage::Timestamp> snapshot_ts;
  // Queries: the journal of the client's previous run of this query ("" for none); see
  // InvocationSession::prev_journal.
  std::string journal;
  // HTTP actions: the route. `path` and `kind` are then ignored (http.js's router runs, as an action),
  // `args_json` is the request as the worker's HTTP_ACTION call carries it, and the outcome's
  // `result_json` the response as the router wrote it (unchecked: the caller decodes it).
  std::optional<HttpRoute> http;
  // HTTP actions: where a response whose body is a stream goes as it comes (http_response_stream.h).
  std::shared_ptr<HttpResponseStream> http_stream;
  // HTTP actions: the request's body when it is too large to carry in `args_json` (which then says
  // "streamed": true), read by the runtime as the handler consumes it.
  std::shared_ptr<HttpRequestBody> http_request_body;
  // The request's id, in its log lines and its answer (the HTTP API's "[Request ID: ...]"); empty: a
  // new one (a nested call's is its caller's).
  std::string request_id;
};

struct FunctionOutcome {
  bool ok = false;
  std::string result_json;          // when ok: the return value as Convex JSON
  DescribedError error;             // when not
  std::vector<isobar::v1::LogLine> logs;
  int occ_retries = 0;
  // A client's query (no parent), succeeded or failed in its code: what it read, at which timestamp,
  // in which code version, and whether it read the caller's identity. Null reads otherwise.
  std::shared_ptr<const storage::ReadSet> reads;
  storage::Timestamp snapshot_ts{0};
  int64_t code_version = 0;
  bool identity_read = false;
  bool observed_time = false;  // it read the clock: a cached result expires
  std::string journal;         // a query's journal for its next run ("" for none)
  // A client's mutation that committed: its commit timestamp (0 when an idempotency key answered
  // with a result committed earlier).
  storage::Timestamp commit_ts{0};
  // The execution's request id (FunctionCallRequest::request_id): a query answered from the cache
  // carries the id of the execution whose result it is.
  std::string request_id;

  // A failure described from `status` (its kind and retryability follow from the code).
  static FunctionOutcome Failure(const absl::Status& status) {
    FunctionOutcome outcome;
    outcome.error = Describe(status);
    return outcome;
  }
};

using FunctionCallback = absl::AnyInvocable<void(FunctionOutcome) &&>;

struct FunctionRunnerOptions {
  absl::Duration query_cpu_budget = absl::Seconds(1);
  absl::Duration mutation_cpu_budget = absl::Seconds(1);
  absl::Duration action_cpu_budget = absl::Minutes(10);
  // Fresh: a new context per invocation (modules evaluated each time). Warm: contexts kept per code
  // version, module state kept, per-request globals reset (worker/isolate_pool.h).
  bool warm_contexts = false;
  // Documents named by id in a client's query or mutation arguments are read ahead and sent with the
  // Invoke (prefetch.h).
  bool prefetch = true;
  int max_occ_retries = 4;
  absl::Duration occ_backoff_min = absl::Milliseconds(100);
  absl::Duration occ_backoff_max = absl::Seconds(2);
  // Bases of CONVEX_CLOUD_URL and CONVEX_SITE_URL ("<base>/d/<deployment>").
  std::string public_url = "http://127.0.0.1:7701";
  std::string site_url = "http://127.0.0.1:7702";
  // Admits an action's nested calls (not owned); null: they run unadmitted (tests of the runner alone).
  Admission* admission = nullptr;
  // Where executions and commits are counted and timed (not owned); null: nowhere.
  Metrics* metrics = nullptr;
  // One info line per execution (function, outcome, time, request id) on the supervisor's log.
  bool log_calls = false;
};

class FunctionRunner {
 public:
  // Not owned; all must outlive the runner. `executor` runs the steps that block on PostgreSQL.
  FunctionRunner(LiveDeployments& deployments, WorkerPool& workers, Executor& executor, LogHub& logs,
                 FunctionRunnerOptions options = {})
      : deployments_(deployments), workers_(workers), executor_(executor), logs_(logs), options_(options) {}

  void Run(FunctionCallRequest request, FunctionCallback done);
  // The same, starting on the calling thread, which must be one that may block on PostgreSQL (an
  // executor thread): one thread hand-off fewer.
  void RunOnThisThread(FunctionCallRequest request, FunctionCallback done) { Start(std::move(request), std::move(done)); }

  // An action's ctx.runQuery / runMutation / runAction (`op` is "1.0/actions/query", ...): its
  // reference and args resolved against the caller's deployment, run as a separate transaction. At
  // most kMaxConcurrentActionOps of one action run at once (the rest wait their turn, and are
  // cancelled if the action ends first); nested queries and mutations are admitted like a client's
  // call of their kind (options.admission); every one ends by the action's deadline.
  void RunFromAction(std::shared_ptr<InvocationSession> caller, absl::string_view op, absl::string_view args_json,
                     FunctionCallback done);
  static bool IsActionCall(absl::string_view op);

  // ctx.runQuery / ctx.runMutation in a query or mutation ("1.0/runUdf"): within the caller's
  // transaction, at most kMaxCallDepth deep; queries may call only queries.
  void RunUdf(std::shared_ptr<InvocationSession> caller, absl::string_view args_json, FunctionCallback done);

  // An action's ctx.scheduler.runAfter / runAt / cancel ("1.0/actions/schedule", "1.0/actions/cancel_job"):
  // a transaction of its own. Blocks on PostgreSQL; call it on the executor.
  absl::StatusOr<std::string> SchedulerFromAction(const InvocationSession& caller, absl::string_view op,
                                                  absl::string_view args_json);
  static bool IsActionSchedulerCall(absl::string_view op);

  struct Stats {
    uint64_t invocations = 0, occ_conflicts = 0, occ_retries = 0;
  };
  Stats stats() const { return Stats{invocations_.load(), occ_conflicts_.load(), occ_retries_.load()}; }

 private:
  struct Attempt;

  void Start(FunctionCallRequest request, FunctionCallback done);
  // Start's part for an HTTP action: the deployment's router, the request as it came.
  void StartHttpAction(std::shared_ptr<Attempt> attempt, FunctionCallRequest request, FunctionCallback done);
  // Admits and runs one nested call of an action; `done` hears its outcome.
  void StartNested(FunctionCallRequest request, FunctionCallback done);
  // One nested call of `caller` finished: the next waiting one starts.
  void NestedDone(InvocationSession& caller);
  void Dispatch(std::shared_ptr<Attempt> attempt);
  // For a mutation with an idempotency key: the stored result of an earlier call with that key, read
  // in the attempt's transaction (so two concurrent first calls conflict and one sees the other's).
  absl::StatusOr<std::optional<std::string>> StoredResult(InvocationSession& session, const std::string& key);
  absl::Status StoreResult(InvocationSession& session, const std::string& key, const std::string& result_json)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(session.mu);
  void Finish(std::shared_ptr<Attempt> attempt, std::shared_ptr<InvocationSession> session,
              absl::StatusOr<isobar::worker::v1::Done> done, WorkerId worker);
  // The request of a call `caller` makes to the function its syscall `args` name (runUdf and actions'
  // calls): internal functions allowed, one level deeper, the caller's identity.
  static absl::StatusOr<FunctionCallRequest> NestedRequest(const InvocationSession& caller, const storage::Value& args,
                                                           FunctionKind kind);
  // Gives a nested call's transaction back to its caller, rolled back if the call failed.
  void ReturnBorrowed(Attempt& attempt, InvocationSession& session, bool succeeded);
  static void MapStackFrames(const SourceMaps& maps, isobar::worker::v1::Done* done);
  void PublishLogs(const Attempt& attempt, const isobar::worker::v1::Done& done, WorkerId worker);
  // What the attempt read, wrote and scheduled, for Convex's warnings near a limit.
  static ExecutionSize Measure(const Attempt& attempt, InvocationSession& session);
  absl::Duration Backoff(int retry);

  LiveDeployments& deployments_;
  WorkerPool& workers_;
  Executor& executor_;
  LogHub& logs_;
  const FunctionRunnerOptions options_;
  std::atomic<uint64_t> invocations_{0}, occ_conflicts_{0}, occ_retries_{0};
  Prefetcher prefetcher_;
};

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_RUNNER_FUNCTION_RUNNER_H_
